"""The content-addressed blob store: large payloads (images, video) off chain, verified
against the commitment that is on chain.

Theory of operation. A payload is cut into fixed-size chunks and committed as in
blob_proof.py. Each chunk is stored once under its leaf hash (`c/<leaf hex>`), whichever
blobs share it; a blob's manifest (`m/<root hex>`) holds every level of its Merkle tree,
leaves first, 32 bytes a node, so the store serves a span proof by reading the nodes it
names, without hashing. Nothing read back is trusted: a read takes the commitment from the
caller (the chain), reads the leaves of the chunks it touches and their siblings from the
manifest and checks them against the root, then checks each chunk against its leaf before
yielding any of its bytes. A flipped byte, a missing, truncated or swapped chunk, or a
tampered manifest is reported at that chunk with a typed error (CorruptChunkError,
MissingChunkError, BlobProofError), after the verified chunks before it. A chunk found
damaged on read is removed from the backend, so from then on it counts as missing:
`missing` lists it and uploading it again repairs it.

Writes stream: the store holds a chunk at a time (plus up to `parallel` being put), and
writes the manifest after every chunk is stored, so a manifest is only present over a
whole set of chunks. A chunk or manifest already held is read back and replaced if it is
damaged, so writing or uploading a blob again repairs it. A blob can also arrive chunk by
chunk from a client (the node's RPC): `put_manifest` with the leaf hashes first (checked
against the root), then `put_chunk`s in any order, each checked against its leaf;
`missing` says what is still to come.

Memory: a read or write keeps the leaf hashes of the chunks it touches (32 bytes each, at
most `max_chunks`) and `parallel` chunks. Garbage collection of chunks no blob refers to any
longer is not done here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from xinlian.storage.blob_backends import BlobBackend
from xinlian.storage.blob_proof import (
    EMPTY_TOP,
    BlobCommitment,
    Source,
    SpanProof,
    check_chunk,
    check_chunk_size,
    check_commitment,
    chunk_count,
    compute_levels,
    compute_root,
    is_media_type,
    iter_chunks,
    leaf_hash,
    level_widths,
    sibling_positions,
    top_of,
    verify_span,
)
from xinlian.storage.errors import (
    BadCommitmentError,
    BlobNotFoundError,
    BlobProofError,
    BlobRangeError,
    BlobTooLargeError,
    CorruptChunkError,
    MissingChunkError,
)
from xinlian.storage.proof import HASH_SIZE, Hasher

T = TypeVar("T")

MIB = 1024 * 1024
DEFAULT_CHUNK_SIZE = 1 * MIB  # see docs/storage.md "Blob store" for the measurements
MAX_MISSING_PAGE = 4096


@dataclass(frozen=True)
class BlobLimits:
    """A node's caps: bigger blobs are refused (BlobTooLargeError) on write, upload and read."""

    chunk_size: int = DEFAULT_CHUNK_SIZE   # of the blobs this store writes
    max_blob_size: int = 16 * 1024 * MIB   # bytes of one blob
    max_chunks: int = 1 << 16              # chunks of one blob (bounds a manifest: 4 MiB)


def chunk_key(leaf: bytes) -> str:
    return "c/" + leaf.hex()


def manifest_key(root: bytes) -> str:
    return "m/" + root.hex()


def encode_manifest(levels: list[list[bytes]]) -> bytes:
    return b"".join(b"".join(level) for level in levels)


