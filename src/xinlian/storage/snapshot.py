"""State snapshots: one version of the state tree, in chunks that each verify on their own.

Theory of operation. A snapshot is read top-down along the tree's own structure, so every
piece is checked against a hash the reader already trusts, starting from the state root of
a trusted block header (the idea of Ethereum's snap sync and trie healing). A request names
a position (a nibble path, as hex digits); the answer is a `Chunk`:

- `leaves`: every leaf at or under that position, when they fit in one chunk. The reader
  recomputes the subtree's hash from them — with the tree's compression, a lone leaf is its
  own subtree — and compares it with the hash it expects at that position;
- `children`: the 16 child hashes of the internal node there, when the subtree is too big.
  The reader checks that they hash to the node hash it expects, then asks for each
  non-empty child, whose hash it now knows.

So a chunk from any peer is either exactly right or refused with BadChunkError; nothing
unverified reaches the store. `SnapshotImport` tracks the positions still to fetch and
writes the verified leaves as one new version of the tree. The tree's shape depends only on
its set of keys, so that version has the trusted root, and every later block applied on it
produces the same state roots as on the nodes that executed the whole chain.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import pairwise
from typing import Annotated

from xinlian import codec
from xinlian.storage.errors import BadChunkError
from xinlian.storage.jmt import LeafNode, StateTree, node_hash16
from xinlian.storage.kv import WriteBatch
from xinlian.storage.proof import EMPTY, HASH_SIZE, Hasher, leaf_hash

MAX_CHUNK_LEAVES = 1024
MAX_CHUNK_BYTES = 1 << 20  # leaves beyond this go as a split; one leaf may be bigger
MAX_VALUE = 3 << 20
MAX_DEPTH = 2 * HASH_SIZE  # nibbles in a path
_HEXDIGITS = frozenset("0123456789abcdef")


class Leaf(codec.Struct):
    path: Annotated[bytes, codec.exactly(HASH_SIZE)]
    value: Annotated[bytes, codec.at_most(MAX_VALUE)]


class Chunk(codec.Struct):
    """The subtree at `prefix`: all its leaves, or else its node's 16 child hashes."""

    prefix: str
    leaves: list[Leaf]
    children: list[Annotated[bytes, codec.at_most(HASH_SIZE)]]  # b"": empty


def _nibble(path: bytes, depth: int) -> int:
    byte = path[depth >> 1]
    return byte & 0x0F if depth & 1 else byte >> 4


def subtree_hash(hasher: Hasher, leaves: Sequence[Leaf], depth: int) -> bytes:
    """The hash of the compressed subtree holding exactly `leaves` (sorted by path) at
    nibble depth `depth`, as the state tree builds it."""
    if not leaves:
        return EMPTY
    if len(leaves) == 1:
        return leaf_hash(hasher, leaves[0].path, leaves[0].value)
    if depth >= MAX_DEPTH:
        raise BadChunkError("two leaves share a whole path")
    slots = [EMPTY] * 16
    start = 0
    while start < len(leaves):
        nib = _nibble(leaves[start].path, depth)
        end = start + 1
        while end < len(leaves) and _nibble(leaves[end].path, depth) == nib:
            end += 1
        slots[nib] = subtree_hash(hasher, leaves[start:end], depth + 1)
        start = end
    return node_hash16(hasher, slots)


