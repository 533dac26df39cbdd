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
from collections.abc import Sequence
from pathlib import Path
from statistics import median

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


async def _submit(url: str, txs: Sequence[SignedTx]) -> None:
    gate = asyncio.Semaphore(IN_FLIGHT)
    async with AsyncClient(url) as client:
        async def send(chunk: Sequence[SignedTx]) -> None:
            async with gate:
                views = await client.submit_many(chunk)
                refused = [v for v in views if not v.accepted]
                if refused:
                    raise SystemExit(f"{len(refused)} refused, first: {refused[0]}")
        await asyncio.gather(*(send(txs[i:i + CHUNK]) for i in range(0, len(txs), CHUNK)))


async def _run(nodes: list[NodeProcess], wallets: list[Wallet], rounds: int
               ) -> tuple[float, int, int]:
    """(seconds, transactions, blocks) from the first submission to the last commit."""
    per_node: list[list[SignedTx]] = [[] for _ in nodes]
    for r in range(rounds):
        for i, wallet in enumerate(wallets):
            to = wallets[(i + 1 + r) % len(wallets)].address
            per_node[i % len(nodes)].append(wallet.transfer(to, 1))
    total = sum(len(txs) for txs in per_node)
    async with AsyncClient(nodes[0].base_url) as watcher:
        blocks = await watcher.subscribe_blocks()
        start = time.perf_counter()
        submitting = asyncio.gather(*(_submit(node.base_url, txs)
                                      for node, txs in zip(nodes, per_node, strict=True)))
        committed, count = 0, 0
        async for block in blocks:
            committed += block.header.tx_count
            count += 1
            if committed >= total:
                break
        elapsed = time.perf_counter() - start
        await submitting
        await blocks.close()
    return elapsed, total, count


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


def run(suite_name: str, txs: int, accounts: int, probes: int, down: bool = False,
        settle: float = 0.0) -> tuple[float, float]:
    """One run (with validator 3 killed `settle` seconds before the load when `down`);
    emits and returns (tx/s, p50 commit latency in ms)."""
    suite = get_suite(suite_name)
    with tempfile.TemporaryDirectory(prefix="xl-e2e-bench-") as tmp:
        root = Path(tmp)
        data = prepare(root, N, suite, 0, 0, accounts, ports=free_ports(N))
        for d in data:
            with open(d / "node.toml", "a", encoding="utf-8") as config:
                config.write(f"egress_mbit = {EGRESS_MBIT}\n")
        wallets = [Wallet(read_key(root / "keys" / f"account{j}.json")[1], "xinlian-cluster",
                          suite) for j in range(accounts)]
        nodes = [NodeProcess(d) for d in data]
        try:
            if down:
                nodes[-1].kill()
                time.sleep(settle)  # the crash happens well before the load, as in a cluster
            live = nodes[:-1] if down else nodes
            elapsed, total, blocks = asyncio.run(_run(live, wallets, max(1, txs // accounts)))
            roots = _agreed_roots(live, total)
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
    name = "end_to_end_one_down" if down else "end_to_end"
    emit(BENCH, name, total / elapsed, "tx/s", **tags, txs=total, blocks=blocks,
         seconds=round(elapsed, 2))
    emit(BENCH, f"{name}_commit_p50", median(latencies), "ms", **tags, probes=probes,
         note="single transfers on the idle chain, submit to receipt")
    return total / elapsed, median(latencies)


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
        up_rate, up_p50 = run(suite_name, args.txs, args.accounts, args.probes)
        if args.down:
            rate, p50 = run(suite_name, args.txs, args.accounts, args.probes, True, args.settle)
            tags = {"suite": suite_name, "n": N, "down": 1, "cores": 2}
            emit(BENCH, "end_to_end_one_down_ratio", rate / up_rate, "ratio", **tags,
                 target=">= 0.7")
            emit(BENCH, "end_to_end_one_down_p50_ratio", p50 / up_p50, "ratio", **tags,
                 target="< 2")


if __name__ == "__main__":
    main()
