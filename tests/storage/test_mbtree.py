"""The Merkle B+-tree: answers match a plain dict model, every page and aggregate proves
against the root, the root depends on the entries only, and tampered, reordered, truncated
or padded answers are rejected with their own error. Hypothesis drives the data (its own
seeded search); small fan-outs make deep trees out of few entries."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from xinlian import codec
from xinlian.crypto.hashes import sha256, sm3
from xinlian.storage import mbtree
from xinlian.storage.errors import (
    BadChunkError,
    CorruptDataError,
    IncompleteAnswerError,
    InvalidKeyError,
    MalformedProofError,
    QueryError,
    ReorderedAnswerError,
    TamperedAnswerError,
    VersionError,
)
from xinlian.storage.kv import Store, WriteBatch
from xinlian.storage.mbtree_proof import (
    EMPTY_ROOT,
    Aggregate,
    Page,
    Proof,
    RangeQuery,
    aggregate_of,
    decode_proof,
    encode_proof,
    verify_aggregate,
    verify_range,
)

Model = dict[bytes, tuple[bytes, int]]
KEYS = st.binary(min_size=1, max_size=3)
ENTRIES = st.none() | st.tuples(st.binary(max_size=4), st.integers(-(1 << 63), (1 << 63) - 1))
UPDATES = st.dictionaries(KEYS, ENTRIES, max_size=150)
QUERIES = st.builds(lambda lo, width, limit, reverse: RangeQuery(lo, lo + width, limit, reverse),
                    st.binary(max_size=2), st.binary(min_size=1, max_size=2),
                    st.integers(1, 60), st.booleans())
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(autouse=True)
def small_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Leaves of 4 entries and parents of 3 children on average: deep trees, few entries."""
    monkeypatch.setattr(mbtree, "LEAF_FANOUT", 4)
    monkeypatch.setattr(mbtree, "INTERNAL_FANOUT", 3)


def _store(path: Path) -> Store:
    return Store(path, sub_dbs=mbtree.SUB_DBS, durable=False)


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[mbtree.MerkleBTree]:
    with _store(tmp_path) as store:
        yield mbtree.MerkleBTree(store, sha256)


def _apply(tree: mbtree.MerkleBTree, version: int,
           updates: dict[bytes, tuple[bytes, int] | None]) -> bytes:
    batch = WriteBatch()
    root = tree.apply(version, updates, batch)
    tree._store.commit(batch)
    return root


def _fresh_root(model: Model) -> bytes:
    """The root of a tree built from nothing with the model's entries in one batch."""
    with tempfile.TemporaryDirectory() as path, _store(Path(path)) as store:
        return mbtree.MerkleBTree(store, sha256).apply(0, dict(model), WriteBatch())


def _expected(model: Model, query: RangeQuery) -> list[tuple[bytes, bytes, int]]:
    found = [(k, *model[k]) for k in sorted(model)
             if query.lo <= k and (query.hi is None or k < query.hi)]
    if query.reverse:
        found.reverse()
    return found[:query.limit]


def _aggregate(model: Model, lo: bytes, hi: bytes | None) -> Aggregate:
    return aggregate_of([model[k][1] for k in sorted(model)
                         if lo <= k and (hi is None or k < hi)])


def _model(updates: list[dict[bytes, tuple[bytes, int] | None]]) -> Model:
    model: Model = {}
    for batch in updates:
        for key, entry in batch.items():
            if entry is None:
                model.pop(key, None)
            else:
                model[key] = entry
    return model


def _filled(tree: mbtree.MerkleBTree, count: int = 300) -> tuple[bytes, Model]:
    model = {i.to_bytes(2, "big"): (bytes([i % 251]), i - 150) for i in range(count)}
    return _apply(tree, 1, dict(model)), model


# -- the model ---------------------------------------------------------------------------

