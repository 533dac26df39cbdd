"""The consensus performance model against the simulator: predicted vs simulated, and the error.

    python -m benchmarks.consensus_model          # a few minutes
    python -m benchmarks.consensus_model --quick  # n = 4 and 16 only

The model (xinlian.consensus.model) predicts throughput and submit-to-commit latency from
n, batch interval, transaction size, NIC bandwidth, round-trip time and the crypto costs
measured on this machine; the simulator runs the real cores with those same costs charged
as CPU time. Scenarios cover light load, load near the NIC's capacity, an overloaded NIC
(throughput capped by bandwidth), a faster network, and larger committees.
"""

from __future__ import annotations

import argparse
import json

from benchmarks.consensus_sim import MBIT_100, TX_SIZE, batch_interval, measure_costs, simulate
from benchmarks.report import emit
from xinlian.consensus.model import Params, predict

BENCH = "consensus_model"
SCENARIOS = [  # (n, offered tx/s, bandwidth bytes/s, one-way ms)
    (4, 10_000, MBIT_100, 25),
    (4, 50_000, MBIT_100, 25),
    (4, 90_000, MBIT_100, 25),
    (16, 50_000, MBIT_100, 25),
    (16, 30_000, 10 * MBIT_100, 5),
    (64, 40_000, MBIT_100, 25),
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.consensus_model")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--costs", type=json.loads, default={},
                        help="JSON of µs costs overriding the measured ones")
    args = parser.parse_args(argv)
    costs = {**measure_costs(), **args.costs}
    scenarios = [s for s in SCENARIOS if not args.quick or s[0] <= 16]
    for n, offered, bandwidth, one_way in scenarios:
        params = Params(n, TX_SIZE, offered, batch_interval(n), bandwidth, one_way)
        p = predict(params, costs)
        r = simulate(n, costs, offered, 3.0, bandwidth=bandwidth, one_way_ms=one_way)
        where = {"n": n, "offered_tx_s": offered, "mbit_s": round(bandwidth * 8 / 1e6),
                 "rtt_ms": 2 * one_way, "bottleneck": p.bottleneck}
        pairs = [("throughput", p.throughput_tx_per_s, r["throughput"], "tx/s")]
        if p.latency_ms != float("inf"):  # saturated: latency grows with the run's length
            pairs.append(("latency_p50", p.latency_ms, r["p50"], "ms"))
        for metric, predicted, simulated, unit in pairs:
            error = (predicted - simulated) / simulated * 100 if simulated else float("nan")
            emit(BENCH, f"{metric}_predicted", predicted, unit, **where)
            emit(BENCH, f"{metric}_simulated", simulated, unit, **where)
            emit(BENCH, f"{metric}_error", error, "%", **where)


if __name__ == "__main__":
    main()
