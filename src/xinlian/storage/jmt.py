"""The world state as a persistent, versioned Jellyfish-Merkle-style tree over the store.

Theory of operation. Keys are hashed to 256-bit paths (`path = H(key)`); the tree is the
compressed binary sparse Merkle tree of `proof.py`, stored as 16-ary nodes: an internal node
holds the hashes of its up to 16 children (one nibble of the path each), and its own hash is
the 4-level binary Merkle tree over them, so proofs carry 4 binary siblings per nibble, not
15. A key's leaf sits at the first nibble depth where its path is unique; the shape depends
only on the set of keys, never on history, so equal states have equal roots.

Nodes are immutable and addressed by `(version, nibble path)`: applying block `v` writes new
nodes only along the changed paths, all keyed by `v`, and every earlier version stays
readable from its own root record until `prune` removes the nodes it alone used (each
replaced node is listed in a stale index under the version that replaced it).

`apply` takes a whole block of updates in one pass: the updates are sorted by path and the
tree is rewritten top-down, so each internal node touched by the block is read once and
written once. For the suites' hashes the whole walk is one native call (`_nodebatch.c`:
it reads nodes from the batch's overlay and the node cache, calls back only for nodes it
must read from the store, hashes and encodes the new nodes); for any other hasher `_Writer`
below does the same walk in Python and is the specification the native walk is tested
against (same roots, same node bytes, same stale lists). Nodes go into the caller's
`WriteBatch` together with the block, receipts and indexes; they enter the in-memory node
cache only when that batch is committed. The nodes a block replaces are listed in ONE stale
record per version (older stores hold one record per node; `prune` reads both), so a block
costs one LMDB put per new node plus one.

The node cache holds internal nodes in their encoded (stored) form, by key: the upper
levels of the tree stay in memory across blocks, and a read decodes what it uses.

Record versions. An internal node (version 2, `InternalNode`) also holds the paths of its
leaf children, so an update of an existing key compares the path and the leaf hash in the
parent and never reads the leaf (at 10M accounts that was a third of a block's LMDB reads).
Stores written before hold version-1 nodes (`InternalNodeV1`, no paths); both are read, a
rewrite of a version-1 node reads its leaves once and stores version 2, and
`migrate_leaf_paths` rewrites all of them in place. Hashes do not cover the paths, so
roots, proofs and the proof format are the same for both versions.
"""

from __future__ import annotations

import struct
import weakref
from bisect import bisect_left
from collections.abc import Mapping
from operator import itemgetter
from typing import Any

import msgspec

from xinlian import codec
from xinlian.storage.errors import (
    CorruptDataError,
    InvalidKeyError,
    StatePrunedError,
    StorageError,
    UnknownDatabaseError,
    VersionError,
)
from xinlian.storage.kv import Snapshot, Store, WriteBatch, check_sub_dbs
from xinlian.storage.nodehash import NodeHasher, merkle16, slots_of
from xinlian.storage.proof import EMPTY, HASH_SIZE, Hasher, Proof, ProofLeaf

NODES_DB = "jmt_nodes"
ROOTS_DB = "jmt_roots"
STALE_DB = "jmt_stale"
META_DB = "jmt_meta"
SUB_DBS = (NODES_DB, ROOTS_DB, STALE_DB, META_DB)

_PRUNED_BELOW = b"pruned_below"
_ver = struct.Struct(">Q").pack
_unver = struct.Struct(">Q").unpack_from

EMPTY_KIND, LEAF_KIND, INTERNAL_KIND = 0, 1, 2


class LeafNode(codec.Struct, tag=0):
    path: bytes
    value: bytes


class InternalNode(codec.Struct, tag=2):
    """Children present per `bitmap` bit (nibble); their hashes concatenated in nibble order,
    the versions of their nodes, which of them are leaves, and those leaves' paths
    concatenated in nibble order: an update of an existing key is decided here (same path,
    and the same leaf hash means the same value) without reading its leaf."""

    bitmap: int
    hashes: bytes
    versions: list[int]
    leaves: int
    paths: bytes


