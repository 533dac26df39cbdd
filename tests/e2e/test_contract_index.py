"""Indexed contract data on a real solo node process: the example token is deployed and
used with signed transactions, then its Transfer events are queried through the SDK by
sender (equality), by a range of recipients, paged newest first, and for a sender that
never sent (proven absent); every answer is verified against a signed header. The same
through the typed wrapper (`token.events`, sync and async, with the ABI proven from the
chain), `xinlian contract events` and `xinlian index`. A scheduled run's event is found
the same way."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from xinlian.cli.cluster import NodeProcess
from xinlian.cli.main import main as cli
from xinlian.crypto.suites import get_suite
from xinlian.execution.contracts.records import contract_address
from xinlian.execution.payloads import Call, Deploy, Fund
from xinlian.ledger.transaction import TxKind
from xinlian.sdk import AsyncClient, Client
from xinlian.sdk.indexes import EventRecord, events_plan, state_plan
from xinlian.testing.contracts import compile_example, encode_args

from .cluster import Chain, init_data_dir
from .test_contracts_solo import FUEL, submit

TOKEN = compile_example("token.qi")
ABI = TOKEN.abi


def _pages(client: Client, token: bytes, field: str | None = None, **bounds: Any
           ) -> list[list[EventRecord]]:
    """Every page of Transfer events, following the cursors."""
    pages, cursor = [], None
    while True:
        page = client.query_index(events_plan(token, ABI, "Transfer", field, cursor=cursor,
                                              **bounds))
        pages.append(page.items)
        if page.cursor is None:
            return pages
        cursor = page.cursor


def _cli(capsys: pytest.CaptureFixture[str], argv: list[str]) -> Any:
    capsys.readouterr()
    assert cli(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_token_transfers_are_queried_with_proofs(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    chain = Chain.make("intl", 4)
    data = init_data_dir(chain, tmp_path, 10**9, block_interval_ms=20)
    node = NodeProcess(data)
    try:
        owner = chain.address(0)
        people = [chain.address(i) for i in range(1, 4)]
        receipt = submit(node, chain, 0, TxKind.DEPLOY, Deploy(
            TOKEN.wasm, TOKEN.abi_json().encode(), encode_args(TOKEN, "init", "Coin", 10**6),
            FUEL))
        assert receipt["status"] == 0
        token = contract_address(get_suite(chain.suite_name).hash_bytes, owner, 0)
        sent = []  # (to, amount) in commit order, all from the owner
        for nonce in range(1, 8):
            to, amount = people[nonce % 3], 100 + nonce
            receipt = submit(node, chain, nonce, TxKind.CALL, Call(
                token, "transfer", encode_args(TOKEN, "transfer", to, amount), FUEL))
            assert receipt["status"] == 0
            sent.append((to, amount))

        with Client(node.base_url) as client:
            # by sender, three per page, newest first
            pages = _pages(client, token, "from", equals=owner, limit=3)
            assert [len(p) for p in pages] == [3, 3, 1]
            got = [(e.args["to"], e.args["amount"]) for p in pages for e in p]
            assert got == sent[::-1]
            heights = [e.height for p in pages for e in p]
            assert heights == sorted(heights, reverse=True)

            # a range of recipients: by recipient, then newest first
            low, high = sorted(people)[:2]
            [in_range] = _pages(client, token, "to", lo=low, hi=high, limit=100)
            want = sorted(((to, i) for i, (to, _) in enumerate(sent) if low <= to <= high),
                          reverse=True)
            assert [(e.args["to"], e.args["amount"]) for e in in_range] == [
                (to, sent[i][1]) for to, i in want]

            # nobody but the owner ever sent: proven absent, not just empty
            absent = client.query_index(events_plan(token, ABI, "Transfer", "from",
                                                    equals=people[0]))
            assert absent.items == [] and absent.height is not None

            # the mint at deployment is the oldest Transfer; balances' writes by key
            [every] = _pages(client, token, limit=100)
            assert len(every) == 8 and every[-1].args["from"] == bytes(20)
            history = client.query_index(state_plan(token, ABI, "balances", [people[1]]))
            assert [w.value for w in history.items] == [
                sum(a for to, a in sent[:i + 1] if to == people[1])
                for i in reversed(range(len(sent))) if sent[i][0] == people[1]]

        # the same from the command line, verified before it prints
        abi_file = tmp_path / "token.abi.json"
        abi_file.write_text(TOKEN.abi_json())
        base = ["index", "events", token.hex(), "Transfer", "--abi", str(abi_file),
                "--rpc", node.base_url]
        page = _cli(capsys, [*base, "--field", "from", "--equals", "0x" + owner.hex(),
                             "--limit", "3"])
        assert [e["args"]["amount"] for e in page["items"]] == [a for _, a in sent[::-1][:3]]
        rest = _cli(capsys, [*base, "--field", "from", "--equals", "0x" + owner.hex(),
                             "--cursor", page["cursor"]])
        assert len(rest["items"]) == 4 and rest["cursor"] is None
        assert _cli(capsys, [*base, "--field", "from", "--equals",
                             "0x" + people[0].hex()])["items"] == []
        state = _cli(capsys, ["index", "state", token.hex(), "balances",
                              "0x" + people[1].hex(), "--abi", str(abi_file), "--limit", "1",
                              "--rpc", node.base_url])
        assert state["items"][0]["value"] == history.items[0].value
        assert cli([*base, "--field", "amount", "--equals", "1"]) == 2  # not indexed
        # without --abi: the ABI of the contract's code, proven from the chain
        proven = _cli(capsys, ["index", "events", token.hex(), "Transfer", "--field", "from",
                               "--equals", "0x" + owner.hex(), "--rpc", node.base_url])
        assert proven["items"] == _cli(capsys, [*base, "--field", "from", "--equals",
                                                "0x" + owner.hex()])["items"]

        _typed_events(node, token, owner, people, sent, capsys)
    finally:
        node.stop()


def _typed_events(node: NodeProcess, token: bytes, owner: bytes, people: list[bytes],
                  sent: list[tuple[bytes, int]], capsys: pytest.CaptureFixture[str]) -> None:
    """`token.events(...)` (sync and async) and `xinlian contract events` on the same
    history, the ABI proven from the chain."""
    with Client(node.base_url) as client:
        wrapped = client.contract(token)  # no ABI: read and proven from the chain
        first = wrapped.events("Transfer", from_=owner, limit=3)
        assert [type(e.event) for e in first.items] == [wrapped.events.Transfer] * 3
        assert [(e.event.to, e.event.amount) for e in first.items] == sent[::-1][:3]
        assert not any(e.engine_run for e in first.items)
        rest = wrapped.events("Transfer", from_=owner, cursor=first.cursor)
        assert [(e.event.to, e.event.amount) for e in rest.items] == sent[::-1][3:]
        assert rest.cursor is None
        low, high = sorted(people)[:2]
        ranged = wrapped.events("Transfer", field="to", lo=low, hi=high)
        assert {e.event.to for e in ranged.items} == {low, high}
        assert [(e.height, e.event) for e in wrapped.events("Transfer", to=people[0]).items
                ] == [(e.height, e.event) for e in wrapped.events("Transfer").items
                      if e.event.to == people[0]]
        assert wrapped.events("Transfer", from_=people[0]).items == []  # proven absent

    async def aio() -> list[tuple[bytes, int]]:
        async with AsyncClient(node.base_url) as client:
            wrapped = await client.contract(token)
            page = await wrapped.events("Transfer", from_=owner, limit=3)
            return [(e.event.to, e.event.amount) for e in page.items]
    assert asyncio.run(aio()) == sent[::-1][:3]

    base = ["contract", "events", "0x" + token.hex(), "Transfer", "--rpc", node.base_url]
    page = _cli(capsys, [*base, "--where", "from=0x" + owner.hex(), "--limit", "3", "--json"])
    assert page["ok"] and page["verified"]
    assert [e["args"]["amount"] for e in page["events"]] == [a for _, a in sent[::-1][:3]]
    more = _cli(capsys, [*base, "--where", "from=0x" + owner.hex(), "--cursor",
                         page["cursor"], "--json"])
    assert len(more["events"]) == 4 and more["cursor"] is None
    low, high = sorted(people)[:2]
    ranged = _cli(capsys, [*base, "--from", "to=0x" + low.hex(), "--to", "to=0x" + high.hex(),
                           "--json"])
    assert {e["args"]["to"] for e in ranged["events"]} == {"0x" + low.hex(), "0x" + high.hex()}
    capsys.readouterr()
    assert cli([*base, "--where", "from=0x" + owner.hex(), "--limit", "2"]) == 0
    text = capsys.readouterr().out
    assert "Transfer(" in text and "next page: --cursor 0x" in text
    assert cli([*base, "--where", "amount=5"]) == 2  # not an indexed parameter
    assert cli([*base, "--where", "nobody=5"]) == 2
    assert cli([*base, "--from", "to=0x" + low.hex(), "--to", "from=0x" + high.hex()]) == 2
    assert cli(["contract", "events", "0x" + token.hex(), "Nothing", "--rpc",
                node.base_url]) == 2


PAYOUT = compile_example("payout.qi")


def test_a_scheduled_run_s_event_is_found_with_a_proof(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    """The payout's scheduled function emits Paid(indexed round) with no transaction: the
    node indexes it as an engine run's event, and the wrapper and the command find it."""
    chain = Chain.make("intl", 2)
    data = init_data_dir(chain, tmp_path, 10**9, block_interval_ms=20)
    node = NodeProcess(data)
    try:
        owner = chain.address(0)
        receipt = submit(node, chain, 0, TxKind.DEPLOY, Deploy(
            PAYOUT.wasm, PAYOUT.abi_json().encode(), encode_args(PAYOUT, "init", 5), FUEL))
        assert receipt["status"] == 0
        payout = contract_address(get_suite(chain.suite_name).hash_bytes, owner, 0)
        assert submit(node, chain, 1, TxKind.CALL, Call(
            payout, "add", encode_args(PAYOUT, "add", chain.address(1)), FUEL))["status"] == 0
        assert submit(node, chain, 2, TxKind.FUND, Fund(payout, 10**6))["status"] == 0
        with Client(node.base_url) as client:
            wrapped = client.contract(payout)
            while not (found := wrapped.events("Paid", round=1)).items:
                pass  # blocks keep coming while the schedule is armed
            [paid] = found.items
            assert paid.engine_run and paid.event.round == 1 and paid.event.count == 1
            assert paid.height % 10 == 0
        page = _cli(capsys, ["contract", "events", "0x" + payout.hex(), "Paid", "--where",
                             "round=1", "--json", "--rpc", node.base_url])
        assert [(e["height"], e["engine_run"], e["args"]) for e in page["events"]] == [
            (paid.height, True, {"round": 1, "count": 1})]
    finally:
        node.stop()
