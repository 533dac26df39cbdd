"""End to end on a real BFT cluster: signed transfers through 4 validator processes.

    python -m benchmarks.consensus_e2e [--suites intl,sm] [--txs N]
    python -m benchmarks.consensus_e2e --suites intl --down     # also with one validator killed

The whole path a client's transaction takes on a consortium chain: `xinlian cluster`-style
data directories, `xinlian node start` processes on loopback, each validator's egress capped
at 100 Mbit/s (`egress_mbit` in node.toml), transfers signed beforehand
by SDK wallets and submitted over JSON-RPC to all validators at once (each validator gets
the transactions of its own wallets, in batches of 1,000, two requests in flight per node),
admission with batch signature checks, dissemination and BFT ordering, then on every
validator the signature checks of the other validators' batches, execution and the
durable commit. Timed from the first submission until node 0's block stream shows the
last transaction committed; every validator must then report the same state root. Then the
commit latency of single transfers sent one after another (submit to receipt, `--probes` of
them) on the idle chain.

`--down` repeats the run with validator 3 killed (SIGKILL) `--settle` seconds before the
load, its wallets' transfers going to the others, and prints throughput and latency against
all up (`*_ratio`).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from statistics import median

from prometheus_client.parser import text_string_to_metric_families

from benchmarks.report import emit
from xinlian.cli.cluster import NodeProcess, free_ports, prepare
from xinlian.crypto.suites import get_suite
from xinlian.node.keyfile import read_key
from xinlian.sdk.aio import AsyncClient
from xinlian.sdk.wallet import SignedTx, Wallet

BENCH = "consensus_e2e"
N = 4
CHUNK = 1000
IN_FLIGHT = 2
EGRESS_MBIT = 100


async def _submit(url: str, txs: Sequence[SignedTx], sent: dict[bytes, float]) -> None:
    """Submit `txs` in chunks, noting when each chunk's request left (`sent`)."""
    gate = asyncio.Semaphore(IN_FLIGHT)
    async with AsyncClient(url) as client:
        async def send(chunk: Sequence[SignedTx]) -> None:
            async with gate:
                now = time.perf_counter()
                sent.update((tx.hash, now) for tx in chunk)
                views = await client.submit_many(chunk)
                refused = [v for v in views if not v.accepted]
                if refused:
                    raise SystemExit(f"{len(refused)} refused, first: {refused[0]}")
        await asyncio.gather(*(send(txs[i:i + CHUNK]) for i in range(0, len(txs), CHUNK)))


