"""State snapshots: export then import gives the same root and state; bad chunks are refused."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.crypto.hashes import sha256, sm3
from xinlian.storage import jmt
from xinlian.storage.errors import BadChunkError
from xinlian.storage.kv import Store, WriteBatch
from xinlian.storage.proof import EMPTY
from xinlian.storage.snapshot import (
    Chunk,
    Leaf,
    SnapshotImport,
    export_chunks,
    read_chunk,
    subtree_hash,
)

Hasher = Callable[[bytes], bytes]
Reference = Callable[[Hasher, dict[bytes, bytes]], bytes]


@contextmanager
def tree_store() -> Iterator[tuple[Store, jmt.StateTree]]:
    with tempfile.TemporaryDirectory() as tmp, \
            Store(Path(tmp) / "db", sub_dbs=jmt.SUB_DBS, map_size=1 << 24) as store:
        yield store, jmt.StateTree(store, sha256)


def commit(store: Store, tree: jmt.StateTree, version: int,
           updates: dict[bytes, bytes | None]) -> bytes:
    batch = WriteBatch()
    root = tree.apply(version, updates, batch)
    store.commit(batch)
    return root


def import_all(chunks: list[Chunk], root: bytes) -> SnapshotImport:
    snap = SnapshotImport(root, sha256)
    for chunk in chunks:
        snap.add(chunk)
    assert snap.done
    return snap


states = st.dictionaries(st.binary(min_size=1, max_size=8), st.binary(max_size=16),
                         max_size=60)


@settings(max_examples=40, deadline=None)
@given(history=st.lists(states, min_size=1, max_size=3), local=states,
       later=states, max_leaves=st.integers(1, 8))
def test_import_of_export_has_the_same_root_and_state(
        history: list[dict[bytes, bytes]], local: dict[bytes, bytes],
        later: dict[bytes, bytes], max_leaves: int) -> None:
    with tree_store() as (src_store, src), tree_store() as (dst_store, dst):
        model: dict[bytes, bytes] = {}
        for version, step in enumerate(history):
            # every other step deletes what it does not rewrite, so imports see deletions
            updates: dict[bytes, bytes | None] = dict(step)
            if version % 2:
                updates.update({k: None for k in model if k not in step})
            commit(src_store, src, version, updates)
            model = {k: v for k, v in {**model, **updates}.items() if v is not None}
        top = len(history) - 1
        root = src.root(top)
        commit(dst_store, dst, 0, dict(local))  # the importer's own earlier state
        batch = WriteBatch()
        snap = import_all(list(export_chunks(src, top, max_leaves, 1 << 20)), root)
        assert snap.write(dst, 10, batch) == root
        dst_store.commit(batch)
        assert dst.root(10) == root
        for key in {*model, *local}:
            assert dst.get(key) == model.get(key)
        # later blocks give the same roots on both trees
        more: dict[bytes, bytes | None] = {**later, **{k: None for k in list(model)[:3]}}
        assert commit(src_store, src, 11, more) == commit(dst_store, dst, 11, more)


def test_subtree_hash_is_the_reference_root(reference_root: Reference) -> None:
    state = {i.to_bytes(4, "big"): bytes([i % 7]) * (i % 5) for i in range(300)}
    leaves = sorted((Leaf(sm3(k), v) for k, v in state.items()), key=lambda leaf: leaf.path)
    assert subtree_hash(sm3, leaves, 0) == reference_root(sm3, state)
    assert subtree_hash(sm3, [], 0) == EMPTY


@pytest.fixture
def big() -> Iterator[tuple[jmt.StateTree, bytes]]:
    with tree_store() as (store, tree):
        commit(store, tree, 0, {i.to_bytes(4, "big"): b"v%d" % i for i in range(400)})
        yield tree, tree.root(0)


def test_chunks_are_bounded(big: tuple[jmt.StateTree, bytes]) -> None:
    tree, root = big
    chunks = list(export_chunks(tree, 0, max_leaves=16))
    assert all(len(c.leaves) <= 16 for c in chunks)
    assert sum(len(c.leaves) for c in chunks) == 400
    assert any(c.children for c in chunks)
    # a subtree over the byte limit is split even when it has few leaves
    assert read_chunk(tree, 0, "", max_leaves=1000, max_bytes=100).children
    import_all(chunks, root)


def _first_leaf_chunk(tree: jmt.StateTree) -> tuple[list[Chunk], int]:
    chunks = list(export_chunks(tree, 0, max_leaves=16))
    return chunks, next(i for i, c in enumerate(chunks) if len(c.leaves) > 1)


def _refused(chunks: list[Chunk], root: bytes, index: int, bad: Chunk) -> None:
    snap = SnapshotImport(root, sha256)
    for chunk in chunks[:index]:
        snap.add(chunk)
    with pytest.raises(BadChunkError):
        snap.add(bad)
    snap.add(chunks[index])  # nothing of the bad chunk was kept: the good one still fits
    for chunk in chunks[index + 1:]:
        snap.add(chunk)
    assert snap.done


def test_a_corrupted_value_is_refused(big: tuple[jmt.StateTree, bytes]) -> None:
    tree, root = big
    chunks, i = _first_leaf_chunk(tree)
    leaves = list(chunks[i].leaves)
    leaves[0] = Leaf(leaves[0].path, leaves[0].value + b"!")
    _refused(chunks, root, i, Chunk(chunks[i].prefix, leaves, []))


def test_a_missing_or_extra_or_misplaced_leaf_is_refused(
        big: tuple[jmt.StateTree, bytes]) -> None:
    tree, root = big
    chunks, i = _first_leaf_chunk(tree)
    good = chunks[i]
    _refused(chunks, root, i, Chunk(good.prefix, good.leaves[1:], []))
    _refused(chunks, root, i, Chunk(good.prefix, good.leaves[::-1], []))
    stranger = Leaf(bytes(32) if not good.prefix.startswith("0") else b"\xff" * 32, b"x")
    _refused(chunks, root, i, Chunk(good.prefix, sorted(
        [*good.leaves, stranger], key=lambda leaf: leaf.path), []))


def test_a_wrong_split_is_refused(big: tuple[jmt.StateTree, bytes]) -> None:
    tree, root = big
    chunks = list(export_chunks(tree, 0, max_leaves=16))
    assert chunks[0].prefix == "" and chunks[0].children
    children = list(chunks[0].children)
    children[3] = bytes(31) + b"\x01"
    _refused(chunks, root, 0, Chunk("", [], children))
    _refused(chunks, root, 0, Chunk("", [], children[:15]))
    _refused(chunks, root, 0, Chunk("", [], [EMPTY, *children[1:]]))
    _refused(chunks, root, 0, Chunk("", [Leaf(bytes(32), b"")], chunks[0].children))


def test_positions_not_asked_for_and_early_writes_are_refused(
        big: tuple[jmt.StateTree, bytes]) -> None:
    _, root = big
    snap = SnapshotImport(root, sha256)
    with pytest.raises(BadChunkError):
        snap.add(Chunk("7", [], []))
    with pytest.raises(BadChunkError):
        snap.add(Chunk("XYZ", [], []))
    with tree_store() as (_, other), pytest.raises(BadChunkError):
        snap.write(other, 1, WriteBatch())


def test_an_empty_state_needs_no_chunk() -> None:
    snap = SnapshotImport(EMPTY, sha256)
    assert snap.done
    with tree_store() as (store, tree):
        commit(store, tree, 0, {b"a": b"1"})
        batch = WriteBatch()
        assert snap.write(tree, 1, batch) == EMPTY
        store.commit(batch)
        assert tree.get(b"a") is None


@settings(max_examples=40, deadline=None)
@given(state=st.dictionaries(st.binary(min_size=1, max_size=8), st.binary(max_size=16),
                             min_size=2, max_size=80),
       pick=st.integers(0, 10**6), where=st.integers(0, 10**6), bit=st.integers(0, 7))
def test_any_flipped_bit_in_a_chunk_is_refused(state: dict[bytes, bytes], pick: int,
                                               where: int, bit: int) -> None:
    with tree_store() as (store, tree):
        root = commit(store, tree, 0, dict(state))
        chunks = list(export_chunks(tree, 0, max_leaves=4))
    index = pick % len(chunks)
    chunk = chunks[index]
    if chunk.children:  # flip a bit of one present child hash
        present = [i for i, c in enumerate(chunk.children) if c]
        children = list(chunk.children)
        i = present[where % len(present)]
        h = bytearray(children[i])
        h[where % 32] ^= 1 << bit
        bad = Chunk(chunk.prefix, [], [*children[:i], bytes(h), *children[i + 1:]])
    else:  # flip a bit of one leaf's path or value
        leaves = list(chunk.leaves)
        leaf = leaves[where % len(leaves)]
        data = bytearray(leaf.path + leaf.value)
        if len(data) == 32 or where % 2:
            data[where % 32] ^= 1 << bit
        else:
            data[32 + where % (len(data) - 32)] ^= 1 << bit
        leaves[where % len(leaves)] = Leaf(bytes(data[:32]), bytes(data[32:]))
        leaves.sort(key=lambda x: x.path)
        bad = Chunk(chunk.prefix, leaves, [])
    snap = SnapshotImport(root, sha256)
    for good in chunks[:index]:
        snap.add(good)
    with pytest.raises(BadChunkError):
        snap.add(bad)