class BlobStore:
    """Blobs in one backend, hashed with the chain's suite hash."""

    def __init__(self, backend: BlobBackend, hasher: Hasher,
                 limits: BlobLimits = BlobLimits(), parallel: int = 1) -> None:
        check_chunk_size(limits.chunk_size)
        self.backend = backend
        self.hasher = hasher
        self.limits = limits
        self.parallel = parallel
        self._pool = ThreadPoolExecutor(parallel, "blob-io") if parallel > 1 else None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
        self.backend.close()

    # ---- writing

    def write(self, source: Source, media_type: str, chunk_size: int | None = None
              ) -> BlobCommitment:
        """Store the payload of `source` (a binary file or an iterable of byte strings) and
        return its commitment, for the chain."""
        size = chunk_size or self.limits.chunk_size
        check_chunk_size(size)
        if not is_media_type(media_type):
            raise BadCommitmentError(f"media type {media_type!r} is not type/subtype")
        total = count = 0

        def stored(chunk: bytes) -> bytes:
            leaf = leaf_hash(self.hasher, chunk)
            self._put_chunk(leaf, chunk)
            return leaf

        def puts() -> Iterator[Callable[[], bytes]]:
            nonlocal total, count
            for chunk in iter_chunks(source, size):
                total, count = total + len(chunk), count + 1
                self._check_caps(total, count)
                yield partial(stored, chunk)

        leaves = list(self._windowed(puts()))
        levels = compute_levels(self.hasher, leaves)
        commitment = BlobCommitment(compute_root(self.hasher, total, size, top_of(levels)),
                                    total, size, media_type)
        self._put_manifest(commitment.root, levels)
        return commitment

    def put_manifest(self, commitment: BlobCommitment, leaves: list[bytes]) -> None:
        """Accept a blob's leaf hashes (a client's upload begins here): BlobProofError
        unless they lead to the commitment's root."""
        n = self._check(commitment)
        if len(leaves) != n or any(len(leaf) != HASH_SIZE for leaf in leaves):
            raise BlobProofError(f"{len(leaves)} leaves for a blob of {n} chunks")
        levels = compute_levels(self.hasher, leaves)
        root = compute_root(self.hasher, commitment.size, commitment.chunk_size,
                            top_of(levels))
        if root != commitment.root:
            raise BlobProofError("the leaves do not lead to the commitment's root")
        self._put_manifest(commitment.root, levels)

    def put_chunk(self, commitment: BlobCommitment, index: int, data: bytes) -> bool:
        """Accept chunk `index` of a blob whose manifest is here: CorruptChunkError unless
        it is the committed chunk; True if it was not stored yet."""
        leaves, _ = self._verified_span(commitment, index, index + 1)
        check_chunk(self.hasher, commitment, index, data, leaves[0])
        return self._put_chunk(leaves[0], data)

    def _put_chunk(self, leaf: bytes, data: bytes) -> bool:
        return self._put_once(chunk_key(leaf), data,
                              lambda held: leaf_hash(self.hasher, held) == leaf)

    def _put_manifest(self, root: bytes, levels: list[list[bytes]]) -> None:
        manifest = encode_manifest(levels)
        self._put_once(manifest_key(root), manifest, manifest.__eq__)

    def _put_once(self, key: str, data: bytes, is_intact: Callable[[bytes], bool]) -> bool:
        """Store verified bytes once; a copy already held is read back and, if damaged,
        replaced, so writing or uploading a blob again repairs it. True if this call wrote."""
        if self.backend.put(key, data):
            return True
        held = self.backend.get(key)
        if held is not None and is_intact(held):
            return False
        return self.backend.put(key, data, replace=True)

    # ---- reading

    def missing(self, commitment: BlobCommitment, start: int = 0,
                limit: int = MAX_MISSING_PAGE) -> list[int]:
        """The indices of chunks in [start, start + limit) this store does not hold."""
        n = self._check(commitment)
        end = min(n, start + min(limit, MAX_MISSING_PAGE))
        if start >= end:
            return []
        leaves, _ = self._verified_span(commitment, start, end)
        present = self._windowed(partial(self.backend.has, chunk_key(leaf))
                                 for leaf in leaves)
        return [i for i, held in enumerate(present, start) if not held]

    def read(self, commitment: BlobCommitment, offset: int = 0, length: int | None = None
             ) -> Iterator[bytes]:
        """The bytes [offset, offset + length) of the blob (to its end when `length` is
        None), verified chunk by chunk; only the chunks that the range touches are read."""
        self._check(commitment)
        if length is None:
            length = commitment.size - offset
        if offset < 0 or length < 0 or offset + length > commitment.size:
            raise BlobRangeError(f"bytes [{offset}, {offset} + {length}) of a blob of "
                                 f"{commitment.size}")
        if length == 0:
            self._check_empty(commitment)
            return iter(())
        cs = commitment.chunk_size
        first, end = offset // cs, (offset + length - 1) // cs + 1
        leaves, _ = self._verified_span(commitment, first, end)
        return self._stream(commitment, first, leaves, offset, offset + length)

    def get_chunk(self, commitment: BlobCommitment, index: int) -> tuple[bytes, SpanProof]:
        """Chunk `index`, verified here, and its proof, for a client to verify again
        against the commitment alone (blob_proof.verify_chunk)."""
        leaves, proof = self._verified_span(commitment, index, index + 1)
        return self._fetch(commitment, index, leaves[0]), proof

    def _stream(self, commitment: BlobCommitment, first: int, leaves: list[bytes],
                start: int, stop: int) -> Iterator[bytes]:
        cs = commitment.chunk_size
        fetched = self._windowed(partial(self._fetch, commitment, index, leaf)
                                 for index, leaf in enumerate(leaves, first))
        for index, data in enumerate(fetched, first):
            base = index * cs
            lo, hi = max(start - base, 0), min(stop - base, len(data))
            yield data if (lo, hi) == (0, len(data)) else data[lo:hi]

    def _fetch(self, commitment: BlobCommitment, index: int, leaf: bytes) -> bytes:
        """Chunk `index`, checked against its verified leaf."""
        key = chunk_key(leaf)
        data = self.backend.get(key)
        if data is None:
            raise MissingChunkError(index)
        try:
            check_chunk(self.hasher, commitment, index, data, leaf)
        except CorruptChunkError:
            self._drop_damaged(key, leaf)
            raise
        return data

    def _drop_damaged(self, key: str, leaf: bytes) -> None:
        """Remove a chunk whose bytes no longer hash to its leaf, so that `missing` lists
        it and the next upload puts it back (a damaged copy still counted as held would
        never be asked for again). It is read once more first: a repair that landed
        since the failed read is kept."""
        held = self.backend.get(key)
        if held is not None and leaf_hash(self.hasher, held) != leaf:
            self.backend.delete(key)

    # ---- the manifest and the checks

    def _check(self, commitment: BlobCommitment) -> int:
        """The commitment's chunk count, once its shape and this node's caps allow it."""
        check_commitment(commitment)
        n = chunk_count(commitment.size, commitment.chunk_size)
        self._check_caps(commitment.size, n)
        return n

    def _check_caps(self, size: int, chunks: int) -> None:
        if size > self.limits.max_blob_size or chunks > self.limits.max_chunks:
            raise BlobTooLargeError(
                f"a blob of {size} bytes in {chunks} chunks; this node takes at most "
                f"{self.limits.max_blob_size} bytes and {self.limits.max_chunks} chunks")

    def _check_empty(self, commitment: BlobCommitment) -> None:
        """A zero-length read still needs the blob to be here and, for an empty blob, the
        commitment to be the empty blob's."""
        if not self.backend.has(manifest_key(commitment.root)):
            raise BlobNotFoundError(f"no blob {commitment.root.hex()}")
        if commitment.size == 0 and commitment.root != compute_root(
                self.hasher, 0, commitment.chunk_size, EMPTY_TOP):
            raise BlobProofError("not the root of an empty blob")

    def _verified_span(self, commitment: BlobCommitment, first: int, end: int
                       ) -> tuple[list[bytes], SpanProof]:
        """The leaves of chunks [first, end) and their proof, read from the manifest and
        checked against the commitment."""
        n = self._check(commitment)
        if not 0 <= first < end <= n:
            raise BlobRangeError(f"chunks [{first}, {end}) of a blob of {n}")
        key = manifest_key(commitment.root)
        raw = self.backend.get(key, first * HASH_SIZE, (end - first) * HASH_SIZE)
        if raw is None:
            raise BlobNotFoundError(f"no blob {commitment.root.hex()}")
        if len(raw) != (end - first) * HASH_SIZE:
            raise BlobProofError(f"the manifest of blob {commitment.root.hex()} is cut short")
        leaves = [raw[i:i + HASH_SIZE] for i in range(0, len(raw), HASH_SIZE)]
        starts = [0]
        for width in level_widths(n):
            starts.append(starts[-1] + width)
        nodes = list(self._windowed(
            partial(self.backend.get, key, (starts[level] + index) * HASH_SIZE, HASH_SIZE)
            for level, index in sibling_positions(n, first, end)))
        siblings = [node for node in nodes if node is not None and len(node) == HASH_SIZE]
        if len(siblings) != len(nodes):
            raise BlobProofError(f"the manifest of blob {commitment.root.hex()} is cut short")
        proof = SpanProof(siblings)
        verify_span(self.hasher, commitment, first, leaves, proof)
        return leaves, proof

    def _windowed(self, calls: Iterable[Callable[[], T]]) -> Iterator[T]:
        """The results of `calls` in order, up to `parallel` of them running at once (the
        backends' I/O, and hashlib's hashing, run outside the GIL)."""
        if self._pool is None:
            for call in calls:
                yield call()
            return
        pending: deque[Future[T]] = deque()
        for call in calls:
            pending.append(self._pool.submit(call))
            if len(pending) >= self.parallel:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