class InternalNodeV1(codec.Struct, tag=1):
    """The first record version of an internal node (no leaf paths). Stores written before
    version 2 keep these until a block rewrites the node or `migrate_leaf_paths` runs;
    reads, proofs and hashes do not depend on the version."""

    bitmap: int
    hashes: bytes
    versions: list[int]
    leaves: int


_INTERNAL = (InternalNode, InternalNodeV1)
_INTERNAL_FIRST = (b"\x95", b"\x96")  # the first byte of an encoded internal node


class RootRecord(codec.Struct):
    hash: bytes
    kind: int
    node_version: int


_EMPTY_ROOT = RootRecord(EMPTY, EMPTY_KIND, 0)
_node_decoder = msgspec.msgpack.Decoder(LeafNode | InternalNode | InternalNodeV1)
_root_decoder = msgspec.msgpack.Decoder(RootRecord)
_stale_decoder = msgspec.msgpack.Decoder(list[bytes])
_UNCHANGED: Any = object()
_Pair = tuple[bytes, "bytes | None"]  # (path, value or None to delete)
_Item = tuple[bytes, str, "bytes | None"]  # (path, path as hex, value or None to delete)


def node_hash16(hasher: Hasher, slots: list[bytes]) -> bytes:
    """The hash of an internal node with these 16 child hashes (EMPTY where absent)."""
    return merkle16(hasher, slots)[0][0]


def _child(node: InternalNode | InternalNodeV1, nib: int) -> tuple[bytes, int, bool] | None:
    """(hash, node version, is leaf) of child `nib`, or None if that slot is empty."""
    if not node.bitmap >> nib & 1:
        return None
    i = (node.bitmap & ((1 << nib) - 1)).bit_count()
    return (node.hashes[i * HASH_SIZE:(i + 1) * HASH_SIZE], node.versions[i],
            bool(node.leaves >> nib & 1))


_HEX = "0123456789abcdef"
_NEXT_NIBBLE = {c: n for c, n in zip("0123456789abcde", "123456789abcdef", strict=True)}
_by_hex = itemgetter(1)
_by_path = itemgetter(0)


def _fetch(snap: Snapshot, key: bytes) -> bytes:
    """The stored (encoded) node at `key`."""
    raw = snap.get(NODES_DB, key)
    if raw is None:
        raise CorruptDataError(f"missing tree node {key.hex()} (pruned or corrupt)")
    return raw


def _groups(items: list[_Item], lo: int, hi: int, depth: int) -> list[tuple[str, int, int]]:
    """Split sorted items[lo:hi] by the nibble at `depth`: (hex char, start, end) per run."""
    out = []
    i = lo
    while i < hi:
        char = items[i][1][depth]
        if hi - i > 16:
            nxt = _NEXT_NIBBLE.get(char)
            j = hi if nxt is None else bisect_left(
                items, items[i][1][:depth] + nxt, i, hi, key=_by_hex)
        else:
            j = i + 1
            while j < hi and items[j][1][depth] == char:
                j += 1
        out.append((char, i, j))
        i = j
    return out


class _Overlay:
    """Nodes (encoded) and roots written into one uncommitted batch (readable by later
    applies), and the internal nodes among them (the node cache takes those when the batch
    commits)."""

    __slots__ = ("internal", "nodes", "roots")

    def __init__(self) -> None:
        self.nodes: dict[bytes, bytes] = {}
        self.internal: dict[bytes, bytes] = {}
        self.roots: dict[int, RootRecord] = {}


