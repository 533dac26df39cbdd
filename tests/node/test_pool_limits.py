"""Transactions that can never execute leave the pool instead of looping, on a solo node and
on the BFT path (where the pool forwards to consensus after every applied block)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from xinlian import codec
from xinlian.cli.cluster import free_ports, prepare
from xinlian.cli.node_cmd import CONSENSUS_KEY_FILE, GENESIS_FILE, node_config
from xinlian.consensus.core import Committed
from xinlian.crypto.suites import get_suite
from xinlian.execution.payloads import RevokeSubmit
from xinlian.ledger.errors import InsufficientFunds
from xinlian.ledger.genesis import load_genesis
from xinlian.ledger.transaction import TxBody, TxKind, sign_body
from xinlian.node.bft import BatchPayload, Decoded, frame_payload
from xinlian.node.keyfile import read_consensus_secret, read_key
from xinlian.node.service import Node
from xinlian.node.validator import BftOrdering
from xinlian.sdk.wallet import Wallet

from .conftest import Fixture


def test_drain_then_spend_is_refused_at_admission(fx: Fixture) -> None:
    node = fx.open()
    try:
        drain = fx.transfer(1, 0, 2, 10_000 - 5)
        after = fx.transfer(1, 1, 2, 0)
        results = asyncio.run(node.submit([drain, after]))
        assert results[0].accepted
        assert not results[1].accepted and results[1].code == InsufficientFunds.code
    finally:
        asyncio.run(node.stop())


def test_a_revoked_senders_pending_transactions_leave_the_solo_pool(fx: Fixture) -> None:
    node = fx.open()
    try:
        revoke = sign_body(TxBody("node-test", fx.keys[0].public_key, 0, TxKind.SYSTEM,
                                  codec.encode(RevokeSubmit(fx.addr(1))), 10, 10_000),
                           fx.keys[0])
        pending = [fx.transfer(1, n, 2, 1) for n in range(5)]
        assert all(r.accepted for r in asyncio.run(node.submit([revoke, *pending])))
        block = node.produce_block()
        assert block is not None and block.header.tx_count == 1  # the revocation only
        assert len(node.mempool) == 0
        assert node.produce_block() is None  # nothing left to try again
    finally:
        asyncio.run(node.stop())


def test_unpayable_transactions_are_not_forwarded_again_after_a_block(tmp_path: Path) -> None:
    """Regression: a validator forwarded its excluded transactions to consensus again after
    every applied block, and every validator re-verified and re-excluded them."""
    suite = get_suite("intl")
    data = prepare(tmp_path, 4, suite, 0, 0, 1, ports=free_ports(4))[0]
    genesis = load_genesis(tmp_path / GENESIS_FILE)
    node = Node(data, genesis, read_key(data / str(node_config(data)["key"]))[1],
                read_consensus_secret(data / CONSENSUS_KEY_FILE))
    assert isinstance(node.ordering, BftOrdering)
    ordering = node.ordering

    async def scenario() -> None:
        key = read_key(tmp_path / "keys" / "account0.json")[1]
        wallet = Wallet(key, genesis.chain_id, suite)
        mine = [wallet.transfer(wallet.address, 1).raw for _ in range(3)]
        assert all(r.accepted for r in await node.submit(mine))
        assert len(ordering.bft._forwarded) == 3
        # The same sender spent nonce 0 through another validator, draining its balance.
        balance = node.chain.account(wallet.address).balance
        other = Wallet(key, genesis.chain_id, suite)
        drain = other.transfer(bytes(20), balance - genesis.params.transfer_cost).raw
        payload = frame_payload(BatchPayload(1, [drain, *mine[1:]]))
        digest = b"\x01" * 32
        committed = Committed(0, 1, 1, b"\x02" * 32, (digest,), 3, None, 0)
        decoded: Decoded = ordering.bft.decode(committed, {digest: payload})
        await ordering._apply(decoded)
        assert node.chain.height == 1 and node.chain.head is not None
        assert node.chain.head.header.tx_count == 1  # the drain; nonces 1, 2 left out
        assert len(node.mempool) == 0 and ordering.bft._forwarded == set()

    try:
        asyncio.run(scenario())
    finally:
        asyncio.run(node.stop())
