"""The consensus performance model against the simulator and a real cluster: predicted vs
measured, and the error.

    python -m benchmarks.consensus_model          # a few minutes
    python -m benchmarks.consensus_model --quick  # n = 4 and 16 only
    python -m benchmarks.consensus_model --cluster-only

The model (xinlian.testing.consensus.model) predicts throughput and submit-to-commit latency from
n, batch interval, transaction size, NIC bandwidth, round-trip time and the crypto costs
measured on this machine; the simulator runs the real cores with those same costs charged
as CPU time. Scenarios cover light load, load near the NIC's capacity, an overloaded NIC
(throughput capped by bandwidth), a faster network, and larger committees.

Against the real cluster (benchmarks.consensus_cluster: 4 processes on this machine's 2
cores, 100 Mbit/s egress each, loopback) the model is given what the simulator leaves
out: each node has half a core (`cores` = 2/4), and real processes pay for handling each
message and for every byte through the encrypted channel, both measured here first
(`msg_us` from a burst of small messages between two transports, `wire_bytes` from
sealing and opening 64 KiB records).
"""

from __future__ import annotations

import argparse
import asyncio
import json

from benchmarks import consensus_cluster, network
from benchmarks.consensus_sim import MBIT_100, TX_SIZE, batch_interval, measure_costs, simulate
from benchmarks.report import best_of, emit, percentile
from xinlian.consensus.core import Config
from xinlian.crypto.suites import get_suite
from xinlian.network.channel import Channel
from xinlian.testing.consensus.model import Params, predict

BENCH = "consensus_model"
SCENARIOS = [  # (n, offered tx/s, bandwidth bytes/s, one-way ms)
    (4, 10_000, MBIT_100, 25),
    (4, 50_000, MBIT_100, 25),
    (4, 90_000, MBIT_100, 25),
    (16, 50_000, MBIT_100, 25),
    (16, 30_000, 10 * MBIT_100, 5),
    (64, 40_000, MBIT_100, 25),
]


CLUSTER = [20_000, 40_000, 60_000]  # offered tx/s on the 4-process cluster
LOOPBACK_ONE_WAY_MS = 0.05


def message_cost_us(count: int = 1000) -> float:
    """The CPU one side spends per message over the real transport when messages come one at
    a time, as votes and acks do: the median ping-pong between two transports in this
    process is two messages, each sent by one side and received by the other."""
    samples = asyncio.run(network.round_trip_samples(get_suite("intl"), count))
    return samples[len(samples) // 2] / 4 * 1e6


def wire_cost_us_per_byte() -> float:
    """Sealing and opening one 64 KiB record, per byte."""
    suite = get_suite("intl")
    key = bytes(32)
    tx, rx = Channel(suite.aead, key, key), Channel(suite.aead, key, key)
    record = bytes(64 * 1024)
    return best_of(20, lambda: rx.open(tx.seal(record))) * 1e6 / len(record)


def _compare(metric: str, predicted: float, measured: float, unit: str, against: str,
             where: dict[str, object]) -> None:
    error = (predicted - measured) / measured * 100 if measured else float("nan")
    emit(BENCH, f"{metric}_predicted", predicted, unit, **where)
    emit(BENCH, f"{metric}_{against}", measured, unit, **where)
    emit(BENCH, f"{metric}_error", error, "%", against=against, **where)


def against_simulator(costs: dict[str, float], quick: bool) -> None:
    for n, offered, bandwidth, one_way in [s for s in SCENARIOS if not quick or s[0] <= 16]:
        params = Params(n, TX_SIZE, offered, batch_interval(n), bandwidth, one_way)
        p = predict(params, costs)
        r = simulate(n, costs, offered, 3.0, bandwidth=bandwidth, one_way_ms=one_way)
        where = {"n": n, "offered_tx_s": offered, "mbit_s": round(bandwidth * 8 / 1e6),
                 "rtt_ms": 2 * one_way, "bottleneck": p.bottleneck}
        _compare("throughput", p.throughput_tx_per_s, r["throughput"], "tx/s", "simulated",
                 where)
        if p.latency_ms != float("inf"):  # saturated: latency grows with the run's length
            _compare("latency_p50", p.latency_ms, r["p50"], "ms", "simulated", where)


def against_cluster(costs: dict[str, float], seconds: float) -> None:
    costs = dict(costs, msg_us=message_cost_us(), wire_bytes=wire_cost_us_per_byte())
    emit(BENCH, "cost_msg_us", costs["msg_us"], "us", note="per message, one side")
    emit(BENCH, "cost_wire_bytes", costs["wire_bytes"], "us/byte", note="seal + open")
    delay = Config().batch_delay_ms
    for offered in CLUSTER:
        p = predict(Params(4, TX_SIZE, offered, delay, MBIT_100, LOOPBACK_ONE_WAY_MS,
                           cores=2 / 4), costs)
        spec, reports = consensus_cluster.run_cluster(4, "intl", offered, seconds, 3.0, 100.0,
                                                      delay)
        m = consensus_cluster.measure(spec, reports)
        where = {"n": 4, "offered_tx_s": offered, "mbit_s": 100, "cluster": "4 processes",
                 "cores": 2, "bottleneck": p.bottleneck, "cpu_load": round(p.cpu_load, 2)}
        _compare("throughput", p.throughput_tx_per_s, m.ordered_tx_s, "tx/s", "cluster", where)
        if p.latency_ms != float("inf") and m.latencies_ms:
            _compare("latency_p50", p.latency_ms, percentile(m.latencies_ms, 50), "ms",
                     "cluster", where)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.consensus_model")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--cluster-only", action="store_true")
    parser.add_argument("--seconds", type=float, default=10.0, help="per cluster run")
    parser.add_argument("--costs", type=json.loads, default={},
                        help="JSON of µs costs overriding the measured ones")
    args = parser.parse_args(argv)
    costs = {**measure_costs(), **args.costs}
    if not args.cluster_only:
        against_simulator(costs, args.quick)
    against_cluster(costs, args.seconds)


if __name__ == "__main__":
    main()
