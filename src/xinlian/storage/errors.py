"""The storage error family (3xxx).

Kept free of `lmdb` so that proof verification, which client SDKs import, can raise and
catch these without pulling in the storage engine.
"""

from __future__ import annotations

from xinlian.errors import XinlianError


class StorageError(XinlianError):
    code = 3000
    name = "storage_error"


class StoreClosedError(StorageError):
    """The store was used after `close()`."""

    code = 3001
    name = "store_closed"


class UnknownDatabaseError(StorageError):
    """A sub-database name that the store was not opened with."""

    code = 3002
    name = "unknown_database"


class InvalidKeyError(StorageError):
    """A key or value of the wrong type or length for the backend."""

    code = 3003
    name = "invalid_key"


class StorageFullError(StorageError):
    """The map is full and cannot grow (limit reached, or readers still open)."""

    code = 3004
    name = "storage_full"


class StorageIOError(StorageError):
    """The storage engine failed (disk, lock, corruption reported by LMDB)."""

    code = 3005
    name = "storage_io"


class CorruptDataError(StorageError):
    """Stored bytes do not decode, or a node the tree refers to is missing."""

    code = 3006
    name = "corrupt_data"


class VersionError(StorageError):
    """A tree version that is out of order, unknown, or already pruned."""

    code = 3007
    name = "version_error"


class StatePrunedError(VersionError):
    """A state version older than the node's retention window (node.toml
    `prune_keep_blocks`): its tree nodes are deleted, so no answer is given for it."""

    code = 3011
    name = "state_pruned"


class MalformedProofError(StorageError):
    """Proof bytes that decode but break the proof's structural rules."""

    code = 3008
    name = "malformed_proof"


class BadChunkError(StorageError):
    """A state-snapshot chunk that does not match the hash it must have (snapshot.py)."""

    code = 3009
    name = "bad_snapshot_chunk"


class RangeProofError(StorageError):
    """An index range proof that does not lead to the root, or leaves the answer incomplete
    (mst_proof.py); also a query range that holds nothing by construction."""

    code = 3010
    name = "bad_range_proof"


class ProofError(StorageError):
    """An answer from another node that its proof does not back (provenance.py, bloom.py):
    the SDK reports which of the kinds below it is."""

    code = 3020
    name = "bad_proof"


class TamperedAnswerError(ProofError):
    """The answer or its proof does not lead to the committed root: something was changed."""

    code = 3021
    name = "answer_tampered"


class IncompleteAnswerError(ProofError):
    """The answer proves, but leaves out part of what was asked (a missing version, a
    truncated page, a skipped block)."""

    code = 3022
    name = "answer_incomplete"


class ReorderedAnswerError(ProofError):
    """The answer's entries are not in the order the structure holds them."""

    code = 3023
    name = "answer_reordered"


class QueryError(StorageError):
    """A malformed query: an empty or inverted range, a page over the limit."""

    code = 3024
    name = "bad_query"


# The blob store (blobs.py, blob_proof.py, blob_backends.py). Codes 3040-3049 are kept for it.


class BlobError(StorageError):
    """The off-chain blob store refused or failed a request."""

    code = 3040
    name = "blob_error"


class BadCommitmentError(BlobError):
    """A blob commitment of the wrong shape: chunk size out of bounds, a media type that is
    not `type/subtype`, a size whose chunk count the tree cannot hold."""

    code = 3041
    name = "bad_blob_commitment"


class BlobTooLargeError(BlobError):
    """A blob larger, or with more chunks, than this node's configured caps."""

    code = 3042
    name = "blob_too_large"


class BlobNotFoundError(BlobError):
    """This store holds no manifest for the commitment (it never received the blob)."""

    code = 3043
    name = "blob_not_found"


class BlobRangeError(BlobError):
    """A byte range or chunk index outside the blob."""

    code = 3044
    name = "bad_blob_range"


class BlobProofError(BlobError):
    """Chunk hashes and their proof do not lead to the commitment's root: the stored
    manifest or a served proof was tampered with."""

    code = 3045
    name = "bad_blob_proof"


class BlobBackendError(BlobError):
    """The backend (local disk or an S3-compatible server) failed to store or return bytes."""

    code = 3046
    name = "blob_backend"


class CorruptChunkError(BadChunkError, BlobError):
    """A blob chunk whose bytes do not hash to its leaf of the commitment's tree (flipped,
    truncated, or another chunk in its place). `index` names the chunk."""

    code = 3047
    name = "corrupt_blob_chunk"

    def __init__(self, index: int, message: str = "") -> None:
        super().__init__(message or f"chunk {index} does not match the blob's commitment")
        self.index = index


class MissingChunkError(BadChunkError, BlobError):
    """A blob chunk the store should hold and does not. `index` names the chunk."""

    code = 3048
    name = "missing_blob_chunk"

    def __init__(self, index: int, message: str = "") -> None:
        super().__init__(message or f"chunk {index} of the blob is not in the store")
        self.index = index