class StateTree:
    """See the module docstring. `hasher` maps bytes to 32 bytes (the chain suite's hash);
    `cache_nodes` bounds the encoded internal nodes kept in memory (under 0.8 KiB each
    with their keys; the cache may pass the bound by one block's nodes before it halves).
    One writer at a time; reads may run from other threads."""

    def __init__(self, store: Store, hasher: Hasher, *, cache_nodes: int = 500_000) -> None:
        missing = [db for db in SUB_DBS if db not in store.sub_dbs]
        if missing:
            raise UnknownDatabaseError(f"store lacks the tree's sub-databases {missing}")
        if len(hasher(b"")) != HASH_SIZE:
            raise StorageError("the state tree needs a hasher with 32-byte output")
        self._store = store
        self.hasher = hasher
        self.nodes = NodeHasher(hasher)
        self._half = max(1, cache_nodes // 2)
        self._cache: dict[bytes, bytes] = {}
        self._cache_old: dict[bytes, bytes] = {}
        self._overlays: weakref.WeakKeyDictionary[WriteBatch, _Overlay] = (
            weakref.WeakKeyDictionary())
        with store.snapshot() as snap:
            last = list(snap.items(ROOTS_DB, reverse=True, limit=1))
            self._latest: int | None = _unver(last[0][0])[0] if last else None
            pruned = snap.get(META_DB, _PRUNED_BELOW)
            self._pruned_below = _unver(pruned)[0] if pruned else 0

    # -- versions and roots ------------------------------------------------------------

    def latest_version(self) -> int | None:
        """The newest committed version, or None before the first commit."""
        return self._latest

    def _root_record(self, snap: Snapshot, version: int | None) -> RootRecord:
        if version is None:
            version = self._latest
            if version is None:
                return _EMPTY_ROOT
        if version < self._pruned_below:
            raise StatePrunedError(
                f"version {version} was pruned (kept from {self._pruned_below})")
        found = list(snap.items(ROOTS_DB, stop=_ver(version + 1), reverse=True, limit=1))
        if not found:
            return _EMPTY_ROOT
        try:
            return _root_decoder.decode(found[0][1])
        except msgspec.DecodeError as exc:
            raise CorruptDataError(f"bad root record: {exc}") from exc

    @property
    def pruned_below(self) -> int:
        """The oldest version still readable (0: nothing pruned)."""
        return self._pruned_below

    def root(self, version: int | None = None) -> bytes:
        """The root hash after `version` (default: latest); the empty tree's root is 32 zeros."""
        with self._store.snapshot() as snap:
            return self._root_record(snap, version).hash

    # -- node cache --------------------------------------------------------------------

    def _cached(self, key: bytes) -> bytes | None:
        raw = self._cache.get(key)
        if raw is None:
            raw = self._cache_old.get(key)
            if raw is not None:
                self._cache[key] = raw
                self._bound_cache()
        return raw

    def _bound_cache(self) -> None:
        if len(self._cache) >= self._half:
            self._cache_old = self._cache
            self._cache = {}

    def _load(self, snap: Snapshot, key: bytes,
              overlay: _Overlay | None = None) -> LeafNode | InternalNode | InternalNodeV1:
        raw = overlay.nodes.get(key) if overlay is not None else None
        if raw is None:
            raw = self._cached(key)
        if raw is None:
            raw = _fetch(snap, key)
            if raw[:1] in _INTERNAL_FIRST:  # an internal node; leaves are rarely read twice
                self._cache[key] = raw
                self._bound_cache()
        return _decode(key, raw)

    # -- reads -------------------------------------------------------------------------

    def _walk(self, snap: Snapshot, path: bytes, version: int | None,
              siblings: list[bytes] | None) -> LeafNode | None:
        """The leaf where `path` ends (None: an empty slot), collecting proof siblings."""
        record = self._root_record(snap, version)
        if record.kind == EMPTY_KIND:
            return None
        hexpath = path.hex()
        node_version, is_leaf, depth = record.node_version, record.kind == LEAF_KIND, 0
        while True:
            node = self._load(snap, _ver(node_version) + hexpath[:depth].encode())
            if is_leaf:
                if not isinstance(node, LeafNode):
                    raise CorruptDataError("expected a leaf node")
                return node
            if not isinstance(node, _INTERNAL):
                raise CorruptDataError("expected an internal node")
            nib = int(hexpath[depth], 16)
            if siblings is not None:
                siblings += self.nodes.siblings(node.bitmap, node.hashes, nib)
            child = _child(node, nib)
            if child is None:
                return None
            _, node_version, is_leaf = child
            depth += 1

    def get(self, key: bytes, version: int | None = None) -> bytes | None:
        """The value of `key` at `version` (default: latest), or None if absent."""
        path = self.hasher(key)
        with self._store.snapshot() as snap:
            leaf = self._walk(snap, path, version, None)
        return leaf.value if leaf is not None and leaf.path == path else None

    def get_with_proof(self, key: bytes, version: int | None = None
                       ) -> tuple[bytes | None, Proof]:
        """The value (None if absent) with an inclusion or exclusion proof against `root`."""
        path = self.hasher(key)
        siblings: list[bytes] = []
        with self._store.snapshot() as snap:
            leaf = self._walk(snap, path, version, siblings)
        if leaf is None:
            return None, Proof(siblings, None)
        proof = Proof(siblings, ProofLeaf(leaf.path, self.hasher(leaf.value)))
        return (leaf.value if leaf.path == path else None), proof

    # -- writes ------------------------------------------------------------------------

    def apply(self, version: int, updates: Mapping[bytes, bytes | None],
              batch: WriteBatch) -> bytes:
        """Write the tree for `version` (previous state + updates; None deletes) into
        `batch` without committing it, and return the new root hash."""
        hasher = self.hasher
        pairs = []
        for key, value in updates.items():
            if type(key) is not bytes or (value is not None and type(value) is not bytes):
                raise InvalidKeyError("tree keys and values must be bytes (value None deletes)")
            pairs.append((hasher(key), value))
        return self._apply_pairs(version, pairs, batch)

    def apply_paths(self, version: int, updates: Mapping[bytes, bytes | None],
                    batch: WriteBatch) -> bytes:
        """`apply` with each key's path (its hash) given instead of the key: a state
        snapshot (storage/snapshot.py) carries leaves, whose keys the tree never stores."""
        pairs = []
        for path, value in updates.items():
            if (type(path) is not bytes or len(path) != HASH_SIZE
                    or (value is not None and type(value) is not bytes)):
                raise InvalidKeyError("paths are 32 bytes and values bytes (None deletes)")
            pairs.append((path, value))
        return self._apply_pairs(version, pairs, batch)

    def _apply_pairs(self, version: int, pairs: list[_Pair], batch: WriteBatch) -> bytes:
        overlay = self._overlays.get(batch)
        previous = max(overlay.roots) if overlay and overlay.roots else self._latest
        if type(version) is not int or version < 0 or (
                previous is not None and version <= previous):
            raise VersionError(f"version {version} must be above {previous}")
        pairs.sort(key=_by_path)
        if overlay is None:
            overlay = self._overlays[batch] = _Overlay()
            batch_ref = weakref.ref(batch)
            batch.on_commit(lambda: self._published(overlay, batch_ref))
        with self._store.snapshot() as snap:
            if previous is None:
                prev = _EMPTY_ROOT
            elif previous in overlay.roots:
                prev = overlay.roots[previous]
            else:
                prev = self._root_record(snap, previous)
            ref = None if prev.kind == EMPTY_KIND else (
                prev.node_version, prev.kind == LEAF_KIND)
            if self.nodes.apply_batch is not None:
                record = self._apply_native(snap, overlay, batch, version, pairs, ref, prev)
            else:
                record = self._apply_python(snap, overlay, batch, version, pairs, ref, prev)
        overlay.roots[version] = record
        batch.put(ROOTS_DB, _ver(version), codec.encode(record))
        return record.hash

    def _apply_native(self, snap: Snapshot, overlay: _Overlay, batch: WriteBatch,
                      version: int, pairs: list[_Pair], ref: tuple[int, bool] | None,
                      prev: RootRecord) -> RootRecord:
        assert self.nodes.apply_batch is not None
        try:
            root, internal, leaves, stale = self.nodes.apply_batch(
                pairs, ref, version, (overlay.nodes, self._cache, self._cache_old),
                snap.sealed_reader(NODES_DB))
        except ValueError as exc:
            raise CorruptDataError(str(exc)) from exc
        self._bound_cache()
        overlay.nodes.update(internal)
        overlay.nodes.update(leaves)
        overlay.internal.update(internal)
        batch.put_many(NODES_DB, internal)
        batch.put_many(NODES_DB, leaves)
        if stale:
            batch.put(STALE_DB, _ver(version), codec.encode(stale))
        if root is None:
            return prev
        kind, hash_ = root
        return _EMPTY_ROOT if kind == EMPTY_KIND else RootRecord(hash_, kind, version)

    def _apply_python(self, snap: Snapshot, overlay: _Overlay, batch: WriteBatch,
                      version: int, pairs: list[_Pair], ref: tuple[int, bool] | None,
                      prev: RootRecord) -> RootRecord:
        items = [(path, path.hex(), value) for path, value in pairs]
        writer = _Writer(self, snap, overlay, batch, version)
        result = writer.update(ref, 0, items, 0, len(items)) if items else _UNCHANGED
        if result is _UNCHANGED:
            record = prev
        elif result is None:
            record = _EMPTY_ROOT
        else:
            hash_, leaf = writer.place(result, "")
            record = RootRecord(hash_, LEAF_KIND if leaf else INTERNAL_KIND, version)
        writer.finish()
        return record

    # -- snapshot reads (storage/snapshot.py) ------------------------------------------

    def position(self, version: int, prefix: str) -> LeafNode | list[bytes] | None:
        """What `version` holds exactly at nibble path `prefix` (hex digits): a leaf, the
        16 child hashes of an internal node (EMPTY where absent), or None (nothing there)."""
        with self._store.snapshot() as snap:
            found = self._locate(snap, version, prefix)
            if found is None:
                return None
            node = self._load(snap, _ver(found[0]) + prefix.encode())
        return node if isinstance(node, LeafNode) else slots_of(node.bitmap, node.hashes)

    def leaves(self, version: int, prefix: str = "",
               limit: int | None = None) -> list[LeafNode] | None:
        """The leaves at or under the node at nibble path `prefix` of `version`, in path
        order; None if there are more than `limit`."""
        out: list[LeafNode] = []
        with self._store.snapshot() as snap:
            found = self._locate(snap, version, prefix)
            if found is None:
                return out
            stack = [(found[0], prefix)]
            while stack:
                node_version, hexpath = stack.pop()
                node = self._load(snap, _ver(node_version) + hexpath.encode())
                if isinstance(node, LeafNode):
                    out.append(node)
                    if limit is not None and len(out) > limit:
                        return None
                    continue
                for nib in range(15, -1, -1):
                    child = _child(node, nib)
                    if child is not None:
                        stack.append((child[1], hexpath + _HEX[nib]))
        return out

    def _locate(self, snap: Snapshot, version: int, prefix: str) -> tuple[int, bool] | None:
        """(node version, is leaf) of the node placed exactly at `prefix`, if any."""
        if any(c not in _HEX for c in prefix) or len(prefix) > 2 * HASH_SIZE:
            raise InvalidKeyError("a tree position is a string of at most 64 hex digits")
        record = self._root_record(snap, version)
        if record.kind == EMPTY_KIND:
            return None
        node_version, is_leaf = record.node_version, record.kind == LEAF_KIND
        for depth, char in enumerate(prefix):
            if is_leaf:
                return None
            node = self._load(snap, _ver(node_version) + prefix[:depth].encode())
            if not isinstance(node, _INTERNAL):
                raise CorruptDataError("expected an internal node")
            child = _child(node, int(char, 16))
            if child is None:
                return None
            _, node_version, is_leaf = child
        return node_version, is_leaf

    def _published(self, overlay: _Overlay, batch_ref: weakref.ref[WriteBatch]) -> None:
        batch = batch_ref()
        if batch is not None:
            self._overlays.pop(batch, None)
        self._cache.update(overlay.internal)
        self._bound_cache()
        if overlay.roots:
            self._latest = max(overlay.roots)

    def prune(self, keep_from: int, batch: WriteBatch) -> int:
        """Delete, in `batch`, every node that no version >= `keep_from` uses, and the root
        records below it; reads of older versions then raise StatePrunedError. Returns the
        number of nodes deleted."""
        if self._latest is None or keep_from > self._latest:
            raise VersionError(f"cannot prune beyond the latest committed version {self._latest}")
        deleted = 0
        with self._store.snapshot() as snap:
            for key, value in snap.items(STALE_DB, stop=_ver(keep_from + 1)):
                batch.delete(STALE_DB, key)
                if len(key) > 8:  # a per-node record, as older stores wrote them
                    batch.delete(NODES_DB, key[8:])
                    deleted += 1
                    continue
                try:
                    stale = _stale_decoder.decode(value)
                except msgspec.DecodeError as exc:
                    raise CorruptDataError(f"bad stale record: {exc}") from exc
                for node_key in stale:
                    batch.delete(NODES_DB, node_key)
                deleted += len(stale)
            serving = list(snap.items(ROOTS_DB, stop=_ver(keep_from + 1), reverse=True,
                                      limit=1))
            if serving:
                for key, _ in snap.items(ROOTS_DB, stop=serving[0][0]):
                    batch.delete(ROOTS_DB, key)
        batch.put(META_DB, _PRUNED_BELOW, _ver(keep_from))

        def pruned() -> None:
            self._pruned_below = max(self._pruned_below, keep_from)
        batch.on_commit(pruned)
        return deleted


def _leaf_paths(node: InternalNode | InternalNodeV1) -> dict[int, bytes] | None:
    """The paths of a node's leaf children by nibble (None: a version-1 node)."""
    if isinstance(node, InternalNodeV1):
        return None
    nibs = [nib for nib in range(16) if node.leaves >> nib & 1]
    if len(node.paths) != len(nibs) * HASH_SIZE or node.leaves & ~node.bitmap:
        raise CorruptDataError("bad tree node: its leaf paths do not match its leaves")
    return {nib: node.paths[i * HASH_SIZE:(i + 1) * HASH_SIZE] for i, nib in enumerate(nibs)}


def migrate_leaf_paths(store: Store, *, chunk: int = 20_000) -> int:
    """Rewrite every version-1 internal node of the tree in `store` as version 2 (its leaf
    children's paths added; same key, same hash, so roots and proofs are unchanged),
    committing every `chunk` records scanned; returns the number rewritten. Run it with no
    other writer on the store (a concurrent prune could see a node it deleted written
    back); it can be interrupted and run again. StateTree objects opened before it keep
    version-1 nodes in their caches, which stays correct, only slower."""
    check_sub_dbs(store, SUB_DBS, "the state tree")
    rewritten = 0
    start: bytes | None = b""
    while start is not None:
        batch = WriteBatch()
        with store.snapshot() as snap:
            begin, start = start, None
            for scanned, (key, raw) in enumerate(snap.items(NODES_DB, start=begin)):
                if scanned == chunk:
                    start = key
                    break
                if raw[:2] == b"\x95\x01":
                    batch.put(NODES_DB, key, codec.encode(_with_leaf_paths(snap, key, raw)))
                    rewritten += 1
        store.commit(batch)
    return rewritten


def _decode(key: bytes, raw: bytes) -> LeafNode | InternalNode | InternalNodeV1:
    try:
        node: LeafNode | InternalNode | InternalNodeV1 = _node_decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise CorruptDataError(f"bad tree node {key.hex()}: {exc}") from exc
    return node


def _with_leaf_paths(snap: Snapshot, key: bytes, raw: bytes) -> InternalNode:
    """The version-1 internal node `raw` at `key` as version 2, its leaves read."""
    node = _decode(key, raw)
    if not isinstance(node, InternalNodeV1) or node.leaves & ~node.bitmap:
        raise CorruptDataError(f"bad tree node {key.hex()}: not an internal node")
    paths = []
    for nib in range(16):
        if node.leaves >> nib & 1:
            at = (node.bitmap & ((1 << nib) - 1)).bit_count()
            leaf_key = _ver(node.versions[at]) + key[8:] + _HEX[nib].encode()
            leaf = _decode(leaf_key, _fetch(snap, leaf_key))
            if not isinstance(leaf, LeafNode):
                raise CorruptDataError(f"bad tree node {leaf_key.hex()}: not a leaf")
            paths.append(leaf.path)
    return InternalNode(node.bitmap, node.hashes, node.versions, node.leaves, b"".join(paths))


# An update result: _UNCHANGED, None (empty), or (hash, version, False) for an internal node
# written at this position, or (hash, (path, value), True) for a leaf not yet placed.
_Result = Any


class _Writer:
    """One `apply`: rewrites the touched part of the tree top-down, once per node."""

    __slots__ = ("_batch", "_encoded", "_fresh", "_leaf_hash", "_nodes", "_overlay",
                 "_rewrite", "_snap", "_stale", "_tree", "_version", "_vkey")

    def __init__(self, tree: StateTree, snap: Snapshot, overlay: _Overlay, batch: WriteBatch,
                 version: int) -> None:
        self._tree = tree
        self._snap = snap
        self._overlay = overlay
        self._nodes = overlay.nodes
        self._fresh = overlay.internal
        self._batch = batch
        self._leaf_hash = tree.nodes.leaf_hash
        self._rewrite = tree.nodes.rewrite
        self._version = version
        self._vkey = _ver(version)
        self._stale: list[bytes] = []
        self._encoded: dict[bytes, bytes] = {}

    def finish(self) -> None:
        """Put the new nodes into the batch, and record the nodes this version replaced
        (for `prune`) in one record."""
        self._batch.put_many(NODES_DB, self._encoded)
        if self._stale:
            self._batch.put(STALE_DB, self._vkey, codec.encode(self._stale))

    def _write(self, key: bytes, node: LeafNode | InternalNode) -> bytes:
        raw = self._nodes[key] = self._encoded[key] = codec.encode(node)
        return raw

    def _leaf(self, path: bytes, value: bytes) -> _Result:
        return (self._leaf_hash(path, value), (path, value), True)

    def place(self, result: _Result, hexpath: str) -> tuple[bytes, bool]:
        """Write a pending leaf at `hexpath`; return (hash, is leaf) of the placed child."""
        hash_, data, is_leaf = result
        if is_leaf:
            self._write(self._vkey + hexpath.encode(), LeafNode(data[0], data[1]))
        return hash_, is_leaf

    def update(self, ref: tuple[int, bool] | None, depth: int, items: list[_Item],
               lo: int, hi: int) -> _Result:
        """The subtree at `depth` (node version and is-leaf of what is there, or None)
        with items[lo:hi] applied."""
        if ref is None:
            for i in range(lo, hi):
                if items[i][2] is None:
                    live = [it for it in items[lo:hi] if it[2] is not None]
                    return self.build(depth, live, 0, len(live)) if live else _UNCHANGED
            return self.build(depth, items, lo, hi)
        if ref[1]:
            return self._update_leaf(ref[0], depth, items, lo, hi)
        return self._update_internal(ref[0], depth, items, lo, hi)

    def build(self, depth: int, items: list[_Item], lo: int, hi: int) -> _Result:
        """A subtree at `depth` holding exactly items[lo:hi] (all live, at least one)."""
        if hi - lo == 1:
            path, _, value = items[lo]
            return self._leaf(path, value)  # type: ignore[arg-type]
        changes: dict[int, bytes | None] = {}
        leaves = 0
        paths = []
        hexpath = items[lo][1][:depth]
        for char, i, j in _groups(items, lo, hi, depth):
            nib = int(char, 16)
            result = self.build(depth + 1, items, i, j)
            hash_, is_leaf = self.place(result, hexpath + char)
            changes[nib] = hash_
            if is_leaf:
                leaves |= 1 << nib
                paths.append(result[1][0])
        return self._internal(hexpath, 0, b"", [], leaves, changes, b"".join(paths))

    def _internal(self, hexpath: str, bitmap: int, hashes: bytes, versions: list[int],
                  leaves: int, changes: dict[int, bytes | None], paths: bytes) -> _Result:
        """Write the node at `hexpath`: the compact node given with `changes` made, and
        `paths` those of its leaf children in nibble order."""
        bitmap, hashes, versions, hash_ = self._rewrite(bitmap, hashes, versions, changes,
                                                        self._version)
        key = self._vkey + hexpath.encode()
        self._fresh[key] = self._write(
            key, InternalNode(bitmap, hashes, versions, leaves, paths))
        return (hash_, self._version, False)

    def _load_leaf(self, key: bytes) -> LeafNode:
        leaf = self._tree._load(self._snap, key, self._overlay)
        if not isinstance(leaf, LeafNode):
            raise CorruptDataError("expected a leaf node")
        return leaf

    def _update_leaf(self, node_version: int, depth: int, items: list[_Item], lo: int,
                     hi: int, known: bytes | None = None, hash_: bytes = b"") -> _Result:
        """The leaf at `depth`, whose path and hash its parent holds (`known`: None for
        the root or a version-1 parent): one key's update of it is decided from those
        without reading the leaf, since the same leaf hash means the same value."""
        key = _ver(node_version) + items[lo][1][:depth].encode()
        if hi - lo == 1 and known is not None and items[lo][0] == known:
            path, _, value = items[lo]
            if value is None:
                self._stale.append(key)
                return None
            new = self._leaf_hash(path, value)
            if new == hash_:
                return _UNCHANGED
            self._stale.append(key)
            return (new, (path, value), True)
        leaf = self._tree._load(self._snap, key, self._overlay)
        if not isinstance(leaf, LeafNode):
            raise CorruptDataError("expected a leaf node")
        if hi - lo == 1 and items[lo][0] == leaf.path:  # the common case: one key's new value
            value = items[lo][2]
            if value == leaf.value:
                return _UNCHANGED
            self._stale.append(key)
            return None if value is None else self._leaf(leaf.path, value)
        live: list[_Item] = []
        seen = False
        for item in items[lo:hi]:
            if not seen and item[0] >= leaf.path:
                seen = True
                if item[0] != leaf.path:
                    live.append((leaf.path, leaf.path.hex(), leaf.value))
            if item[2] is not None:
                live.append(item)
        if not seen:
            live.append((leaf.path, leaf.path.hex(), leaf.value))
        if len(live) == 1 and live[0][0] == leaf.path and live[0][2] == leaf.value:
            return _UNCHANGED
        self._stale.append(key)
        if not live:
            return None
        return self.build(depth, live, 0, len(live))

    def _update_internal(self, node_version: int, depth: int, items: list[_Item],
                         lo: int, hi: int) -> _Result:
        hexpath = items[lo][1][:depth]
        key = _ver(node_version) + hexpath.encode()
        node = self._tree._load(self._snap, key, self._overlay)
        if not isinstance(node, _INTERNAL):
            raise CorruptDataError("expected an internal node")
        bitmap, versions, leaves = node.bitmap, node.versions, node.leaves
        known = _leaf_paths(node)
        results: dict[int, _Result] = {}
        for char, i, j in _groups(items, lo, hi, depth):
            nib = int(char, 16)
            bit = 1 << nib
            if not bitmap & bit:
                result = self.update(None, depth + 1, items, i, j)
            elif leaves & bit:
                at = (bitmap & (bit - 1)).bit_count()
                result = self._update_leaf(
                    versions[at], depth + 1, items, i, j, None if known is None else known[nib],
                    node.hashes[at * HASH_SIZE:(at + 1) * HASH_SIZE])
            else:
                result = self._update_internal(versions[(bitmap & (bit - 1)).bit_count()],
                                               depth + 1, items, i, j)
            if result is not _UNCHANGED:
                results[nib] = result
        if not results:
            return _UNCHANGED
        self._stale.append(key)
        changes: dict[int, bytes | None] = {}
        pending = []
        remaining = bitmap
        for nib, result in results.items():
            bit = 1 << nib
            if result is None:
                changes[nib] = None
                remaining &= ~bit
                leaves &= ~bit
            else:
                changes[nib] = result[0]
                remaining |= bit
                if result[2]:
                    leaves |= bit
                    pending.append(nib)
                else:
                    leaves &= ~bit
        if not remaining:
            return None
        if remaining.bit_count() == 1 and leaves:  # a lone leaf moves up to this position
            only = remaining.bit_length() - 1
            if only in results:
                return results[only]
            leaf_key = _ver(versions[(bitmap & ((1 << only) - 1)).bit_count()]) + (
                hexpath + _HEX[only]).encode()
            leaf = self._load_leaf(leaf_key)
            self._stale.append(leaf_key)
            return self._leaf(leaf.path, leaf.value)
        for nib in pending:
            self.place(results[nib], hexpath + _HEX[nib])
        paths = []
        for nib in range(16):
            if leaves >> nib & 1:
                if nib in results:
                    paths.append(results[nib][1][0])
                elif known is not None:
                    paths.append(known[nib])
                else:  # a version-1 node: read the leaf's path once
                    at = (bitmap & ((1 << nib) - 1)).bit_count()
                    paths.append(self._load_leaf(
                        _ver(versions[at]) + (hexpath + _HEX[nib]).encode()).path)
        return self._internal(hexpath, bitmap, node.hashes, versions, leaves, changes,
                              b"".join(paths))
