"""Fifty `pq` validator processes on this machine commit, and keep committing with f killed.

Issue 15 item 4's prototype as a test: 50 validators voting with ML-DSA-65 over hybrid
X25519 + ML-KEM-768 channels, each a real `xinlian node start` process with the settings for
many validators on one machine (`cluster.SHARED_MACHINE_TOML`). Transfers go through
JSON-RPC to two validators; after f = 16 others, drawn at random (seeded), are killed
(SIGKILL), the other 34 (2f+2, a quorum) commit more, and every live validator ends on one
height, head and state root. A slow campaign (minutes: 50 processes start on two cores, and
each crashed leader costs a round timeout): `make test-slow`.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from xinlian.cli.cluster import SHARED_MACHINE_TOML, NodeProcess, free_ports, prepare
from xinlian.crypto.suites import get_suite
from xinlian.node.keyfile import read_key
from xinlian.sdk.wallet import Wallet

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

N = 50
F = (N - 1) // 3
ACCOUNTS = 4


def _live_agree(nodes: list[NodeProcess], count: int) -> dict[str, Any]:
    """Poll until every node has committed `count` transactions and all agree on the head."""
    while True:
        statuses = [node.rpc("xl_status") for node in nodes]
        if all(s["committed_txs"] >= count for s in statuses) and \
                len({(s["height"], s["head_hash"], s["state_root"]) for s in statuses}) == 1:
            return statuses[0]


def test_fifty_pq_validators_commit_and_survive_the_kill_of_f(tmp_path: Path) -> None:
    suite = get_suite("pq")
    dirs = prepare(tmp_path, N, suite, 0, 0, accounts=ACCOUNTS, ports=free_ports(N),
                   node_toml=SHARED_MACHINE_TOML)
    nodes: list[NodeProcess] = []
    try:
        nodes += [NodeProcess(d) for d in dirs]
        wallets = [Wallet(read_key(tmp_path / "keys" / f"account{j}.json")[1],
                          "xinlian-cluster", suite) for j in range(ACCOUNTS)]

        def send(entry: NodeProcess, per_wallet: int) -> None:
            txs = ["0x" + w.transfer(wallets[(i + 1) % ACCOUNTS].address, 1).raw.hex()
                   for _ in range(per_wallet) for i, w in enumerate(wallets)]
            assert all(r["accepted"] for r in entry.rpc("xl_submitTransactions", txs))

        send(nodes[0], 5)
        send(nodes[1], 5)
        before = _live_agree(nodes, 40)
        victims = set(random.Random(N).sample(range(2, N), F))  # f fail, not the entries
        for i in victims:
            nodes[i].kill()
        live = [node for i, node in enumerate(nodes) if i not in victims]
        send(live[0], 5)
        after = _live_agree(live, 60)
        assert after["height"] > before["height"]
        assert after["state_root"] != before["state_root"]
    finally:
        for node in nodes:
            node.stop()
