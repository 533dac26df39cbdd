"""Consensus on a real cluster: node processes on loopback, each capped at 100 Mbit/s egress.

    python -m benchmarks.consensus_cluster                   # offered 20k, 40k, 60k, 80k tx/s
    python -m benchmarks.consensus_cluster --offered 60000 --seconds 20
    python -m benchmarks.consensus_cluster --down --offered 20000   # one of four killed

Ordering throughput as the HotStuff and Narwhal papers measure it: each of the n processes
runs the real consensus core (BLS certificates on `intl`) over the real transport
(authenticated AEAD channels, framing, limits) with the node's whole egress paced at
100 Mbit/s (`node_egress`, the transport's test shaper standing in for tbf on loopback),
persisting to LMDB as a node does (consensus state synced, batches in their own unsynced
store). A load generator inside each process submits 200-byte
transactions at a steady rate (1/n of the offered load each); they carry their submission
time, and a node measures submit-to-commit latency on its own transactions when the block
ordering their batch commits. Throughput counts the transactions whose batch digests were
committed in the measurement window (after a warm-up). Transactions are opaque here: no
signature checks, no execution — `benchmarks.consensus_e2e` measures that path.

The processes share this machine's cores, so the figures are for n nodes on 2 cores, not n
machines; each node's CPU use is printed next to the rates.

`--down` measures a crashed validator: after an all-up run, the same load runs twice more
with node 1 killed (SIGKILL) `--kill-after` seconds into the load, the survivors taking its
clients' share, and measured from `--settle` seconds after the kill: once with the leader
election in force (reputation) and once with plain round-robin, for comparison. It prints
throughput and p50 latency of each against all up (`*_ratio`), and how long after the kill
commits stopped stalling (`recovery_s`: the end of the last gap of more than a second between
node 0's commits, up to the end of the measurement).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import itertools
import json
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.report import emit, percentile
from xinlian import codec
from xinlian.consensus.core import Committed, Config, ConsensusCore, Submit
from xinlian.consensus.dissemination import BatchReady
from xinlian.consensus.leader import Reputation
from xinlian.consensus.messages import BatchMsg
from xinlian.crypto.signing import SigningKey
from xinlian.crypto.suites import get_suite
from xinlian.network.membership import Membership, PeerInfo, node_id_of
from xinlian.network.runtime import DEFAULT_DB, NetworkRuntime, StoreView
from xinlian.network.shaper import LinkShape, node_egress
from xinlian.network.transport import Transport
from xinlian.storage.kv import Store
from xinlian.testing.consensus.committees import genesis, local_committee

BENCH = "consensus_cluster"
TX_SIZE = 200
TX_HEAD = struct.Struct(">dIQ")  # submission time (s), author index, sequence number
FILL = bytes(TX_SIZE - TX_HEAD.size)
SAMPLE_EVERY = 20  # latency is read from every 20th transaction of a node's own batches
TICK_S = 0.005


@dataclass(frozen=True)
class Spec:
    n: int
    suite: str
    ports: list[int]
    offered: float  # tx/s for the whole cluster
    start_at: float  # wall-clock time the load starts, the same for every process
    warmup_s: float
    seconds: float  # measured, after the warm-up
    drain_s: float
    mbit: float
    batch_delay_ms: int
    data: str
    profile: str  # where node 0 writes its cProfile stats ("" for none)
    down: int = -1  # the node killed during the run (-1: none)
    kill_at: float = 0.0  # wall-clock time of the kill
    reputation: bool = True  # leader election by reputation, else round-robin


def _node_keys(spec: Spec) -> list[SigningKey]:
    suite = get_suite(spec.suite)
    return [suite.generate_signing_key(hashlib.sha256(b"cluster-bench/%d" % i).digest())
            for i in range(spec.n)]


class Recorder:
    """What one node saw: commit times with their transaction counts, and latency samples."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.commits: list[tuple[float, int, int, str]] = []  # (time, tx, height, block id)
        self.samples: list[tuple[float, float]] = []  # (submitted, committed)

    def deliver(self, value: object) -> None:
        now = time.time()
        if isinstance(value, Committed):
            self.commits.append((now, value.tx_count, value.height, value.block_id.hex()))
        elif isinstance(value, BatchReady):
            batch = codec.decode(value.message, BatchMsg).batch
            if batch.author != self.index:
                return
            payload = batch.payload
            for offset in range(0, len(payload) - TX_SIZE + 1, TX_SIZE * SAMPLE_EVERY):
                submitted = TX_HEAD.unpack_from(payload, offset)[0]
                self.samples.append((submitted, now))


