"""Internal nodes that hold their leaf children's paths (record version 2): an update of an
existing key reads no leaf, and stores of version-1 nodes (written before it) give the same
roots, proofs and new nodes, and migrate to the exact records a fresh store holds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian import codec
from xinlian.crypto.hashes import sha3_256, sha256, sm3
from xinlian.storage import jmt
from xinlian.storage.errors import CorruptDataError
from xinlian.storage.kv import Snapshot, Store, WriteBatch
from xinlian.storage.proof import verify_proof

Hasher = Callable[[bytes], bytes]
Commit = Callable[[Store, jmt.StateTree, int, dict[bytes, bytes | None]], bytes]
V1_STORE = Path(__file__).with_name("jmt_v1_store.txt")


def python_twin(hasher: Hasher) -> Hasher:
    """The same function under another identity, so the tree takes the Python writer."""
    return lambda data: hasher(data)


def records(store: Store) -> dict[str, list[tuple[bytes, bytes]]]:
    return {db: store.scan(db) for db in jmt.SUB_DBS}


def as_version_1(source: Store, target: Store) -> int:
    """Copy `source` into `target` with every internal node in the first record version
    (the bytes stores held before version 2: the same fields without the leaf paths)."""
    batch = WriteBatch()
    downgraded = 0
    for db in jmt.SUB_DBS:
        for key, value in source.scan(db):
            if db == jmt.NODES_DB and value[:1] == b"\x96":
                node = jmt._node_decoder.decode(value)
                value = codec.encode(jmt.InternalNodeV1(
                    node.bitmap, node.hashes, node.versions, node.leaves))
                downgraded += 1
            batch.put(db, key, value)
    target.commit(batch)
    return downgraded


keys = st.integers(0, 200).map(lambda i: b"a%d" % i)
blocks = st.lists(st.dictionaries(keys, st.none() | st.binary(max_size=40), max_size=60),
                  min_size=1, max_size=4)


@settings(max_examples=40, deadline=None)
@given(blocks, st.dictionaries(keys, st.none() | st.binary(max_size=40), max_size=60),
       st.sampled_from([sha256, sm3, sha3_256]), st.integers(1, 50))
def test_a_version_1_store_reads_updates_and_migrates_like_a_fresh_one(
        tmp_path_factory: pytest.TempPathFactory, commit_block: Commit,
        history: list[dict[bytes, bytes | None]], last: dict[bytes, bytes | None],
        hasher: Hasher, chunk: int) -> None:
    commit = commit_block
    base = tmp_path_factory.mktemp("t")
    stores = [Store(base / name, sub_dbs=jmt.SUB_DBS, map_size=1 << 25)
              for name in ("fresh", "old native", "old python", "migrated")]
    try:
        fresh, old_native, old_python, migrated = stores
        tree = jmt.StateTree(fresh, hasher)
        for version, updates in enumerate(history, start=1):
            commit(fresh, tree, version, updates)
        downgraded = as_version_1(fresh, old_native)
        for store in (old_python, migrated):
            assert as_version_1(fresh, store) == downgraded
        # the old store answers exactly as the fresh one
        old = jmt.StateTree(old_native, hasher, cache_nodes=8)
        for key in (b"a%d" % i for i in range(201)):
            found, proof = old.get_with_proof(key)
            assert (found, proof) == tree.get_with_proof(key)
            assert verify_proof(tree.root(), key, found, proof, hasher)
        # migration (in chunks, resumable) gives the fresh store's records byte for byte
        assert jmt.migrate_leaf_paths(migrated, chunk=chunk) == downgraded
        assert records(migrated) == records(fresh)
        assert jmt.migrate_leaf_paths(migrated, chunk=chunk) == 0
        # a block over the old nodes (native and Python writers) writes the same new records
        version = len(history) + 1
        root = commit(fresh, tree, version, last)
        assert commit(old_native, old, version, last) == root
        assert commit(old_python, jmt.StateTree(old_python, python_twin(hasher)), version,
                      last) == root
        new_records = [(db, key, value) for db, rows in records(fresh).items()
                       for key, value in rows if key[:8] == version.to_bytes(8, "big")]
        for store in (old_native, old_python):
            assert new_records == [(db, key, value) for db, rows in records(store).items()
                                   for key, value in rows if key[:8] == version.to_bytes(8, "big")]
    finally:
        for store in stores:
            store.close()


def test_a_store_written_before_record_version_2_migrates(
        tmp_path: Path, commit_block: Commit) -> None:
    """Records as the tree wrote them before version 2 (20 keys, SHA-256, one block)."""
    commit = commit_block
    rows = [line.split() for line in V1_STORE.read_text().splitlines()]
    with Store(tmp_path / "old", sub_dbs=jmt.SUB_DBS, map_size=1 << 24) as store, \
            Store(tmp_path / "new", sub_dbs=jmt.SUB_DBS, map_size=1 << 24) as fresh:
        batch = WriteBatch()
        for db, key, value in rows:
            batch.put(db, bytes.fromhex(key), bytes.fromhex(value))
        store.commit(batch)
        state: dict[bytes, bytes | None] = {b"k%d" % i: b"v%d" % i for i in range(20)}
        expected = commit(fresh, jmt.StateTree(fresh, sha256), 1, state)
        tree = jmt.StateTree(store, sha256)
        assert tree.root() == expected
        proofs = [tree.get_with_proof(key) for key in state]
        assert jmt.migrate_leaf_paths(store) == sum(row[2][:4] == "9501" for row in rows) > 0
        assert records(store) == records(fresh)
        tree = jmt.StateTree(store, sha256)
        assert [tree.get_with_proof(key) for key in state] == proofs


@settings(max_examples=30, deadline=None)
@given(st.sets(st.integers(0, 10_000), min_size=2, max_size=300), st.data())
def test_an_update_of_existing_keys_reads_no_leaf(
        tmp_path_factory: pytest.TempPathFactory, commit_block: Commit, present: set[int],
        data: st.DataObject) -> None:
    """Native and Python writers read internal nodes only, whatever the node cache holds;
    rewriting a value with itself writes nothing. (A delete may still read a leaf: the
    last leaf left in a node moves up, with its value.)"""
    commit = commit_block
    base = tmp_path_factory.mktemp("t")
    changed = data.draw(st.sets(st.sampled_from(sorted(present)), min_size=1))
    updates: dict[bytes, bytes | None] = {
        b"a%d" % i: data.draw(st.sampled_from([b"new", b"v%d" % i])) for i in changed}
    for hasher in (sha256, python_twin(sha256)):
        with Store(base / str(id(hasher)), sub_dbs=jmt.SUB_DBS, map_size=1 << 25) as store:
            commit(store, jmt.StateTree(store, hasher), 1,
                   {b"a%d" % i: b"v%d" % i for i in present})
            touched, batch = reads_of_update(jmt.StateTree(store, hasher, cache_nodes=2),
                                             updates)
            nodes = dict(store.scan(jmt.NODES_DB))
            assert touched and all(nodes[key][:1] == b"\x96" for key in touched)
            unchanged = all(value == b"v%d" % int(key[1:]) for key, value in updates.items())
            assert unchanged == (len(batch) == 1)  # the root record only


def reads_of_update(tree: jmt.StateTree, updates: dict[bytes, bytes | None]
                    ) -> tuple[list[bytes], WriteBatch]:
    """The keys of the nodes one `apply` of `updates` (as version 2) loads, by either
    writer: through the tree's `_load` (Python) or the store reader (native)."""
    touched: list[bytes] = []
    load = tree._load

    def recording(snap: Snapshot, key: bytes, overlay: jmt._Overlay | None = None
                  ) -> jmt.LeafNode | jmt.InternalNode | jmt.InternalNodeV1:
        touched.append(key)
        return load(snap, key, overlay)

    real_reader = Snapshot.sealed_reader

    def sealed_reader(snap: Snapshot, db: str) -> Callable[[bytes], bytes | None]:
        reader = real_reader(snap, db)

        def read_one(key: bytes) -> bytes | None:
            touched.append(key)
            return reader(key)
        return read_one

    setattr(tree, "_load", recording)  # noqa: B010 (the writer calls tree._load)
    setattr(Snapshot, "sealed_reader", sealed_reader)  # noqa: B010
    try:
        batch = WriteBatch()
        tree.apply(2, updates, batch)
    finally:
        setattr(Snapshot, "sealed_reader", real_reader)  # noqa: B010
    return touched, batch


def test_leaf_paths_that_do_not_match_the_leaves_are_corrupt(
        tmp_path: Path, commit_block: Commit) -> None:
    commit = commit_block
    with Store(tmp_path / "db", sub_dbs=jmt.SUB_DBS, map_size=1 << 24) as store:
        tree = jmt.StateTree(store, python_twin(sha256))
        commit(store, tree, 1, {b"a%d" % i: b"v" for i in range(40)})
        root_key = (1).to_bytes(8, "big")
        node = jmt._node_decoder.decode(dict(store.scan(jmt.NODES_DB))[root_key])
        assert isinstance(node, jmt.InternalNode) and node.leaves
        batch = WriteBatch()
        batch.put(jmt.NODES_DB, root_key, codec.encode(jmt.InternalNode(
            node.bitmap, node.hashes, node.versions, node.leaves, node.paths[:-1])))
        store.commit(batch)
        for hasher in (sha256, python_twin(sha256)):
            with pytest.raises(CorruptDataError, match="bad tree node") as info:
                jmt.StateTree(store, hasher).apply(2, {b"a1": b"w"}, WriteBatch())
            assert info.value.code == 3006
