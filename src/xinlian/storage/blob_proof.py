"""Blob commitments: how a large payload is cut into chunks, hashed into one Merkle root,
and how any run of its chunks is proven against that root.

Pure (no store, no backend): the SDK, light nodes and the data model import it to check a
commitment's shape and to verify chunks a node serves, holding nothing but the commitment.

Theory of operation. A payload of `size` bytes is cut into chunks of `chunk_size` bytes
(the last may be shorter; a payload of 0 bytes has no chunks). Hashes, domain-separated:

    leaf(chunk)  = H(0x00 || chunk)        also the chunk's content address in a store
    node(l, r)   = H(0x01 || l || r)
    level k + 1  = node() of each pair of level k, left to right; a last unpaired node
                   moves up unchanged
    top          = the single node of the last level (32 zero bytes when there are no chunks)
    root         = H(0x02 || size, 8 bytes big-endian || chunk_size, 4 bytes big-endian || top)

The root binds the payload's size and chunking, so the number of leaves is fixed by the
commitment and a span proof can name exactly which siblings it carries. A span proof for
chunks [first, end) lists, bottom level first and the left one before the right one at each
level, the sibling hashes the walk up from those leaves needs (`sibling_positions`): about
2 log2(n) hashes whatever the span's length, so a ranged read costs the hashes of the chunks
it touches plus O(log n) node hashes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Annotated, BinaryIO

from xinlian import codec
from xinlian.storage.errors import (
    BadCommitmentError,
    BlobProofError,
    CorruptChunkError,
    MalformedProofError,
)
from xinlian.storage.proof import HASH_SIZE, Hasher

MIN_CHUNK_SIZE = 4 * 1024
MAX_CHUNK_SIZE = 16 * 1024 * 1024
MAX_SIZE = (1 << 64) - 1
MAX_LEVELS = 48  # a tree of up to 2**47 chunks: far beyond any configured cap
MAX_MEDIA_TYPE = 127  # RFC 6838: type and subtype names of at most 127 characters together
EMPTY_TOP = bytes(HASH_SIZE)
_LEAF, _NODE, _ROOT = b"\x00", b"\x01", b"\x02"
_MEDIA_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789!#$&-^_.+")

Hash = Annotated[bytes, codec.exactly(HASH_SIZE)]
Source = BinaryIO | Iterable[bytes]


class BlobCommitment(codec.Struct):
    """What goes on chain for a blob: its Merkle root (which binds size and chunking), its
    size in bytes, its chunk size and its media type (`image/png`, `video/mp4`...)."""

    root: Hash
    size: int
    chunk_size: int
    media_type: Annotated[str, codec.at_most(MAX_MEDIA_TYPE)]


class SpanProof(codec.Struct):
    """The sibling hashes that lead the leaves of a run of chunks up to the top, in the
    order `sibling_positions` names them."""

    siblings: Annotated[list[Hash], codec.at_most(2 * MAX_LEVELS)]


def chunk_count(size: int, chunk_size: int) -> int:
    return -(-size // chunk_size)


def chunk_length(commitment: BlobCommitment, index: int) -> int:
    """The exact length chunk `index` must have."""
    return min(commitment.chunk_size, commitment.size - index * commitment.chunk_size)


def is_media_type(text: str) -> bool:
    """`type/subtype` in lower case, RFC 6838 name characters, no parameters."""
    kind, slash, sub = text.partition("/")
    return (bool(slash and kind and sub) and len(text) <= MAX_MEDIA_TYPE
            and set(kind) <= _MEDIA_CHARS and set(sub) <= _MEDIA_CHARS)


def check_chunk_size(chunk_size: int) -> None:
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise BadCommitmentError(
            f"chunk size {chunk_size}: must be in [{MIN_CHUNK_SIZE}, {MAX_CHUNK_SIZE}]")


def check_commitment(commitment: BlobCommitment) -> None:
    """Raise BadCommitmentError unless the commitment has a valid shape. Needs no chunks:
    a light node checks the commitments it keeps with this alone."""
    c = commitment
    if len(c.root) != HASH_SIZE:
        raise BadCommitmentError(f"a root of {len(c.root)} bytes")
    check_chunk_size(c.chunk_size)
    if not 0 <= c.size <= MAX_SIZE:
        raise BadCommitmentError(f"size {c.size} out of range")
    if chunk_count(c.size, c.chunk_size) >= 1 << (MAX_LEVELS - 1):
        raise BadCommitmentError(f"{c.size} bytes make too many chunks")
    if not is_media_type(c.media_type):
        raise BadCommitmentError(f"media type {c.media_type!r} is not type/subtype")


def leaf_hash(hasher: Hasher, chunk: bytes) -> bytes:
    return hasher(_LEAF + chunk)


def node_hash(hasher: Hasher, left: bytes, right: bytes) -> bytes:
    return hasher(_NODE + left + right)


def compute_root(hasher: Hasher, size: int, chunk_size: int, top: bytes) -> bytes:
    return hasher(_ROOT + size.to_bytes(8, "big") + chunk_size.to_bytes(4, "big") + top)


def level_widths(leaves: int) -> list[int]:
    """How many nodes each level of a tree over `leaves` leaves holds, leaves first."""
    widths = [leaves]
    while widths[-1] > 1:
        widths.append((widths[-1] + 1) // 2)
    return widths


def _parents(hasher: Hasher, nodes: Sequence[bytes]) -> list[bytes]:
    """The next level up from a run of nodes that starts at an even position and either
    ends at an odd one or is the level's last (an unpaired last node moves up)."""
    up = [node_hash(hasher, nodes[i], nodes[i + 1]) for i in range(0, len(nodes) - 1, 2)]
    if len(nodes) % 2:
        up.append(nodes[-1])
    return up


