"""Data collections through a real node and server with the blocking client: declare, put,
delete, get and range queries, every answer verified against the signed header; a node that
drops, adds, alters or reorders records, proves another range or another collection is
caught as a ProofError; bad queries and writes get typed errors and the node keeps serving."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from msgspec.structs import replace

from xinlian.execution.data.select import Condition
from xinlian.node.interface import DataQueryAnswer, IndexEntry
from xinlian.sdk import AsyncClient, Client, ProofError, RpcError, calls
from xinlian.sdk.data import DataCollection
from xinlian.sdk.errors import (
    AnswerIncomplete,
    AnswerReordered,
    AnswerTampered,
    DataQueryFailed,
    DataWriteFailed,
)
from xinlian.storage.blob_proof import BlobCommitment
from xinlian.storage.mbtree_proof import Proof, decode_proof, encode_proof

from .conftest import harness
from .liar import Liar

Keys: Any = harness.Keys  # type: ignore[attr-defined]
Background: Any = harness.Background  # type: ignore[attr-defined]
serving: Any = harness.serving  # type: ignore[attr-defined]

READINGS: dict[str, dict[str, Any]] = {
    f"m{i:02}": {"sensor": f"s{i % 3}", "at": 1_700_000_000_000 + i * 1000,
                 "temp": (i * 37) % 50 - 10} for i in range(30)}


@pytest.fixture(scope="module")
def readings(client: Client, keys: Any) -> DataCollection:
    data = client.data("readings", wallet=client.wallet(keys.admin))
    receipt = data.declare({"sensor": "text", "at": "time", "temp": "number",
                            "series": "sequence", "photo": "blob", "raw": ("bytes", "none")},
                           writers=[keys.address["alice"]])
    assert receipt.status == 0
    data.put(READINGS)
    return data


def test_collection_is_declared_with_resolved_indexes(readings: DataCollection,
                                                      keys: Any) -> None:
    info = readings.info()
    assert info.owner == keys.address["admin"] and info.version == 1
    assert {a.name: a.index for a in info.attributes} == {
        "sensor": "keyword", "at": "range", "temp": "range", "series": "none", "photo": "none",
        "raw": "none"}
    assert info.writers == [keys.address["alice"]]


def test_point_reads_are_proven(readings: DataCollection) -> None:
    record = readings.get("m07")
    assert record is not None and record.id == b"m07" and record.values == READINGS["m07"]
    assert readings.get("absent") is None
    photo = BlobCommitment(bytes(32), 1000, 256, "image/png")
    readings.put({"m99": {"sensor": "cam", "series": [(1, 5), (2, -3)], "photo": photo,
                          "raw": b"\x00\x01"}})
    got = readings.get("m99")
    assert got is not None and got.values == {"sensor": "cam", "series": [(1, 5), (2, -3)],
                                              "photo": photo, "raw": b"\x00\x01"}
    readings.delete(["m99"])
    assert readings.get("m99") is None


def test_range_queries_page_in_value_order(readings: DataCollection) -> None:
    expected = sorted((v["temp"], k) for k, v in READINGS.items() if 0 <= v["temp"] <= 30)
    page = readings.query("temp", 0, 30, limit=4)
    assert len(page.records) == 4 and page.cursor is not None
    got = [(r.values["temp"], r.id.decode())
           for r in readings.query_all("temp", 0, 30, limit=4)]
    assert got == expected
    down = [(r.values["temp"], r.id.decode())
            for r in readings.query_all("temp", 0, 30, descending=True, limit=7)]
    assert down == expected[::-1]
    window = readings.query("at", 1_700_000_005_000, 1_700_000_009_000, limit=100)
    assert [r.id for r in window.records] == [b"m05", b"m06", b"m07", b"m08", b"m09"]
    assert window.cursor is None
    assert readings.query("temp", 40, 30).records == []  # an empty range asks nothing


def test_rewrites_move_records_in_the_index(readings: DataCollection) -> None:
    readings.put({"m00": {"sensor": "s0", "at": 5, "temp": 1000}})
    top = readings.query("temp", 999, None)
    assert [r.id for r in top.records] == [b"m00"]
    assert [r.id for r in readings.query("at", None, 10).records] == [b"m00"]
    readings.put({"m00": READINGS["m00"]})
    assert readings.query("temp", 999, None).records == []


def test_writers_and_bad_writes_get_typed_errors(client: Client, keys: Any,
                                                 readings: DataCollection) -> None:
    alice = client.data("readings", wallet=client.wallet(keys.alice))
    assert alice.put({"a1": {"temp": 3}}).status == 0  # a listed writer
    bob = client.data("readings", wallet=client.wallet(keys.bob))
    with pytest.raises(RpcError):  # bob cannot pay the fee: refused at admission
        bob.put({"b1": {"temp": 3}})
    with pytest.raises(DataWriteFailed) as failed:
        alice.declare({"temp": "text"})  # only the owner alters
    assert failed.value.remote_name == "unauthorised"
    with pytest.raises(DataQueryFailed):
        readings.put({"x": {"nope": 1}})
    with pytest.raises(DataQueryFailed):
        readings.put({"x": {"temp": "warm"}})
    with pytest.raises(DataQueryFailed):
        readings.put({"x": {"raw": b"x" * 20_000}})
    with pytest.raises(DataWriteFailed) as failed:
        client.data("nothing", wallet=client.wallet(keys.admin)).declare({"a": "colour"})
    assert failed.value.remote_name == "bad_declaration"


def test_bad_queries_are_typed_and_the_node_keeps_serving(client: Client,
                                                          readings: DataCollection) -> None:
    for bad in (lambda: readings.query("nope"), lambda: readings.query("sensor"),
                lambda: readings.query("temp", "warm"),
                lambda: readings.query("temp", limit=5000),
                lambda: readings.query("temp", cursor=b"\x01" * 20),
                lambda: client.data("nothing").info()):
        with pytest.raises(DataQueryFailed):
            bad()
    raw = [calls.data_query("readings", "temp", None, None, False, 5000, None),
           calls.data_query("readings", "sensor", None, None, False, 5, None),
           calls.data_query("readings", "nope", None, None, False, 5, None),
           calls.data_query("readings", "temp", "warm", None, False, 5, None),
           calls.data_query("nothing", "temp", None, None, False, 5, None),
           calls.data_query("readings", "temp", None, None, False, 5, b"\x01")]
    names = []
    for call in raw:
        with pytest.raises(RpcError) as refused:
            client.call(call)
        names.append(refused.value.remote_name)
    assert names == ["invalid_params", "bad_data_query", "unknown_attribute", "wrong_kind",
                     "unknown_collection", "bad_data_query"]
    assert readings.query("temp", 0, 0).height >= 0  # still serving


def _entries(answer: DataQueryAnswer, entries: list[IndexEntry]) -> DataQueryAnswer:
    return replace(answer, entries=entries)


@pytest.mark.parametrize("lie", [
    lambda a: _entries(a, a.entries[1:]),                      # one dropped
    lambda a: _entries(a, a.entries[::-1]),                    # reordered
    lambda a: _entries(a, [*a.entries, a.entries[0]]),         # one added
    lambda a: _entries(a, [IndexEntry(a.entries[0].key, a.entries[1].value),
                           *a.entries[1:]]),                   # a record swapped
    lambda a: replace(a, root=replace(a.root, value=bytes(32))),  # another root
    lambda a: replace(a, collection=replace(a.collection, value=None)),  # no collection
])
def test_a_lying_node_is_caught(client: Client, readings: DataCollection, lie: Any) -> None:
    assert len(readings.query("temp", -10, 40, limit=5).records) == 5
    with Liar(client, lie), pytest.raises(ProofError):
        readings.query("temp", -10, 40, limit=5)


def test_a_proof_of_less_than_the_page_is_caught(client: Client, readings: DataCollection,
                                                 served: Any) -> None:
    """The node proves a narrower range than the client's (it answers another query)."""
    def narrower(answer: DataQueryAnswer) -> DataQueryAnswer:
        forged: DataQueryAnswer = served.node.data_query(
            "readings", "temp", 0, 40, False, 5, None, answer.root.header.height)
        assert forged.entries != answer.entries
        return forged
    with Liar(client, narrower), pytest.raises(ProofError):
        readings.query("temp", -10, 40, limit=5)



