"""End to end on a real BFT cluster: signed transfers through 4 validator processes.

    python -m benchmarks.consensus_e2e [--suites intl,sm] [--txs N] [--accounts A] [--rate R]
    python -m benchmarks.consensus_e2e --suites intl --down     # also with one validator killed
    python -m benchmarks.consensus_e2e --suites sm --profile /tmp/prof  # node 0 under cProfile

The whole path a client's transaction takes on a consortium chain: `xinlian cluster`-style
data directories, `xinlian node start` processes on loopback, each validator's egress capped
at 100 Mbit/s (`egress_mbit` in node.toml), transfers signed beforehand
by SDK wallets and submitted over JSON-RPC to all validators (each validator gets the
transactions of its own wallets), admission with batch signature checks, dissemination and
BFT ordering, then on every validator the signature checks of the other validators'
batches, execution and the durable commit. Two loads on the same cluster, one after the
other:

- saturating (`end_to_end`): every transaction submitted at once, in requests of 1,000, two
  in flight per node; timed from the first submission until node 0's block stream shows
  the last transaction committed: the cluster's throughput. Its latencies are mostly
  queueing (the last request waits for all before it).
- open loop at an offered rate (`end_to_end_at_rate`, `--rate`, default the issue's target
  for the suite): each node's share of the rate submitted in requests every 50 ms, on a
  schedule that does not wait for answers; achieved tx/s (committed over the time from the
  first submission to the last commit) and submit-to-commit p50/p99, each transaction timed
  from its request's scheduled time until node 0's block stream (headers checked against
  their certificates, as a client does) shows it.

Every validator must then report the same state root. Then the commit latency of single
transfers sent one after another (submit to receipt, `--probes` of them) on the idle chain.

CPU per committed transaction, for each load: per stage of one validator (`*_cpu_per_tx`,
from the validators' metrics, node/stages.py), and per kind of process
(`*_process_cpu_per_tx`, from /proc, summed over the validators): `node` the validator
processes, `workers` their children (the signature-verification pool), `client` this
process (JSON-RPC requests, the block stream and its certificate checks), `all` their sum,
and `machine` every core's busy time (on a machine others load, more than `all`).

`--down` repeats the run with validator 3 killed (SIGKILL) `--settle` seconds before the
load, its wallets' transfers going to the others, and prints throughput and latency against
all up (`*_ratio`). `--profile DIR` runs validator 0 under cProfile (benchmarks/
profiled_node.py: its event-loop thread, in CPU time) and writes its stats to DIR; the
profiler's overhead slows that node.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import median

from prometheus_client.parser import text_string_to_metric_families

from benchmarks.report import emit
from xinlian.cli.cluster import NodeProcess, free_ports, prepare
from xinlian.crypto.suites import get_suite
from xinlian.node.keyfile import read_key
from xinlian.node.validator import BATCH_DELAY_MS
from xinlian.sdk.aio import AsyncClient
from xinlian.sdk.wallet import SignedTx, Wallet

BENCH = "consensus_e2e"
N = 4
CHUNK = 1000
IN_FLIGHT = 2
EGRESS_MBIT = 100
INTERVAL = 0.05  # open loop: seconds between one node's requests
TARGET_RATE = {"intl": 6000.0, "sm": 3000.0}  # issue 14, item 4
_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Load:
    """One load's outcome: seconds from the first submission to the last commit, the
    transactions and blocks, each transaction's submit-to-commit latency (ms, sorted) and
    CPU seconds per kind of process."""

    seconds: float
    txs: int
    blocks: int
    latencies: list[float]
    cpu: dict[str, float]


# -- CPU per process, from /proc ------------------------------------------------------------

def _pid_cpu(pid: int) -> float:
    """User + system CPU seconds of one live process (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime


def _children(pid: int) -> list[int]:
    """Every descendant of `pid` (the fork server and the verification workers)."""
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as f:
                kids = [int(k) for k in f.read().split()]
        except OSError:
            continue
        for kid in kids:
            out += [kid, *_children(kid)]
    return out


def _machine_busy() -> float:
    """CPU seconds every core spent not idle since boot."""
    with open("/proc/stat", encoding="ascii") as f:
        ticks = [int(t) for t in f.readline().split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / _TICK  # less idle and iowait


def process_cpu(nodes: Sequence[NodeProcess]) -> dict[str, float]:
    node = sum(_pid_cpu(n.pid) for n in nodes)
    workers = sum(_pid_cpu(k) for n in nodes for k in _children(n.pid))
    client = time.process_time()
    return {"node": node, "workers": workers, "client": client,
            "all": node + workers + client, "machine": _machine_busy()}


# -- the loads ------------------------------------------------------------------------------

def _check(views: Sequence[object]) -> None:
    refused = [v for v in views if not getattr(v, "accepted", False)]
    if refused:
        raise SystemExit(f"{len(refused)} refused, first: {refused[0]}")


async def _submit(url: str, txs: Sequence[SignedTx], sent: dict[bytes, float]) -> None:
    """Saturating: all of `txs` in chunks, `IN_FLIGHT` requests at a time, noting when each
    chunk's request left (`sent`)."""
    gate = asyncio.Semaphore(IN_FLIGHT)
    async with AsyncClient(url) as client:
        async def send(chunk: Sequence[SignedTx]) -> None:
            async with gate:
                now = time.perf_counter()
                sent.update((tx.hash, now) for tx in chunk)
                _check(await client.submit_many(chunk))
        await asyncio.gather(*(send(txs[i:i + CHUNK]) for i in range(0, len(txs), CHUNK)))


async def _submit_paced(url: str, txs: Sequence[SignedTx], sent: dict[bytes, float],
                        rate: float, start: float) -> None:
    """Open loop: `txs` at `rate` a second, a request every `INTERVAL` from `start`, each
    sent on its schedule whether or not the earlier ones were answered; a transaction's
    time is its request's scheduled time (a late client does not hide queueing)."""
    size = max(1, round(rate * INTERVAL))
    async with AsyncClient(url) as client:
        async def send(chunk: Sequence[SignedTx]) -> None:
            _check(await client.submit_many(chunk))
        pending = []
        for k, i in enumerate(range(0, len(txs), size)):
            due = start + k * size / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)  # the load's schedule
            chunk = txs[i:i + size]
            sent.update((tx.hash, due) for tx in chunk)
            pending.append(asyncio.create_task(send(chunk)))
        await asyncio.gather(*pending)


def sign_transfers(wallets: Sequence[Wallet], nodes: int, rounds: int) -> list[list[SignedTx]]:
    """`rounds` transfers from every wallet, grouped by the node its wallet submits to."""
    per_node: list[list[SignedTx]] = [[] for _ in range(nodes)]
    for r in range(rounds):
        for i, wallet in enumerate(wallets):
            to = wallets[(i + 1 + r) % len(wallets)].address
            per_node[i % nodes].append(wallet.transfer(to, 1))
    return per_node


async def run_load(nodes: list[NodeProcess], per_node: list[list[SignedTx]], rate: float) -> Load:
    """Submit `per_node` (all at once, or at `rate` tx/s in all when it is not 0) and watch
    node 0's blocks until every transaction committed."""
    total = sum(len(txs) for txs in per_node)
    async with AsyncClient(nodes[0].base_url) as watcher:
        blocks = await watcher.subscribe_blocks()
        sent: dict[bytes, float] = {}
        latencies: list[float] = []
        before = process_cpu(nodes)
        start = time.perf_counter()
        submitting = asyncio.gather(*(
            _submit_paced(node.base_url, txs, sent, rate * len(txs) / total, start) if rate
            else _submit(node.base_url, txs, sent)
            for node, txs in zip(nodes, per_node, strict=True)))
        committed, count = 0, 0
        async for block in blocks:
            now = time.perf_counter()
            latencies += [(now - sent[h]) * 1000 for h in block.tx_hashes if h in sent]
            committed += block.header.tx_count
            count += 1
            if committed >= total:
                break
        elapsed = time.perf_counter() - start
        await submitting
        after = process_cpu(nodes)
        await blocks.close()
    latencies.sort()
    return Load(elapsed, total, count, latencies,
                {kind: after[kind] - before[kind] for kind in after})


def agreed_roots(nodes: list[NodeProcess], total: int) -> set[str]:
    """The state roots once every validator has applied all `total` transactions."""
    deadline = time.monotonic() + 60
    while True:
        statuses = [node.rpc("xl_status") for node in nodes]
        if all(s["committed_txs"] >= total for s in statuses) or time.monotonic() > deadline:
            return {s["state_root"] for s in statuses}
        time.sleep(0.05)  # a benchmark polling other processes, not a test


async def _probe(url: str, wallet: Wallet, to: bytes, count: int) -> list[float]:
    """Commit latency (ms) of single transfers, each sent once the previous one committed."""
    out = []
    async with AsyncClient(url) as client:
        for _ in range(count):
            start = time.perf_counter()
            await client.send(wallet.transfer(to, 1))
            out.append((time.perf_counter() - start) * 1000)
    return out


def _stage_cpu(nodes: list[NodeProcess], ports: list[int]) -> dict[str, float]:
    """CPU seconds per stage (node/stages.py), summed over the validators' metrics."""
    out: dict[str, float] = {}
    for port in ports[:len(nodes)]:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
            text = reply.read().decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "xinlian_stage_cpu_seconds_total":
                    stage = sample.labels["stage"]
                    out[stage] = out.get(stage, 0.0) + sample.value
                elif sample.name == "process_cpu_seconds_total":
                    out["process"] = out.get("process", 0.0) + sample.value
    return out


def _emit_load(bench: str, name: str, load: Load, tags: dict[str, object],
               stages: dict[str, float], validators: int, **extra: object) -> dict[str, float]:
    """The load's tx/s with its latencies, then its CPU per transaction per process kind
    and per stage; returns the per-stage figures (µs, one validator)."""
    lat = load.latencies
    emit(bench, name, load.txs / load.seconds, "tx/s", **tags, **extra, txs=load.txs,
         blocks=load.blocks, seconds=round(load.seconds, 2), p50_ms=round(median(lat), 1),
         p99_ms=round(lat[max(0, int(len(lat) * 0.99) - 1)], 1),
         load_1min=round(os.getloadavg()[0], 2),
         note="submit-to-commit latency of every transaction under the load")
    for kind, seconds in load.cpu.items():
        emit(bench, f"{name}_process_cpu_per_tx", seconds / load.txs * 1e6, "us", **tags,
             kind=kind, note="CPU per committed transaction, summed over the validators "
                             "(node: validator processes, workers: their verification "
                             "processes, client: the load generator and block watcher, "
                             "machine: every core's busy time)")
    per_tx = {stage: seconds / load.txs / validators * 1e6 for stage, seconds in stages.items()}
    for stage, us in sorted(per_tx.items()):
        emit(bench, f"{name}_cpu_per_tx", us, "us", **tags, stage=stage,
             note="CPU one validator spends per committed transaction in this stage "
                  "(process: the node process in all, without the verification workers)")
    return per_tx


def run(suite_name: str, txs: int, accounts: int, probes: int, down: bool = False,
        settle: float = 0.0, bench: str = BENCH, metric: str = "end_to_end",
        rate: float | None = None, profile: Path | None = None,
        batch_delay_ms: int | None = None) -> tuple[float, float, dict[str, float]]:
    """One cluster (validator 3 killed `settle` seconds before the loads when `down`), the
    saturating load, then the open-loop load at `rate` tx/s (None: the suite's target; 0:
    none), then the probes; emits every figure and returns (saturated tx/s, p50 commit
    latency of the probes in ms, CPU microseconds per transaction per stage of one
    validator under the saturating load)."""
    suite = get_suite(suite_name)
    rate = TARGET_RATE.get(suite_name, 0.0) if rate is None else rate
    rounds = max(1, txs // accounts)
    with tempfile.TemporaryDirectory(prefix="xl-e2e-bench-") as tmp:
        root = Path(tmp)
        data = prepare(root, N, suite, 0, 0, accounts, ports=free_ports(N))
        metrics_ports = free_ports(N)
        for d, port in zip(data, metrics_ports, strict=True):
            with open(d / "node.toml", "a", encoding="utf-8") as config:
                config.write(f"egress_mbit = {EGRESS_MBIT}\n"
                             f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
                if batch_delay_ms is not None:
                    config.write(f"[consensus]\nbatch_delay_ms = {batch_delay_ms}\n")
        wallets = [Wallet(read_key(root / "keys" / f"account{j}.json")[1], "xinlian-cluster",
                          suite) for j in range(accounts)]
        program = [sys.executable, "-m", "xinlian.cli.main"]
        nodes = [NodeProcess(d, program=program if i or profile is None else
                             [sys.executable, "-m", "benchmarks.profiled_node",
                              str(profile / f"node0-{suite_name}.prof")])
                 for i, d in enumerate(data)]
        tags: dict[str, object] = {"suite": suite_name, "n": N, "cores": 2,
                                   "egress_mbit_s": EGRESS_MBIT, "accounts": accounts,
                                   "batch_delay_ms": batch_delay_ms or BATCH_DELAY_MS}
        if down:
            tags.update(down=1, settle_s=settle)
        base = f"{metric}_one_down" if down else metric
        try:
            if down:
                nodes[-1].kill()
                time.sleep(settle)  # the crash happens well before the load, as in a cluster
            live = nodes[:-1] if down else nodes
            loads: list[tuple[Load, dict[str, float]]] = []
            for suffix, offered in [("", 0.0)] + ([("_at_rate", rate)] if rate else []):
                per_node = sign_transfers(wallets, len(live), rounds)
                before = _stage_cpu(live, metrics_ports)
                load = asyncio.run(run_load(live, per_node, offered))
                after = _stage_cpu(live, metrics_ports)
                stages = {s: after[s] - before.get(s, 0.0) for s in after}
                loads.append((load, _emit_load(bench, base + suffix, load, tags, stages,
                                               len(live), **({"offered": rate} if offered
                                                             else {}))))
            roots = agreed_roots(live, sum(load.txs for load, _ in loads))
            latencies = asyncio.run(_probe(live[0].base_url, wallets[0], wallets[1].address,
                                           probes))
        finally:
            for node in nodes:
                node.stop()
    if len(roots) != 1:
        raise SystemExit("validators disagree on the state root")
    emit(bench, f"{base}_commit_p50", median(latencies), "ms", **tags, probes=probes,
         note="single transfers on the idle chain, submit to receipt")
    saturated, per_tx = loads[0]
    return saturated.txs / saturated.seconds, median(latencies), per_tx


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.consensus_e2e")
    parser.add_argument("--suites", default="intl,sm")
    parser.add_argument("--txs", type=int, default=60_000, help="transfers in each load")
    parser.add_argument("--accounts", type=int, default=1000,
                        help="funded accounts (enough that no sender exceeds its pool quota)")
    parser.add_argument("--rate", type=float, default=None,
                        help="offered tx/s of the open-loop load (default: the issue's "
                             "target for the suite, intl 6000, sm 3000; 0: no such load)")
    parser.add_argument("--probes", type=int, default=20, help="single transfers timed")
    parser.add_argument("--down", action="store_true", help="also run with one validator killed")
    parser.add_argument("--settle", type=float, default=15.0,
                        help="with --down: seconds between the kill and the load")
    parser.add_argument("--batch-delay-ms", type=int, default=None,
                        help="the validators' [consensus] batch_delay_ms (default: theirs)")
    parser.add_argument("--profile", type=Path, default=None,
                        help="run validator 0 under cProfile, its stats written here")
    args = parser.parse_args(argv)
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    for suite_name in args.suites.split(","):
        up_rate, up_p50, _ = run(suite_name, args.txs, args.accounts, args.probes,
                                 rate=args.rate, profile=args.profile,
                                 batch_delay_ms=args.batch_delay_ms)
        if args.down:
            rate, p50, _ = run(suite_name, args.txs, args.accounts, args.probes, True,
                               args.settle, rate=0.0, batch_delay_ms=args.batch_delay_ms)
            tags = {"suite": suite_name, "n": N, "down": 1, "cores": 2}
            emit(BENCH, "end_to_end_one_down_ratio", rate / up_rate, "ratio", **tags,
                 target=">= 0.7")
            emit(BENCH, "end_to_end_one_down_p50_ratio", p50 / up_p50, "ratio", **tags,
                 target="< 2")


if __name__ == "__main__":
    main()
