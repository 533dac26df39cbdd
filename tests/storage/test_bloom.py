"""Per-block Bloom filters under an MMR (storage/bloom.py): random blocks of terms; a
window's answer verifies against the committed peaks and never drops a block that holds a
term (no false negatives); a forged "cannot contain" (a filter with bits cleared, a block
left out, a filter from another block) is rejected. Hypothesis drives the data (its own
seeded search)."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from xinlian import codec
from xinlian.crypto.hashes import sha256, sm3
from xinlian.storage import bloom, mmr
from xinlian.storage.bloom import BlockFilters
from xinlian.storage.bloom_proof import (
    BITS_PER_TERM_X10,
    FALSE_POSITIVE_TARGET,
    K,
    WindowPage,
    WindowQuery,
    build_filter,
    may_contain,
    probe,
    verify_window,
)
from xinlian.storage.errors import (
    IncompleteAnswerError,
    InvalidKeyError,
    ProofError,
    QueryError,
    TamperedAnswerError,
    VersionError,
)
from xinlian.storage.kv import Store, WriteBatch

TERMS = st.binary(min_size=1, max_size=2)
# block heights (strictly increasing, with gaps) and the terms each touched
BLOCKS = st.lists(st.tuples(st.integers(1, 3), st.lists(TERMS, max_size=12)), min_size=1,
                  max_size=30)
Blocks = list[tuple[int, list[bytes]]]
SETTINGS = settings(max_examples=40, deadline=None)


@contextmanager
def _fresh() -> Iterator[Store]:
    with tempfile.TemporaryDirectory() as path, \
            Store(Path(path), sub_dbs=bloom.SUB_DBS, durable=False) as opened:
        yield opened


def _load(store: Store, blocks: Blocks) -> tuple[BlockFilters, dict[int, set[bytes]]]:
    filters = BlockFilters(store, sha256)
    model: dict[int, set[bytes]] = {}
    height = 0
    for step, terms in blocks:
        height += step
        batch = WriteBatch()
        peaks = filters.apply(height, terms, batch)
        store.commit(batch)
        assert peaks == filters.root() and codec.decode(peaks, mmr.Peaks).size == height + 1
        model[height] = set(terms)
    return filters, model


@SETTINGS
@given(BLOCKS, st.lists(TERMS, min_size=1, max_size=3), st.sampled_from(["any", "all"]),
       st.data())
def test_windows_verify_and_never_skip_a_block_that_holds_a_term(
        blocks: Blocks, terms: list[bytes], match: str, data: st.DataObject) -> None:
    with _fresh() as store:
        filters, model = _load(store, blocks)
        peaks = filters.root()
        top = max(model) + 1
        first = data.draw(st.integers(0, top - 1))
        query = WindowQuery(first, data.draw(st.integers(first + 1, top + 2)), tuple(terms),
                            "any" if match == "any" else "all",
                            data.draw(st.integers(1, 40)))
        answer, page = filters.window(query)
        assert verify_window(peaks, query, page, sha256) == answer
        assert answer.first == first and answer.stop == query.end(top)
        test = any if match == "any" else all
        holding = {h for h, ts in model.items()
                   if first <= h < answer.stop and test(t in ts for t in terms)}
        assert holding <= set(answer.candidates)
        # an honest "cannot contain": each skipped block's filter lacks a term
        for height in set(range(first, answer.stop)) - set(answer.candidates):
            assert not holding & {height}


@SETTINGS
@given(BLOCKS, TERMS, st.data())
def test_invalid_forged_cannot_contain_is_rejected(blocks: Blocks, term: bytes,
                                                   data: st.DataObject) -> None:
    with _fresh() as store:
        filters, model = _load(store, blocks)
        holders = [h for h, ts in model.items() if term in ts]
        if not holders:
            return
        peaks = filters.root()
        target = data.draw(st.sampled_from(holders))
        query = WindowQuery(0, max(model) + 1, (term,))
        answer, page = filters.window(query)
        assert target in answer.candidates
        # the server clears the term's bits in the target's filter to skip the block
        forged = bytearray(page.filters[target])
        h1, h2 = probe(sha256, term)
        for i in range(K):
            position = (h1 + i * h2) % (len(forged) * 8)
            forged[position >> 3] &= ~(1 << (position & 7)) & 0xFF
        assert not may_contain(bytes(forged), probe(sha256, term))
        lying = [*page.filters[:target], bytes(forged), *page.filters[target + 1:]]
        with pytest.raises(TamperedAnswerError):
            verify_window(peaks, query, replace(page, filters=lying), sha256)
        # ... or puts an empty block's (or another block's) filter in its place
        swapped = [*page.filters[:target], b"", *page.filters[target + 1:]]
        with pytest.raises(TamperedAnswerError):
            verify_window(peaks, query, replace(page, filters=swapped), sha256)
        # ... or ends the page before the block: that proves only the blocks it holds, so
        # the client asks on from there (or the proof no longer fits)
        if target:
            try:
                short = verify_window(peaks, query, replace(page, filters=page.filters[:target]),
                                      sha256)
            except ProofError:
                pass
            else:
                assert short.stop <= target
        # ... or answers from the block after it
        with pytest.raises(ProofError):  # tampered, or incomplete if it was the last
            verify_window(peaks, replace_query(query, target),
                          replace(page, first=target, filters=page.filters[target + 1:]),
                          sha256)
        with pytest.raises(IncompleteAnswerError):
            verify_window(peaks, query, replace(page, filters=[], siblings=b""), sha256)


def replace_query(query: WindowQuery, first: int) -> WindowQuery:
    return WindowQuery(first, query.stop, query.terms, query.match, query.limit)


def test_filters_have_no_false_negatives_and_about_the_target_false_positives() -> None:
    terms = [b"term-%d" % i for i in range(2000)]
    built = build_filter(sm3, terms)
    assert len(built) == math.ceil(2000 * BITS_PER_TERM_X10 / 80)
    assert all(may_contain(built, probe(sm3, t)) for t in terms)
    others = [probe(sm3, b"other-%d" % i) for i in range(20_000)]
    rate = sum(may_contain(built, p) for p in others) / len(others)
    assert rate < 2 * FALSE_POSITIVE_TARGET  # 0.78% by design; the draw is fixed
    assert build_filter(sm3, reversed(terms)) == built  # order does not matter
    assert build_filter(sha256, terms) != built  # keyed by the suite's hash
    assert build_filter(sm3, ()) == b"" and not may_contain(b"", others[0])


def test_pages_stop_at_the_byte_limit_and_resume(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bloom, "MAX_PAGE_BYTES", 100)
    with _fresh() as store:
        filters, _ = _load(store, [(1, [b"%d" % i for i in range(30)]) for _ in range(6)])
        peaks = filters.root()
        first, seen = 0, []
        while first < 7:
            query = WindowQuery(first, 7, (b"5",))
            answer, page = filters.window(query)
            assert verify_window(peaks, query, page, sha256) == answer
            assert answer.stop > first
            seen.extend(answer.candidates)
            first = answer.stop
        assert seen == [1, 2, 3, 4, 5, 6]


def test_windows_prove_against_older_peaks() -> None:
    with _fresh() as store:
        filters = BlockFilters(store, sha256)
        kept = {}
        for height in (3, 4, 9):
            batch = WriteBatch()
            kept[height] = filters.apply(height, [b"h%d" % height], batch)
            store.commit(batch)
        assert filters.root(5) == kept[4] and filters.root(2) == codec.encode(mmr.EMPTY)
        query = WindowQuery(0, 20, (b"h4", b"h9"))
        answer, page = filters.window(query, version=4)
        assert answer.stop == 5 and verify_window(kept[4], query, page, sha256) == answer
        assert 4 in answer.candidates and filters.filter(7) == b""
        with pytest.raises(TamperedAnswerError):
            verify_window(kept[9], query, page, sha256)


def test_invalid_inputs_are_refused() -> None:
    with _fresh() as store:
        filters = BlockFilters(store, sha256)
        batch = WriteBatch()
        filters.apply(2, [b"a"], batch)
        filters.apply(3, [b"b"], batch)  # two blocks in one batch
        store.commit(batch)
        for version in (3, 1, -1):
            with pytest.raises(VersionError):
                filters.apply(version, [], WriteBatch())
        with pytest.raises(InvalidKeyError):
            filters.apply(4, ["text"], WriteBatch())  # type: ignore[list-item]
    for args in ((3, 3, (b"a",)), (-1, 2, (b"a",)), (0, 2, ()), (0, 2, (b"a",) * 65),
                 (0, 2, ("a",))):
        with pytest.raises(QueryError):
            WindowQuery(*args)
    with pytest.raises(QueryError):
        WindowQuery(0, 2, (b"a",), limit=0)
    with pytest.raises(QueryError):
        WindowQuery(0, 2, (b"a",), "some")  # type: ignore[arg-type]
    with pytest.raises(TamperedAnswerError):
        verify_window(codec.encode(mmr.EMPTY), WindowQuery(0, 2, (b"a",)),
                      WindowPage(0, 0, [b"\xff"], b""), sha256)
