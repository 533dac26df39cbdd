"""4 validator processes, each in its own network namespace behind a 100 Mbit/s tbf.

The namespaces share a private bridge (netns.py); the genesis names the validators by their
namespace addresses, so consensus traffic crosses the veth pairs and their tbf qdiscs, not
loopback. Every node must commit the same ledger, the other three must keep committing
while one is killed (kill -9), and it must catch up when restarted in its namespace.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from xinlian.cli.cluster import NodeProcess, prepare
from xinlian.crypto.suites import get_suite
from xinlian.node.keyfile import read_key
from xinlian.sdk.client import Client
from xinlian.sdk.wallet import Wallet

from .netns import (
    NEEDS_ROOT_AND_IPROUTE2,
    TBF_RATE_BYTES,
    Bridged,
    bridged_namespaces,
    entered,
    root_qdisc,
)

# a slow campaign (suite time): test_cluster_plan_netns runs namespaced validators in make test
pytestmark = [*NEEDS_ROOT_AND_IPROUTE2, pytest.mark.timeout(180), pytest.mark.slow]

N = 4
PER_WALLET = 25  # 4 wallets: 100 transfers a round
WAIT_S = 60.0


def _wait_all_committed(nodes: list[NodeProcess | None], count: int) -> dict[str, object]:
    """Poll the live nodes' RPC until each has committed `count` transactions and all
    agree on height, head and state root; return the common status."""
    deadline = time.monotonic() + WAIT_S
    while True:
        statuses = [node.rpc("xl_status") for node in nodes if node is not None]
        if all(s["committed_txs"] >= count for s in statuses) and \
                len({(s["height"], s["head_hash"], s["state_root"]) for s in statuses}) == 1:
            return statuses[0]
        assert time.monotonic() < deadline, f"no common commit of {count} txs: {statuses}"
        time.sleep(0.05)  # a polling interval, not a synchronisation


def _start(net: Bridged, data: Path, i: int) -> NodeProcess:
    with entered(net.names[i]):
        return NodeProcess(data)


def test_validators_in_namespaces_agree_survive_a_kill_and_catch_up(tmp_path: Path) -> None:
    suite = get_suite("intl")
    with bridged_namespaces(N) as net:
        # Own namespaces: the same ports on every node cannot collide with anything.
        dirs = prepare(tmp_path, N, suite, 7100, 8600, accounts=4, hosts=net.hosts)
        nodes: list[NodeProcess | None] = []
        try:
            nodes += [_start(net, d, i) for i, d in enumerate(dirs)]
            wallets = [Wallet(read_key(tmp_path / "keys" / f"account{j}.json")[1],
                              "xinlian-cluster", suite) for j in range(4)]
            submitted = 0

            def send(node: NodeProcess) -> None:
                nonlocal submitted
                txs = [w.transfer(wallets[(i + 1) % 4].address, 1).raw
                       for _ in range(PER_WALLET) for i, w in enumerate(wallets)]
                submitted += sum(map(len, txs))
                replies = node.rpc("xl_submitTransactions", ["0x" + t.hex() for t in txs])
                assert all(r["accepted"] for r in replies)

            first = nodes[0]
            assert first is not None
            send(first)
            _wait_all_committed(nodes, 100)
            victim = nodes[2]
            assert victim is not None
            victim.kill()
            nodes[2] = None
            send(first)
            _wait_all_committed(nodes, 200)
            nodes[2] = _start(net, dirs[2], 2)
            send(first)
            status = _wait_all_committed(nodes, 300)
            assert status["committed_txs"] == 300
            restarted = nodes[2]
            assert restarted is not None
            with Client(restarted.base_url) as client:
                assert client.account(wallets[0].address).account.nonce == 3 * PER_WALLET
        finally:
            for node in nodes:
                if node is not None:
                    node.stop()
        _check_shaped_traffic(net, submitted)


def _check_shaped_traffic(net: Bridged, submitted: int) -> None:
    """The nodes' traffic crossed the tbf qdiscs. Node 0 broadcast every batch it was sent
    to its 3 peers, so at least 3x the transactions' bytes left through its own tbf; every
    node sent and received votes and proposals through both of its qdiscs."""
    sent = []
    for ns, dev in zip(net.names, net.root_devs, strict=True):
        for q in (root_qdisc(net.NODE_DEV, ns), root_qdisc(dev)):
            assert q["kind"] == "tbf" and q["options"]["rate"] == TBF_RATE_BYTES
            assert q["bytes"] > 0
        sent.append(root_qdisc(net.NODE_DEV, ns)["bytes"])
    assert sent[0] >= 3 * submitted, (sent, submitted)
