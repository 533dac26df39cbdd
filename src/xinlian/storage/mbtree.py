"""A persistent, versioned Merkle B+-tree with subtree aggregates, for range queries over
numeric and time attributes (node formats, proofs and verifiers: `mbtree_proof.py`).

Theory of operation. Entries (key -> value, measure) live in leaves only, in key order;
internal nodes hold each child's first key, hash and aggregates (count, sum, min, max of the
measures). Keys are composite and order-preserving (`storage/keys.py`: collection |
attribute | encoded value | record id), so one tree holds every collection and a value
range of one attribute is a key range.

The layout is content-defined, not history-defined: an entry ends its leaf when the hash of
its key, salted with the level, falls below 2^32 / 64 (so leaves hold 64 entries on
average), and a child ends its parent at level l when the same rule over its first key
holds at 2^32 / 32. The tree is the unique result of cutting each level this way until one
node remains, so its root depends only on the entries, never on the order or the batches
they came in: every node computes the same root, and a snapshot can carry the entries
alone. (A classic split-at-capacity rule would make the root depend on the insertion
history; a bulk layout of fixed-size leaves would make one insertion shift every leaf after
it.) Whether an entry ends a chunk does not depend on its neighbours, so a change rewrites
only the chunks around it: `apply` merges a block's sorted changes into the leaves they
touch, re-cuts those runs (pulling in the next leaf while the last chunk is left open), and
passes the replaced runs up as changes to the level above, one pass per level.

The writers of a collection choose its record ids and so could grind keys that never end a
leaf; that makes their own leaves long (a proof reveals a whole leaf), never wrong.

Nodes are immutable buffers stored under their hash (`bt_nodes`), so versions share every
unchanged node; `apply` writes a block's nodes and the version's root (`bt_roots`) into the
caller's `WriteBatch`, to commit atomically with the block. A proof is the list of stored
buffers a query's walk read, sent as they are stored.
"""

from __future__ import annotations

import weakref
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Mapping

from xinlian.storage.errors import (
    BadChunkError,
    CorruptDataError,
    InvalidKeyError,
    MalformedProofError,
)
from xinlian.storage.kv import Snapshot, Store, WriteBatch, check_sub_dbs
from xinlian.storage.mbtree_proof import (
    EMPTY_ROOT,
    MEASURE_MAX,
    MEASURE_MIN,
    Aggregate,
    Hasher,
    Internal,
    Leaf,
    Node,
    Page,
    Proof,
    RangeQuery,
    aggregate_of,
    decode_node,
    encode_internal,
    encode_leaf,
    walk_aggregate,
    walk_range,
)
from xinlian.storage.versioned import NodeCache, VersionRoots, read_nodes

NODES_DB = "bt_nodes"
ROOTS_DB = "bt_roots"
SUB_DBS = (NODES_DB, ROOTS_DB)
LEAF_FANOUT = 64
INTERNAL_FANOUT = 32
MAX_KEY_SIZE = 1024
MAX_VALUE_SIZE = 64 * 1024
BOUNDARY_TAG = 0x12
MAX_ANSWER_BYTES = 1 << 20  # node buffers per state-sync answer

# An item of a level: (key, value, measure) in leaves; (first key, child hash, aggregate)
# above them.
Item = tuple[bytes, bytes, "int | Aggregate"]
# Replace the items with keys lo <= key < hi (hi None: to the end) by these new items.
Splice = tuple[bytes, "bytes | None", list[Item]]