class TreeMachine(RuleBasedStateMachine):
    """Random blocks of puts and deletes against a dict; after each, every query checked."""

    def __init__(self) -> None:
        super().__init__()
        self._dir = tempfile.TemporaryDirectory()
        self.store = _store(Path(self._dir.name))
        self.tree = mbtree.MerkleBTree(self.store, sha256)
        self.model: Model = {}
        self.version = 0
        self.roots: dict[int, tuple[bytes, Model]] = {}

    def teardown(self) -> None:
        self.store.close()
        self._dir.cleanup()

    @rule(updates=UPDATES)
    def apply_block(self, updates: dict[bytes, tuple[bytes, int] | None]) -> None:
        self.version += 1
        root = _apply(self.tree, self.version, updates)
        self.model = _model([self.model, updates])  # type: ignore[list-item]
        self.roots[self.version] = (root, dict(self.model))
        assert root == _fresh_root(self.model)

    @rule(query=QUERIES)
    def range_page(self, query: RangeQuery) -> None:
        root = self.tree.root()
        page, proof = self.tree.range(query)
        checked = verify_range(root, query, decode_proof(encode_proof(proof)), sha256)
        assert checked.records() == page.records() == _expected(self.model, query)

    @rule(lo=st.binary(max_size=2), hi=st.none() | st.binary(min_size=1, max_size=2))
    def aggregate(self, lo: bytes, hi: bytes | None) -> None:
        if hi is not None and hi <= lo:
            return
        found, proof = self.tree.aggregate(lo, hi)
        assert verify_aggregate(self.tree.root(), lo, hi, proof, sha256) == found
        assert found == _aggregate(self.model, lo, hi)

    @rule(data=st.data())
    def old_version(self, data: st.DataObject) -> None:
        if not self.roots:
            return
        version = data.draw(st.sampled_from(sorted(self.roots)))
        root, model = self.roots[version]
        assert self.tree.root(version) == root
        assert list(self.tree.entries(version)) == [(k, *model[k]) for k in sorted(model)]

    @invariant()
    def entries_match(self) -> None:
        assert list(self.tree.entries()) == [(k, *self.model[k]) for k in sorted(self.model)]


TreeMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=12,
                                         deadline=None)
test_tree_machine = TreeMachine.TestCase


@SETTINGS
@given(batches=st.lists(UPDATES, min_size=1, max_size=4), split=st.integers(1, 5))
def test_root_depends_on_the_entries_only(batches: list[dict[bytes, tuple[bytes, int] | None]],
                                          split: int) -> None:
    """Blocks in any grouping reach the root a single batch of the same entries reaches."""
    model = _model(batches)
    with tempfile.TemporaryDirectory() as path, _store(Path(path)) as store:
        tree = mbtree.MerkleBTree(store, sha256)
        version = 0
        for updates in batches:
            items = sorted(updates.items())
            for start in range(0, len(items), split):  # several versions in one batch
                version += 1
                batch = WriteBatch()
                tree.apply(version, dict(items[start:start + split]), batch)
                store.commit(batch)
        assert tree.root() == _fresh_root(model)
    if not batches[-1] and not model:
        assert _fresh_root(model) == EMPTY_ROOT


@SETTINGS
@given(updates=UPDATES, query=QUERIES)
def test_paging_walks_the_whole_range(updates: dict[bytes, tuple[bytes, int] | None],
                                      query: RangeQuery) -> None:
    model = _model([updates])
    with tempfile.TemporaryDirectory() as path, _store(Path(path)) as store:
        tree = mbtree.MerkleBTree(store, sm3)
        root = _apply(tree, 1, updates)
        pages: list[tuple[bytes, bytes, int]] = []
        current: RangeQuery | None = query
        while current is not None:
            page = verify_range(root, current, tree.prove_range(current), sm3)
            pages += page.records()
            current = current.resume(page)
        everything = RangeQuery(query.lo, query.hi, 100_000, query.reverse)
        assert pages == _expected(model, everything)


# -- units -------------------------------------------------------------------------------

