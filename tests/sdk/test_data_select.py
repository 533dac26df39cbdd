"""Queries of several conditions through a real node and server: words of a text AND a
price range AND a time window (AND-NOT too), driven by either index, page by page, equal
to a brute-force filter of the same records; a node that drops, adds, alters or reorders a
candidate, or claims another driver, is caught as what it did; bad queries are typed."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from xinlian.execution.data.select import Condition
from xinlian.node.interface import DataSelectAnswer, IndexEntry
from xinlian.sdk import Client, ProofError, RpcError, calls
from xinlian.sdk.calls import Call
from xinlian.sdk.data import DataCollection
from xinlian.sdk.errors import (
    AnswerIncomplete,
    AnswerReordered,
    AnswerTampered,
    DataQueryFailed,
)
from xinlian.storage.tokenize import terms

from .liar import Liar

T0 = 1_796_000_000_000  # ms
WORDS = ("steel", "pipe", "copper", "wire", "rust", "coated", "bolt")


def _catalogue(seed: int, n: int) -> dict[str, dict[str, Any]]:
    rng = random.Random(seed)
    out: dict[str, dict[str, Any]] = {}
    for i in range(n):
        record: dict[str, Any] = {
            "title": " ".join(rng.sample(WORDS, rng.randint(1, 3))),
            "price": rng.randint(0, 300), "at": T0 + rng.randint(0, 99) * 60_000,
            "grade": rng.choice("ABC")}
        if i % 11 == 0:
            del record["price"]  # a record without a value satisfies no range on it
        out[f"p{i:03}"] = record
    return out


ITEMS = _catalogue(13, 160)


@pytest.fixture(scope="module")
def items(client: Client, keys: Any) -> DataCollection:
    data = client.data("items", wallet=client.wallet(keys.admin))
    assert data.declare({"title": "text", "price": "number", "at": "time",
                         "grade": ("text", "none")}).status == 0
    for start in range(0, len(ITEMS), 80):  # over several blocks
        data.put(dict(list(ITEMS.items())[start:start + 80]))
    return data


def _holds(record: dict[str, Any], c: Condition) -> bool:
    value = record.get(c.attribute)
    if value is None:
        held = False
    elif c.words:
        wanted = {t for text in c.words for t in terms(text)}
        found = set(terms(value))
        held = bool(found & wanted) if c.any_of else wanted <= found
    else:
        held = (c.lo is None or c.lo <= value) and (c.hi is None or value <= c.hi)
    return held != c.negate


def brute(conditions: list[Condition]) -> set[bytes]:
    return {rid.encode() for rid, r in ITEMS.items() if all(_holds(r, c) for c in conditions)}


def every(data: DataCollection, conditions: list[Condition], **query: Any) -> list[bytes]:
    return [r.id for r in data.select_all(conditions, **query)]


STEEL = Condition("title", words=("steel",))
PRICE = Condition("price", 100, 200)
WINDOW = Condition("at", T0 + 20 * 60_000, T0 + 70 * 60_000)


def test_words_and_range_and_window_by_either_driver(items: DataCollection) -> None:
    where = [STEEL, PRICE, WINDOW]
    want = brute(where)
    assert want  # the data makes the query non-trivial
    by_words = every(items, where, drive=0, limit=3, scan=20)
    assert by_words == sorted(want)  # a words driver runs in id order
    by_price = every(items, where, drive=1, limit=2, scan=15)
    prices = [ITEMS[i.decode()]["price"] for i in by_price]
    assert set(by_price) == want and prices == sorted(prices)  # a range driver: value order
    assert set(every(items, where, drive=2)) == want
    down = every(items, where, drive=2, descending=True, limit=4)
    times = [ITEMS[i.decode()]["at"] for i in down]
    assert set(down) == want and times == sorted(times, reverse=True)
    page = items.select(where)  # the node's choice of driver
    assert {r.id for r in page.records} == want and page.cursor is None
    assert page.records[0].values == ITEMS[page.records[0].id.decode()]



def test_a_query_counts_as_served_by_its_driver(items: DataCollection) -> None:
    before = items.plan().local
    items.select([STEEL, PRICE], drive=1)
    items.select([STEEL, PRICE], drive=0)
    after = items.plan().local  # (range, keyword) queries served here, per attribute
    assert after["price"] == (before["price"][0] + 1, before["price"][1])
    assert after["title"] == (before["title"][0], before["title"][1] + 1)


def test_and_not_any_and_an_unindexed_attribute(items: DataCollection) -> None:
    where = [Condition("title", words=("steel", "copper"), any_of=True),
             Condition("title", words=("rust",), negate=True),
             Condition("price", hi=150), Condition("grade", "B", "B", negate=True)]
    assert set(every(items, where, limit=5, scan=9)) == brute(where)
    outside = [PRICE, Condition("at", T0, T0 + 50 * 60_000, negate=True)]
    assert set(every(items, outside, limit=7)) == brute(outside)
    assert items.select([Condition("price", 500, 900), STEEL]).records == []


def test_pages_stop_at_the_limit_or_the_scan(items: DataCollection) -> None:
    where = [Condition("price", 0, 300), Condition("title", words=("bolt",))]
    page = items.select(where, drive=0, limit=2, scan=1000)
    assert len(page.records) == 2 and page.cursor is not None
    assert page.cursor[0] == 0 and page.cursor[1:] == page.records[-1].key
    sparse = items.select(where, drive=0, limit=100, scan=3)  # fewer matches than scanned
    assert len(sparse.records) <= 3 and sparse.cursor is not None
    rest = items.select(where, limit=100, scan=1000, cursor=sparse.cursor,
                        height=sparse.height)
    assert {r.id for r in sparse.records + rest.records} == brute(where)
    assert rest.cursor is None


conditions = st.one_of(
    st.builds(Condition, st.just("title"), words=st.lists(
        st.sampled_from(WORDS), min_size=1, max_size=2).map(tuple), any_of=st.booleans(),
        negate=st.booleans()),
    st.builds(lambda lo, span, neg: Condition("price", lo, lo + span, negate=neg),
              st.integers(-10, 300), st.integers(0, 200), st.booleans()),
    st.builds(lambda lo, span, neg: Condition("at", T0 + lo * 60_000,
                                              T0 + (lo + span) * 60_000, negate=neg),
              st.integers(0, 99), st.integers(0, 60), st.booleans()),
    st.builds(lambda g, neg: Condition("grade", g, g, negate=neg),
              st.sampled_from("ABC"), st.booleans()))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(where=st.lists(conditions, min_size=1, max_size=4),
       limit=st.integers(1, 30), scan=st.integers(1, 60))
def test_the_proven_answer_is_the_brute_force_filter(
        items: DataCollection, where: list[Condition], limit: int, scan: int) -> None:
    try:
        got = every(items, where, limit=limit, scan=scan)
    except DataQueryFailed as exc:  # no condition can drive it: none positive and indexed
        assert "drive" in str(exc.reason or exc)
        assert all(c.negate or c.attribute == "grade" for c in where)
        return
    assert len(got) == len(set(got)) and set(got) == brute(where)


def test_bad_select_queries_are_typed(client: Client, items: DataCollection) -> None:
    with pytest.raises(DataQueryFailed, match="no attribute 'colour'"):
        items.select([Condition("colour", 1, 2)])
    with pytest.raises(DataQueryFailed, match=r"1\.\.8 conditions"):
        items.select([PRICE] * 9)
    with pytest.raises(DataQueryFailed, match="cannot drive"):
        items.select([STEEL, PRICE], drive=3)
    with pytest.raises(DataQueryFailed, match="cannot drive"):
        items.select([Condition("grade", "A", "B"), PRICE], drive=0)  # no index on grade
    with pytest.raises(DataQueryFailed, match="cannot drive"):
        items.select([Condition("price", 1, 2, negate=True), STEEL], drive=0)
    with pytest.raises(DataQueryFailed, match="id order only"):
        items.select([STEEL, PRICE], drive=0, descending=True)
    with pytest.raises(DataQueryFailed, match="not a number"):
        items.select([Condition("price", "cheap")])
    with pytest.raises(DataQueryFailed, match="no words"):
        items.select([Condition("price", words=("steel",))])
    with pytest.raises(DataQueryFailed, match="page holds"):
        items.select([PRICE], limit=5000)
    with pytest.raises(DataQueryFailed, match="driver"):
        items.select([PRICE, STEEL], drive=0, cursor=b"\x01p001")
    for where, name in (([{"attribute": "colour", "lo": 1}], "unknown_attribute"),
                        ([{"attribute": "price", "lo": 1}] * 9, "invalid_params"),
                        ([{"attribute": "price", "colour": 1}], "invalid_params"),
                        ([{"attribute": "price", "lo": 5, "not": True}], "bad_data_query")):
        with pytest.raises(RpcError) as refused:  # the node refuses them alike
            client.call(calls.data_select("items", where, None, False, 10, 100, None))
        assert refused.value.remote_name == name
    with pytest.raises(RpcError) as refused:
        client.call(calls.data_select("items", [{"attribute": "price"}], None, False, 10,
                                      5000, None))
    assert refused.value.remote_name == "invalid_params"
    assert items.select([PRICE]).records  # and keeps serving


_junk = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.text(max_size=6)
         | st.sampled_from(["0x", "0x00", "steel", "price", "title", "at", "grade", "any"])
         | st.lists(st.text(max_size=5) | st.integers(), max_size=3))
_conditions = st.dictionaries(st.sampled_from(["attribute", "lo", "hi", "words", "match",
                                               "not", "x"]), _junk, max_size=4) | _junk


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(where=st.lists(_conditions, max_size=3) | _junk, drive=st.none() | st.integers(-1, 9),
       cursor=st.none() | st.sampled_from(["0x00", "0x0170", "0x00ff", "zz"]))
def test_malformed_selects_get_typed_errors_never_internal_ones(
        client: Client, items: DataCollection, where: Any, drive: Any, cursor: Any) -> None:
    try:
        client.call(Call("xl_dataSelect", ["items", where, drive, "asc", 10, 50, cursor],
                         lambda result: result))
    except RpcError as exc:
        assert exc.rpc_code != -32603 and exc.remote_name != "internal_error", exc


# -- lies ---------------------------------------------------------------------------------

def _range(change: Any) -> Any:
    return lambda a: replace(a, range=replace(a.range, entries=change(list(a.range.entries))))


def _words(change: Any) -> Any:
    return lambda a: replace(a, keyword=replace(a.keyword, ids=change(list(a.keyword.ids)),
                                                records=change(list(a.keyword.records))))


def _altered(a: DataSelectAnswer) -> DataSelectAnswer:
    assert a.range is not None
    first = a.range.entries[0]
    value = bytearray(first.value)
    value[-40] ^= 1  # inside the record's values
    return replace(a, range=replace(a.range, entries=[IndexEntry(first.key, bytes(value)),
                                                      *a.range.entries[1:]]))


def _record_altered(a: DataSelectAnswer) -> DataSelectAnswer:
    assert a.keyword is not None
    first = a.keyword.records[0]
    assert first.value is not None
    forged = first.value.replace(b"steel", b"steal")
    return replace(a, keyword=replace(a.keyword, records=[replace(first, value=forged),
                                                          *a.keyword.records[1:]]))


WHERE = [STEEL, PRICE, WINDOW]


@pytest.mark.parametrize(("drive", "lie", "error"), [
    (1, _range(lambda x: x[1:]), AnswerIncomplete),                       # a candidate dropped
    (1, _range(lambda x: x[:-1]), AnswerIncomplete),                      # the last one
    (1, _range(lambda x: [x[1], x[0], *x[2:]]), AnswerReordered),         # two swapped
    (1, _range(lambda x: [*x, x[0]]), AnswerTampered),                    # one added
    (1, _altered, AnswerTampered),                                        # a value changed
    (0, _words(lambda x: x[1:]), AnswerIncomplete),
    (0, _words(lambda x: [x[1], x[0], *x[2:]]), AnswerReordered),
    (0, lambda a: replace(a, keyword=replace(a.keyword, records=a.keyword.records[:-1])),
     AnswerIncomplete),                                                   # a record left out
    (0, _record_altered, AnswerTampered),
    (0, lambda a: replace(a, drive=1), AnswerTampered),                   # another driver
    (0, lambda a: replace(a, keyword=None), AnswerTampered),              # no page at all
])
def test_a_lying_select_page_is_reported_as_what_it_is(
        client: Client, items: DataCollection, drive: int, lie: Any,
        error: type[ProofError]) -> None:
    honest = items.select(WHERE, drive=drive, limit=3, scan=40)
    assert honest.records
    with Liar(client, lie, "xl_dataSelect"), pytest.raises(error):
        items.select(WHERE, drive=drive, limit=3, scan=40)


def test_the_node_may_not_drive_by_an_unfit_condition(client: Client,
                                                      items: DataCollection) -> None:
    where = [STEEL, Condition("price", 1, 2, negate=True)]
    with Liar(client, lambda a: replace(a, drive=1), "xl_dataSelect"), \
            pytest.raises(AnswerTampered, match="condition 1"):
        items.select(where)