class MerkleBTree:
    """See the module docstring. `hasher` maps bytes to 32 bytes (the chain suite's hash).
    One writer at a time; reads may run from other threads."""

    def __init__(self, store: Store, hasher: Hasher, *, cache_nodes: int = 100_000) -> None:
        check_sub_dbs(store, SUB_DBS, "B+-tree")
        self._store = store
        self.hasher = hasher
        self._cache: NodeCache[Internal] = NodeCache(cache_nodes)  # leaves: read from the map
        self._roots = VersionRoots(store, ROOTS_DB)
        # nodes written into a batch not yet committed, for the next version in that batch
        self._staged: weakref.WeakKeyDictionary[WriteBatch, dict[bytes, bytes]] = (
            weakref.WeakKeyDictionary())

    # -- versions and roots --------------------------------------------------------------

    def latest_version(self) -> int | None:
        return self._roots.latest

    def root(self, version: int | None = None) -> bytes:
        """The root after `version` (default: latest); 32 zero bytes for the empty tree."""
        with self._store.snapshot() as snap:
            return self._root(snap, version)

    def _root(self, snap: Snapshot, version: int | None) -> bytes:
        return self._roots.get(snap, version) or EMPTY_ROOT

    # -- nodes ---------------------------------------------------------------------------

    def _load(self, snap: Snapshot, ref: bytes) -> Node:
        cached = self._cache.get(ref)
        if cached is not None:
            return cached
        raw = snap.get(NODES_DB, ref)
        if raw is None:
            raise CorruptDataError(f"missing B+-tree node {ref.hex()}")
        try:
            node = decode_node(raw)
        except MalformedProofError as exc:
            raise CorruptDataError(f"bad B+-tree node {ref.hex()}: {exc}") from None
        if isinstance(node, Internal):
            self._cache.put(ref, node)
        return node

    # -- queries -------------------------------------------------------------------------

    def prove_range(self, query: RangeQuery, version: int | None = None) -> Proof:
        """The proof of one page of `query` (the page itself travels inside it)."""
        return self.range(query, version, with_page=False)[1]

    def range(self, query: RangeQuery, version: int | None = None, *,
              with_page: bool = True) -> tuple[Page, Proof]:
        """One page of `query` (empty when `with_page` is false) and its proof."""
        nodes: list[bytes] = []
        page = Page(query.reverse)
        with self._store.snapshot() as snap:
            walk_range(_StoreFetch(self, snap, nodes), self._root(snap, version), query,
                       page if with_page else None)
        return page, Proof(nodes)

    def aggregate(self, lo: bytes, hi: bytes | None, version: int | None = None
                  ) -> tuple[Aggregate, Proof]:
        """count/sum/min/max of the measures of the keys `lo <= key < hi`, with a proof that
        reveals only the nodes the range's two ends cut."""
        RangeQuery(lo, hi)  # the same checks on the bounds
        nodes: list[bytes] = []
        with self._store.snapshot() as snap:
            found = walk_aggregate(_StoreFetch(self, snap, nodes), self._root(snap, version),
                                   lo, hi)
        return found, Proof(nodes)

    def entries(self, version: int | None = None) -> Iterator[tuple[bytes, bytes, int]]:
        """Every entry in key order, without proof (one snapshot)."""
        with self._store.snapshot() as snap:
            root = self._root(snap, version)
            if root == EMPTY_ROOT:
                return
            stack = [root]
            while stack:
                node = self._load(snap, stack.pop())
                if isinstance(node, Internal):
                    stack.extend(reversed(node.hashes))
                else:
                    yield from zip(node.keys(), node.values(), node.measures(), strict=True)

    # -- writes --------------------------------------------------------------------------

    def apply(self, version: int, updates: Mapping[bytes, tuple[bytes, int] | None],
              batch: WriteBatch) -> bytes:
        """Write the tree of `version` (the previous version + `updates`: key -> (value,
        measure), None deletes) into `batch` without committing it; return the new root
        (32 zero bytes if empty)."""
        splices: list[Splice] = []
        for key in sorted(updates):
            _check_entry(key, updates[key])
            entry = updates[key]
            splices.append((key, key + b"\x00",
                            [] if entry is None else [(key, entry[0], entry[1])]))
        with self._store.snapshot() as snap:
            base = self._roots.base(snap, version, batch)[1] or EMPTY_ROOT
            writer = _Writer(self, snap, self._staged_for(batch))
            root = writer.update(base, splices)
            writer.flush(root, batch)
        self._roots.record(version, root, batch)
        return root

    # -- snapshots (state sync) ----------------------------------------------------------

    def read_nodes(self, refs: list[bytes], max_bytes: int = MAX_ANSWER_BYTES) -> list[bytes]:
        """The stored buffers of the nodes `refs` this store holds, in order, up to about
        `max_bytes` in all (at least one)."""
        return read_nodes(self._store, NODES_DB, refs, max_bytes)

    def adopt(self, version: int, root: bytes, nodes: Mapping[bytes, bytes],
              batch: WriteBatch) -> None:
        """Write verified node buffers (a `TreeImport`) into `batch` as the whole tree of
        `version`, whatever this tree held before."""
        for ref, buf in nodes.items():
            batch.put(NODES_DB, ref, buf)
        self._roots.record(version, root, batch)

    def _staged_for(self, batch: WriteBatch) -> dict[bytes, bytes]:
        """The nodes written into `batch`, dropped when it commits."""
        staged = self._staged.get(batch)
        if staged is None:
            staged = self._staged[batch] = {}
            batch_ref = weakref.ref(batch)
            batch.on_commit(lambda: self._unstage(batch_ref))
        return staged

    def _unstage(self, batch_ref: weakref.ref[WriteBatch]) -> None:
        batch = batch_ref()
        if batch is not None:
            self._staged.pop(batch, None)


