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
