"""Blob attributes through the SDK: upload a payload and write its commitment into a record,
and read it back chunk by chunk, each chunk verified against the commitment of the verified
record (storage/blob_proof.py `verify_chunk`), so a node can neither change a byte nor serve
another blob: CorruptChunkError at the first chunk that is not the committed one.

Every request is signed by the wallet's key (execution/data/blob_access.py): the node serves
a reader of the collection and takes uploads from a writer, or for a commitment a committed
record already holds. Signatures are valid for AUTH_TTL_MS and are reused within that time.
"""

from __future__ import annotations

import io
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO

from xinlian import codec
from xinlian.errors import XinlianError
from xinlian.execution.data.blob_access import GET, PUT, BlobAuth, auth_message
from xinlian.execution.data.model import Kind
from xinlian.sdk.calls import Call
from xinlian.sdk.errors import DataQueryFailed, ProofError
from xinlian.sdk.ops import Op
from xinlian.storage.blob_proof import (
    BlobCommitment,
    SpanProof,
    chunk_count,
    compute_commitment,
    iter_chunks,
    verify_chunk,
)
from xinlian.storage.blobs import MAX_MISSING_PAGE

if TYPE_CHECKING:
    from xinlian.sdk.data import DataOps

AUTH_TTL_MS = 5 * 60 * 1000  # within the node's MAX_AUTH_TTL_MS, with room for clock skew
Payload = bytes | BinaryIO


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def _bytes(value: Any) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ProofError(f"expected 0x hex, got {type(value).__name__}")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise ProofError("a result that is not hex") from None


def _ok(result: Any) -> Any:
    return result


class BlobRequests:
    """Signed blob calls for one collection's record attribute."""

    def __init__(self, data: DataOps, record_id: bytes, attribute: str) -> None:
        self.data = data
        self.ref = [data.name, _hex(record_id), attribute]
        self.record_id = record_id
        self.attribute = attribute
        self._auth: dict[tuple[str, bytes], BlobAuth] = {}

    def auth(self, method: str, root: bytes) -> Op[str]:
        """A signature of `method` on blob `root`, made once and reused until near expiry."""
        wallet = self.data.wallet
        if wallet is None:
            raise DataQueryFailed("a blob transfer needs a wallet: Client.data(name, "
                                  "wallet=...)")
        yield from self.data._ops.trusted()
        chain = self.data._ops.chain
        assert chain is not None  # trusted() fetched it
        now = time.time_ns() // 1_000_000
        held = self._auth.get((method, root))
        if held is None or held.expiry_ms - now < AUTH_TTL_MS // 2:
            expiry, nonce = now + AUTH_TTL_MS, secrets.randbits(63)
            message = auth_message(chain.genesis_hash, method, self.data.name, self.record_id,
                                   self.attribute, root, expiry, nonce)
            held = self._auth[(method, root)] = BlobAuth(
                wallet.key.public_key, expiry, nonce, wallet.key.sign(message))
        return _hex(codec.encode(held))

    def upload(self, commitment: BlobCommitment, leaves: list[bytes],
               chunk_at: Callable[[int], bytes]) -> Op[int]:
        """Send the manifest, then every chunk the node lacks; the number sent."""
        auth = yield from self.auth(PUT, commitment.root)
        blob = _hex(codec.encode(commitment))
        yield Call("xl_blobPutManifest", [*self.ref, blob, _hex(b"".join(leaves)), auth], _ok)
        sent = 0
        for start in range(0, len(leaves), MAX_MISSING_PAGE):
            missing = yield Call("xl_blobMissing",
                                 [*self.ref, blob, start, MAX_MISSING_PAGE, auth], _ok)
            for index in missing:
                auth = yield from self.auth(PUT, commitment.root)
                yield Call("xl_blobPutChunk",
                           [*self.ref, blob, index, _hex(chunk_at(index)), auth], _ok)
                sent += 1
        return sent

    def missing(self, commitment: BlobCommitment) -> Op[list[int]]:
        """The chunks of `commitment` the node does not hold."""
        auth = yield from self.auth(PUT, commitment.root)
        blob = _hex(codec.encode(commitment))
        out: list[int] = []
        for start in range(0, chunk_count(commitment.size, commitment.chunk_size),
                           MAX_MISSING_PAGE):
            out += yield Call("xl_blobMissing",
                              [*self.ref, blob, start, MAX_MISSING_PAGE, auth], _ok)
        return out

    def chunk(self, commitment: BlobCommitment, index: int) -> Op[bytes]:
        """Chunk `index`, verified against `commitment` (CorruptChunkError otherwise)."""
        auth = yield from self.auth(GET, commitment.root)
        data, _ = yield from self.fetch(commitment, index, auth)
        return data

    def fetch(self, commitment: BlobCommitment, index: int, auth: str | None
              ) -> Op[tuple[bytes, Any]]:
        """Chunk `index` asked for with the signed request `auth` (hex), verified against
        `commitment` (CorruptChunkError otherwise), and the node's whole answer."""
        result = yield Call("xl_blobGetChunk", [*self.ref, index, auth], _ok)
        try:
            data, raw = _bytes(result["data"]), _bytes(result["proof"])
            proof = codec.decode(raw, SpanProof)
        except (KeyError, TypeError, codec.CodecError) as exc:
            raise ProofError(f"a blob chunk answer that does not parse: {exc}") from None
        verifier = yield from self.data._ops.trusted()
        verify_chunk(verifier.suite.hash_bytes, commitment, index, data, proof)
        return data, result


def put_blob(data: DataOps, record_id: bytes, attribute: str, payload: Payload,
             media_type: str, chunk_size: int) -> Op[BlobCommitment]:
    """Commit to `payload`, upload what the node lacks, then write the commitment into the
    record (its other values kept as the verified record holds them)."""
    collection = yield from data._info(None, True)
    found = collection.attribute(attribute)
    if found is None or found[1].kind != Kind.BLOB:
        raise DataQueryFailed(f"collection {data.name!r} has no blob attribute "
                              f"{attribute!r}")
    source = io.BytesIO(payload) if isinstance(payload, bytes) else payload
    start = source.tell()
    verifier = yield from data._ops.trusted()
    hasher = verifier.suite.hash_bytes
    try:
        commitment, leaves = compute_commitment(hasher, source, chunk_size, media_type)
    except XinlianError as exc:  # a bad media type or chunk size: the caller's input
        raise DataQueryFailed(exc.message, exc) from None

    def chunk_at(index: int) -> bytes:
        source.seek(start + index * chunk_size)
        return next(iter_chunks(source, chunk_size))

    yield from BlobRequests(data, record_id, attribute).upload(commitment, leaves, chunk_at)
    existing = yield from data._get(record_id, None, True)
    values = dict(existing.values) if existing is not None else {}
    values[attribute] = commitment
    yield from data._write({record_id: values}, ())
    return commitment


def blob_of(data: DataOps, record_id: bytes, attribute: str) -> Op[BlobCommitment]:
    """The commitment the verified record holds in `attribute`."""
    record = yield from data._get(record_id, None, True)
    value = None if record is None else record.values.get(attribute)
    if not isinstance(value, BlobCommitment):
        raise DataQueryFailed(f"record 0x{record_id.hex()} of {data.name!r} holds no blob "
                              f"in {attribute!r}")
    return value