def test_empty_tree(tree: mbtree.MerkleBTree) -> None:
    query = RangeQuery(b"", None)
    assert tree.root() == EMPTY_ROOT
    page, proof = tree.range(query)
    assert len(page) == 0 and proof.nodes == []
    assert verify_range(EMPTY_ROOT, query, proof, sha256).records() == []
    assert verify_aggregate(EMPTY_ROOT, b"", None, tree.aggregate(b"", None)[1],
                            sha256) == Aggregate()
    assert _apply(tree, 1, {b"a": (b"x", 1)}) != EMPTY_ROOT
    assert _apply(tree, 2, {b"a": None}) == EMPTY_ROOT


def test_aggregate_proof_is_small(tree: mbtree.MerkleBTree) -> None:
    """A window over most of the tree reveals the nodes its two ends cut, not its records."""
    root, model = _filled(tree, 2000)
    lo, hi = (100).to_bytes(2, "big"), (1900).to_bytes(2, "big")
    found, proof = tree.aggregate(lo, hi)
    assert found == _aggregate(model, lo, hi) and found.count == 1800
    assert verify_aggregate(root, lo, hi, proof, sha256) == found
    page = tree.range(RangeQuery(lo, hi, 2000))[1]
    assert len(proof.nodes) * 4 < len(page.nodes)


def test_versions_are_kept_and_ordered(tree: mbtree.MerkleBTree, tmp_path: Path) -> None:
    first = _apply(tree, 3, {b"k": (b"1", 1)})
    second = _apply(tree, 5, {b"k": (b"2", 2)})
    assert tree.root(3) == tree.root(4) == first and tree.root() == second
    assert tree.root(2) == EMPTY_ROOT
    assert list(tree.entries(3)) == [(b"k", b"1", 1)]
    with pytest.raises(VersionError):
        tree.apply(5, {}, WriteBatch())
    batch = WriteBatch()  # two versions in one uncommitted batch chain on each other
    tree.apply(6, {b"a": (b"", 0)}, batch)
    assert tree.apply(7, {b"b": (b"", 0)}, batch) == _fresh_root(
        {b"a": (b"", 0), b"b": (b"", 0), b"k": (b"2", 2)})
    with pytest.raises(VersionError):
        tree.apply(7, {}, batch)


