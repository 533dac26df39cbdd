"""The state tree against a dict model and an independent reference root, over many versions."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.crypto.hashes import sha3_256, sha256, sm3
from xinlian.storage import jmt
from xinlian.storage.errors import (
    CorruptDataError,
    InvalidKeyError,
    StorageError,
    UnknownDatabaseError,
    VersionError,
)
from xinlian.storage.kv import Store, WriteBatch
from xinlian.storage.proof import EMPTY, verify_proof

Hasher = Callable[[bytes], bytes]
Reference = Callable[[Hasher, dict[bytes, bytes]], bytes]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "db", sub_dbs=jmt.SUB_DBS, map_size=1 << 24) as s:
        yield s


def commit(store: Store, tree: jmt.StateTree, version: int,
           updates: dict[bytes, bytes | None]) -> bytes:
    batch = WriteBatch()
    root = tree.apply(version, updates, batch)
    store.commit(batch)
    return root


def test_empty_tree_root_is_defined(store: Store, reference_root: Reference) -> None:
    tree = jmt.StateTree(store, sha256)
    assert tree.root() == EMPTY == reference_root(sha256, {})
    assert tree.latest_version() is None
    value, proof = tree.get_with_proof(b"anything")
    assert value is None
    assert verify_proof(EMPTY, b"anything", None, proof, sha256)
    assert not verify_proof(EMPTY, b"anything", b"v", proof, sha256)
    assert commit(store, tree, 0, {}) == EMPTY
    assert commit(store, tree, 1, {b"gone": None}) == EMPTY


def test_single_key_root_is_its_leaf_and_deleting_it_empties_the_tree(store: Store) -> None:
    tree = jmt.StateTree(store, sha256)
    root = commit(store, tree, 1, {b"k": b"v"})
    assert root == sha256(b"\x00" + sha256(b"k") + sha256(b"v"))
    assert commit(store, tree, 2, {b"k": None}) == EMPTY
    assert tree.root(1) == root
    assert tree.get(b"k", 1) == b"v"
    assert tree.get(b"k", 2) is None


# A small key space, so that later blocks overwrite and delete keys that exist.
keys = st.one_of(st.integers(0, 47).map(lambda i: b"k%d" % i), st.binary(min_size=1, max_size=3))
ops = st.dictionaries(keys, st.one_of(st.none(), st.binary(max_size=8)), max_size=40)


@settings(max_examples=40)
@given(st.lists(ops, min_size=1, max_size=8), st.sampled_from([sha256, sm3]))
def test_tree_matches_dict_model_across_versions(tmp_path_factory: pytest.TempPathFactory,
                                                 reference_root: Reference,
                                                 blocks: list[dict[bytes, bytes | None]],
                                                 hasher: Hasher) -> None:
    with Store(tmp_path_factory.mktemp("t"), sub_dbs=jmt.SUB_DBS, map_size=1 << 24) as s:
        tree = jmt.StateTree(s, hasher)
        model: dict[bytes, bytes] = {}
        history = []
        for version, updates in enumerate(blocks, start=1):
            root = commit(s, tree, version, updates)
            for k, v in updates.items():
                if v is None:
                    model.pop(k, None)
                else:
                    model[k] = v
            assert root == reference_root(hasher, model)
            history.append((version, root, dict(model)))
        probe = {k for b in blocks for k in b} | {b"absent"}
        for version, root, snapshot in history:  # every old version stays readable
            assert tree.root(version) == root
            for key in probe:
                value, proof = tree.get_with_proof(key, version)
                assert value == snapshot.get(key) == tree.get(key, version)
                assert verify_proof(root, key, value, proof, hasher)
                assert not verify_proof(root, key, None if value else b"x", proof, hasher)


def test_large_random_history_with_deletes_matches_model(
        store: Store, reference_root: Reference) -> None:
    rng = random.Random(7)
    tree = jmt.StateTree(store, sha256, cache_nodes=64)  # tiny cache: reads go to LMDB
    model: dict[bytes, bytes] = {}
    for version in range(1, 41):
        updates: dict[bytes, bytes | None] = {}
        for _ in range(rng.randrange(0, 300)):
            key = rng.randrange(2000).to_bytes(4, "big")
            updates[key] = None if rng.random() < 0.35 else rng.randbytes(rng.randrange(40))
        root = commit(store, tree, version, updates)
        for k, v in updates.items():
            if v is None:
                model.pop(k, None)
            else:
                model[k] = v
        if version % 10 == 0:
            assert root == reference_root(sha256, model)
    for i in range(0, 2000, 7):
        key = i.to_bytes(4, "big")
        value, proof = tree.get_with_proof(key)
        assert value == model.get(key)
        assert verify_proof(root, key, value, proof, sha256)


@pytest.mark.parametrize("hasher", [sha256, sm3, sha3_256])
def test_roots_follow_the_injected_hash(
        store: Store, hasher: Hasher, reference_root: Reference) -> None:
    state = {bytes([i]): bytes([i]) * 3 for i in range(50)}
    tree = jmt.StateTree(store, hasher)
    assert commit(store, tree, 1, dict(state)) == reference_root(hasher, state)


def test_root_is_independent_of_history(tmp_path: Path) -> None:
    rng = random.Random(3)
    final = {rng.randbytes(8): rng.randbytes(8) for _ in range(500)}
    with Store(tmp_path / "one", sub_dbs=jmt.SUB_DBS) as s1, \
            Store(tmp_path / "two", sub_dbs=jmt.SUB_DBS) as s2:
        one = jmt.StateTree(s1, sha256)
        direct = commit(s1, one, 1, dict(final))
        two = jmt.StateTree(s2, sha256)
        junk = {rng.randbytes(8): b"junk" for _ in range(300)}
        commit(s2, two, 1, {**junk, **dict(list(final.items())[:200])})
        commit(s2, two, 2, {**dict.fromkeys(junk), **dict(list(final.items())[200:])})
        assert two.root() == direct


def test_versions_must_increase(store: Store) -> None:
    tree = jmt.StateTree(store, sha256)
    commit(store, tree, 5, {b"a": b"1"})
    for bad in (5, 4, -1):
        with pytest.raises(VersionError):
            tree.apply(bad, {b"a": b"2"}, WriteBatch())
    commit(store, tree, 9, {b"a": b"2"})
    assert tree.get(b"a", 7) == b"1"  # versions between applies read the last state
    assert tree.get(b"a", 4) is None  # before the first version the tree is empty
    assert tree.root(4) == EMPTY


def test_several_versions_in_one_batch(store: Store, reference_root: Reference) -> None:
    tree = jmt.StateTree(store, sha256)
    batch = WriteBatch()
    tree.apply(1, {b"a": b"1", b"b": b"1"}, batch)
    root2 = tree.apply(2, {b"a": None, b"c": b"3"}, batch)
    assert tree.latest_version() is None
    store.commit(batch)
    assert tree.latest_version() == 2
    assert tree.root() == root2 == reference_root(sha256, {b"b": b"1", b"c": b"3"})
    assert tree.get(b"a", 1) == b"1"


def test_abandoned_batch_does_not_leak_into_a_retry(
        store: Store, reference_root: Reference) -> None:
    tree = jmt.StateTree(store, sha256)
    commit(store, tree, 1, {b"a": b"1"})
    tree.apply(2, {b"a": b"abandoned", b"x": b"y"}, WriteBatch())
    root = commit(store, tree, 2, {b"b": b"2"})
    assert root == reference_root(sha256, {b"a": b"1", b"b": b"2"})
    assert tree.get(b"x") is None


def test_reopen_sees_exactly_the_committed_versions(tmp_path: Path) -> None:
    path = tmp_path / "db"
    with Store(path, sub_dbs=jmt.SUB_DBS) as s:
        tree = jmt.StateTree(s, sha256)
        root = commit(s, tree, 1, {b"a": b"1", b"b": b"2"})
        tree.apply(2, {b"a": None}, WriteBatch())  # never committed
    with Store(path, sub_dbs=jmt.SUB_DBS) as s:
        tree = jmt.StateTree(s, sha256)
        assert tree.latest_version() == 1
        assert tree.root() == root
        assert tree.get(b"a") == b"1"


def test_prune_keeps_newer_versions_and_frees_old_nodes(
        store: Store, reference_root: Reference) -> None:
    tree = jmt.StateTree(store, sha256, cache_nodes=2)
    rng = random.Random(5)
    models = []
    model: dict[bytes, bytes] = {}
    for version in range(1, 11):
        updates = {rng.randrange(300).to_bytes(2, "big"): rng.randbytes(4) for _ in range(50)}
        commit(store, tree, version, dict(updates))
        model.update(updates)
        models.append(dict(model))
    nodes_before = len(store.scan(jmt.NODES_DB))
    batch = WriteBatch()
    deleted = tree.prune(8, batch)
    store.commit(batch)
    assert deleted > 0
    assert len(store.scan(jmt.NODES_DB)) == nodes_before - deleted
    tree = jmt.StateTree(store, sha256, cache_nodes=2)  # no cached copies of pruned nodes
    for version in (8, 9, 10):
        root = tree.root(version)
        assert root == reference_root(sha256, models[version - 1])
        for key in list(models[version - 1])[:50]:
            value, proof = tree.get_with_proof(key, version)
            assert value == models[version - 1][key]
            assert verify_proof(root, key, value, proof, sha256)
    with pytest.raises(VersionError):
        tree.get(b"\x00\x01", 7)
    with pytest.raises(VersionError):
        tree.prune(11, WriteBatch())


def test_missing_and_corrupt_nodes_are_typed_errors(store: Store) -> None:
    tree = jmt.StateTree(store, sha256, cache_nodes=2)
    commit(store, tree, 1, {bytes([i]): b"v" for i in range(40)})
    nodes = store.scan(jmt.NODES_DB)
    batch = WriteBatch()
    for key, _ in nodes:
        batch.put(jmt.NODES_DB, key, b"\xc1")
    store.commit(batch)
    fresh = jmt.StateTree(store, sha256, cache_nodes=2)
    with pytest.raises(CorruptDataError):
        fresh.get(b"\x01")
    for key, _ in nodes:
        batch.delete(jmt.NODES_DB, key)
    store.commit(batch)
    with pytest.raises(CorruptDataError) as info:
        jmt.StateTree(store, sha256, cache_nodes=2).get_with_proof(b"\x01")
    assert info.value.code == 3006


def test_bad_arguments_are_typed_errors(tmp_path: Path, store: Store) -> None:
    tree = jmt.StateTree(store, sha256)
    with pytest.raises(InvalidKeyError):
        tree.apply(1, {"text": b"v"}, WriteBatch())  # type: ignore[dict-item]
    with pytest.raises(InvalidKeyError):
        tree.apply(1, {b"k": 5}, WriteBatch())  # type: ignore[dict-item]
    with pytest.raises(StorageError):
        jmt.StateTree(store, lambda d: hashlib.sha512(d).digest())
    with Store(tmp_path / "other", sub_dbs=("x",)) as other, \
            pytest.raises(UnknownDatabaseError):
        jmt.StateTree(other, sha256)
