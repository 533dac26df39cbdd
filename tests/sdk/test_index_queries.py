"""Index queries through a real node and server: typed pages of the token example's
Transfer events and balance writes verify against the signed header, an absent value is
proven absent, and a node that drops, adds or swaps entries, or proves another range, is
caught. The blocks carry index entries made by execution/indexing.py from ABI-encoded
events and storage writes, committed through the chain store as the pipeline does."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from msgspec.structs import replace

from xinlian.api.metering import Meter
from xinlian.execution.indexing import IndexSpec, event_entries, state_entries
from xinlian.lang import abi
from xinlian.lang.compiler import compile_source
from xinlian.ledger.block import Event, header_hash
from xinlian.node.interface import IndexAnswer, IndexEntry
from xinlian.sdk import AsyncClient, ProofError, calls
from xinlian.sdk.errors import IndexQueryError, RpcError
from xinlian.sdk.indexes import events_plan, state_plan
from xinlian.storage.kv import WriteBatch
from xinlian.storage.mst_proof import RangeQuery, decode_range_proof, revealed_nodes

from .conftest import harness

Keys: Any = harness.Keys  # type: ignore[attr-defined]
serving: Any = harness.serving  # type: ignore[attr-defined]

TOKEN = Path(__file__).resolve().parents[2] / "examples" / "qi" / "token.qi"
ABI = compile_source(TOKEN.read_text(), "token.qi").abi
SPEC = IndexSpec.from_abi(ABI)
CONTRACT = bytes.fromhex("c0" * 20)
ADDRESS, U256 = abi.type_from_json("address"), abi.type_from_json("u256")
PEOPLE = [bytes([i]) * 20 for i in range(1, 6)]
SLOT = next(s for s in ABI["storage"] if s["name"] == "balances")["slot"]


def _transfer(sender: bytes, to: bytes, amount: int) -> Event:
    data = abi.encode(ADDRESS, sender) + abi.encode(ADDRESS, to) + abi.encode(U256, amount)
    return Event(CONTRACT.hex(), "Transfer", data)


def _history() -> Iterator[tuple[int, list[tuple[bytes, bytes, int]]]]:
    """Blocks 1..6, each with transfers among PEOPLE (person 5 never sends)."""
    for height in range(1, 7):
        yield height, [(PEOPLE[(height + i) % 4], PEOPLE[(height + 2 * i + 1) % 5],
                        height * 10 + i) for i in range(3)]


@dataclass
class Served:
    client: AsyncClient
    transfers: list[tuple[int, int, bytes, bytes, int]]  # height, tx, from, to, amount
    server: Any
    node: Any


def _commit(node: Any, height: int, transfers: list[tuple[bytes, bytes, int]],
            keys: Any) -> None:
    spec_of = lambda c: SPEC if c == CONTRACT else None  # noqa: E731
    updates: dict[bytes, bytes | None] = {}
    for tx, (sender, to, amount) in enumerate(transfers):
        updates.update(event_entries(spec_of, height, tx, [_transfer(sender, to, amount)]))
        key = abi.slot_prefix(SLOT) + abi.encode(ADDRESS, to)
        updates.update(state_entries(spec_of, height, tx,
                                     [(CONTRACT, key, abi.encode(U256, amount))]))
    chain = node.chain
    head = chain.head.header
    batch = WriteBatch()
    prepared = chain.prepare_block(batch, height, header_hash(head, chain.hash),
                                   head.timestamp_ms + 1, keys.node, [], [], {},
                                   index_updates=updates)
    chain.store.commit(batch)
    chain.publish(prepared)


def _run(tmp_path: Path, check: Any) -> None:
    keys = Keys("intl")

    async def main() -> None:
        async with serving(tmp_path, keys, produce=False) as (node, server), \
                AsyncClient(server.url) as client:
            transfers = []
            for height, block in _history():
                _commit(node, height, block, keys)
                transfers += [(height, tx, s, t, a) for tx, (s, t, a) in enumerate(block)]
            await check(Served(client, transfers, server, node))
    asyncio.run(main())


def test_transfers_by_sender_paged_newest_first(tmp_path: Path) -> None:
    async def check(served: Served) -> None:
        sender = PEOPLE[1]
        expected = [t for t in reversed(served.transfers) if t[2] == sender]
        got, cursor, pages = [], None, 0
        while True:
            plan = events_plan(CONTRACT, ABI, "Transfer", "from", equals=sender, limit=2,
                               cursor=cursor)
            page = await served.client.query_index(plan)
            got += page.items
            pages += 1
            cursor = page.cursor
            if cursor is None:
                break
        assert pages >= 3
        assert [(e.height, e.tx_index, e.args["from"], e.args["to"], e.args["amount"])
                for e in got] == expected
        assert all(e.event_index == 0 and e.name == "Transfer" for e in got)
    _run(tmp_path, check)


def test_range_absent_value_and_state_history(tmp_path: Path) -> None:
    async def check(served: Served) -> None:
        client = served.client
        low, high = PEOPLE[1], PEOPLE[2]
        page = await client.query_index(events_plan(CONTRACT, ABI, "Transfer", "to",
                                                    lo=low, hi=high, limit=100))
        expected = sorted((t for t in served.transfers if low <= t[3] <= high),
                          key=lambda t: (t[3], t[0], t[1]), reverse=True)
        assert [(e.height, e.tx_index) for e in page.items] == [(t[0], t[1]) for t in expected]
        assert page.cursor is None and page.height == 6
        # nobody ever sent from PEOPLE[4]: the empty answer is proven, not just claimed
        absent = await client.query_index(events_plan(CONTRACT, ABI, "Transfer", "from",
                                                      equals=PEOPLE[4]))
        assert absent.items == [] and absent.height == 6
        # an older block's index: only the transfers up to it
        old = await client.query_index(events_plan(CONTRACT, ABI, "Transfer"), height=2)
        assert [(e.height, e.tx_index) for e in old.items] == [
            (t[0], t[1]) for t in reversed(served.transfers) if t[0] <= 2]
        writes = await client.query_index(state_plan(CONTRACT, ABI, "balances", [PEOPLE[0]]))
        assert [(w.height, w.tx_index, w.keys, w.value) for w in writes.items] == [
            (t[0], t[1], [PEOPLE[0]], t[4]) for t in reversed(served.transfers)
            if t[3] == PEOPLE[0]]
        with pytest.raises(IndexQueryError):
            events_plan(CONTRACT, ABI, "Transfer", "amount", equals=1)  # not indexed
        with pytest.raises(IndexQueryError):
            events_plan(CONTRACT, ABI, "Transfer", "from", equals=b"short")
    _run(tmp_path, check)


def test_invalid_answers_are_caught(tmp_path: Path) -> None:
    async def check(served: Served) -> None:
        client = served.client
        verifier = await client.verifier()
        plan = events_plan(CONTRACT, ABI, "Transfer", "from", equals=PEOPLE[0], limit=3)
        query = plan.query
        assert query is not None
        answer: IndexAnswer = await client.call(calls.index_query(query))
        entries = verifier.index(answer, query)
        assert len(entries) == 3
        dropped = replace(answer, entries=answer.entries[1:])
        added = replace(answer, entries=[*answer.entries, IndexEntry(b"k", b"v")])
        swapped = replace(answer, entries=answer.entries[::-1])
        for bad in (dropped, added, swapped):
            with pytest.raises(ProofError):
                verifier.index(bad, query)
        root = answer.root
        assert root.value is not None
        wrong_root = replace(answer, root=replace(root, value=bytes(32)))
        with pytest.raises(ProofError):
            verifier.index(wrong_root, query)
        # the newest page does not pass for the oldest one
        with pytest.raises(ProofError):
            verifier.index(answer, RangeQuery(query.lo, query.hi, False, 3))
        # nor a page for the page after it
        later = RangeQuery(query.lo, entries[-1][0], True, 3)
        with pytest.raises(ProofError):
            verifier.index(answer, later)
    _run(tmp_path, check)


def test_index_queries_are_charged_to_the_work_budget(tmp_path: Path) -> None:
    """xl_queryIndex costs one unit per call, per entry served and per index node its
    proof reveals; a client whose budget is spent is refused with rate_limited."""
    async def check(served: Served) -> None:
        plan = events_plan(CONTRACT, ABI, "Transfer", limit=7)
        assert plan.query is not None
        answer = served.node.index_query(plan.query)
        nodes = revealed_nodes(decode_range_proof(answer.proof))
        assert len(answer.entries) == 7 and nodes >= 1
        await served.client.query_index(plan)  # the client learns its trust anchor once
        burst = 1e6
        served.server.dispatcher.meter = meter = Meter(rate=1e-9, burst=burst)
        page = await served.client.query_index(plan)
        assert len(page.items) == 7
        assert burst - meter.balance("127.0.0.1", 0) == pytest.approx(1 + 7 + nodes, abs=0.01)
        meter.charge("127.0.0.1", int(burst), 0)  # the budget is spent
        with pytest.raises(RpcError) as refused:
            await served.client.query_index(plan)
        assert refused.value.remote_name == "rate_limited"
    _run(tmp_path, check)