async def _load(runtime: NetworkRuntime, spec: Spec, index: int) -> None:
    """Submit this node's share of the offered load at a steady rate until the end."""
    rate = spec.offered / (spec.n - (spec.down >= 0))  # survivors take the dead's clients
    end = spec.start_at + spec.warmup_s + spec.seconds
    pack = TX_HEAD.pack
    sent = 0
    await asyncio.sleep(max(0.0, spec.start_at - time.time()))
    while (now := time.time()) < end:
        due = int(rate * (now - spec.start_at)) - sent
        if due > 0:
            payload = b"".join(pack(now, index, sent + k) + FILL for k in range(due))
            runtime.input(Submit(payload, due))
            sent += due
        await asyncio.sleep(TICK_S)


async def node_main(spec: Spec, index: int, fd: int) -> dict[str, object]:
    suite = get_suite(spec.suite)
    keys = _node_keys(spec)
    ids = [node_id_of(suite, k.public_key) for k in keys]
    committee, vote_keys = local_committee(
        spec.n, suite=suite.name, seed=b"cluster-bench", nodes=ids)
    store = Store(Path(spec.data) / f"node{index}", sub_dbs=(DEFAULT_DB,))
    batches = Store(Path(spec.data) / f"batches{index}", sub_dbs=(DEFAULT_DB,), durable=False)
    core = ConsensusCore(ids[index], vote_keys[ids[index]], genesis(committee),
                         stored=StoreView((store, batches)),  # old blocks: read back
                         config=Config(batch_delay_ms=spec.batch_delay_ms,
                                       reputation=Reputation(enabled=spec.reputation)))
    membership = Membership(suite, [PeerInfo(k.public_key, "127.0.0.1", port)
                                    for k, port in zip(keys, spec.ports, strict=True)])
    transport = Transport(suite, keys[index], membership,
                          shape_for=node_egress(LinkShape.mbit(spec.mbit)),
                          sock=socket.socket(fileno=fd))
    recorder = Recorder(index)
    runtime = NetworkRuntime(core, transport, store, deliver=recorder.deliver,
                             bulk_store=batches)
    await runtime.start()
    await transport.wait_connected()
    load = asyncio.create_task(_load(runtime, spec, index))
    measure_from = spec.start_at + spec.warmup_s
    await asyncio.sleep(max(0.0, measure_from - time.time()))
    cpu0, bytes0 = time.process_time(), transport.stats["bytes_out"]
    await asyncio.sleep(max(0.0, measure_from + spec.seconds - time.time()))
    cpu = time.process_time() - cpu0
    egress = transport.stats["bytes_out"] - bytes0
    await load
    await asyncio.sleep(spec.drain_s)  # let the last submissions commit
    await runtime.stop()
    store.close()
    batches.close()
    return {"index": index, "commits": recorder.commits, "samples": recorder.samples,
            "cpu_s": cpu, "egress_bytes": egress, "events": runtime.events_handled,
            "metrics": dict(core.metrics)}


def _listener() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


