"""Adaptive indexes through a real node: an adaptive collection's `auto` attributes lose an
index no reported query uses, get it back (built over every record) once reported queries
would save more than its upkeep and build, and a text attribute switches from keyword to
range when range queries are what is reported; the plan, its candidate and reasons are
verified through the SDK, and a node that shows another plan is caught."""

from __future__ import annotations

from typing import Any

import pytest
from msgspec.structs import replace

from xinlian.sdk import Client
from xinlian.sdk.data import DataCollection
from xinlian.sdk.errors import AnswerTampered, DataQueryFailed, DataWriteFailed

from .liar import Liar

ITEMS: dict[str, dict[str, Any]] = {
    f"i{i:02}": {"n": i, "note": f"{('red', 'blue')[i % 2]} box {i}", "tag": f"t{i % 3}"}
    for i in range(20)}


@pytest.fixture(scope="module")
def items(client: Client, keys: Any) -> DataCollection:
    data = client.data("items", wallet=client.wallet(keys.admin))
    assert data.declare({"n": "number", "note": "text", "tag": ("text", "range"),
                         "raw": "sequence"}, adapt_every=2).status == 0
    return data


def indexes(data: DataCollection) -> dict[str, str]:
    return {a.name: a.index for a in data.info().attributes}


def test_an_adaptive_collection_starts_with_the_usual_indexes(items: DataCollection) -> None:
    plan = items.plan()
    assert plan.adapts and plan.records == 0 and plan.next_review is not None
    assert [(a.name, a.index, a.reason) for a in plan.attributes] == [
        ("n", "range", "declared auto"), ("note", "keyword", "declared auto")]  # tag: fixed
    assert indexes(items) == {"n": "range", "note": "keyword", "tag": "range", "raw": "none"}


def test_unused_indexes_are_dropped_and_reported_queries_build_them_back(
        items: DataCollection) -> None:
    items.put(dict(list(ITEMS.items())[:10]))
    assert items.search("note", "red").records  # served here: counted locally only
    items.put(dict(list(ITEMS.items())[10:]))  # two blocks on: the review has come
    plan = items.plan()
    assert indexes(items) == {"n": "none", "note": "none", "tag": "range", "raw": "none"}
    assert [a.index for a in plan.attributes] == ["none", "none"]
    assert all(a.reason.startswith("dropped") and a.changed > 0 for a in plan.attributes)
    assert plan.local["note"][1] >= 1 and plan.records == 20
    with pytest.raises(DataQueryFailed, match="no range index"):
        items.query("n", 0, 5)
    # members report the queries they served; the next review builds over every record
    items.report({"n": {"range": 40}, "note": {"keyword": 40}})
    planned = items.plan()
    assert [a.candidate for a in planned.attributes] == ["range", "keyword"]
    items.report({"n": {"range": 1}})
    assert indexes(items) == {"n": "range", "note": "keyword", "tag": "range", "raw": "none"}
    assert [r.id for r in items.query_all("n", limit=7)] == [k.encode() for k in ITEMS]
    blue = [k.encode() for k, v in ITEMS.items() if "blue" in v["note"]]
    assert [r.id for r in items.search("note", "blue box", limit=100).records] == blue
    assert all(a.reason.startswith("switched to") for a in items.plan().attributes)


def test_a_text_attribute_switches_to_the_index_its_queries_use(
        items: DataCollection) -> None:
    assert indexes(items)["note"] == "keyword"
    items.report({"note": {"range": 500}, "n": {"range": 500}})
    items.report({"note": {"range": 1}, "n": {"range": 1}})
    assert indexes(items)["note"] == "range"
    page = items.query("note", "blue", "blue~", limit=100)
    assert sorted(r.id for r in page.records) == sorted(
        k.encode() for k, v in ITEMS.items() if v["note"].startswith("blue"))
    with pytest.raises(DataQueryFailed, match="no keyword index"):
        items.search("note", "blue")


def test_bad_reports_and_declarations_are_refused(client: Client, keys: Any,
                                                  items: DataCollection) -> None:
    for counts, error in (({"tag": {"range": 3}}, "bad_payload"),      # not adaptive
                          ({"n": {"sideways": 3}}, "bad_payload"),
                          ({"n": {"range": 0}}, "bad_payload"),
                          ({"colour": {"range": 3}}, "unknown_attribute")):
        with pytest.raises(DataWriteFailed) as failed:
            items.report(counts)
        assert failed.value.remote_name == error
    fixed = client.data("fixed", wallet=client.wallet(keys.admin))
    fixed.declare({"n": "number"})
    with pytest.raises(DataWriteFailed) as failed:
        fixed.report({"n": {"range": 1}})
    assert failed.value.remote_name == "bad_payload"
    assert not fixed.plan().adapts
    with pytest.raises(DataWriteFailed) as failed:  # adapting is chosen once, at the start
        fixed.declare({"n": "number"}, adapt_every=5)
    assert failed.value.remote_name == "bad_declaration"


def test_a_node_that_shows_another_plan_is_caught(client: Client,
                                                  items: DataCollection) -> None:
    def lie(answer: Any) -> Any:
        first = answer.attributes[0]
        return replace(answer, attributes=[replace(first, candidate="none"),
                                           *answer.attributes[1:]])
    items.plan()
    with Liar(client, lie, "xl_dataPlan"), pytest.raises(AnswerTampered):
        items.plan()


def test_a_node_that_shows_a_plan_for_a_collection_that_does_not_adapt_is_caught(
        client: Client, keys: Any) -> None:
    plain = client.data("plain", wallet=client.wallet(keys.admin))
    assert plain.declare({"n": "number"}).status == 0
    assert not plain.plan().adapts
    for lie in ({"records": 3}, {"next_review": 9}):
        with Liar(client, lambda answer, lie=lie: replace(answer, **lie), "xl_dataPlan"), \
                pytest.raises(AnswerTampered):
            plain.plan()
