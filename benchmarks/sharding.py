"""Sharded against unsharded throughput, in simulation with the real consensus cores.

    python -m benchmarks.sharding                          # 512 nodes, 16 and 32 shards
    python -m benchmarks.sharding --nodes 1024 --shards 32 --ratios 0.1
    python -m benchmarks.sharding --quick                  # 64 nodes, 3 shards: it runs

Every committee is real `ConsensusCore`s (BLS12-381 votes and certificates, the real batch
dissemination) in one deterministic simulation (testing/sharding/simnet.py): each node has a
100 Mbit/s NIC both ways, links have 25 ms one-way delay (50 ms round trip), and each core's
crypto is charged as simulated CPU at costs measured at the start (consensus_sim's
`measure_costs`). With N nodes and k shards every committee has c = N // (k + 1) members
and the beacon committee the rest (N - k c). All k shards and the beacon run together.

- unsharded: one committee of all N nodes, offered more than its NIC carries (1.2x), so its
  figure is its maximum;
- one shard-size committee alone (c nodes), at the per-shard load below;
- sharded: every shard offered 80% of a NIC in payload bytes: L(x) = 0.8 NIC / (transfer +
  x claim) new transfers/s, a fraction x cross-shard. A cross-shard transfer is done when the
  destination commits its claim (after the source commit, the beacon's cross-link and the
  relay); throughput counts intra-shard transfers committed and cross-shard ones done in
  the measurement window (the last 60% of the run), at each committee's first member.

Transfers and claims have the real encoded sizes (a signed Ed25519 transfer, a claim with
its header and 64-receipt Merkle path). Ledger execution and the header certification round
are not simulated (docs/sharding.md, "Scale in simulation").
"""

from __future__ import annotations

import argparse
import json
import time

from benchmarks.consensus_sim import MBIT_100, ONE_WAY_MS, batch_interval, measure_costs
from benchmarks.report import emit, percentile
from xinlian.consensus.core import Config
from xinlian.testing.sharding.simnet import ShardedSim, wire_sizes

BENCH = "sharding"
NIC_SHARE = 0.8  # of a NIC's bytes offered to each shard
SATURATE = 1.2  # of a NIC's bytes offered to the unsharded committee


def _config(n: int) -> Config:
    return Config(batch_delay_ms=batch_interval(n), batch_bytes=4 * 1024 * 1024)


