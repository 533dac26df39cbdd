"""A real BFT network: 4 validator processes on loopback; one is killed and comes back.

Every node must commit the same ledger (same height, head hash and state root), keep
committing with one node down (n = 4 tolerates f = 1), and the restarted node must catch up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from xinlian.cli.cluster import NodeProcess, free_ports, prepare
from xinlian.crypto.suites import get_suite
from xinlian.node.keyfile import read_key
from xinlian.sdk.client import Client
from xinlian.sdk.wallet import Wallet

N = 4


def _statuses(nodes: list[NodeProcess | None]) -> list[dict[str, Any]]:
    return [node.rpc("xl_status") for node in nodes if node is not None]


def _wait_all_committed(nodes: list[NodeProcess | None], count: int) -> dict[str, Any]:
    """Busy-poll the nodes' RPC until every live node has committed `count` transactions
    and they agree on the head; return the common status."""
    while True:
        statuses = _statuses(nodes)
        if all(s["committed_txs"] >= count for s in statuses) and \
                len({(s["height"], s["head_hash"], s["state_root"]) for s in statuses}) == 1:
            return statuses[0]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("suite_name", ["intl", "sm"])
def test_four_validators_agree_and_a_restarted_node_catches_up(tmp_path: Path,
                                                                 suite_name: str) -> None:
    suite = get_suite(suite_name)
    dirs = prepare(tmp_path, N, suite, 0, 0, accounts=4, ports=free_ports(N))
    nodes: list[NodeProcess | None] = [NodeProcess(d) for d in dirs]
    try:
        wallets = [Wallet(read_key(tmp_path / "keys" / f"account{j}.json")[1],
                          "xinlian-cluster", suite) for j in range(4)]

        def send(node: NodeProcess, per_wallet: int) -> None:
            txs = ["0x" + w.transfer(wallets[(i + 1) % 4].address, 1).raw.hex()
                   for _ in range(per_wallet) for i, w in enumerate(wallets)]
            assert all(r["accepted"] for r in node.rpc("xl_submitTransactions", txs))

        first = nodes[0]
        assert first is not None
        send(first, 25)
        status = _wait_all_committed(nodes, 100)
        # Kill one validator; the other three still form a quorum and keep committing.
        victim = nodes[2]
        assert victim is not None
        victim.kill()
        nodes[2] = None
        send(first, 25)
        _wait_all_committed(nodes, 200)
        # It comes back, catches up from its peers, and all four agree again.
        nodes[2] = NodeProcess(dirs[2])
        send(first, 25)
        status = _wait_all_committed(nodes, 300)
        assert status["committed_txs"] == 300
        # A client of the restarted node verifies what it serves.
        restarted = nodes[2]
        assert restarted is not None
        with Client(restarted.url.removesuffix("/rpc")) as client:
            view = client.account(wallets[0].address)
            assert view.account.nonce == 75
    finally:
        for node in nodes:
            if node is not None:
                node.stop()
