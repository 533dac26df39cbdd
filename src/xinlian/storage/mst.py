"""An ordered, authenticated, versioned index: a Merkle search tree over the store.

Theory of operation. The tree holds byte-string keys in sorted order with their values (the
hashing rules and range proofs are in `mst_proof.py`). Each key has a level, the number of
leading zero nibbles of its hash: the root node holds the keys of the highest level present,
in order, and between each two of them (and before the first, after the last) a child: the
tree, built the same way, of the keys in that gap. A gap's tree starts at the highest level
found in it, so no node is empty. Levels make the fan-out 16 on average and the depth about
log16(n); and as they depend on the keys only, the tree's shape (hence its root) depends on
the set of entries alone, never on the order they came in. A state snapshot can therefore
carry just the entries: the receiver rebuilds the same root.

Keys are the caller's and may be chosen by anyone (contract data): they never become paths
of the state tree, and a key's level costs its author a hash search per level (16 tries per
extra level), so a lopsided tree is as expensive to build as it is deep.

Nodes are immutable and stored under their hash, so versions share every unchanged node;
`apply` writes the nodes of one block (and the root record of its version) into the
caller's `WriteBatch`, to commit atomically with the block and the state tree. Old versions
stay readable; nodes are not pruned (a node may be shared by any number of versions).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import msgspec

from xinlian import codec
from xinlian.storage.errors import (
    BadChunkError,
    CorruptDataError,
    InvalidKeyError,
)
from xinlian.storage.kv import Snapshot, Store, WriteBatch, check_sub_dbs
from xinlian.storage.mst_proof import (
    EMPTY_ROOT,
    HASH_SIZE,
    Hasher,
    ProofNode,
    RangeProof,
    RangeQuery,
    node_hash,
)
from xinlian.storage.versioned import NodeCache, VersionRoots, read_nodes

NODES_DB = "ix_nodes"
ROOTS_DB = "ix_roots"
SUB_DBS = (NODES_DB, ROOTS_DB)
MAX_KEY_SIZE = 4096
MAX_ANSWER_BYTES = 1 << 20  # node encodings per snapshot answer
MAX_REFS = 64               # nodes asked for per snapshot request


class Node(codec.Struct):
    """A stored node: its level (not hashed: it follows from the keys), sorted keys, their
    values and value hashes, and len(keys) + 1 child hashes ("" for an empty child)."""

    level: int
    keys: list[bytes]
    values: list[bytes]
    value_hashes: list[bytes]
    children: list[bytes]


_decode_node = codec.trusted_decoder(Node)
# A change: key, its level, new value (None deletes), value hash ("" when deleting).
_Change = tuple[bytes, int, "bytes | None", bytes]


def key_level(hasher: Hasher, key: bytes) -> int:
    """The number of leading zero nibbles of the key's hash."""
    digest = hasher(key)
    bits = int.from_bytes(digest, "big")
    return (len(digest) * 8 - bits.bit_length()) // 4