class TreeImport:
    """The nodes of the tree under a trusted `root` (from a verified state snapshot), fetched
    from peers by hash until none is missing: each node verifies on its own by its hash,
    and its parent (already taken) says which hash it must have."""

    def __init__(self, root: bytes, hasher: Hasher) -> None:
        self.root = root
        self.hasher = hasher
        self.wanted: set[bytes] = set() if root == EMPTY_ROOT else {root}
        self.nodes: dict[bytes, bytes] = {}

    @property
    def done(self) -> bool:
        return not self.wanted

    def add(self, raw: bytes) -> None:
        """Take one node still wanted (or already taken); BadChunkError (nothing kept) if
        it is not one."""
        ref = self.hasher(raw)
        if ref in self.nodes:  # asked again after a bad answer
            return
        if ref not in self.wanted:
            raise BadChunkError("a B+-tree node that was not asked for")
        try:
            node = decode_node(raw)
        except MalformedProofError as exc:
            raise BadChunkError(f"a B+-tree node that does not decode: {exc}") from None
        self.wanted.discard(ref)
        self.nodes[ref] = raw
        if isinstance(node, Internal):
            self.wanted.update(c for c in node.hashes if c not in self.nodes)

    def write(self, tree: MerkleBTree, version: int, batch: WriteBatch) -> bytes:
        if not self.done:
            raise BadChunkError(f"{len(self.wanted)} B+-tree nodes are still missing")
        tree.adopt(version, self.root, self.nodes, batch)
        return self.root


def _check_entry(key: object, entry: object) -> None:
    if type(key) is not bytes or not 0 < len(key) <= MAX_KEY_SIZE:
        raise InvalidKeyError(f"B+-tree keys are 1..{MAX_KEY_SIZE} bytes")
    if entry is None:
        return
    if not (isinstance(entry, tuple) and len(entry) == 2 and type(entry[0]) is bytes
            and len(entry[0]) <= MAX_VALUE_SIZE and type(entry[1]) is int
            and MEASURE_MIN <= entry[1] <= MEASURE_MAX):
        raise InvalidKeyError(f"a B+-tree entry is (value of at most {MAX_VALUE_SIZE} bytes,"
                              " signed 64-bit measure) or None")


class _StoreFetch:
    """The prover's `Fetch`: a node from the store (or cache), recorded into the proof."""

    __slots__ = ("nodes", "snap", "tree")

    def __init__(self, tree: MerkleBTree, snap: Snapshot, nodes: list[bytes]) -> None:
        self.tree, self.snap, self.nodes = tree, snap, nodes

    def __call__(self, ref: bytes, height: int) -> Node:
        node = self.tree._load(self.snap, ref)
        self.nodes.append(node.buf)
        return node


