"""Fifty `pq` validators as real processes on this machine: commits, and f of them killed.

    python -m benchmarks.consensus_pq_cluster [--n 50] [--suite pq] [--rate 20] [--seconds 60]

Issue 15 item 4's prototype: n validator processes (`xinlian node start`, each voting with
ML-DSA-65 and talking over the hybrid X25519 + ML-KEM-768 channel) on loopback, made small
for one machine: signatures checked in the node's own process (`[verification] workers =
1`), and timing for a committee whose every round costs each member one vote check per
member (`[consensus]` batch 1 s, idle beat 2 s, first round timeout 20 s; docs/pq.md,
"Fifty validators as processes"). Two open loops of signed transfers at `--rate` tx/s
through JSON-RPC to `--entry` validators (the clients' organisations' gateways: every
batch costs each member f+1 signature checks, so on one machine a batch from each of 50
validators would cost more than the two cores have): first with all n up, then with
f = (n - 1) // 3 of them killed (SIGKILL) just before, drawn at random (seeded) from all but
the entry validators. Each transaction is timed from its
scheduled submission until validator 0's block stream (certificates checked, as a client
does) shows it. Afterwards every live validator must report one state root.

Per load: committed tx/s, submit-to-commit p50 and p99, and the validators' CPU (summed
over the processes, per second of the load and per committed transaction); once: the time
the n processes took to start and their mean resident memory. The machine has two cores,
so n processes share them: the figures are for this machine, not for one validator per
host (docs/pq.md gives the model's figure beside them).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from statistics import median

from benchmarks.consensus_e2e import Load, agreed_roots, process_cpu, run_load, sign_transfers
from benchmarks.report import emit
from xinlian.cli.cluster import SHARED_MACHINE_TOML, NodeProcess, free_ports, prepare
from xinlian.crypto.suites import get_suite
from xinlian.node.keyfile import read_key
from xinlian.sdk.wallet import Wallet

BENCH = "consensus_pq_cluster"
STARTERS = 4  # node processes started at once (each blocks until it serves)
LOAD_TIMEOUT_S = 1200.0
SENDER_SHARE = 48  # transfers per account and load, under the pool's 64 per sender


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _p(latencies: Sequence[float], q: float) -> float:
    return latencies[min(len(latencies) - 1, int(q * len(latencies)))]


def _emit(name: str, load: Load, cpu: float, live: Sequence[NodeProcess],
          tags: dict[str, object]) -> None:
    """One load's figures; `cpu`: the CPU seconds every live validator spent during it."""
    n = len(live)
    emit(BENCH, f"{name}_tx_s", load.txs / load.seconds, "tx/s", **tags, live=n,
         txs=load.txs, blocks=load.blocks)
    emit(BENCH, f"{name}_p50", median(load.latencies), "ms", **tags, live=n)
    emit(BENCH, f"{name}_p99", _p(load.latencies, 0.99), "ms", **tags, live=n)
    emit(BENCH, f"{name}_cpu_per_node", cpu / n / load.seconds, "cpu-s/s", **tags,
         live=n, note="validator processes' CPU per second of the load, per validator")
    emit(BENCH, f"{name}_cpu_per_tx", cpu / load.txs * 1000, "cpu-ms/tx", **tags, live=n,
         note="all validators together")
    emit(BENCH, f"{name}_rss_per_node", sum(_rss_mb(p.pid) for p in live) / n, "MiB",
         **tags, live=n, note="after the load")


def run(n: int, suite_name: str, rate: float, seconds: float, accounts: int,
        entry: int) -> None:
    suite = get_suite(suite_name)
    f = (n - 1) // 3
    # each account's transfers of a load fit the pool's per-sender quota even if none commits
    accounts = max(accounts, math.ceil(rate * seconds / SENDER_SHARE))
    tags: dict[str, object] = {"suite": suite_name, "n": n, "f": f, "cores": 2,
                               "offered": rate, "seconds": seconds, "entry": entry}
    with tempfile.TemporaryDirectory(prefix="xl-pq-cluster-") as tmp:
        root = Path(tmp)
        data = prepare(root, n, suite, 0, 0, accounts, ports=free_ports(n),
                       node_toml=SHARED_MACHINE_TOML)
        wallets = [Wallet(read_key(root / "keys" / f"account{j}.json")[1], "xinlian-cluster",
                          suite) for j in range(accounts)]
        start = time.perf_counter()
        with ThreadPoolExecutor(STARTERS) as pool:
            nodes = list(pool.map(NodeProcess, data))
        emit(BENCH, "startup", time.perf_counter() - start, "s", **tags,
             note=f"{n} processes, {STARTERS} started at once")
        try:
            emit(BENCH, "rss_per_node", sum(_rss_mb(p.pid) for p in nodes) / n, "MiB",
                 **tags)
            rounds = max(1, round(rate * seconds / accounts))
            loads = []
            # f validators fail at random (seeded, so runs compare), none of the entry ones
            victims = set(random.Random(n).sample(range(entry, n), f))
            survivors = [node for i, node in enumerate(nodes) if i not in victims]
            for name, live in [("all_up", nodes), ("f_killed", survivors)]:
                for node in nodes:
                    if node not in live:
                        node.kill()
                per_node = sign_transfers(wallets, entry, rounds)
                before = process_cpu(live)["node"]
                load = asyncio.run(asyncio.wait_for(run_load(live[:entry], per_node, rate),
                                                    LOAD_TIMEOUT_S))
                _emit(name, load, process_cpu(live)["node"] - before, live, tags)
                loads.append(load)
            roots = agreed_roots(survivors, sum(load.txs for load in loads))
        finally:
            for node in nodes:
                node.stop()
    if len(roots) != 1:
        raise SystemExit(f"the live validators disagree on the state root: {sorted(roots)}")
    emit(BENCH, "state_roots_agree", 1, "bool", **tags, live=n - f)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--suite", default="pq")
    parser.add_argument("--rate", type=float, default=20.0, help="offered tx/s")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each load")
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--entry", type=int, default=4,
                        help="validators the clients submit to (their organisations' gateways)")
    args = parser.parse_args(argv)
    run(args.n, args.suite, args.rate, args.seconds, args.accounts, args.entry)


if __name__ == "__main__":
    main()