class OrderedIndex:
    """See the module docstring. `hasher` maps bytes to 32 bytes (the chain suite's hash).
    One writer at a time; reads may run from other threads."""

    def __init__(self, store: Store, hasher: Hasher, *, cache_nodes: int = 200_000,
                 roots_db: str = ROOTS_DB) -> None:
        """`roots_db`: where the roots of its versions are kept. Indexes of one store may
        share the node sub-database (nodes are stored by hash), each with its own roots."""
        check_sub_dbs(store, (NODES_DB, roots_db), "index")
        self._store = store
        self.hasher = hasher
        self._cache: NodeCache[Node] = NodeCache(cache_nodes)
        self._roots = VersionRoots(store, roots_db)

    # -- versions and roots ------------------------------------------------------------

    def latest_version(self) -> int | None:
        return self._roots.latest

    def root(self, version: int | None = None) -> bytes:
        """The root after `version` (default: latest); 32 zero bytes for the empty index."""
        with self._store.snapshot() as snap:
            return self._root(snap, version) or EMPTY_ROOT

    def _root(self, snap: Snapshot, version: int | None) -> bytes:
        """The root hash of `version`, "" when empty (before any version too)."""
        return self._roots.get(snap, version) or b""

    # -- nodes -------------------------------------------------------------------------

    def _load(self, snap: Snapshot, ref: bytes, fresh: Mapping[bytes, Node] | None = None
              ) -> Node:
        if fresh is not None:
            node = fresh.get(ref)
            if node is not None:
                return node
        node = self._cache.get(ref)
        if node is None:
            raw = snap.get(NODES_DB, ref)
            if raw is None:
                raise CorruptDataError(f"missing index node {ref.hex()}")
            try:
                node = _decode_node(raw)
            except msgspec.DecodeError as exc:
                raise CorruptDataError(f"bad index node {ref.hex()}: {exc}") from exc
        self._cache.put(ref, node)
        return node

    # -- reads -------------------------------------------------------------------------

    def get(self, key: bytes, version: int | None = None) -> bytes | None:
        with self._store.snapshot() as snap:
            ref = self._root(snap, version)
            while ref:
                node = self._load(snap, ref)
                i = bisect_left(node.keys, key)
                if i < len(node.keys) and node.keys[i] == key:
                    return node.values[i]
                ref = node.children[i]
        return None

    def items(self, version: int | None = None, lo: bytes = b"",
              hi: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        """Every entry with `lo <= key < hi`, ascending, without proof (one snapshot)."""
        with self._store.snapshot() as snap:
            yield from self._items(snap, self._root(snap, version), lo, hi)

    @contextmanager
    def reading(self, version: int | None = None) -> Iterator[Reader]:
        """Many reads of one version in one snapshot (a structure built on the tree seeks
        it often: one snapshot and one root lookup for all of them)."""
        with self._store.snapshot() as snap:
            yield Reader(self, snap, self._root(snap, version))

    def _items(self, snap: Snapshot, ref: bytes, lo: bytes, hi: bytes | None
               ) -> Iterator[tuple[bytes, bytes]]:
        if not ref:
            return
        node = self._load(snap, ref)
        keys = node.keys
        start = bisect_left(keys, lo)
        yield from self._items(snap, node.children[start], lo, hi)
        for i in range(start, len(keys)):
            if hi is not None and keys[i] >= hi:
                return
            yield keys[i], node.values[i]
            yield from self._items(snap, node.children[i + 1], lo, hi)

    def query(self, query: RangeQuery, version: int | None = None
              ) -> tuple[list[tuple[bytes, bytes]], RangeProof]:
        """The query's answer (key, value) in query order, and its proof against `root`."""
        with self._store.snapshot() as snap:
            ref = self._root(snap, version)
            if not ref:
                return [], RangeProof(b"")
            answer: list[tuple[bytes, bytes]] = []
            tree = self._prove(snap, ref, query, None, None, answer)
        return answer, RangeProof(tree)

    def _prove(self, snap: Snapshot, ref: bytes, query: RangeQuery, after: bytes | None,
               before: bytes | None, answer: list[tuple[bytes, bytes]]) -> ProofNode | bytes:
        """The pruned subtree at `ref` (keys between `after` and `before`), walked in query
        order, appending the entries it reveals to `answer` until the page is full."""
        if not ref or len(answer) >= query.limit or not query.may_overlap(after, before):
            return ref
        node = self._load(snap, ref)
        keys, n = node.keys, len(node.keys)
        children: list[ProofNode | bytes] = list(node.children)
        shown: list[bool] = [False] * n
        steps = range(2 * n, -1, -1) if query.reverse else range(2 * n + 1)
        for step in steps:
            i = step // 2
            if step % 2 == 0:  # child i, between keys i-1 and i
                children[i] = self._prove(snap, node.children[i], query,
                                          keys[i - 1] if i else after,
                                          keys[i] if i < n else before, answer)
            elif len(answer) < query.limit and query.contains(keys[i]):
                shown[i] = True
                answer.append((keys[i], node.values[i]))
        return _proof_node(node, shown, children)

    def prove_points(self, points: Sequence[bytes], version: int | None = None
                     ) -> RangeProof:
        """The tree pruned to the search paths of `points`: every point the index holds is
        revealed with its value, and every other point falls in a gap between revealed keys
        with no hidden subtree in it (its neighbours, revealed by key and value hash, prove
        it absent). Many lookups share one proof and the nodes on their paths."""
        targets = sorted(set(points))
        with self._store.snapshot() as snap:
            ref = self._root(snap, version)
            tree = self._prove_points(snap, ref, targets, 0, len(targets))
        return RangeProof(tree)

    def _prove_points(self, snap: Snapshot, ref: bytes, targets: list[bytes], lo: int,
                      hi: int) -> ProofNode | bytes:
        """The subtree at `ref` pruned to the paths of `targets[lo:hi]` (all in its gap)."""
        if not ref or lo == hi:
            return ref
        node = self._load(snap, ref)
        keys, n = node.keys, len(node.keys)
        children: list[ProofNode | bytes] = list(node.children)
        shown = [False] * n
        for i in range(n + 1):
            end = bisect_left(targets, keys[i], lo, hi) if i < n else hi
            children[i] = self._prove_points(snap, node.children[i], targets, lo, end)
            lo = end
            if i < n and lo < hi and targets[lo] == keys[i]:
                shown[i] = True
                lo += 1
        return _proof_node(node, shown, children)

    # -- writes ------------------------------------------------------------------------

    def apply(self, version: int, updates: Mapping[bytes, bytes | None],
              batch: WriteBatch) -> bytes:
        """Write the index of `version` (the previous version + updates; None deletes)
        into `batch` without committing it; return the new root (32 zero bytes if empty)."""
        hasher = self.hasher
        changes: list[_Change] = []
        for key, value in updates.items():
            if type(key) is not bytes or not 0 < len(key) <= MAX_KEY_SIZE or (
                    value is not None and type(value) is not bytes):
                raise InvalidKeyError(f"index keys are 1..{MAX_KEY_SIZE} bytes, values bytes")
            changes.append((key, key_level(hasher, key), value,
                            b"" if value is None else hasher(value)))
        changes.sort()
        with self._store.snapshot() as snap:
            base = self._roots.base(snap, version, batch)[1] or b""
            writer = _Writer(self, snap)
            root = writer.update(base, changes)
            writer.flush(root, batch)
        self._roots.record(version, root, batch)
        return root or EMPTY_ROOT

    # -- snapshots (node/statesync.py) -------------------------------------------------

    def read_nodes(self, refs: list[bytes], max_bytes: int = MAX_ANSWER_BYTES) -> list[bytes]:
        """The stored encodings of the nodes `refs` that this store holds, in order, up to
        about `max_bytes` in all (at least one)."""
        return read_nodes(self._store, NODES_DB, refs, max_bytes)

    def adopt(self, version: int, root: bytes, nodes: Mapping[bytes, Node],
              batch: WriteBatch) -> None:
        """Write verified nodes (an `IndexImport`) into `batch` as the whole index of
        `version`, whatever this index held before."""
        for ref, node in nodes.items():
            batch.put(NODES_DB, ref, codec.encode(node))
        self._roots.record(version, b"" if root == EMPTY_ROOT else root, batch)


class Reader:
    """Reads of one version of the tree within one snapshot (`OrderedIndex.reading`)."""

    def __init__(self, index: OrderedIndex, snap: Snapshot, ref: bytes) -> None:
        self._index, self._snap, self._ref = index, snap, ref

    def get(self, key: bytes) -> bytes | None:
        found = self.first(key, key + b"\x00")
        return found[1] if found is not None else None

    def items(self, lo: bytes, hi: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        """Every entry with `lo <= key < hi`, ascending."""
        return self._index._items(self._snap, self._ref, lo, hi)

    def first(self, lo: bytes, hi: bytes | None) -> tuple[bytes, bytes] | None:
        """The first entry with `lo <= key < hi`, if any."""
        return next(self.items(lo, hi), None)


def _proof_node(node: Node, shown: list[bool], children: list[ProofNode | bytes]
                ) -> ProofNode:
    """`node` revealed with the values of its `shown` entries and the given children."""
    keys = node.keys
    prefix = _shared_prefix(keys)
    return ProofNode([k[len(prefix):] for k in keys],
                     [v if s else None for v, s in zip(node.values, shown, strict=True)],
                     [h for h, s in zip(node.value_hashes, shown, strict=True) if not s],
                     children, prefix)


def _shared_prefix(keys: list[bytes]) -> bytes:
    """The prefix that all of the sorted `keys` share: the first's and the last's."""
    first, last = keys[0], keys[-1]
    low, high = 0, min(len(first), len(last))
    while low < high:  # by halving: a few slice comparisons, not a loop per byte
        mid = (low + high + 1) // 2
        if first[:mid] == last[:mid]:
            low = mid
        else:
            high = mid - 1
    return first[:low]


class _Writer:
    """One `apply`: new nodes are kept in memory until `flush` writes those the new root
    reaches (a node built and replaced within the apply is never written)."""

    def __init__(self, index: OrderedIndex, snap: Snapshot) -> None:
        self._index = index
        self._snap = snap
        self._hasher = index.hasher
        self.fresh: dict[bytes, Node] = {}

    def load(self, ref: bytes) -> Node:
        return self._index._load(self._snap, ref, self.fresh)

    def make(self, level: int, keys: list[bytes], values: list[bytes],
             value_hashes: list[bytes], children: list[bytes]) -> bytes:
        """The ref of a node with these contents; a node without keys is its one child."""
        if not keys:
            return children[0]
        ref = node_hash(self._hasher, keys, value_hashes, children)
        self.fresh[ref] = Node(level, keys, values, value_hashes, children)
        return ref

    def flush(self, root: bytes, batch: WriteBatch) -> None:
        stack = [root]
        while stack:
            ref = stack.pop()
            node = self.fresh.pop(ref, None)
            if node is None:
                continue
            batch.put(NODES_DB, ref, codec.encode(node))
            self._index._cache.put(ref, node)
            stack.extend(c for c in node.children if c in self.fresh)

    def update(self, ref: bytes, changes: list[_Change]) -> bytes:
        """The subtree `ref` with sorted `changes` applied."""
        if not changes:
            return ref
        node = self.load(ref) if ref else None
        level = node.level if node is not None else -1
        top = max((c[1] for c in changes if c[2] is not None), default=-1)
        if top > level:
            return self._raise(ref, top, changes)
        if node is None:  # deletions from an empty subtree
            return ref
        keys, values = list(node.keys), list(node.values)
        value_hashes, children = list(node.value_hashes), list(node.children)
        lower: list[_Change] = []
        for change in changes:
            key, key_lvl, value, value_hash = change
            if key_lvl < level:
                lower.append(change)
                continue
            i = bisect_left(keys, key)
            if i < len(keys) and keys[i] == key:
                if value is None:
                    del keys[i], values[i], value_hashes[i]
                    children[i:i + 2] = [self.merge(children[i], children[i + 1])]
                else:
                    values[i], value_hashes[i] = value, value_hash
            elif value is not None:
                keys.insert(i, key)
                values.insert(i, value)
                value_hashes.insert(i, value_hash)
                children[i:i + 1] = self.split(children[i], key)
        start = 0
        while start < len(lower):
            i = bisect_left(keys, lower[start][0])
            end = start + 1
            bound = keys[i] if i < len(keys) else None
            while end < len(lower) and (bound is None or lower[end][0] < bound):
                end += 1
            children[i] = self.update(children[i], lower[start:end])
            start = end
        return self.make(level, keys, values, value_hashes, children)

    def _raise(self, ref: bytes, top: int, changes: list[_Change]) -> bytes:
        """A new node at level `top` above the subtree `ref`: the inserted keys of that
        level, with `ref` split between them and the other changes applied per gap."""
        lifted: list[tuple[bytes, bytes, bytes]] = []
        rest: list[_Change] = []
        for change in changes:
            key, level, value, value_hash = change
            if level == top and value is not None:
                lifted.append((key, value, value_hash))
            else:
                rest.append(change)
        children = []
        remaining = ref
        j = 0
        for key, _, _ in lifted:
            left, remaining = self.split(remaining, key)
            gap = []
            while j < len(rest) and rest[j][0] < key:
                gap.append(rest[j])
                j += 1
            children.append(self.update(left, gap))
        children.append(self.update(remaining, rest[j:]))
        return self.make(top, [c[0] for c in lifted], [c[1] for c in lifted],
                         [c[2] for c in lifted], children)

    def split(self, ref: bytes, key: bytes) -> list[bytes]:
        """[left, right]: the subtree's keys below and above `key` (which it does not hold)."""
        if not ref:
            return [b"", b""]
        node = self.load(ref)
        i = bisect_left(node.keys, key)
        left, right = self.split(node.children[i], key)
        return [self.make(node.level, node.keys[:i], node.values[:i], node.value_hashes[:i],
                          [*node.children[:i], left]),
                self.make(node.level, node.keys[i:], node.values[i:], node.value_hashes[i:],
                          [right, *node.children[i + 1:]])]

    def merge(self, left: bytes, right: bytes) -> bytes:
        """One subtree of two whose keys are all below (left) and above (right)."""
        if not left or not right:
            return left or right
        a, b = self.load(left), self.load(right)
        if a.level > b.level:
            return self.make(a.level, a.keys, a.values, a.value_hashes,
                             [*a.children[:-1], self.merge(a.children[-1], right)])
        if a.level < b.level:
            return self.make(b.level, b.keys, b.values, b.value_hashes,
                             [self.merge(left, b.children[0]), *b.children[1:]])
        return self.make(a.level, a.keys + b.keys, a.values + b.values,
                         a.value_hashes + b.value_hashes,
                         [*a.children[:-1], self.merge(a.children[-1], b.children[0]),
                          *b.children[1:]])


class IndexImport:
    """The nodes of the index under a trusted `root`, fetched from peers by hash (nodes are
    content-addressed, so each one verifies on its own) until none is missing."""

    def __init__(self, root: bytes, hasher: Hasher) -> None:
        self.root = root
        self.hasher = hasher
        self.wanted: set[bytes] = set() if root == EMPTY_ROOT else {root}
        self.nodes: dict[bytes, Node] = {}

    @property
    def done(self) -> bool:
        return not self.wanted

    def add(self, raw: bytes) -> None:
        """Take one node still wanted (or already taken); BadChunkError (nothing kept) if
        it is not one."""
        try:
            node: Node = codec.decode(raw, Node, max_size=MAX_ANSWER_BYTES)
        except codec.CodecError as exc:
            raise BadChunkError(f"an index node does not decode: {exc.message}") from None
        keys, values, children = node.keys, node.values, node.children
        if not keys or len(values) != len(keys) or len(children) != len(keys) + 1 or any(
                c and len(c) != HASH_SIZE for c in children):
            raise BadChunkError("an index node of the wrong shape")
        value_hashes = [self.hasher(v) for v in values]
        ref = node_hash(self.hasher, keys, value_hashes, children)
        if ref in self.nodes:  # asked again after a bad answer
            return
        if ref not in self.wanted:
            raise BadChunkError("an index node that was not asked for")
        self.wanted.discard(ref)
        # the level is not hashed: recomputed here, never taken from the peer
        self.nodes[ref] = Node(key_level(self.hasher, keys[0]), keys, values, value_hashes,
                               children)
        self.wanted.update(c for c in children if c and c not in self.nodes)

    def write(self, index: OrderedIndex, version: int, batch: WriteBatch) -> bytes:
        if not self.done:
            raise BadChunkError(f"{len(self.wanted)} index nodes are still missing")
        index.adopt(version, self.root, self.nodes, batch)
        return self.root


__all__ = ["HASH_SIZE", "SUB_DBS", "IndexImport", "OrderedIndex", "key_level"]
