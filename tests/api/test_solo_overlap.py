"""A started solo node executes each block on its ledger thread: while one executes,
submissions are admitted and contract queries answered (on the head state) on the event
loop, and the next block takes what was admitted meanwhile."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from xinlian.execution.contracts.records import contract_address
from xinlian.execution.payloads import Call, Deploy
from xinlian.ledger.block import Block, Receipt
from xinlian.ledger.transaction import TxKind
from xinlian.node.pipeline import Built
from xinlian.node.service import Node
from xinlian.testing.contracts import encode_args

from .harness import Keys, make_genesis, transfer
from .test_contracts_rpc import TOKEN, contract_tx

HOLD_S = 30  # how long the held block waits to be released (a bound, never reached)


def _balance(node: Node, token: bytes, who: bytes) -> Any:
    out = node.contract_query(token, "balance_of", encode_args(TOKEN, "balance_of", who))
    assert out.status == "ok", out
    return out.value


async def _overlap(node: Node, keys: Keys, token: bytes,
                   monkeypatch: pytest.MonkeyPatch) -> list[Block]:
    entered, release = threading.Event(), threading.Event()
    released: list[bool] = []
    build = node.ledger.build

    def held_build(*args: Any, **kwargs: Any) -> Built:
        if not released:  # the first block waits until the test has used the loop
            entered.set()
            released.append(release.wait(HOLD_S))
        return build(*args, **kwargs)

    monkeypatch.setattr(node.ledger, "build", held_build)
    blocks: list[Block] = []
    both = asyncio.Event()

    def on_block(block: Block, receipts: Sequence[Receipt]) -> None:
        blocks.append(block)
        if sum(b.header.tx_count for b in blocks) >= 2:
            both.set()

    node.add_block_listener(on_block)
    alice = keys.address["alice"]
    await node.start()
    try:
        call = contract_tx(keys, 1, TxKind.CALL, Call(
            token, "transfer", encode_args(TOKEN, "transfer", alice, 25), 100_000_000))
        [first] = await node.submit([call])
        assert first.accepted
        assert await asyncio.get_running_loop().run_in_executor(None, entered.wait, HOLD_S)
        # the block with the call is executing: the loop admits and answers meanwhile
        [second] = await node.submit([transfer(keys, "alice", "bob", 1)])
        assert second.accepted and node.pending(second.tx_hash)
        assert node.status().height == 1 and _balance(node, token, alice) == 0
        release.set()
        await asyncio.wait_for(both.wait(), HOLD_S)
    finally:
        release.set()
        await node.stop()
    assert released == [True]
    return blocks


def test_admission_and_queries_go_on_while_a_block_executes(
        tmp_path: Path, keys: Keys, monkeypatch: pytest.MonkeyPatch) -> None:
    node = Node(tmp_path / "node", make_genesis(keys), keys.node)
    deploy = contract_tx(keys, 0, TxKind.DEPLOY, Deploy(
        TOKEN.wasm, TOKEN.abi_json().encode(), encode_args(TOKEN, "init", "Coin", 1000),
        100_000_000))
    assert asyncio.run(node.submit([deploy]))[0].accepted
    assert node.produce_block() is not None
    token = contract_address(keys.suite.hash_bytes, keys.address["admin"], 0)
    blocks = asyncio.run(_overlap(node, keys, token, monkeypatch))
    # the call's block, then the transfer admitted while it executed, in a later block
    assert [b.header.tx_count for b in blocks] == [1, 1]
    assert [b.header.height for b in blocks] == [2, 3]
    reopened = Node(tmp_path / "node", make_genesis(keys), keys.node)
    try:
        assert _balance(reopened, token, keys.address["alice"]) == 25
        assert reopened.account(keys.address["bob"]).account.balance == 1
    finally:
        asyncio.run(reopened.stop())


async def _blocks_of(node: Node, raws: list[bytes]) -> None:
    """Submit `raws` to the started node and wait until its blocks hold them."""
    done = asyncio.Event()
    want = node.status().committed_txs + len(raws)

    def on_block(block: Block, receipts: Sequence[Receipt]) -> None:
        if node.status().committed_txs >= want:
            done.set()

    node.add_block_listener(on_block)
    assert all(r.accepted for r in await node.submit(raws))
    await asyncio.wait_for(done.wait(), HOLD_S)
    node.remove_block_listener(on_block)


def test_the_first_block_with_a_contract_call_starts_the_execution_workers(
        tmp_path: Path, keys: Keys) -> None:
    node = Node(tmp_path / "node", make_genesis(keys), keys.node, exec_workers=1)
    pool = node.ledger.pool
    assert pool is not None
    token = contract_address(keys.suite.hash_bytes, keys.address["admin"], 0)

    async def scenario() -> list[list[int]]:
        await node.start()
        try:
            seen = []
            await _blocks_of(node, [transfer(keys, "alice", "bob", 1), contract_tx(
                keys, 0, TxKind.DEPLOY, Deploy(
                    TOKEN.wasm, TOKEN.abi_json().encode(),
                    encode_args(TOKEN, "init", "Coin", 1000), 100_000_000))])
            seen.append(pool.processes())
            await _blocks_of(node, [contract_tx(keys, 1, TxKind.CALL, Call(
                token, "transfer", encode_args(TOKEN, "transfer", keys.address["bob"], 5),
                100_000_000))])
            seen.append(pool.processes())
            return seen
        finally:
            await node.stop()

    before, after = asyncio.run(scenario())
    assert before == [] and len(after) == 1  # no call, no workers; then one, started
