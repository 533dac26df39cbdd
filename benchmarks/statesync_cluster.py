"""A validator joining a real 4-process cluster: time from process start to serving.

    python -m benchmarks.statesync_cluster [--accounts 20000]

Four validators (`cluster.prepare`, intl suite) start with `--accounts` funded accounts in
genesis (two state entries each: the account and its permission). They commit some
transfers; governance (3 of 4 organisations) adds a fifth validator, whose process is then
started: it catches up from a state snapshot and serves. Reported: its start-to-ready time,
the state entries it imported, and, as the reference in the same run, the start-to-ready
time of the same node restarted afterwards (its store already holds the state), so the
difference is what catching up costs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.report import emit
from xinlian.cli.cluster import NodeProcess, new_consensus_key, prepare
from xinlian.cli.node_cmd import CONSENSUS_KEY_FILE, init_data_dir
from xinlian.crypto.suites import get_suite
from xinlian.execution.payloads import AddValidator, Approve, Propose
from xinlian.ledger.genesis import Validator
from xinlian.node.keyfile import read_key, write_consensus_key, write_key
from xinlian.sdk.wallet import SignedTx, Wallet

BENCH = "statesync_cluster"
BASE = 17900


def _wait(nodes: list[NodeProcess], predicate: str, value: int) -> None:
    """Poll until every node's status field `predicate` reaches `value` and heads agree."""
    while True:
        statuses = [n.rpc("xl_status") for n in nodes]
        if statuses[0][predicate] >= value and len({s["head_hash"] for s in statuses}) == 1:
            return


def _committed(node: NodeProcess, tx: SignedTx) -> None:
    while node.rpc("xl_getReceipt", "0x" + tx.hash.hex()) is None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=20_000)
    args = parser.parse_args()
    suite = get_suite("intl")
    root = Path(tempfile.mkdtemp(prefix="xl-join-"))
    nodes: list[NodeProcess] = []
    try:
        dirs = prepare(root, 4, suite, BASE, BASE + 50, args.accounts)
        keys = root / "keys"
        node_key = suite.generate_signing_key()
        write_key(keys / "node4.json", suite, node_key)
        joiner_dir = root / "node4"
        init_data_dir(root / "genesis.toml", joiner_dir, keys / "node4.json", "127.0.0.1",
                      BASE + 54, listen=f"127.0.0.1:{BASE + 4}")
        secret, public, pop = new_consensus_key(suite)
        write_consensus_key(joiner_dir / CONSENSUS_KEY_FILE, suite, secret, public, pop)
        nodes = [NodeProcess(d) for d in dirs]
        wallets = [Wallet(read_key(keys / f"account{j}.json")[1], "xinlian-cluster", suite)
                   for j in range(4)]
        txs = ["0x" + w.transfer(wallets[(i + 1) % 4].address, 1).raw.hex()
               for _ in range(25) for i, w in enumerate(wallets)]
        nodes[0].rpc("xl_submitTransactions", txs)
        _wait(nodes, "committed_txs", 100)
        admins = [Wallet(read_key(keys / f"admin{i}.json")[1], "xinlian-cluster", suite)
                  for i in range(3)]
        proposal = admins[0].system(Propose(AddValidator(Validator(
            "org0", node_key.public_key, public, pop, 1, f"127.0.0.1:{BASE + 4}"))))
        for tx in [proposal, *(a.system(Approve(proposal.hash)) for a in admins[1:])]:
            nodes[0].rpc("xl_submitTransaction", "0x" + tx.raw.hex())
            _committed(nodes[0], tx)
        start = time.perf_counter()
        joiner = NodeProcess(joiner_dir)
        join_s = time.perf_counter() - start
        nodes.append(joiner)
        caught_up = json.loads((joiner_dir / "node.log").read_text().splitlines()[0])
        joiner.stop()
        nodes.pop()
        start = time.perf_counter()
        nodes.append(NodeProcess(joiner_dir))
        restart_s = time.perf_counter() - start
    finally:
        for node in nodes:
            node.stop()
        shutil.rmtree(root, ignore_errors=True)
    common = {"accounts": args.accounts, "state_entries": caught_up["state_entries"],
              "processes": 5}
    emit(BENCH, "join_start_to_ready", join_s, "s", **common)
    emit(BENCH, "restart_start_to_ready", restart_s, "s", peer="same node, state on disk",
         **common)
    emit(BENCH, "catch_up", join_s - restart_s, "s", **common)


if __name__ == "__main__":
    main()
