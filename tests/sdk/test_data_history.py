"""A record's provenance through a real node and server: every put and delete of a record
is a version with the height, position and hash of its transaction, verified against the
signed header; `as_of` finds the version in force at a block; the block window lists the
blocks whose filters may hold a record. A node that drops, reorders, alters or adds
versions or filters is caught with the typed error that says how."""

from __future__ import annotations

from typing import Any

import pytest
from msgspec.structs import replace

from xinlian import codec
from xinlian.node.interface import DataBlocksAnswer, DataHistoryAnswer
from xinlian.sdk import Client, ProofError, RpcError
from xinlian.sdk.calls import Call
from xinlian.sdk.data import DataCollection
from xinlian.sdk.errors import (
    AnswerIncomplete,
    AnswerReordered,
    AnswerTampered,
    DataQueryFailed,
)
from xinlian.storage.bloom_proof import WindowPage
from xinlian.storage.provenance_proof import DELETE, PUT, RECORD_SIZE, HistoryPage

from .liar import Liar


@pytest.fixture(scope="module")
def written(client: Client, keys: Any) -> tuple[DataCollection, list[Any]]:
    """Collection "ledger": record "a" put three times, deleted, put again (one
    transaction each), record "b" put once; the transactions of "a" in order."""
    data = client.data("ledger", wallet=client.wallet(keys.admin))
    assert data.declare({"amount": "number", "note": "text"}).status == 0
    receipts = [data.put({"a": {"amount": n}}) for n in (1, 2, 3)]
    receipts.append(data.delete(["a"]))
    receipts.append(data.put({"a": {"amount": 4, "note": "back"}}))
    data.put({"b": {"amount": 9}})
    views = [client.transaction(r.tx_hash) for r in receipts]
    assert all(v is not None for v in views)
    return data, views


def test_a_record_has_its_whole_verified_history(written: Any) -> None:
    data, txs = written
    history = data.history("a")
    assert history.size == 5 and history.next is None
    assert [(v.height, v.tx_index, v.tx_hash) for v in history.versions] == [
        (t.height, t.index, t.hash) for t in txs]
    assert [v.kind for v in history.versions] == [PUT, PUT, PUT, DELETE, PUT]
    assert len({v.value_hash for v in history.versions}) == 5
    assert data.history("never").versions == []


def test_history_pages_continue(written: Any) -> None:
    data, txs = written
    first = data.history("a", limit=2)
    assert len(first.versions) == 2 and first.next == 2
    rest = data.history("a", first=first.next, limit=10, height=first.height)
    assert [v.tx_hash for v in first.versions + rest.versions] == [t.hash for t in txs]


def test_as_of_finds_the_version_in_force(written: Any) -> None:
    data, txs = written
    assert data.as_of("a", txs[0].height - 1) is None
    for tx in txs:
        found = data.as_of("a", tx.height)
        assert found is not None and found.tx_hash == tx.hash
    assert data.as_of("a", txs[3].height).deleted


def test_the_block_window_holds_every_block_that_wrote_the_record(written: Any) -> None:
    data, txs = written
    top = txs[-1].height + 1
    window = data.blocks(0, top, rid="a")
    assert {t.height for t in txs} <= set(window.blocks) and window.next is None
    assert set(data.blocks(0, top).blocks) >= {t.height for t in txs}
    # a page ends early and continues where it stopped
    page = data.blocks(0, top, rid="a", limit=2)
    assert page.stop == 2 and page.next == 2


def _records(change: Any) -> Any:
    def lie(answer: DataHistoryAnswer) -> DataHistoryAnswer:
        page = codec.decode(answer.page, HistoryPage)
        rows = [page.records[i:i + RECORD_SIZE]
                for i in range(0, len(page.records), RECORD_SIZE)]
        return replace(answer, page=codec.encode(replace(page, records=b"".join(
            change(rows)))))
    return lie


def _flip(row: bytes) -> bytes:
    return row[:-1] + bytes([row[-1] ^ 1])


@pytest.mark.parametrize(("lie", "error"), [
    (_records(lambda rows: rows[:-1]), AnswerIncomplete),               # one dropped
    (_records(lambda rows: [rows[1], rows[0], *rows[2:]]), AnswerReordered),  # reordered
    (_records(lambda rows: [_flip(rows[0]), *rows[1:]]), AnswerTampered),  # tx hash changed
    (_records(lambda rows: [*rows, rows[0]]), AnswerTampered),          # one added
    (lambda a: replace(a, peaks=replace(a.peaks, value=None)), ProofError),  # no history
])
def test_a_lying_history_is_caught(client: Client, written: Any, lie: Any,
                                   error: type[ProofError]) -> None:
    data, _ = written
    with Liar(client, lie, "xl_dataHistory"), pytest.raises(error):
        data.history("a")


def test_an_as_of_answer_that_skips_a_later_version_is_caught(client: Client,
                                                              written: Any) -> None:
    data, txs = written
    with Liar(client, _records(lambda rows: rows[:1]), "xl_dataHistory"), \
            pytest.raises(AnswerIncomplete):
        data.as_of("a", txs[0].height)


def _filters(change: Any) -> Any:
    def lie(answer: DataBlocksAnswer) -> DataBlocksAnswer:
        page = codec.decode(answer.page, WindowPage)
        return replace(answer, page=codec.encode(replace(page, filters=change(page.filters))))
    return lie


@pytest.mark.parametrize("lie", [
    _filters(lambda filters: [bytes(len(f)) for f in filters]),        # filters emptied
    _filters(lambda filters: filters[1:]),                             # first one dropped
    _filters(lambda filters: filters[::-1]),                           # reordered
])
def test_a_lying_block_window_is_caught(client: Client, written: Any, lie: Any) -> None:
    data, txs = written
    with Liar(client, lie, "xl_dataBlocks"), pytest.raises(ProofError):
        data.blocks(0, txs[-1].height + 1, rid="a")


def test_bad_history_and_window_requests_get_typed_errors(client: Client,
                                                           written: Any) -> None:
    data, _ = written
    refused = []
    for method, params in (("xl_dataHistory", ["ledger", "0x61", 0, 0]),
                           ("xl_dataHistory", ["ledger", "0x61", 0, 5000]),
                           ("xl_dataHistory", ["ledger", "zz"]),
                           ("xl_dataBlocks", [["0x01"], 5, 5]),
                           ("xl_dataBlocks", [[], 0, 5]),
                           ("xl_dataBlocks", [["0x01"], 0, 5, "some"])):
        with pytest.raises(RpcError) as error:
            client.call(Call(method, params, lambda result: result))
        refused.append(error.value.remote_name)
    assert refused == ["bad_query", "invalid_params", "invalid_params", "bad_query",
                       "invalid_params", "invalid_params"]
    with pytest.raises(DataQueryFailed):
        data.history("a", limit=0)
    assert data.history("a").size == 5  # still serving