async def _run(nodes: list[NodeProcess], wallets: list[Wallet], rounds: int
               ) -> tuple[float, int, int, list[float]]:
    """(seconds, transactions, blocks) from the first submission to the last commit, and
    each transaction's submit-to-commit latency (ms) under that load (its chunk's request
    leaving the client until node 0's block stream shows it)."""
    per_node: list[list[SignedTx]] = [[] for _ in nodes]
    for r in range(rounds):
        for i, wallet in enumerate(wallets):
            to = wallets[(i + 1 + r) % len(wallets)].address
            per_node[i % len(nodes)].append(wallet.transfer(to, 1))
    total = sum(len(txs) for txs in per_node)
    async with AsyncClient(nodes[0].base_url) as watcher:
        blocks = await watcher.subscribe_blocks()
        sent: dict[bytes, float] = {}
        latencies: list[float] = []
        start = time.perf_counter()
        submitting = asyncio.gather(*(_submit(node.base_url, txs, sent)
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
        await blocks.close()
    return elapsed, total, count, latencies


def _agreed_roots(nodes: list[NodeProcess], total: int) -> set[str]:
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


def run(suite_name: str, txs: int, accounts: int, probes: int, down: bool = False,
        settle: float = 0.0, bench: str = BENCH, metric: str = "end_to_end"
        ) -> tuple[float, float, dict[str, float]]:
    """One run (with validator 3 killed `settle` seconds before the load when `down`);
    emits and returns (tx/s, p50 commit latency in ms, CPU microseconds per transaction
    per stage of one validator). Also emits the submit-to-commit
    latency under the load (p50, p99) and the CPU each stage costs a validator per
    committed transaction, from the validators' metrics (the load's and the probes')."""
    suite = get_suite(suite_name)
    with tempfile.TemporaryDirectory(prefix="xl-e2e-bench-") as tmp:
        root = Path(tmp)
        data = prepare(root, N, suite, 0, 0, accounts, ports=free_ports(N))
        metrics_ports = free_ports(N)
        for d, port in zip(data, metrics_ports, strict=True):
            with open(d / "node.toml", "a", encoding="utf-8") as config:
                config.write(f"egress_mbit = {EGRESS_MBIT}\n"
                             f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
        wallets = [Wallet(read_key(root / "keys" / f"account{j}.json")[1], "xinlian-cluster",
                          suite) for j in range(accounts)]
        nodes = [NodeProcess(d) for d in data]
        try:
            if down:
                nodes[-1].kill()
                time.sleep(settle)  # the crash happens well before the load, as in a cluster
            live = nodes[:-1] if down else nodes
            before = _stage_cpu(live, metrics_ports)
            elapsed, total, blocks, loaded = asyncio.run(
                _run(live, wallets, max(1, txs // accounts)))
            roots = _agreed_roots(live, total)
            after = _stage_cpu(live, metrics_ports)
            latencies = asyncio.run(_probe(live[0].base_url, wallets[0], wallets[1].address,
                                           probes))
        finally:
            for node in nodes:
                node.stop()
    if len(roots) != 1:
        raise SystemExit("validators disagree on the state root")
    tags = {"suite": suite_name, "n": N, "cores": 2, "egress_mbit_s": EGRESS_MBIT}
    if down:
        tags.update(down=1, settle_s=settle)
    name = f"{metric}_one_down" if down else metric
    loaded.sort()
    emit(bench, name, total / elapsed, "tx/s", **tags, txs=total, blocks=blocks,
         seconds=round(elapsed, 2), p50_ms=round(median(loaded), 1),
         p99_ms=round(loaded[int(len(loaded) * 0.99) - 1], 1),
         note="submit-to-commit latency of every transaction under the load")
    emit(bench, f"{name}_commit_p50", median(latencies), "ms", **tags, probes=probes,
         note="single transfers on the idle chain, submit to receipt")
    per_tx = {stage: (after[stage] - before.get(stage, 0.0)) / total / len(live) * 1e6
              for stage in after}
    for stage, us in sorted(per_tx.items()):
        emit(bench, f"{name}_cpu_per_tx", us, "us", **tags, stage=stage,
             note="CPU one validator spends per committed transaction in this stage "
                  "(process: the node process in all, without the verification workers)")
    return total / elapsed, median(latencies), per_tx


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.consensus_e2e")
    parser.add_argument("--suites", default="intl,sm")
    parser.add_argument("--txs", type=int, default=20_000)
    parser.add_argument("--accounts", type=int, default=400)
    parser.add_argument("--probes", type=int, default=20, help="single transfers timed")
    parser.add_argument("--down", action="store_true", help="also run with one validator killed")
    parser.add_argument("--settle", type=float, default=15.0,
                        help="with --down: seconds between the kill and the load")
    args = parser.parse_args(argv)
    for suite_name in args.suites.split(","):
        up_rate, up_p50, _ = run(suite_name, args.txs, args.accounts, args.probes)
        if args.down:
            rate, p50, _ = run(suite_name, args.txs, args.accounts, args.probes, True, args.settle)
            tags = {"suite": suite_name, "n": N, "down": 1, "cores": 2}
            emit(BENCH, "end_to_end_one_down_ratio", rate / up_rate, "ratio", **tags,
                 target=">= 0.7")
            emit(BENCH, "end_to_end_one_down_p50_ratio", p50 / up_p50, "ratio", **tags,
                 target="< 2")


if __name__ == "__main__":
    main()
