"""A validator that slept through what its peers dropped rejoins by state sync.

Four pruned validator processes (`prune_keep_blocks = 16`) on a chain whose epochs end
every 8 blocks (`epoch_blocks = 8`): their consensus drops the epochs their ledgers pruned
(docs/consensus.md, "Retention"). One validator is stopped while the others commit many
epochs; started again, it asks for the epoch it was in, more than a third of its committee
answers that they dropped it (`Pruned`), its consensus says `Behind`, and the node stops,
syncs a later epoch's snapshot (`rejoin_later`) and serves again on the same port. Then
another validator stops, and the chain still commits: it needs the rejoined one's votes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from xinlian.cli.cluster import NodeProcess, free_ports, prepare
from xinlian.crypto.suites import get_suite
from xinlian.node.errors import NodeError
from xinlian.node.keyfile import read_key
from xinlian.sdk.wallet import Wallet

N = 4
ACCOUNTS = 4
KEEP = 16


def status(node: NodeProcess) -> dict[str, Any] | None:
    """The node's status, None while it does not serve (it restarts after rejoining)."""
    try:
        answer: dict[str, Any] = node.rpc("xl_status")
        return answer
    except (NodeError, OSError):
        return None


def wait_committed(nodes: list[NodeProcess], count: int) -> list[dict[str, Any]]:
    """Poll until every node in `nodes` committed `count` transactions and they agree on
    the head."""
    while True:
        statuses = [status(node) for node in nodes]
        known = [s for s in statuses if s is not None]
        if len(known) == len(nodes) and all(s["committed_txs"] >= count for s in known) \
                and len({(s["height"], s["state_root"]) for s in known}) == 1:
            return known


def wait_head(node: NodeProcess, head: dict[str, Any]) -> dict[str, Any]:
    """Poll until `node` holds the block `head` names (a node that caught up by snapshot
    counts only the transactions it executed itself, so heads are compared, not counts)."""
    while (now := status(node)) is None or now["height"] < head["height"]:
        pass
    block = node.rpc("xl_getBlockByHeight", head["height"])
    assert block["header"]["state_root"] == head["state_root"]
    return now


@pytest.mark.timeout(420)
def test_a_validator_behind_dropped_epochs_rejoins_by_state_sync(tmp_path: Path) -> None:
    suite = get_suite("intl")
    dirs = prepare(tmp_path, N, suite, 0, 0, accounts=ACCOUNTS, ports=free_ports(N),
                   epoch_blocks=8)
    for data in dirs:
        with open(data / "node.toml", "a", encoding="utf-8") as config:
            config.write(f"prune_keep_blocks = {KEEP}\n")
    wallets = [Wallet(read_key(tmp_path / "keys" / f"account{j}.json")[1],
                      "xinlian-cluster", suite) for j in range(ACCOUNTS)]
    sent = 0

    def send(node: NodeProcess) -> None:
        nonlocal sent
        txs = ["0x" + w.transfer(wallets[(i + 1) % ACCOUNTS].address, 1).raw.hex()
               for i, w in enumerate(wallets)]
        assert all(r["accepted"] for r in node.rpc("xl_submitTransactions", txs))
        sent += len(txs)

    nodes = [NodeProcess(d) for d in dirs]
    try:
        send(nodes[0])
        wait_committed(nodes, sent)
        sleeper = nodes[3]
        slept_at = status(sleeper)
        assert slept_at is not None
        sleeper.stop()
        awake = nodes[:3]
        # one round of transfers, one block or more: until the others pruned far past
        # the epoch the sleeper is in
        while True:
            send(nodes[0])
            head = wait_committed(awake, sent)[0]
            if head["pruned_below"] > slept_at["height"] + 4 * 8:
                break
        nodes[3] = NodeProcess(dirs[3])
        send(nodes[0])
        wait_head(nodes[3], wait_committed(awake, sent)[0])
        log = (dirs[3] / "node.log").read_text(encoding="utf-8")
        assert '"event": "rejoined"' in log
        # the epochs it slept through: skipped, by snapshot
        assert nodes[3].rpc("xl_getBlockByHeight", slept_at["height"] + 8) is None
        # without validator 0, commits need the rejoined validator's votes
        nodes[0].stop()
        send(nodes[1])
        wait_head(nodes[3], wait_committed(nodes[1:3], sent)[0])
    finally:
        for node in nodes:
            node.stop()