def run_cluster(n: int, suite: str, offered: float, seconds: float, warmup: float,
                mbit: float, batch_delay_ms: int, profile: str = "", down: int = -1,
                kill_after: float = 0.0, reputation: bool = True,
                ) -> tuple[Spec, list[dict[str, object]]]:
    """Start n node processes, let them run the load (killing node `down` `kill_after`
    seconds into it), and return what each survivor reported."""
    socks = [_listener() for _ in range(n)]
    with tempfile.TemporaryDirectory(prefix="xl-cluster-bench-") as data:
        start_at = time.time() + 4.0 + 0.5 * n
        spec = Spec(n, suite, [s.getsockname()[1] for s in socks], offered, start_at, warmup,
                    seconds, 3.0, mbit, batch_delay_ms, data, profile, down,
                    start_at + kill_after, reputation)
        procs = [subprocess.Popen(
            [sys.executable, "-m", "benchmarks.consensus_cluster", "--node", str(i),
             "--fd", str(s.fileno()), "--spec", json.dumps(asdict(spec))],
            stdout=subprocess.PIPE, pass_fds=[s.fileno()]) for i, s in enumerate(socks)]
        for s in socks:
            s.close()
        if down >= 0:
            time.sleep(max(0.0, spec.kill_at - time.time()))
            procs[down].kill()
        outputs = [p.communicate(timeout=spec.start_at - time.time() + warmup + seconds + 120)
                   for p in procs]
        live = [(p, out) for i, (p, (out, _)) in enumerate(zip(procs, outputs, strict=True))
                if i != down]
        if any(p.returncode for p, _ in live):
            raise SystemExit(f"a node process failed: {[p.returncode for p in procs]}")
    return spec, [json.loads(out) for _, out in live]


@dataclass(frozen=True)
class Measured:
    ordered_tx_s: float  # at node 0, in the measurement window
    blocks_per_s: float
    latencies_ms: list[float]  # of transactions submitted in the window, every node's


def measure(spec: Spec, reports: list[dict[str, object]]) -> Measured:
    """The run's figures, once every node is seen to commit the same block at each height."""
    heights: dict[int, str] = {}
    for r in reports:
        for _, _, height, block in r["commits"]:  # type: ignore[attr-defined]
            if heights.setdefault(height, block) != block:
                raise SystemExit(f"safety violated: two blocks committed at height {height}")
    start, seconds = spec.start_at + spec.warmup_s, spec.seconds
    window = [tx for t, tx, _, _ in reports[0]["commits"]  # type: ignore[attr-defined]
              if start <= t < start + seconds]
    latencies = [(c - s) * 1000 for r in reports for s, c in r["samples"]  # type: ignore[attr-defined]
                 if start <= s < start + seconds]
    return Measured(sum(window) / seconds, len(window) / seconds, latencies)


def report(spec: Spec, reports: list[dict[str, object]], spec_extra: dict[str, object]) -> None:
    seconds = spec.seconds
    m = measure(spec, reports)
    latencies = m.latencies_ms
    emit(BENCH, "ordering_throughput", m.ordered_tx_s, "tx/s", **spec_extra,
         blocks_per_s=round(m.blocks_per_s, 1))
    emit(BENCH, "latency_p50", percentile(latencies, 50) if latencies else float("nan"), "ms",
         **spec_extra, samples=len(latencies))
    emit(BENCH, "latency_p99", percentile(latencies, 99) if latencies else float("nan"), "ms",
         **spec_extra)
    cpu = [round(float(r["cpu_s"]) / seconds, 2) for r in reports]  # type: ignore[arg-type]
    egress = [round(float(r["egress_bytes"]) / seconds * 8 / 1e6, 1)  # type: ignore[arg-type]
              for r in reports]
    emit(BENCH, "node_cpu", sum(cpu) / len(cpu), "cores", **spec_extra, per_node=cpu)
    emit(BENCH, "node_egress", sum(egress) / len(egress), "Mbit/s", **spec_extra,
         per_node=egress)


def recovery_s(spec: Spec, reports: list[dict[str, object]]) -> float:
    """Seconds from the kill to the end of the last stall (> 1 s without a commit at node 0)
    up to the end of the measurement (stalls that never stop show as no recovery)."""
    end = spec.start_at + spec.warmup_s + spec.seconds
    times = [spec.kill_at] + [t for t, _, _, _ in reports[0]["commits"]  # type: ignore[attr-defined]
                              if spec.kill_at <= t < end]
    ends = [b for a, b in itertools.pairwise(times) if b - a > 1.0]
    return max(ends, default=spec.kill_at) - spec.kill_at


