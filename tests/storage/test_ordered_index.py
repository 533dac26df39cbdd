"""The ordered index (Merkle search tree): answers match a plain model, every answer's
range proof verifies, and any tampering (dropped, added, reordered entries, hidden parts,
a wrong root) is rejected. Hypothesis drives the data (its own seeded search)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from xinlian import codec
from xinlian.crypto.hashes import sha256, sm3
from xinlian.errors import XinlianError
from xinlian.storage import mst
from xinlian.storage.errors import RangeProofError, VersionError
from xinlian.storage.kv import Store, WriteBatch
from xinlian.storage.mst_proof import (
    EMPTY_ROOT,
    MAX_PROOF_DEPTH,
    ProofNode,
    RangeProof,
    RangeQuery,
    decode_range_proof,
    encode_range_proof,
    verify_range,
)

KEYS = st.binary(min_size=1, max_size=3)
UPDATES = st.dictionaries(KEYS, st.none() | st.binary(max_size=4), max_size=120)
QUERIES = st.builds(lambda lo, width, reverse, limit: RangeQuery(lo, lo + width, reverse,
                                                                  limit),
                    st.binary(max_size=2), st.binary(min_size=1, max_size=2), st.booleans(),
                    st.integers(1, 40))
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _store(path: Path) -> Store:
    return Store(path, sub_dbs=mst.SUB_DBS, durable=False)


@pytest.fixture
def index(tmp_path: Path) -> Iterator[mst.OrderedIndex]:
    with _store(tmp_path) as store:
        yield mst.OrderedIndex(store, sha256)


def _apply(index: mst.OrderedIndex, version: int, updates: dict[bytes, bytes | None]) -> bytes:
    batch = WriteBatch()
    root = index.apply(version, updates, batch)
    index._store.commit(batch)
    return root


def _expected(model: dict[bytes, bytes], query: RangeQuery) -> list[tuple[bytes, bytes]]:
    found = sorted((k, v) for k, v in model.items() if query.contains(k))
    return (found[::-1] if query.reverse else found)[:query.limit]


def _fresh_root(entries: dict[bytes, bytes]) -> bytes:
    with tempfile.TemporaryDirectory() as path, _store(Path(path)) as store:
        return _apply(mst.OrderedIndex(store, sha256), 0, dict(entries))


@SETTINGS
@given(history=st.lists(UPDATES, min_size=1, max_size=5), queries=st.lists(QUERIES, max_size=8))
def test_answers_match_the_model_and_verify(tmp_path_factory: pytest.TempPathFactory,
                                            history: list[dict[bytes, bytes | None]],
                                            queries: list[RangeQuery]) -> None:
    with _store(tmp_path_factory.mktemp("ix")) as store:
        index = mst.OrderedIndex(store, sha256)
        model: dict[bytes, bytes] = {}
        for version, updates in enumerate(history):
            root = _apply(index, version, updates)
            for key, value in updates.items():
                if value is None:
                    model.pop(key, None)
                else:
                    model[key] = value
        assert list(index.items()) == sorted(model.items())
        # the root depends on the entries alone, not on the history that made them
        assert root == _fresh_root(model)
        for query in queries:
            answer, proof = index.query(query)
            assert answer == _expected(model, query)
            wire = decode_range_proof(encode_range_proof(proof))
            assert verify_range(root, wire, query, sha256) == answer


def _nodes(tree: ProofNode | bytes) -> Iterator[ProofNode]:
    if isinstance(tree, ProofNode):
        yield tree
        for child in tree.children:
            yield from _nodes(child)


def _tampered(proof: RangeProof, answer: list[tuple[bytes, bytes]]) -> Iterator[RangeProof]:
    """Every way of changing the proof that must fail: each answer entry dropped (its value
    hidden, or the node holding it hidden), a key added, keys reordered, a value changed."""
    nodes = list(_nodes(proof.tree))

    def rebuilt(target: ProofNode, replacement: ProofNode | bytes) -> RangeProof:
        def walk(node: ProofNode | bytes) -> ProofNode | bytes:
            if node is target:
                return replacement
            if isinstance(node, bytes):
                return node
            return replace(node, children=[walk(c) for c in node.children])
        return RangeProof(walk(proof.tree))

    wanted = {k for k, _ in answer}
    for node in nodes:
        for i, key in enumerate(node.keys):
            value = node.values[i]
            if node.prefix + key in wanted and value is not None:
                hidden = sum(1 for v in node.values[:i] if v is None)
                hashes = [*node.value_hashes[:hidden], sha256(value),
                          *node.value_hashes[hidden:]]
                values = [None if j == i else v for j, v in enumerate(node.values)]
                yield rebuilt(node, replace(node, values=values, value_hashes=hashes))
                changed = [value + b"!" if j == i else v for j, v in enumerate(node.values)]
                yield rebuilt(node, replace(node, values=changed))
        if wanted & {node.prefix + k for k in node.keys}:
            yield rebuilt(node, _node_hash(node))
        added = node.keys[0][:-1] + bytes([node.keys[0][-1] ^ 1]) if node.keys[0] else b"\x00"
        yield rebuilt(node, replace(node, keys=[added, *node.keys],
                                    values=[b"x", *node.values],
                                    children=[b"", *node.children]))
        if len(node.keys) > 1:
            keys = [node.keys[1], node.keys[0], *node.keys[2:]]
            values = [node.values[1], node.values[0], *node.values[2:]]
            yield rebuilt(node, replace(node, keys=keys, values=values))


def _node_hash(node: ProofNode) -> bytes:
    """The hash of a revealed node, as the verifier computes it (through a one-node proof)."""
    from xinlian.storage.mst_proof import _hash
    return _hash(node, sha256, [], 0)


@SETTINGS
@given(entries=st.dictionaries(KEYS, st.binary(max_size=4), min_size=1, max_size=150),
       query=QUERIES)
def test_invalid_tampered_proofs_fail(tmp_path_factory: pytest.TempPathFactory,
                                      entries: dict[bytes, bytes], query: RangeQuery) -> None:
    with _store(tmp_path_factory.mktemp("ix")) as store:
        index = mst.OrderedIndex(store, sha256)
        root = _apply(index, 1, dict(entries))
        answer, proof = index.query(query)
        assert verify_range(root, proof, query, sha256) == answer
        bad_root = bytes([root[0] ^ 1]) + root[1:]
        with pytest.raises(RangeProofError):
            verify_range(bad_root, proof, query, sha256)
        with pytest.raises(RangeProofError):
            verify_range(root, proof, query, sm3)
        for tampered in _tampered(proof, answer):
            try:
                result = verify_range(root, tampered, query, sha256)
            except RangeProofError:
                continue
            # only a change outside the answer may verify, and then to the same answer
            assert result == answer


def test_a_range_with_nothing_in_it_is_proven_empty(index: mst.OrderedIndex) -> None:
    entries = {b"k%04d" % i: b"v%d" % i for i in range(0, 2000, 2)}
    root = _apply(index, 1, dict(entries))
    query = RangeQuery(b"k0101", b"k0102", True, 10)  # between k0100 and k0102
    answer, proof = index.query(query)
    assert answer == []
    assert verify_range(root, proof, query, sha256) == []
    # the neighbours are revealed by key only: their values stay hidden
    revealed = [v for n in _nodes(proof.tree) for v in n.values if v is not None]
    assert revealed == []
    # a proof for a range that holds entries cannot pass as one for the empty range
    _, other = index.query(RangeQuery(b"k0100", b"k0101", True, 10))
    assert verify_range(root, other, query, sha256) == []
    with pytest.raises(RangeProofError):  # the root alone proves nothing about the range
        verify_range(root, RangeProof(root), query, sha256)


def test_pages_run_newest_first_and_join_up(index: mst.OrderedIndex) -> None:
    entries = {b"a" + i.to_bytes(4, "big"): b"%d" % i for i in range(500)}
    root = _apply(index, 1, dict(entries))
    seen: list[bytes] = []
    hi: bytes | None = b"b"
    while True:
        query = RangeQuery(b"a", hi, True, 64)
        page, proof = index.query(query)
        assert verify_range(root, proof, query, sha256) == page
        seen += [k for k, _ in page]
        if len(page) < 64:
            break
        hi = page[-1][0]
    assert seen == sorted(entries, reverse=True)


def test_empty_index_and_versions(index: mst.OrderedIndex) -> None:
    query = RangeQuery(b"", None, False, 5)
    answer, proof = index.query(query)
    assert (answer, index.root()) == ([], EMPTY_ROOT)
    assert verify_range(EMPTY_ROOT, proof, query, sha256) == []
    first = _apply(index, 1, {b"x": b"1", b"y": b"2"})
    second = _apply(index, 2, {b"x": None, b"z": b"3"})
    assert index.root(1) == first and index.root(2) == second != first
    assert list(index.items(1)) == [(b"x", b"1"), (b"y", b"2")]
    assert list(index.items(2)) == [(b"y", b"2"), (b"z", b"3")]
    assert index.get(b"x", 1) == b"1" and index.get(b"x") is None
    assert _apply(index, 3, {b"y": None, b"z": None}) == EMPTY_ROOT
    with pytest.raises(VersionError):
        _apply(index, 3, {b"q": b"1"})


def test_two_versions_in_one_batch_and_reopen(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        index = mst.OrderedIndex(store, sha256)
        batch = WriteBatch()
        index.apply(1, {b"a": b"1"}, batch)
        root = index.apply(2, {b"b": b"2"}, batch)
        store.commit(batch)
    with _store(tmp_path) as store:
        reopened = mst.OrderedIndex(store, sha256)
        assert reopened.latest_version() == 2 and reopened.root() == root
        assert list(reopened.items()) == [(b"a", b"1"), (b"b", b"2")]


def test_invalid_queries_and_proofs_are_typed_errors() -> None:
    with pytest.raises(RangeProofError):
        RangeQuery(b"b", b"a", False, 1)
    with pytest.raises(RangeProofError):
        RangeQuery(b"a", b"b", False, 0)
    deep: ProofNode | bytes = b""
    for _ in range(MAX_PROOF_DEPTH + 1):
        deep = ProofNode([b"k"], [b"v"], [], [deep, b""])
    with pytest.raises(XinlianError):
        decode_range_proof(codec.encode(RangeProof(deep)))
    with pytest.raises(RangeProofError):
        verify_range(EMPTY_ROOT, RangeProof(b"abcde"), RangeQuery(b"", None, False, 1), sha256)
    with pytest.raises(RangeProofError):
        verify_range(EMPTY_ROOT, RangeProof(ProofNode([b"k"], [b"v"], [], [b""])),
                     RangeQuery(b"", None, False, 1), sha256)
