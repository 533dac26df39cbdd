"""Native node hashing against the Python rules; the batched tree update against updates
applied one at a time (same roots, same proofs); the native block update (_nodebatch.c)
against the Python writer (same stored bytes), with its parsing of stored nodes fuzzed."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian import codec
from xinlian.crypto.hashes import sha3_256, sha256, sm3
from xinlian.storage import _nodehash, jmt
from xinlian.storage.errors import CorruptDataError
from xinlian.storage.kv import Store, WriteBatch, seal
from xinlian.storage.nodehash import NodeHasher
from xinlian.storage.proof import verify_proof

Hasher = Callable[[bytes], bytes]
SUITE_HASHES = [sha256, sm3, sha3_256]


def python_twin(hasher: Hasher) -> Hasher:
    """The same function under another identity, so NodeHasher takes the Python path."""
    return lambda data: hasher(data)


def test_the_suite_hashes_are_native_and_others_are_not() -> None:
    assert all(NodeHasher(h).native for h in SUITE_HASHES)
    assert not NodeHasher(python_twin(sha256)).native


@given(st.binary(max_size=300))
def test_native_digests_match_hashlib_and_gmssl(data: bytes) -> None:
    assert _nodehash.digest(0, data) == hashlib.sha256(data).digest()
    assert _nodehash.digest(1, data) == sm3(data)  # GmSSL's SM3
    assert _nodehash.digest(2, data) == hashlib.sha3_256(data).digest()


def test_sm3_standard_example() -> None:
    # GB/T 32905-2016, example 1
    assert _nodehash.digest(1, b"abc").hex() == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")


hash32 = st.binary(min_size=32, max_size=32)


@st.composite
def compact_nodes(draw: st.DrawFn) -> tuple[int, bytes, list[int]]:
    bitmap = draw(st.integers(0, 0xFFFF))
    count = bitmap.bit_count()
    hashes = b"".join(draw(st.lists(hash32, min_size=count, max_size=count)))
    versions = draw(st.lists(st.integers(0, 2**63), min_size=count, max_size=count))
    return bitmap, hashes, versions


@settings(max_examples=300)
@given(compact_nodes(), st.dictionaries(st.integers(0, 15), st.none() | hash32),
       st.integers(0, 15), st.integers(0, 2**63), st.sampled_from(SUITE_HASHES),
       st.binary(max_size=64))
def test_native_node_hashing_matches_the_python_rules(
        node: tuple[int, bytes, list[int]], changes: dict[int, bytes | None], nib: int,
        version: int, hasher: Hasher, value: bytes) -> None:
    native, python = NodeHasher(hasher), NodeHasher(python_twin(hasher))
    bitmap, hashes, versions = node
    assert native.node_hash(bitmap, hashes) == python.node_hash(bitmap, hashes)
    assert native.siblings(bitmap, hashes, nib) == python.siblings(bitmap, hashes, nib)
    rewritten = native.rewrite(bitmap, hashes, list(versions), changes, version)
    assert rewritten == python.rewrite(bitmap, hashes, list(versions), changes, version)
    out_bitmap, out_hashes, _, out_hash = rewritten
    assert native.node_hash(out_bitmap, out_hashes) == out_hash
    path = hashes[:32].ljust(32, b"p")
    assert native.leaf_hash(path, value) == python.leaf_hash(path, value)


def test_native_calls_reject_malformed_nodes() -> None:
    with pytest.raises(ValueError, match="bitmap"):
        _nodehash.node_hash(0, 0b11, bytes(32))
    with pytest.raises(ValueError, match="16 bits"):
        _nodehash.node_hash(0, 1 << 16, b"")
    with pytest.raises(ValueError, match="algorithm"):
        _nodehash.node_hash(7, 0, b"")
    with pytest.raises(ValueError, match="nibble"):
        _nodehash.siblings(0, 0, b"", 16)
    with pytest.raises(ValueError, match="versions"):
        _nodehash.rewrite(0, 1, bytes(32), [], {}, 1)
    with pytest.raises(ValueError, match="32 bytes"):
        _nodehash.rewrite(0, 0, b"", [], {3: b"short"}, 1)
    with pytest.raises(ValueError, match="nibble"):
        _nodehash.rewrite(0, 0, b"", [], {16: bytes(32)}, 1)
    assert not _nodehash.available(3)


# A small key space, so that later blocks overwrite and delete keys that exist.
keys = st.integers(0, 60).map(lambda i: b"k%d" % i)
blocks = st.lists(st.dictionaries(keys, st.none() | st.binary(max_size=6), max_size=30),
                  min_size=1, max_size=5)


Commit = Callable[[Store, jmt.StateTree, int, dict[bytes, bytes | None]], bytes]


@settings(max_examples=40, deadline=None)
@given(blocks, st.sampled_from(SUITE_HASHES))
def test_a_batched_block_gives_the_roots_and_proofs_of_one_update_at_a_time(
        tmp_path_factory: pytest.TempPathFactory, commit_block: Commit,
        history: list[dict[bytes, bytes | None]], hasher: Hasher) -> None:
    commit = commit_block
    base = tmp_path_factory.mktemp("t")
    with Store(base / "batched", sub_dbs=jmt.SUB_DBS, map_size=1 << 24) as a, \
            Store(base / "single", sub_dbs=jmt.SUB_DBS, map_size=1 << 24) as b, \
            Store(base / "python", sub_dbs=jmt.SUB_DBS, map_size=1 << 24) as c:
        batched = jmt.StateTree(a, hasher)
        single = jmt.StateTree(b, hasher)
        python = jmt.StateTree(c, python_twin(hasher))
        assert batched.nodes.native and not python.nodes.native
        version = 0
        for number, updates in enumerate(history, start=1):
            root = commit(a, batched, number, updates)
            assert commit(c, python, number, updates) == root
            for key, value in updates.items():
                version += 1
                commit(b, single, version, {key: value})
            assert single.root() == root
            for key in [b"k%d" % i for i in range(61)]:
                value, proof = batched.get_with_proof(key)
                assert (value, proof) == single.get_with_proof(key)
                assert (value, proof) == python.get_with_proof(key)
                assert verify_proof(root, key, value, proof, hasher)


def test_prune_reads_the_per_node_stale_records_of_older_stores(
        tmp_path: Path, commit_block: Commit) -> None:
    """Stores written before the one-record-per-version stale index still prune."""
    commit = commit_block
    pruned: list[set[bytes]] = []
    for layout in ("per version", "per node"):
        with Store(tmp_path / layout, sub_dbs=jmt.SUB_DBS, map_size=1 << 24) as store:
            tree = jmt.StateTree(store, sha256)
            for version in range(1, 6):
                commit(store, tree, version,
                       {bytes([version * i % 97]): bytes([version]) for i in range(60)})
            if layout == "per node":  # rewrite the index as older stores hold it
                batch = WriteBatch()
                for key, value in store.scan(jmt.STALE_DB):
                    batch.delete(jmt.STALE_DB, key)
                    for node_key in jmt._stale_decoder.decode(value):
                        batch.put(jmt.STALE_DB, key + node_key, b"")
                store.commit(batch)
            before = {key for key, _ in store.scan(jmt.NODES_DB)}
            batch = WriteBatch()
            deleted = tree.prune(4, batch)
            store.commit(batch)
            after = {key for key, _ in store.scan(jmt.NODES_DB)}
            assert deleted == len(before - after) > 0
            assert store.scan(jmt.STALE_DB, stop=(5).to_bytes(8, "big")) == []
            for key in (bytes([i]) for i in range(97)):
                found, proof = tree.get_with_proof(key, 4)
                assert verify_proof(tree.root(4), key, found, proof, sha256)
            pruned.append(before - after)
    assert pruned[0] == pruned[1]


def stored(store: Store) -> dict[str, list[tuple[bytes, bytes]]]:
    return {db: store.scan(db) for db in (jmt.NODES_DB, jmt.STALE_DB, jmt.ROOTS_DB)}


# Wider values and keys than `blocks`, so leaves split, merge and move up several nibbles.
wide_blocks = st.lists(
    st.dictionaries(st.integers(0, 300).map(lambda i: b"w%d" % i),
                    st.none() | st.binary(max_size=300), max_size=80),
    min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(wide_blocks, st.sampled_from(SUITE_HASHES), st.integers(1, 3), st.integers(2, 40))
def test_the_native_block_update_writes_the_bytes_of_the_python_writer(
        tmp_path_factory: pytest.TempPathFactory, history: list[dict[bytes, bytes | None]],
        hasher: Hasher, per_batch: int, cache_nodes: int) -> None:
    """Same roots, and the same node, stale and root records byte for byte, with several
    versions in one batch, a small node cache, and pruning in between."""
    base = tmp_path_factory.mktemp("t")
    with Store(base / "native", sub_dbs=jmt.SUB_DBS, map_size=1 << 25) as a, \
            Store(base / "python", sub_dbs=jmt.SUB_DBS, map_size=1 << 25) as b:
        native = jmt.StateTree(a, hasher, cache_nodes=cache_nodes)
        python = jmt.StateTree(b, python_twin(hasher), cache_nodes=cache_nodes)
        assert native.nodes.apply_batch is not None and python.nodes.apply_batch is None
        for first in range(0, len(history), per_batch):
            batches = WriteBatch(), WriteBatch()
            for version in range(first + 1, min(len(history), first + per_batch) + 1):
                updates = history[version - 1]
                assert (native.apply(version, updates, batches[0])
                        == python.apply(version, updates, batches[1]))
            a.commit(batches[0])
            b.commit(batches[1])
            assert stored(a) == stored(b)
            if version > 2:
                for tree, store in ((native, a), (python, b)):
                    batch = WriteBatch()
                    tree.prune(version - 1, batch)
                    store.commit(batch)
                assert stored(a) == stored(b)


def test_native_block_update_rejects_malformed_updates() -> None:
    def fetch(key: bytes) -> bytes:
        raise AssertionError("nothing to read")

    nodes: tuple[dict[bytes, bytes], dict[bytes, bytes], dict[bytes, bytes]] = ({}, {}, {})
    path = bytes(32)
    for updates, match in (
            ([(path, b"v"), (path, b"w")], "ascending"),
            ([(bytes([1]) * 32, b"v"), (path, b"w")], "ascending"),
            ([(b"short", b"v")], "32-byte path"),
            ([(path, "text")], "32-byte path"),
            ([(path,)], "32-byte path"),
            ([[path, b"v"]], "32-byte path")):
        with pytest.raises(ValueError, match=match):
            _nodehash.apply_batch(0, updates, None, 1, nodes, fetch)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="three dicts"):
        _nodehash.apply_batch(0, [], None, 1, ({}, {}), fetch)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="algorithm"):
        _nodehash.apply_batch(9, [], None, 1, nodes, fetch)
    with pytest.raises(ValueError, match="missing tree node"):
        _nodehash.apply_batch(0, [(path, b"v")], (1, True), 2, nodes, lambda key: None)
    leaf = codec.encode(jmt.LeafNode(path, b"old"))
    with pytest.raises(ValueError, match="fails its checksum"):
        _nodehash.apply_batch(0, [(path, b"v")], (1, True), 2, nodes,
                              lambda key: seal(key + b"x", leaf))
    with pytest.raises(ValueError, match="no stored record"):
        _nodehash.apply_batch(0, [(path, b"v")], (1, True), 2, nodes, lambda key: b"\x01")
    root, _, leaves, stale = _nodehash.apply_batch(0, [(path, b"v")], (1, True), 2, nodes,
                                                   lambda key: seal(key, leaf))
    assert root is not None and root[0] == 1 and stale == [(1).to_bytes(8, "big")]
    assert leaves == {(2).to_bytes(8, "big"): codec.encode(jmt.LeafNode(path, b"v"))}


def encoded_nodes() -> st.SearchStrategy[bytes]:
    """Stored nodes: real encodings, those with bytes changed, cut or added, and noise."""
    leaf = st.builds(jmt.LeafNode, st.binary(min_size=31, max_size=33), st.binary(max_size=40))
    internal_v1 = compact_nodes().flatmap(lambda n: st.builds(
        jmt.InternalNodeV1, st.just(n[0]), st.just(n[1]), st.just(n[2]),
        st.integers(0, 0x1FFFF)))
    internal = compact_nodes().flatmap(lambda n: st.integers(0, 0x1FFFF).flatmap(
        lambda leaves: st.builds(
            jmt.InternalNode, st.just(n[0]), st.just(n[1]), st.just(n[2]), st.just(leaves),
            st.binary(min_size=max(0, 32 * (leaves & n[0]).bit_count() - 1),
                      max_size=32 * (leaves & n[0]).bit_count() + 1))))
    real = st.one_of(leaf, internal_v1, internal).map(codec.encode)
    mutated = st.tuples(real, st.integers(0, 700), st.integers(0, 255)).map(
        lambda t: t[0][:t[1]] + bytes([t[2]]) + t[0][t[1] + 1:])
    cut = st.tuples(real, st.integers(0, 700)).map(lambda t: t[0][:t[1]])
    return st.one_of(real, mutated, cut, real.map(lambda r: r + b"\x00"), st.binary())


@settings(max_examples=400)
@given(encoded_nodes(), st.booleans(), st.binary(min_size=32, max_size=32),
       st.none() | st.binary(max_size=8))
def test_native_block_update_parses_stored_nodes_strictly(
        raw: bytes, is_leaf: bool, path: bytes, value: bytes | None) -> None:
    """Any stored bytes either decode as the Python decoder reads them or are refused with
    ValueError (CorruptDataError in the tree); the walk never reads past them."""
    nodes: tuple[dict[bytes, bytes], dict[bytes, bytes], dict[bytes, bytes]] = ({}, {}, {})
    try:
        decoded = jmt._node_decoder.decode(raw)
    except msgspec.DecodeError:
        decoded = None
    try:
        _nodehash.apply_batch(0, [(path, value)], (1, is_leaf), 2, nodes,
                              lambda key: seal(key, raw))
    except ValueError as exc:
        assert "bad tree node" in str(exc)
        return
    # accepted: the Python decoder reads the same kind of node
    if is_leaf:
        assert isinstance(decoded, jmt.LeafNode)
    else:
        assert isinstance(decoded, jmt.InternalNode | jmt.InternalNodeV1)
        assert not decoded.leaves & ~decoded.bitmap
        if isinstance(decoded, jmt.InternalNode):
            assert len(decoded.paths) == 32 * decoded.leaves.bit_count()


def test_a_malformed_stored_node_is_a_corrupt_data_error_in_the_tree(tmp_path: Path) -> None:
    with Store(tmp_path / "db", sub_dbs=jmt.SUB_DBS, map_size=1 << 24) as store:
        tree = jmt.StateTree(store, sha256)
        batch = WriteBatch()
        tree.apply(1, {b"k%d" % i: b"v" for i in range(40)}, batch)
        store.commit(batch)
        root_key = (1).to_bytes(8, "big")
        batch.put(jmt.NODES_DB, root_key, b"\x96\x02\xcd")  # an internal node cut short
        store.commit(batch)
        with pytest.raises(CorruptDataError, match="bad tree node") as info:
            jmt.StateTree(store, sha256).apply(2, {b"k1": b"w"}, WriteBatch())
        assert info.value.code == 3006
        batch.delete(jmt.NODES_DB, root_key)
        store.commit(batch)
        with pytest.raises(CorruptDataError, match="missing tree node"):
            jmt.StateTree(store, sha256).apply(2, {b"k1": b"w"}, WriteBatch())