def one_down(args: argparse.Namespace, offered: float, extra: dict[str, object]) -> None:
    """All up, then node 1 killed with reputation and with round-robin: the ratios."""
    def run(down: int, reputation: bool) -> tuple[Spec, list[dict[str, object]], Measured]:
        warmup = args.kill_after + args.settle if down >= 0 else args.warmup
        spec, reports = run_cluster(args.n, args.suite, offered, args.seconds, warmup,
                                    args.mbit, args.batch_delay_ms, down=down,
                                    kill_after=args.kill_after, reputation=reputation)
        return spec, reports, measure(spec, reports)
    _, _, up = run(-1, True)
    up_p50 = percentile(up.latencies_ms, 50)
    emit(BENCH, "all_up_throughput", up.ordered_tx_s, "tx/s", **extra)
    emit(BENCH, "all_up_latency_p50", up_p50, "ms", **extra)
    for election, reputation in (("reputation", True), ("round-robin", False)):
        spec, reports, m = run(1, reputation)
        p50 = percentile(m.latencies_ms, 50) if m.latencies_ms else float("nan")
        tags = {**extra, "election": election, "down": 1, "kill_after_s": args.kill_after,
                "settle_s": args.settle}
        emit(BENCH, "one_down_throughput", m.ordered_tx_s, "tx/s", **tags)
        emit(BENCH, "one_down_latency_p50", p50, "ms", **tags)
        emit(BENCH, "one_down_throughput_ratio", m.ordered_tx_s / up.ordered_tx_s, "ratio",
             **tags, target=">= 0.7")
        emit(BENCH, "one_down_p50_ratio", p50 / up_p50, "ratio", **tags, target="< 2")
        emit(BENCH, "one_down_recovery_s", recovery_s(spec, reports), "s", **tags)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.consensus_cluster")
    parser.add_argument("-n", type=int, default=4)
    parser.add_argument("--suite", default="intl")
    parser.add_argument("--offered", type=float, nargs="*",
                        default=[20_000, 40_000, 60_000, 80_000], help="offered tx/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured, after warm-up")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--mbit", type=float, default=100.0, help="egress cap per node")
    parser.add_argument("--batch-delay-ms", type=int, default=Config().batch_delay_ms)
    parser.add_argument("--profile", default="", help="write node 0's cProfile stats here")
    parser.add_argument("--down", action="store_true",
                        help="also kill one validator: throughput and p50 against all up")
    parser.add_argument("--kill-after", type=float, default=2.0,
                        help="with --down: seconds into the load the validator is killed")
    parser.add_argument("--settle", type=float, default=10.0,
                        help="with --down: seconds after the kill before the measurement")
    parser.add_argument("--node", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.node is not None:  # one node process of a run
        spec = Spec(**json.loads(args.spec))
        profiler = cProfile.Profile() if spec.profile and args.node == 0 else None
        if profiler is not None:
            profiler.enable()
        result = asyncio.run(node_main(spec, args.node, args.fd))
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(spec.profile)
        print(json.dumps(result))
        return
    for offered in args.offered:
        extra: dict[str, object] = {
            "n": args.n, "suite": args.suite, "offered_tx_s": offered, "tx_bytes": TX_SIZE,
            "egress_mbit_s": args.mbit, "batch_delay_ms": args.batch_delay_ms,
            "seconds": args.seconds, "cores": 2}
        if args.down:
            one_down(args, offered, extra)
            continue
        spec, reports = run_cluster(args.n, args.suite, offered, args.seconds, args.warmup,
                                    args.mbit, args.batch_delay_ms, args.profile)
        report(spec, reports, extra)

if __name__ == "__main__":
    main()