def compute_levels(hasher: Hasher, leaves: Sequence[bytes]) -> list[list[bytes]]:
    """Every level of the tree over `leaves`, leaves first, the top last."""
    levels = [list(leaves)]
    while len(levels[-1]) > 1:
        levels.append(_parents(hasher, levels[-1]))
    return levels


def top_of(levels: Sequence[Sequence[bytes]]) -> bytes:
    return levels[-1][0] if levels[-1] else EMPTY_TOP


def sibling_positions(leaves: int, first: int, end: int) -> list[tuple[int, int]]:
    """(level, index) of each sibling a proof of chunks [first, end) needs, in proof order."""
    if not 0 <= first < end <= leaves:
        raise MalformedProofError(f"chunks [{first}, {end}) are not in a blob of {leaves}")
    out = []
    lo, hi = first, end
    for level, width in enumerate(level_widths(leaves)[:-1]):
        if lo & 1:
            out.append((level, lo - 1))
        if hi & 1 and hi < width:
            out.append((level, hi))
        lo, hi = lo >> 1, (hi + 1) >> 1
    return out


def prove_span(levels: Sequence[Sequence[bytes]], first: int, end: int) -> SpanProof:
    """The proof of chunks [first, end) from a tree's levels."""
    return SpanProof([levels[level][index]
                      for level, index in sibling_positions(len(levels[0]), first, end)])


def verify_span(hasher: Hasher, commitment: BlobCommitment, first: int,
                leaves: Sequence[bytes], proof: SpanProof) -> None:
    """Check that `leaves` are the leaf hashes of chunks [first, first + len(leaves)) of the
    committed blob: MalformedProofError for a proof of the wrong length, BlobProofError when
    the hashes do not lead to the root."""
    n = chunk_count(commitment.size, commitment.chunk_size)
    if not leaves:
        raise MalformedProofError("a span proof of no chunks")
    positions = sibling_positions(n, first, first + len(leaves))
    if len(proof.siblings) != len(positions):
        raise MalformedProofError(
            f"{len(proof.siblings)} siblings where chunks [{first}, {first + len(leaves)}) "
            f"of {n} need {len(positions)}")
    given = dict(zip(positions, proof.siblings, strict=True))
    run, lo = list(leaves), first
    for level, width in enumerate(level_widths(n)[:-1]):
        hi = lo + len(run)
        if lo & 1:
            run.insert(0, given[(level, lo - 1)])
            lo -= 1
        if hi & 1 and hi < width:
            run.append(given[(level, hi)])
        run, lo = _parents(hasher, run), lo >> 1
    if compute_root(hasher, commitment.size, commitment.chunk_size, run[0]) != commitment.root:
        raise BlobProofError(
            f"chunks [{first}, {first + len(leaves)}) do not lead to the commitment's root")


def check_chunk(hasher: Hasher, commitment: BlobCommitment, index: int, data: bytes,
                leaf: bytes) -> None:
    """Raise CorruptChunkError unless `data` is chunk `index`, whose verified leaf is `leaf`."""
    if len(data) != chunk_length(commitment, index):
        raise CorruptChunkError(index, f"chunk {index} has {len(data)} bytes, "
                                       f"not {chunk_length(commitment, index)}")
    if leaf_hash(hasher, data) != leaf:
        raise CorruptChunkError(index)


def verify_chunk(hasher: Hasher, commitment: BlobCommitment, index: int, data: bytes,
                 proof: SpanProof) -> None:
    """Check one chunk a node served against the commitment alone (what an SDK does):
    CorruptChunkError when the chunk, or its proof, is not the committed one."""
    if len(data) != chunk_length(commitment, index):
        raise CorruptChunkError(index, f"chunk {index} has {len(data)} bytes, "
                                       f"not {chunk_length(commitment, index)}")
    try:
        verify_span(hasher, commitment, index, [leaf_hash(hasher, data)], proof)
    except (BlobProofError, MalformedProofError) as exc:
        raise CorruptChunkError(index, f"chunk {index}: {exc.message}") from None


def iter_chunks(source: Source, chunk_size: int) -> Iterator[bytes]:
    """The payload of `source` (a binary file, or an iterable of byte strings of any sizes)
    in chunks of exactly `chunk_size` bytes, the last shorter; holds at most one chunk."""
    if hasattr(source, "read"):
        reader: BinaryIO = source  # type: ignore[assignment]
        while True:
            chunk = reader.read(chunk_size)
            while chunk and len(chunk) < chunk_size:  # a pipe or socket may return less
                more = reader.read(chunk_size - len(chunk))
                if not more:
                    break
                chunk += more
            if not chunk:
                return
            yield chunk
            if len(chunk) < chunk_size:
                return
    buffer = bytearray()
    for piece in source:
        buffer += piece
        while len(buffer) >= chunk_size:
            yield bytes(buffer[:chunk_size])
            del buffer[:chunk_size]
    if buffer:
        yield bytes(buffer)


def compute_commitment(hasher: Hasher, source: Source, chunk_size: int, media_type: str
                       ) -> tuple[BlobCommitment, list[bytes]]:
    """A payload's commitment and leaf hashes without storing it (a client about to upload
    computes what it will put on chain)."""
    check_chunk_size(chunk_size)
    size, leaves = 0, []
    for chunk in iter_chunks(source, chunk_size):
        size += len(chunk)
        leaves.append(leaf_hash(hasher, chunk))
    top = top_of(compute_levels(hasher, leaves))
    commitment = BlobCommitment(compute_root(hasher, size, chunk_size, top), size,
                                chunk_size, media_type)
    check_commitment(commitment)
    return commitment, leaves
