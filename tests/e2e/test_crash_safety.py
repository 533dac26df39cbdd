"""kill -9 a real node process while it commits, many times: nothing committed is lost and
no half-written block is ever visible."""

from __future__ import annotations

import random
from pathlib import Path

from xinlian import codec
from xinlian.cli.cluster import NodeProcess
from xinlian.ledger.account import Account, account_key
from xinlian.ledger.block import header_hash
from xinlian.ledger.genesis import load_genesis
from xinlian.ledger.transaction import SignedTransaction
from xinlian.node.chain import ChainStore

from .cluster import Chain, init_data_dir

ACCOUNTS = 50
BALANCE = 1_000_000
ROUNDS = 8


def check_store(data: Path, chain: Chain) -> tuple[int, int]:
    """Every invariant of a consistent chain store; returns (height, committed txs)."""
    genesis = load_genesis(data / "genesis.toml")
    store = ChainStore(data / "chain", genesis)
    try:
        h = store.hash
        height = store.height
        assert store.tree.latest_version() == height  # state and blocks committed together
        parent, total = genesis.hash(), 0
        for n in range(height + 1):
            block = store.block(n)
            assert block is not None, f"block {n} missing below the head {height}"
            assert block.header.parent_hash == parent
            assert block.header.state_root == store.tree.root(n)
            assert block.header.tx_count == len(block.txs)
            for i, raw in enumerate(block.txs):
                tx_hash = h(codec.decode(raw, SignedTransaction).body)
                location = store.index.tx_location(tx_hash)
                assert location is not None and (location.height, location.index) == (n, i)
                assert store.receipt(tx_hash) is not None
            parent = header_hash(block.header, h)
            total += len(block.txs)
        assert store.committed_txs == total
        balances = 0
        for i in range(ACCOUNTS):
            encoded = store.tree.get(account_key(chain.address(i)))
            balances += codec.decode(encoded, Account).balance if encoded else 0
        fees = total * genesis.params.transfer_cost
        assert balances + fees == ACCOUNTS * BALANCE  # value is conserved exactly
        return height, total
    finally:
        store.close()


def test_kill_9_during_commits_loses_nothing(tmp_path: Path) -> None:
    rng = random.Random(20261124)
    chain = Chain.make("intl", ACCOUNTS)
    data = init_data_dir(chain, tmp_path, BALANCE, block_interval_ms=5, max_block_txs=40)
    committed = 0
    for _ in range(ROUNDS):
        node = NodeProcess(data)
        try:
            target = _load_and_kill(node, chain, rng, committed)
        finally:
            node.kill()  # also when the round failed: never leave a node running
        height, committed = check_store(data, chain)
        assert height >= target  # every block seen committed before the kill is there
    node = NodeProcess(data)
    try:
        # The node carries on from where it was killed.
        nonce = node.rpc("xl_getAccount", "0x" + chain.address(0).hex())["account"]["nonce"]
        results = node.rpc("xl_submitTransactions", ["0x" + chain.transfer(0, nonce, 1, 1).hex()])
        assert results[0]["accepted"]
        while node.rpc("xl_status")["mempool_size"]:
            pass
    finally:
        node.stop()
    check_store(data, chain)


def _load_and_kill(node: NodeProcess, chain: Chain, rng: random.Random, committed: int) -> int:
    """Load the node with transfers and SIGKILL it while it cuts and commits blocks;
    returns a height the node had committed before the kill."""
    status = node.rpc("xl_status")
    assert status["committed_txs"] >= committed  # nothing committed was lost
    # Resubmit from the committed nonces: what was only pending at the kill is gone.
    nonces = [node.rpc("xl_getAccount", "0x" + chain.address(i).hex())["account"]["nonce"]
              for i in range(ACCOUNTS)]
    txs = []
    for k in range(rng.randrange(200, 400)):
        i = k % ACCOUNTS
        txs.append("0x" + chain.transfer(i, nonces[i], (i + 1) % ACCOUNTS, 1).hex())
        nonces[i] += 1
    results = node.rpc("xl_submitTransactions", txs)
    assert all(r["accepted"] for r in results)
    # Kill at a seeded point while blocks of 40 are being cut and committed.
    target = status["height"] + rng.randrange(1, 5)
    while node.rpc("xl_status")["height"] < target:
        pass
    node.kill()
    return target