class _Writer:
    """One `apply`: the old tree is read by key; new nodes wait in `fresh` until `flush`
    writes those the new root reaches (and stages them for later versions in the batch)."""

    def __init__(self, tree: MerkleBTree, snap: Snapshot, staged: dict[bytes, bytes]) -> None:
        self._tree = tree
        self._snap = snap
        self._staged = staged
        self._hasher = tree.hasher
        self.fresh: dict[bytes, tuple[bytes, list[bytes]]] = {}

    def load(self, ref: bytes) -> Node:
        made = self.fresh.get(ref)
        buf = made[0] if made is not None else self._staged.get(ref)
        if buf is not None:
            return decode_node(buf)
        return self._tree._load(self._snap, ref)

    def is_boundary(self, level: int, key: bytes) -> bool:
        """Whether the item `key` ends its node at `level` (see the module docstring)."""
        digest = self._hasher(bytes((BOUNDARY_TAG, level)) + key)
        fanout = LEAF_FANOUT if level == 0 else INTERNAL_FANOUT
        return int.from_bytes(digest[:4], "big") < (1 << 32) // fanout

    def update(self, root: bytes, splices: list[Splice]) -> bytes:
        """The root of the tree `root` with the level-0 `splices` (sorted) applied."""
        if root == EMPTY_ROOT:
            return self.build([item for splice in splices for item in splice[2]], 0)
        if not splices:
            return root
        height = _height(self.load(root))
        for level in range(height + 1):
            splices = self.rewrite_level(root, level, splices)
        # the root's level was one node: one splice holds the whole next level
        top = self.build(splices[0][2], height + 1)
        while top != EMPTY_ROOT:  # a root with one child is that child
            node = self.load(top)
            if not isinstance(node, Internal) or len(node.hashes) > 1:
                break
            top = node.hashes[0]
        return top

    def build(self, items: list[Item], level: int, flags: list[bool] | None = None
              ) -> bytes:
        """The root over `items` of `level`: cut, then cut the parents, to one node."""
        while items:
            if level and len(items) == 1:
                return items[0][1]
            if flags is None:
                flags = [self.is_boundary(level, item[0]) for item in items]
            items = [self.make(level, chunk) for chunk in _cut(items, flags)]
            if len(items) == 1:
                return items[0][1]
            level, flags = level + 1, None
        return EMPTY_ROOT

    def rewrite_level(self, root: bytes, level: int, splices: list[Splice]) -> list[Splice]:
        """Apply `splices` to the nodes of `level` they touch; return, as splices of the
        level above, the runs of old nodes replaced and the items of their new nodes."""
        out: list[Splice] = []
        j = 0
        while j < len(splices):
            items, flags, upper = self.node_at(root, level, splices[j][0])
            start = items[0][0]
            merged: list[Item] = []
            merged_flags: list[bool] = []
            k = j
            while True:  # one old node at a time, each merged once
                first = k
                while k < len(splices) and (upper is None or splices[k][0] < upper):
                    k += 1
                part, part_flags = self.merge(items, flags, splices[first:k], level)
                merged += part
                merged_flags += part_flags
                if upper is None:
                    break
                reach = splices[k - 1][1]  # where the last splice's old items end
                if reach is not None and reach <= upper:
                    if not merged or merged_flags[-1]:
                        break  # the run ends where a node ended: the rest is unchanged
                    reach = b""  # the last chunk is open: it takes in the next node
                items, flags, next_upper = self.node_at(root, level, upper)
                cut = len(items) if reach is None else bisect_left(
                    [item[0] for item in items], reach)
                items, flags, upper = items[cut:], flags[cut:], next_upper
            out.append((start, upper, [self.make(level, chunk)
                                       for chunk in _cut(merged, merged_flags)]))
            j = k
        return out

    def node_at(self, root: bytes, level: int, key: bytes
                ) -> tuple[list[Item], list[bool], bytes | None]:
        """The items of the old node of `level` whose keys surround `key` (the first node
        for a key below all), their end flags, and the next node's first key (None: last)."""
        node = self.load(root)
        upper: bytes | None = None
        while isinstance(node, Internal) and node.height > level:
            i = max(0, bisect_right(node.keys, key) - 1)
            if i + 1 < len(node.keys):
                upper = node.keys[i + 1]
            node = self.load(node.hashes[i])
        items: list[Item]
        if isinstance(node, Leaf):
            items = list(zip(node.keys(), node.values(), node.measures(), strict=True))
        else:
            items = list(zip(node.keys, node.hashes, node.aggregates, strict=True))
        # inside a node no item ends it; its last item does, unless the level ends there
        flags = [False] * len(items)
        flags[-1] = upper is not None or self.is_boundary(level, items[-1][0])
        return items, flags, upper

    def merge(self, items: list[Item], flags: list[bool], splices: list[Splice], level: int
              ) -> tuple[list[Item], list[bool]]:
        keys = [item[0] for item in items]
        out: list[Item] = []
        out_flags: list[bool] = []
        pos = 0
        for lo, hi, new in splices:
            at = bisect_left(keys, lo, pos)
            out += items[pos:at]
            out_flags += flags[pos:at]
            pos = len(keys) if hi is None else max(at, bisect_left(keys, hi, at))
            out += new
            out_flags += [self.is_boundary(level, item[0]) for item in new]
        out += items[pos:]
        out_flags += flags[pos:]
        return out, out_flags

    def make(self, level: int, chunk: list[Item]) -> Item:
        """A new node of `level` over `chunk`; its item for the level above."""
        keys = [item[0] for item in chunk]
        if level == 0:
            measures: list[int] = [item[2] for item in chunk]  # type: ignore[misc]
            buf = encode_leaf(keys, [item[1] for item in chunk], measures)
            children: list[bytes] = []
            total = aggregate_of(measures)
        else:
            children = [item[1] for item in chunk]
            parts: list[Aggregate] = [item[2] for item in chunk]  # type: ignore[misc]
            buf = encode_internal(level, keys, children, parts)
            total = Aggregate()
            for part in parts:
                total = total.plus(part)
        ref = self._hasher(buf)
        self.fresh[ref] = (buf, children)
        return keys[0], ref, total

    def flush(self, root: bytes, batch: WriteBatch) -> None:
        stack = [root]
        while stack:
            ref = stack.pop()
            made = self.fresh.pop(ref, None)
            if made is None:
                continue
            buf, children = made
            batch.put(NODES_DB, ref, buf)
            self._staged[ref] = buf
            stack.extend(c for c in children if c in self.fresh)


def _height(node: Node) -> int:
    return node.height if isinstance(node, Internal) else 0


def _cut(items: list[Item], flags: list[bool]) -> list[list[Item]]:
    """`items` cut after every item flagged as ending a node."""
    chunks: list[list[Item]] = []
    start = 0
    for i, ends in enumerate(flags):
        if ends:
            chunks.append(items[start:i + 1])
            start = i + 1
    if start < len(items):
        chunks.append(items[start:])
    return chunks


__all__ = ["SUB_DBS", "MerkleBTree", "TreeImport"]