METERS: dict[str, dict[str, Any]] = {
    f"k{i:03}": {"at": 1_700_000_000_000 + i * 60_000, "kwh": (i * 53) % 97 - 20}
    for i in range(400)}


@pytest.fixture(scope="module")
def meters(client: Client, keys: Any) -> DataCollection:
    """Enough records that a page or an aggregate spans several index nodes."""
    data = client.data("meters", wallet=client.wallet(keys.admin))
    assert data.declare({"at": "time", "kwh": "number"}).status == 0
    names = sorted(METERS)
    for i in range(0, len(names), 100):
        assert data.put({n: METERS[n] for n in names[i:i + 100]}).status == 0
    return data


def _figures(values: list[int]) -> tuple[int, int, int | None, int | None]:
    return (len(values), sum(values), min(values, default=None), max(values, default=None))


@pytest.mark.parametrize(("lo", "hi"), [(0, 50), (None, None), (-20, -20), (80, 90),
                                        (None, 3)])
def test_aggregates_are_proven(meters: DataCollection, lo: int | None, hi: int | None) -> None:
    got = meters.aggregate("kwh", lo, hi)
    kwh = [v["kwh"] for v in METERS.values() if (lo is None or v["kwh"] >= lo)
           and (hi is None or v["kwh"] <= hi)]
    assert (got.count, got.sum, got.min, got.max) == _figures(kwh)


