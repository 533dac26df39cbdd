"""The inverted index: every keyword, AND, AND-NOT and OR page equals a plain model's and
verifies, paging walks the whole answer, old versions stay readable, the root depends on the
contents only, and tampered, truncated or reordered answers and proofs are rejected with the
error of their kind. Hypothesis drives the data (its own seeded search); small chunk fan-outs
make the lists span many chunks."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from xinlian.crypto.hashes import sha256, sm3
from xinlian.storage import inverted, mst
from xinlian.storage.errors import (
    IncompleteAnswerError,
    ProofError,
    QueryError,
    ReorderedAnswerError,
    TamperedAnswerError,
    VersionError,
)
from xinlian.storage.inverted_proof import (
    TextPage,
    TextProof,
    TextQuery,
    compute_page,
    decode_ids,
    decode_text_proof,
    encode_ids,
    encode_text_proof,
    posting_entry,
    text_entries,
    verify_text,
)
from xinlian.storage.kv import Store, WriteBatch
from xinlian.storage.mst_proof import ProofNode, RangeProof
from xinlian.storage.tokenize import terms

SCOPES = (b"c1|title", b"c2|body")
WORDS = ("alpha", "beta", "gamma", "delta", "区块链", "金融", "数据")
IDS = st.binary(min_size=1, max_size=2)
TEXTS = st.none() | st.lists(st.sampled_from(WORDS), max_size=4).map(" ".join)
BLOCKS = st.lists(st.dictionaries(st.tuples(st.sampled_from(SCOPES), IDS), TEXTS,
                                  max_size=60), min_size=1, max_size=4)
QUERY_TERMS = st.sampled_from(("alpha", "beta", "gamma", "delta", "区块", "块链", "金融",
                               "数据", "absent"))
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

Texts = dict[tuple[bytes, bytes], str]


def _open(path: Path) -> Store:
    return Store(path, sub_dbs=(*inverted.SUB_DBS, *mst.SUB_DBS), durable=False)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with _open(tmp_path) as opened:
        yield opened


def _write(index: inverted.InvertedIndex, store: Store, version: int, texts: Texts,
           block: Mapping[tuple[bytes, bytes], str | None]) -> bytes:
    """Apply one block of puts and deletes, keeping `texts` (the model) in step."""
    changes: dict[bytes, bytes | None] = {}
    for (scope, record_id), new in block.items():
        old = texts.get((scope, record_id))
        if old is not None:
            changes.update(dict.fromkeys(text_entries(scope, record_id, old)))
        if new is not None:
            changes.update(text_entries(scope, record_id, new))
    batch = WriteBatch()
    root = index.apply(version, changes, batch)
    store.commit(batch)
    for key, new in block.items():
        if new is None:
            texts.pop(key, None)
        else:
            texts[key] = new
    return root


def _model(texts: Texts, query: TextQuery) -> TextPage:
    ids = []
    for (scope, record_id), text in sorted(texts.items(), key=lambda kv: kv[0][1]):
        held = set(terms(text))
        if scope != query.scope or (query.after is not None and record_id <= query.after):
            continue
        if query.any_of:
            wanted = any(t in held for t in query.terms)
        else:
            wanted = all(t in held for t in query.terms) and not any(
                t in held for t in query.exclude)
        if wanted:
            ids.append(record_id)
    ids = ids[:query.limit]
    return TextPage(ids, ids[-1] if len(ids) == query.limit else None)


def _queries(draw: st.DrawFn) -> TextQuery:
    any_of = draw(st.booleans())
    positive = tuple(draw(st.lists(QUERY_TERMS, min_size=1, max_size=3, unique=True)))
    negative = () if any_of else tuple(draw(st.lists(
        QUERY_TERMS.filter(lambda t: t not in positive), max_size=2, unique=True)))
    return TextQuery(draw(st.sampled_from(SCOPES)), positive, negative, any_of,
                     draw(st.none() | IDS), draw(st.integers(1, 30)))


QUERIES = st.composite(_queries)()


def _all_pages(index: inverted.InvertedIndex, query: TextQuery, version: int | None = None
               ) -> list[bytes]:
    """Every id of the answer, page after verified page."""
    root = index.root(version)
    ids: list[bytes] = []
    while True:
        page, proof = index.query(query, version)
        ids += verify_text(root, query, page, proof, index.hasher).ids
        if page.next_after is None:
            return ids
        query = replace_query(query, page.next_after)


def replace_query(query: TextQuery, after: bytes) -> TextQuery:
    return TextQuery(query.scope, query.terms, query.exclude, query.any_of, after,
                     query.limit)


@SETTINGS
@given(blocks=BLOCKS, queries=st.lists(QUERIES, min_size=1, max_size=8),
       fanout=st.sampled_from((1, 2, 4, 64)), data=st.data())
def test_pages_match_the_model_and_verify(tmp_path_factory: pytest.TempPathFactory,
                                          blocks: list[dict[tuple[bytes, bytes], str | None]],
                                          queries: list[TextQuery], fanout: int,
                                          data: st.DataObject) -> None:
    with _open(tmp_path_factory.mktemp("ix")) as store:
        index = inverted.InvertedIndex(store, sha256, fanout=fanout)
        texts: Texts = {}
        for version, block in enumerate(blocks):
            _write(index, store, version, texts, block)
        for query in queries:
            page, proof = index.query(query)
            assert page == _model(texts, query)
            for term in query.terms:  # the lengths that choose the driver
                alone = TextQuery(query.scope, (term,), limit=100_000)
                assert index.count(query.scope, term) == len(_model(texts, alone).ids)
            proof = decode_text_proof(encode_text_proof(proof))
            assert verify_text(index.root(), query, page, proof, sha256) == page
            edits = list(_edits(proof.tree.tree))
            if edits:
                _check_edit(index.root(), query, page, proof, *data.draw(st.sampled_from(edits)))
            whole = TextQuery(query.scope, query.terms, query.exclude, query.any_of,
                              query.after, 100_000)
            assert _all_pages(index, query) == _model(texts, whole).ids


@SETTINGS
@given(blocks=BLOCKS, fanout=st.sampled_from((1, 4, 64)))
def test_the_root_depends_on_the_contents_only(tmp_path_factory: pytest.TempPathFactory,
                                               blocks: list[dict[tuple[bytes, bytes],
                                                                 str | None]],
                                               fanout: int) -> None:
    """Block by block, or all of the end state in one block: the same root."""
    with _open(tmp_path_factory.mktemp("a")) as a, _open(tmp_path_factory.mktemp("b")) as b:
        stepwise = inverted.InvertedIndex(a, sha256, fanout=fanout)
        texts: Texts = {}
        for version, block in enumerate(blocks):
            root = _write(stepwise, a, version, texts, block)
        at_once = inverted.InvertedIndex(b, sha256, fanout=fanout)
        assert _write(at_once, b, 0, {}, dict(texts)) == root == stepwise.root()


def test_old_versions_answer_as_they_were(store: Store) -> None:
    index = inverted.InvertedIndex(store, sm3, fanout=2)
    texts: Texts = {}
    first = {(SCOPES[0], bytes([i])): "alpha 区块链" for i in range(40)}
    _write(index, store, 0, texts, first)
    _write(index, store, 1, texts, {(SCOPES[0], bytes([i])): None for i in range(0, 40, 2)})
    query = TextQuery(SCOPES[0], ("alpha", "块链"), limit=5)
    assert _all_pages(index, query, 0) == [bytes([i]) for i in range(40)]
    assert _all_pages(index, query, 1) == [bytes([i]) for i in range(1, 40, 2)]


def test_an_edit_moves_a_record_between_lists(store: Store) -> None:
    index = inverted.InvertedIndex(store, sha256)
    texts: Texts = {}
    key = (SCOPES[0], b"r1")
    _write(index, store, 0, texts, {key: "alpha beta"})
    _write(index, store, 1, texts, {key: "beta gamma"})
    assert index.count(SCOPES[0], "alpha") == 0
    assert index.count(SCOPES[0], "gamma") == index.count(SCOPES[0], "beta") == 1
    for word, held in (("alpha", []), ("gamma", [b"r1"])):
        query = TextQuery(SCOPES[0], (word,))
        page, proof = index.query(query)
        assert verify_text(index.root(), query, page, proof, sha256).ids == held


def test_a_state_synced_index_answers_alike(tmp_path: Path, store: Store) -> None:
    """The nodes under a trusted root, fetched by hash (mst.IndexImport) from a node that
    has them, make an index that gives the same pages and proofs."""
    index = inverted.InvertedIndex(store, sha256, fanout=4)
    block = {(SCOPES[1], i.to_bytes(2, "big")): "金融数据 alpha" for i in range(200)}
    root = _write(index, store, 5, {}, block)
    source = mst.OrderedIndex(store, sha256)  # serves any node of the shared node db
    fetch = mst.IndexImport(root, sha256)
    while not fetch.done:
        for raw in source.read_nodes(sorted(fetch.wanted)):
            fetch.add(raw)
    with _open(tmp_path / "joined") as joined:
        synced = inverted.InvertedIndex(joined, sha256, fanout=4)
        batch = WriteBatch()
        synced.adopt(5, root, fetch.nodes, batch)
        joined.commit(batch)
        query = TextQuery(SCOPES[1], ("金融", "数据"), limit=30)
        assert synced.root() == root
        assert synced.query(query) == index.query(query)
        assert _all_pages(synced, query) == sorted(r for _, r in block)


def test_an_empty_index_proves_empty_answers(store: Store) -> None:
    index = inverted.InvertedIndex(store, sha256)
    query = TextQuery(SCOPES[0], ("alpha",))
    page, proof = index.query(query)
    assert verify_text(index.root(), query, page, proof, sha256) == TextPage([], None)


def test_invalid_second_version_in_one_batch(store: Store) -> None:
    index = inverted.InvertedIndex(store, sha256)
    batch = WriteBatch()
    index.apply(0, {posting_entry(SCOPES[0], "alpha", b"a"): b""}, batch)
    with pytest.raises(VersionError):
        index.apply(1, {posting_entry(SCOPES[0], "alpha", b"b"): b""}, batch)
    store.commit(batch)
    later = WriteBatch()
    index.apply(1, {posting_entry(SCOPES[0], "alpha", b"b"): b""}, later)  # a new batch may


@pytest.mark.parametrize("make", [
    lambda: TextQuery(SCOPES[0], ()),
    lambda: TextQuery(SCOPES[0], ("Alpha",)),
    lambda: TextQuery(SCOPES[0], ("two words",)),
    lambda: TextQuery(SCOPES[0], ("区块链",)),
    lambda: TextQuery(SCOPES[0], ("alpha",), ("beta",), any_of=True),
    lambda: TextQuery(SCOPES[0], ("alpha",), limit=0),
    lambda: TextQuery(SCOPES[0], ("alpha",), limit=10**9),
    lambda: TextQuery(b"", ("alpha",)),
    lambda: TextQuery(SCOPES[0], ("alpha",), after=b""),
    lambda: TextQuery(SCOPES[0], ("alpha",) * 20),
])
def test_invalid_queries_are_refused(make: object) -> None:
    with pytest.raises(QueryError):
        make()  # type: ignore[operator]


@pytest.mark.parametrize("entry", [
    b"", posting_entry(SCOPES[0], "alpha", b""), posting_entry(b"x" * 65, "alpha", b"a"),
    posting_entry(SCOPES[0], "Alpha", b"a"), posting_entry(SCOPES[0], "a b", b"a"),
    b"\x02ab\xff\xfe\x00id", b"\x02abalpha",
])
def test_invalid_changes_are_refused(store: Store, entry: bytes) -> None:
    index = inverted.InvertedIndex(store, sha256)
    with pytest.raises(QueryError):
        index.apply(0, {entry: b""}, WriteBatch())
    with pytest.raises(QueryError):
        text_entries(SCOPES[0], b"", "alpha")


def test_chunks_round_trip_in_both_encodings() -> None:
    for ids in ([b"ab", b"cd"], [b"a", b"bc", b"d"]):
        assert decode_ids(encode_ids(ids)) == ids
    for bad in (b"", b"\x02abc", b"\x00\x05ab", b"\x00\x00"):
        with pytest.raises(ValueError):
            decode_ids(bad)


# -- tampering -----------------------------------------------------------------------------

@pytest.fixture
def filled(store: Store) -> inverted.InvertedIndex:
    """Three lists of 300 records over many chunks (fan-out 4)."""
    index = inverted.InvertedIndex(store, sha256, fanout=4)
    block = {}
    for i in range(300):
        words = ["alpha"] + (["beta"] if i % 3 else []) + (["gamma"] if i % 5 == 0 else [])
        block[(SCOPES[0], i.to_bytes(2, "big"))] = " ".join(words)
    _write(index, store, 0, {}, block)
    return index


QUERY_KINDS = [TextQuery(SCOPES[0], ("alpha",), limit=50),
               TextQuery(SCOPES[0], ("beta", "alpha"), ("gamma",), limit=50),
               TextQuery(SCOPES[0], ("beta", "gamma"), any_of=True, limit=50,
                         after=(7).to_bytes(2, "big"))]


@pytest.mark.parametrize("query", QUERY_KINDS)
def test_invalid_pages_are_told_apart(filled: inverted.InvertedIndex,
                                      query: TextQuery) -> None:
    page, proof = filled.query(query)
    root = filled.root()
    assert len(page.ids) == 50 and page.next_after is not None
    cases: list[tuple[TextPage, type[ProofError]]] = [
        (TextPage(page.ids[1:], page.next_after), IncompleteAnswerError),
        (TextPage(page.ids[:-1], None), IncompleteAnswerError),
        (TextPage(page.ids, None), IncompleteAnswerError),
        (TextPage(page.ids, b"\xff\xff"), TamperedAnswerError),
        (TextPage([*page.ids[:-1], b"\x7f\x7f"], page.next_after), TamperedAnswerError),
        (TextPage([*page.ids, b"\x7f\x7f"], page.next_after), TamperedAnswerError),
        (TextPage([page.ids[1], page.ids[0], *page.ids[2:]], page.next_after),
         ReorderedAnswerError),
    ]
    for bad, error in cases:
        with pytest.raises(error):
            verify_text(root, query, bad, proof, sha256)
    with pytest.raises(TamperedAnswerError):
        verify_text(sha256(b"another root"), query, page, proof, sha256)


def _nodes(node: ProofNode | bytes, path: tuple[int, ...] = ()
           ) -> Iterator[tuple[tuple[int, ...], ProofNode]]:
    if isinstance(node, ProofNode):
        yield path, node
        for i, child in enumerate(node.children):
            yield from _nodes(child, (*path, i))


def _swap(node: ProofNode | bytes, path: tuple[int, ...], new: ProofNode | bytes
          ) -> ProofNode | bytes:
    if not path:
        return new
    assert isinstance(node, ProofNode)
    children = list(node.children)
    children[path[0]] = _swap(children[path[0]], path[1:], new)
    return replace(node, children=children)


def _edits(tree: ProofNode | bytes) -> Iterator[tuple[str, ProofNode | bytes]]:
    """Every proof one step from `tree`: a revealed subtree replaced by its hash, a shown
    value hidden behind its hash, a value altered."""
    for path, node in _nodes(tree):
        if path:
            yield "hide subtree", _swap(tree, path, _subtree_hash(node))
        for i, value in enumerate(node.values):
            if value is None:
                continue
            shown_before = sum(v is not None for v in node.values[:i])
            hashes = list(node.value_hashes)
            hashes.insert(i - shown_before, sha256(value))
            hidden = [*node.values[:i], None, *node.values[i + 1:]]
            yield "hide value", _swap(tree, path, replace(node, values=hidden,
                                                          value_hashes=hashes))
            altered = [*node.values[:i], value[:-1] + bytes([value[-1] ^ 1]),
                       *node.values[i + 1:]]
            yield "alter value", _swap(tree, path, replace(node, values=altered))


def _subtree_hash(node: ProofNode) -> bytes:
    """The hash the verifier gives the revealed subtree `node`."""
    from xinlian.storage.mst_proof import _hash
    return _hash(node, sha256, [], 0)


def _check_edit(root: bytes, query: TextQuery, page: TextPage, proof: TextProof,
                kind: str, tree: ProofNode | bytes) -> bool:
    """Hiding part of a proof either leaves the page provable from what remains or is
    caught as incomplete; altering a value is caught as tampering. Whether it was caught."""
    edited = TextProof(RangeProof(tree), proof.driver)
    try:
        assert verify_text(root, query, page, edited, sha256) == page
    except IncompleteAnswerError:
        assert kind != "alter value"
        return True
    except TamperedAnswerError:
        assert kind == "alter value"
        return True
    assert kind != "alter value"
    return False


@pytest.mark.parametrize("query", QUERY_KINDS)
def test_edited_proofs_never_give_a_wrong_page(filled: inverted.InvertedIndex,
                                               query: TextQuery) -> None:
    page, proof = filled.query(query)
    root = filled.root()
    caught = [_check_edit(root, query, page, proof, kind, tree)
              for kind, tree in _edits(proof.tree.tree)]
    assert any(caught)


def test_another_driver_never_gives_a_wrong_page(filled: inverted.InvertedIndex) -> None:
    query = TextQuery(SCOPES[0], ("alpha", "beta", "gamma"), limit=10)
    page, proof = filled.query(query)
    for driver in range(3):
        try:
            assert compute_page(filled.root(), query, replace(proof, driver=driver),
                                sha256) == page
        except IncompleteAnswerError:
            assert driver != proof.driver
    with pytest.raises(TamperedAnswerError):
        compute_page(filled.root(), query, replace(proof, driver=3), sha256)