def verify_chunk(chunk: Chunk, expected: bytes, hasher: Hasher) -> list[tuple[str, bytes]]:
    """Check `chunk` against the hash expected at its position; return the positions
    (with their hashes) it leaves to fetch. Raises BadChunkError."""
    prefix = chunk.prefix
    if len(prefix) > MAX_DEPTH or not _HEXDIGITS.issuperset(prefix):
        raise BadChunkError("a chunk position is at most 64 lowercase hex digits")
    if chunk.children:
        if chunk.leaves or len(chunk.children) != 16 or len(prefix) >= MAX_DEPTH:
            raise BadChunkError("a split chunk has 16 child hashes and no leaves")
        if any(len(c) not in (0, HASH_SIZE) or c == EMPTY for c in chunk.children):
            raise BadChunkError("a child hash is 32 bytes, or b'' for an empty child")
        slots = [bytes(c) or EMPTY for c in chunk.children]
        if node_hash16(hasher, slots) != expected:
            raise BadChunkError(f"children at {prefix!r} do not hash to the expected node")
        return [(prefix + format(nib, "x"), slot) for nib, slot in enumerate(slots)
                if slot != EMPTY]
    paths = [bytes(leaf.path) for leaf in chunk.leaves]
    if any(a >= b for a, b in pairwise(paths)):
        raise BadChunkError("chunk leaves are not in strictly increasing path order")
    if any(not path.hex().startswith(prefix) for path in paths):
        raise BadChunkError(f"a leaf lies outside position {prefix!r}")
    if subtree_hash(hasher, chunk.leaves, len(prefix)) != expected:
        raise BadChunkError(f"leaves at {prefix!r} do not hash to the expected subtree")
    return []


def read_chunk(tree: StateTree, version: int, prefix: str,
               max_leaves: int = MAX_CHUNK_LEAVES, max_bytes: int = MAX_CHUNK_BYTES) -> Chunk:
    """The chunk at `prefix` of `version`: its leaves if they fit, else its children."""
    at = tree.position(version, prefix)
    if at is None:
        return Chunk(prefix, [], [])
    if isinstance(at, LeafNode):
        return Chunk(prefix, [Leaf(at.path, at.value)], [])
    found = tree.leaves(version, prefix, max_leaves)
    if found is not None and sum(len(n.value) + 40 for n in found) <= max_bytes:
        return Chunk(prefix, [Leaf(n.path, n.value) for n in found], [])
    return Chunk(prefix, [], [b"" if h == EMPTY else h for h in at])


def export_chunks(tree: StateTree, version: int, max_leaves: int = MAX_CHUNK_LEAVES,
                  max_bytes: int = MAX_CHUNK_BYTES) -> Iterator[Chunk]:
    """Every chunk of `version`, top-down (what a peer serves, request by request)."""
    root = tree.root(version)
    wanted = [""] if root != EMPTY else []
    while wanted:
        chunk = read_chunk(tree, version, wanted.pop(), max_leaves, max_bytes)
        wanted += [chunk.prefix + format(nib, "x") for nib, h in enumerate(chunk.children)
                   if h]
        yield chunk


class SnapshotImport:
    """Verified chunks of the state under `root`, collected until none is missing."""

    def __init__(self, root: bytes, hasher: Hasher) -> None:
        self.root = root
        self.hasher = hasher
        self.wanted: dict[str, bytes] = {"": root} if root != EMPTY else {}
        self.leaves: dict[bytes, bytes] = {}

    @property
    def done(self) -> bool:
        return not self.wanted

    def add(self, chunk: Chunk) -> None:
        """Take a chunk for a position still wanted; BadChunkError (nothing kept) if wrong."""
        expected = self.wanted.get(chunk.prefix)
        if expected is None:
            raise BadChunkError(f"position {chunk.prefix!r} was not asked for")
        more = verify_chunk(chunk, expected, self.hasher)
        del self.wanted[chunk.prefix]
        self.wanted.update(more)
        self.leaves.update((bytes(leaf.path), bytes(leaf.value)) for leaf in chunk.leaves)

    def write(self, tree: StateTree, version: int, batch: WriteBatch) -> bytes:
        """Write the snapshot into `batch` as `version` of `tree` — replacing whatever the
        tree held before — and return its root (the trusted one)."""
        if not self.done:
            raise BadChunkError(f"{len(self.wanted)} positions are still missing")
        latest = tree.latest_version()
        before = [] if latest is None else tree.leaves(latest) or []
        updates: dict[bytes, bytes | None] = {
            bytes(n.path): None for n in before if bytes(n.path) not in self.leaves}
        updates.update(self.leaves)
        root = tree.apply_paths(version, updates, batch)
        if root != self.root:
            raise BadChunkError("the imported state does not have the trusted root")
        return root