def run(costs: dict[str, float], shards: int, size: int, beacon: int, per_shard: float,
        cross: float, seconds: float, seed: int = 1) -> dict[str, float]:
    end = int(seconds * 1000)
    warm = end * 2 // 5
    net = ShardedSim(seed, shards, size, beacon, costs, _config(size), ONE_WAY_MS, MBIT_100)
    net.load(per_shard, cross, 0, end)
    started, cpu = time.perf_counter(), time.process_time()
    net.sim.run_until(end)
    out = {"wall_s": time.perf_counter() - started, "cpu_s": time.process_time() - cpu}
    window = (end - warm) / 1000
    for name, done in (("intra", net.tally.intra), ("cross", net.tally.cross)):
        kept = [(lat, count) for t, lat, count in done if warm <= t < end]
        out[f"{name}_tx_s"] = sum(c for _, c in kept) / window
        samples = [lat for lat, count in kept for _ in range(min(count, 50))]
        out[f"{name}_p50"] = percentile(samples, 50) if samples else float("nan")
        out[f"{name}_p99"] = percentile(samples, 99) if samples else float("nan")
    out["throughput"] = out["intra_tx_s"] + out["cross_tx_s"]
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sharding")
    parser.add_argument("--nodes", type=int, nargs="*", default=[512])
    parser.add_argument("--shards", type=int, nargs="*", default=[16, 32])
    parser.add_argument("--ratios", type=float, nargs="*", default=[0.0, 0.1, 0.3])
    parser.add_argument("--seconds", type=float, default=4.0, help="simulated seconds a run")
    parser.add_argument("--unsharded-seconds", type=float, default=8.0)
    parser.add_argument("--no-unsharded", action="store_true",
                        help="skip the N-node committee (the slowest run)")
    parser.add_argument("--load", type=float, default=NIC_SHARE,
                        help="payload bytes offered to each shard, as a fraction of a NIC "
                             "(default 0.8; above 1 saturates the shards)")
    parser.add_argument("--no-alone", action="store_true",
                        help="skip the shard-size committee run")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--costs", type=json.loads, default={},
                        help="JSON of µs costs overriding the measured ones")
    args = parser.parse_args(argv)
    if args.quick:
        args.nodes, args.shards, args.seconds, args.unsharded_seconds = [64], [3], 3.0, 3.0
    costs = {**measure_costs(), **args.costs}
    for name, us in costs.items():
        emit(BENCH, f"cost_{name}", us, "us", note="charged as simulated CPU time")
    tx, claim, link = wire_sizes()
    emit(BENCH, "transfer_bytes", tx, "bytes")
    emit(BENCH, "claim_bytes", claim, "bytes", note="receipt, header, 64-receipt path")
    emit(BENCH, "certified_header_bytes", link, "bytes")
    nic = MBIT_100
    common = {"nic_mbit_s": 100, "rtt_ms": 2 * ONE_WAY_MS}
    for n in args.nodes:
        unsharded = None
        if not args.no_unsharded:
            offered = SATURATE * nic / tx
            r = run(costs, 1, n, 0, offered, 0.0, args.unsharded_seconds)
            unsharded = r["throughput"]
            emit(BENCH, "unsharded_throughput", unsharded, "tx/s", nodes=n, committee=n,
                 offered_tx_s=round(offered), sim_s=args.unsharded_seconds,
                 p50_ms=r["intra_p50"], p99_ms=r["intra_p99"], wall_s=round(r["wall_s"]),
                 cpu_s=round(r["cpu_s"]), **common)
        for k in args.shards:
            size = n // (k + 1)
            beacon = n - k * size
            alone = None
            if not args.no_alone:
                alone = run(costs, 1, size, 0, args.load * nic / tx, 0.0, args.seconds)
                emit(BENCH, "shard_size_committee_throughput", alone["throughput"], "tx/s",
                     nodes=size, offered_tx_s=round(args.load * nic / tx),
                     sim_s=args.seconds, p50_ms=alone["intra_p50"], p99_ms=alone["intra_p99"],
                     wall_s=round(alone["wall_s"]), cpu_s=round(alone["cpu_s"]), **common)
            for x in args.ratios:
                per_shard = args.load * nic / (tx + x * claim)
                r = run(costs, k, size, beacon, per_shard, x, args.seconds)
                tags = {"nodes": n, "shards": k, "shard_committee": size,
                        "beacon_committee": beacon, "cross_shard": x,
                        "offered_tx_s": round(k * per_shard), "load_nic": args.load,
                        "sim_s": args.seconds,
                        "wall_s": round(r["wall_s"]), "cpu_s": round(r["cpu_s"]), **common}
                emit(BENCH, "sharded_throughput", r["throughput"], "tx/s", **tags)
                emit(BENCH, "intra_latency_p50", r["intra_p50"], "ms", **tags)
                emit(BENCH, "intra_latency_p99", r["intra_p99"], "ms", **tags)
                if x:
                    emit(BENCH, "cross_latency_p50", r["cross_p50"], "ms", **tags)
                    emit(BENCH, "cross_latency_p99", r["cross_p99"], "ms", **tags)
                if alone:
                    emit(BENCH, "speedup_vs_shard_size_committee",
                         r["throughput"] / alone["throughput"], "ratio", **tags)
                if unsharded:
                    emit(BENCH, "speedup", r["throughput"] / unsharded, "ratio", **tags,
                         target=">= 3 at 10% cross-shard")


if __name__ == "__main__":
    main()