def test_reopened_store_keeps_the_latest_version(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        root = _apply(mbtree.MerkleBTree(store, sha256), 9, {b"k": (b"v", -4)})
    with _store(tmp_path) as store:
        again = mbtree.MerkleBTree(store, sha256)
        assert again.latest_version() == 9 and again.root() == root


def test_invalid_entries_are_refused(tree: mbtree.MerkleBTree) -> None:
    for updates in ({b"": (b"v", 1)}, {b"k": (b"v", 1 << 63)}, {b"k": (b"v", True)},
                    {b"k": ("v", 1)}, {b"k" * 2000: None}, {"k": None}, {b"k": (b"v",)}):
        with pytest.raises(InvalidKeyError):
            tree.apply(1, updates, WriteBatch())  # type: ignore[arg-type]


def test_invalid_queries_are_refused() -> None:
    for args in ((b"b", b"a"), (b"a", b"a"), (b"a", None, 0), (b"a", None, 100_001)):
        with pytest.raises(QueryError):
            RangeQuery(*args)


def test_corrupt_node_is_not_served(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        tree = mbtree.MerkleBTree(store, sha256)
        root = _apply(tree, 1, {bytes([i]): (b"v", i) for i in range(50)})
        with store._env.begin(write=True) as txn:  # flip a byte under the store's checksum
            db = store._dbs[mbtree.NODES_DB]
            raw = txn.get(root, db=db)
            assert raw is not None
            txn.put(root, bytes([raw[0] ^ 1]) + raw[1:], db=db)
        fresh = mbtree.MerkleBTree(store, sha256)
        with pytest.raises(CorruptDataError):
            fresh.range(RangeQuery(b"", None))


# -- rejected answers --------------------------------------------------------------------

@pytest.fixture
def answer(tree: mbtree.MerkleBTree) -> tuple[bytes, RangeQuery, Proof, Model]:
    root, model = _filled(tree)
    query = RangeQuery((20).to_bytes(2, "big"), (200).to_bytes(2, "big"), 100)
    proof = tree.range(query)[1]
    assert len(proof.nodes) > 6
    assert verify_range(root, query, proof, sha256).records() == _expected(model, query)
    return root, query, proof, model


def test_invalid_tampered_record(answer: tuple[bytes, RangeQuery, Proof, Model]) -> None:
    root, query, proof, _ = answer
    leaf = proof.nodes[-2]
    changed = leaf[:-1] + bytes([leaf[-1] ^ 1])
    with pytest.raises(TamperedAnswerError):
        verify_range(root, query, Proof([*proof.nodes[:-2], changed, proof.nodes[-1]]),
                     sha256)


def test_invalid_reordered_nodes(answer: tuple[bytes, RangeQuery, Proof, Model]) -> None:
    root, query, proof, _ = answer
    nodes = list(proof.nodes)
    nodes[-1], nodes[-2] = nodes[-2], nodes[-1]
    with pytest.raises(ReorderedAnswerError):
        verify_range(root, query, Proof(nodes), sha256)


def test_invalid_truncated_answer(answer: tuple[bytes, RangeQuery, Proof, Model]) -> None:
    root, query, proof, _ = answer
    with pytest.raises(IncompleteAnswerError):
        verify_range(root, query, Proof(proof.nodes[:-1]), sha256)
    with pytest.raises(IncompleteAnswerError):  # a proof of a shorter page
        verify_range(root, RangeQuery(query.lo, query.hi, 120), proof, sha256)


def test_invalid_padded_answer(answer: tuple[bytes, RangeQuery, Proof, Model]) -> None:
    root, query, proof, _ = answer
    with pytest.raises(TamperedAnswerError):
        verify_range(root, query, Proof([*proof.nodes, proof.nodes[-1]]), sha256)


def test_invalid_other_root(answer: tuple[bytes, RangeQuery, Proof, Model],
                            tree: mbtree.MerkleBTree) -> None:
    root, query, proof, _ = answer
    _apply(tree, 2, {(30).to_bytes(2, "big"): None})
    with pytest.raises(TamperedAnswerError):
        verify_range(tree.root(), query, proof, sha256)
    with pytest.raises(TamperedAnswerError):
        verify_range(root, query, proof, sm3)
    shifted = RangeQuery(query.lo, query.hi, 100, reverse=True)  # the walk asks other nodes
    with pytest.raises((TamperedAnswerError, IncompleteAnswerError, ReorderedAnswerError)):
        verify_range(root, shifted, proof, sha256)


def test_invalid_aggregate_answers(tree: mbtree.MerkleBTree) -> None:
    root, model = _filled(tree, 1000)
    lo, hi = (10).to_bytes(2, "big"), (900).to_bytes(2, "big")
    proof = tree.aggregate(lo, hi)[1]
    assert verify_aggregate(root, lo, hi, proof, sha256) == _aggregate(model, lo, hi)
    with pytest.raises(IncompleteAnswerError):
        verify_aggregate(root, lo, hi, Proof(proof.nodes[:-1]), sha256)
    last = proof.nodes[-1]
    with pytest.raises(TamperedAnswerError):
        verify_aggregate(root, lo, hi, Proof([*proof.nodes[:-1], last[:-1] + b"\x00"]),
                         sha256)
    far = (500).to_bytes(2, "big")  # another window: its walk asks for other nodes
    with pytest.raises((TamperedAnswerError, IncompleteAnswerError, ReorderedAnswerError)):
        verify_aggregate(root, far, None, proof, sha256)


def test_invalid_proof_bytes(answer: tuple[bytes, RangeQuery, Proof, Model]) -> None:
    root, query, proof, _ = answer
    with pytest.raises(codec.CodecError):
        decode_proof(b"\x91\xc4")
    assert decode_proof(encode_proof(proof)) == proof
    garbage = b"\x07not a node"
    with pytest.raises(TamperedAnswerError):
        verify_range(root, query, Proof([garbage]), sha256)
    with pytest.raises(MalformedProofError):  # hashes to the root asked, yet is no node
        verify_range(sha256(garbage), query, Proof([garbage]), sha256)


def test_page_columns_and_cursor(tree: mbtree.MerkleBTree) -> None:
    root, model = _filled(tree, 40)
    query = RangeQuery(b"", None, 15, reverse=True)
    page = verify_range(root, query, tree.prove_range(query), sha256)
    assert isinstance(page, Page) and len(page) == 15
    assert page.keys == [k for k, _, _ in _expected(model, query)]
    assert page.cursor == page.keys[-1]
    resumed = query.resume(page)
    assert resumed is not None and resumed.hi == page.keys[-1]
    ends = RangeQuery(b"", (10).to_bytes(2, "big") + b"\x00", 11)  # the page ends the range
    last = verify_range(root, ends, tree.prove_range(ends), sha256)
    assert len(last) == 11 and last.cursor is not None and ends.resume(last) is None
    starts = RangeQuery(bytes(2), (10).to_bytes(2, "big"), 10, reverse=True)
    first = verify_range(root, starts, tree.prove_range(starts), sha256)
    assert first.keys[-1] == b"\x00\x00" and starts.resume(first) is None


def test_state_sync_copies_the_tree(tree: mbtree.MerkleBTree, tmp_path: Path) -> None:
    root, model = _filled(tree, 500)
    with _store(tmp_path / "joiner") as store:
        joiner = mbtree.MerkleBTree(store, sha256)
        fetch = mbtree.TreeImport(root, sha256)
        with pytest.raises(BadChunkError):
            fetch.add(b"\x10 a node nobody asked for")
        while not fetch.done:
            for raw in tree.read_nodes(sorted(fetch.wanted), max_bytes=4096):
                fetch.add(raw)
                fetch.add(raw)  # again: ignored
        batch = WriteBatch()
        assert fetch.write(joiner, 4, batch) == root
        store.commit(batch)
        assert joiner.root() == root and joiner.latest_version() == 4
        assert list(joiner.entries()) == [(k, *model[k]) for k in sorted(model)]
        assert _apply(joiner, 5, {b"\x00\x05": None}) == _apply(tree, 2, {b"\x00\x05": None})


def test_invalid_state_sync_answers() -> None:
    with pytest.raises(BadChunkError):
        mbtree.TreeImport(sha256(b"x"), sha256).write(None, 1, WriteBatch())  # type: ignore[arg-type]
    fetch = mbtree.TreeImport(sha256(b"not a node"), sha256)
    with pytest.raises(BadChunkError):
        fetch.add(b"not a node")
    assert mbtree.TreeImport(EMPTY_ROOT, sha256).done


def test_large_blocks_match_a_fresh_build(tree: mbtree.MerkleBTree) -> None:
    """Blocks that touch most leaves (deletes across many parents, a run of leaves left open
    by deleted boundary entries, inserts at both ends) reach the fresh build's root."""
    root, model = _filled(tree, 3000)
    blocks: list[dict[bytes, tuple[bytes, int] | None]] = [
        {i.to_bytes(2, "big"): None for i in range(0, 3000, 3)},
        {i.to_bytes(2, "big"): None for i in range(700, 2300)},
        {b"\x00": (b"low", -1), b"\xff\xff\xff": (b"hi", 1)},
        {i.to_bytes(2, "big"): (b"back", i) for i in range(0, 3000, 2)},
    ]
    for version, updates in enumerate(blocks, start=2):
        root = _apply(tree, version, updates)
        model = _model([model, updates])  # type: ignore[list-item]
        assert root == _fresh_root(model)
