"""AsyncClient end to end, per crypto suite: a real node producing blocks, real HTTP and a
real websocket on 127.0.0.1; waiting is driven by the node's notifications."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from xinlian.api.limits import Limits
from xinlian.execution.payloads import GrantSubmit
from xinlian.ledger.account import account_key
from xinlian.sdk import AsyncClient, CommitTimeout, TransportError, TxRejected, calls

from .conftest import harness

Keys: Any = harness.Keys  # type: ignore[attr-defined]
serving: Any = harness.serving  # type: ignore[attr-defined]


@pytest.mark.parametrize("suite", ["sm", "intl", "pq"])
def test_async_client_end_to_end(tmp_path: Path, suite: str,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    keys = Keys(suite)
    monkeypatch.setattr(calls, "WATCH_CHUNK", 4)  # waiting spans several subscriptions

    async def scenario() -> None:
        async with serving(tmp_path, keys) as (_, server), AsyncClient(server.url) as client:
            blocks = await client.subscribe_blocks()  # each header is verified on arrival
            alice = await client.wallet(keys.alice)
            txs = [alice.transfer(keys.address["bob"], 2) for _ in range(10)]
            assert all(r.accepted for r in await client.submit_many(txs))
            receipts = await client.wait_for_commit([t.hash for t in txs], timeout=30)
            assert all(r.status == 0 for r in receipts.values()) and len(receipts) == 10
            seen: set[bytes] = set()
            while not seen >= set(receipts):
                seen.update((await blocks.next()).tx_hashes)
            await blocks.close()

            assert (await client.account(keys.address["bob"])).account.balance == 20
            view = await client.transaction(txs[3].hash)
            assert view is not None and view.receipt == receipts[txs[3].hash]

            # carol is not on the chain: a proven absence, and refused until permitted
            absent = await client.state_proof(account_key(keys.address["carol"]))
            assert absent.value is None
            admin = await client.wallet(keys.admin)
            assert (await client.send(admin.transfer(keys.address["carol"], 100))).status == 0
            carol = await client.wallet(keys.carol)
            with pytest.raises(TxRejected) as refused:
                await client.submit(carol.transfer(keys.address["bob"], 1))
            assert refused.value.remote_name == "not_permitted"
            carol.rewind(0)
            granted = await client.send(admin.system(GrantSubmit(keys.address["carol"])))
            assert granted.status == 0
            assert (await client.send(carol.transfer(keys.address["bob"], 1))).status == 0
            assert (await client.account(keys.address["carol"])).account.nonce == 1

            with pytest.raises(CommitTimeout) as timeout:
                await client.wait_for_commit([txs[0].hash, bytes(32)], timeout=0.05)
            assert timeout.value.pending in ([bytes(32)], [txs[0].hash, bytes(32)])
    asyncio.run(scenario())


def test_waiting_on_more_committed_transactions_than_a_client_queue_holds(
        tmp_path: Path) -> None:
    """Every hash already committed, more of them than the node lets wait for one client
    (shrunk to 8 here): all receipts come back and the websocket stays usable."""
    keys = Keys("intl")

    async def scenario() -> None:
        async with serving(tmp_path, keys, limits=Limits(ws_send_queue=8)) as (_, server), \
                AsyncClient(server.url) as client:
            alice = await client.wallet(keys.alice)
            txs = [alice.transfer(keys.address["bob"], 1) for _ in range(40)]
            assert all(r.accepted for r in await client.submit_many(txs))
            last = await client.wait_for_commit([txs[-1].hash], timeout=30)
            assert last[txs[-1].hash].status == 0
            receipts = await client.wait_for_commit([t.hash for t in txs], timeout=30)
            assert len(receipts) == 40 and all(r.status == 0 for r in receipts.values())
            assert (await client.account(keys.address["bob"])).account.balance == 40
    asyncio.run(scenario())


def test_a_vanished_node_is_a_transport_error(tmp_path: Path) -> None:
    keys = Keys("intl")

    async def scenario() -> None:
        async with serving(tmp_path, keys) as (_, server), AsyncClient(server.url) as client:
            blocks = await client.subscribe_blocks()
            await server.stop()
            with pytest.raises(TransportError):
                await blocks.next()
            with pytest.raises(TransportError):
                await client.status()
            with pytest.raises(TransportError):
                await client.wait_for_commit([bytes(32)], timeout=5)
    asyncio.run(scenario())