def test_a_time_window_is_a_paged_range_and_an_aggregate(meters: DataCollection) -> None:
    start, end = 1_700_000_000_000 + 100 * 60_000, 1_700_000_000_000 + 260 * 60_000
    window = [k for k, v in sorted(METERS.items()) if start <= v["at"] <= end]
    got = [r.id.decode() for r in meters.query_all("at", start, end, limit=40)]
    assert got == window
    total = meters.aggregate("at", start, end)
    assert (total.count, total.min, total.max) == (len(window), start, end)


def _nodes(answer: Any, change: Any) -> Any:
    proof = decode_proof(answer.proof)
    return replace(answer, proof=encode_proof(Proof(change(list(proof.nodes)))))


def _flip(nodes: list[bytes]) -> list[bytes]:
    last = bytearray(nodes[-1])
    last[-1] ^= 1
    return [*nodes[:-1], bytes(last)]


LIES = [
    (lambda a: _nodes(a, _flip), AnswerTampered),                          # a node changed
    (lambda a: _nodes(a, lambda n: n[:-1]), AnswerIncomplete),             # a node dropped
    (lambda a: _nodes(a, lambda n: [n[0], n[2], n[1], *n[3:]]), AnswerReordered),  # swapped
]


@pytest.mark.parametrize(("lie", "error"), LIES)
def test_a_lying_page_is_reported_as_what_it_is(client: Client, meters: DataCollection,
                                                lie: Any, error: type[ProofError]) -> None:
    assert len(decode_proof(meters_answer(client, 300).proof).nodes) >= 3
    with Liar(client, lie), pytest.raises(error):
        meters.query("kwh", limit=300)


@pytest.mark.parametrize(("lie", "error"), [
    *LIES,
    (lambda a: replace(a, count=a.count + 1), AnswerTampered),
    (lambda a: replace(a, sum=str(int(a.sum) - 1)), AnswerTampered),
    (lambda a: replace(a, max=a.min), AnswerTampered),
    (lambda a: replace(a, sum="many"), AnswerTampered),
])
def test_a_lying_aggregate_is_reported_as_what_it_is(
        client: Client, meters: DataCollection, lie: Any, error: type[ProofError]) -> None:
    assert meters.aggregate("kwh", -5, 60).count > 0
    with Liar(client, lie, "xl_dataAggregate"), pytest.raises(error):
        meters.aggregate("kwh", -5, 60)


def meters_answer(client: Client, limit: int) -> DataQueryAnswer:
    answer: DataQueryAnswer = client.call(calls.data_query("meters", "kwh", None, None, False,
                                                           limit, None))
    return answer


def test_the_async_client_has_the_same_collection(tmp_path: Path) -> None:
    keys = Keys("sm")

    async def scenario() -> None:
        async with serving(tmp_path, keys) as (_, server), AsyncClient(server.url) as client:
            data = client.data("a", wallet=await client.wallet(keys.admin))
            assert (await data.declare({"n": "number", "t": ("text", "range"),
                                        "w": "text"}, adapt_every=50)).status == 0
            await data.put({f"r{i}": {"n": i % 4, "t": f"x{i}", "w": f"word{i % 2}"}
                            for i in range(9)})
            assert (await data.info()).attributes[1].index == "range"
            found = await data.search("w", "word1", limit=2)
            assert [r.id for r in found.records] == [b"r1", b"r3"] and found.cursor == b"r3"
            every = [r.id async for r in data.search_all("w", "word1", limit=2)]
            assert every == [b"r1", b"r3", b"r5", b"r7"]
            assert (await data.report({"w": {"keyword": 3}})).status == 0
            plan = await data.plan()
            assert [(a.name, a.keyword_queries) for a in plan.attributes] == [("n", 0),
                                                                              ("w", 3)]
            got = [r.id async for r in data.query_all("n", 2, 3, limit=2)]
            assert got == [b"r2", b"r6", b"r3", b"r7"]
            where = [Condition("w", words=("word1",)), Condition("n", 2, 3)]
            page = await data.select(where, drive=0, limit=1)
            assert [r.id for r in page.records] == [b"r3"] and page.cursor == b"\x00r3"
            got = [r.id async for r in data.select_all(where, drive=1, limit=1, scan=2)]
            assert got == [b"r3", b"r7"]  # the range driver: n 2 (none), then n 3
            record = await data.get("r8")
            assert record is not None and record.values == {"n": 0, "t": "x8", "w": "word0"}
            await data.delete(["r8"])
            assert await data.get("r8") is None
            with pytest.raises(DataQueryFailed):
                await data.query("n", "two")

    asyncio.run(scenario())
