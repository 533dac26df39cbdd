"""Relay at scale: real relay cores on the scale simulator, global latencies, 40 Mbit/s.

Run: `python -m benchmarks.gossip` (5,000 and 10,000 nodes; `--quick`: 500 nodes;
`--nodes 5000` for one size, `--load-ms 3000` for a shorter load). What is simulated is said in
`xinlian.testing.relay_scenario` and docs/network.md, "Relay at scale": 10,000 transfers
of 250 bytes per second carried in bundles of 100 (one relay transaction per bundle,
charged at its full size on the wire), a block a second, 21 measured regions on six
continents. The figures are simulated seconds; `cpu_s` is this process's CPU time.
`--attacks` (with `--nodes`, default 1,000) and `--codec`: the defences under attack and
payload compression, see `benchmarks.gossip_attacks`.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace

from benchmarks import gossip_attacks
from benchmarks.report import emit
from xinlian.testing.relay_scenario import Scenario, run

BENCH = "gossip"


def main() -> None:
    if "--codec" in sys.argv:
        gossip_attacks.codec()
        return
    if "--attacks" in sys.argv:
        nodes = int(sys.argv[sys.argv.index("--nodes") + 1]) if "--nodes" in sys.argv else 1000
        gossip_attacks.attacks(nodes)
        return
    if "--nodes" in sys.argv:
        sizes = [int(sys.argv[sys.argv.index("--nodes") + 1])]
    else:
        sizes = [500] if "--quick" in sys.argv else [5_000, 10_000]
    for nodes in sizes:
        scenario = Scenario(nodes=nodes)
        if "--load-ms" in sys.argv:
            ms = int(sys.argv[sys.argv.index("--load-ms") + 1])
            scenario = replace(scenario, load_ms=ms, drain_ms=min(4_000, ms))
        cpu = time.process_time()
        r = run(scenario)
        cpu = time.process_time() - cpu
        common = {"nodes": nodes, "load_s": scenario.load_ms / 1000,
                  "loadavg": os.getloadavg()[0], "cpu_s": round(cpu, 1)}
        emit(BENCH, "propagation_p95_s", max(r.tx_p95_s, r.block_p95_s), "s",
             tx_p95_s=r.tx_p95_s, block_p95_s=r.block_p95_s, **common)
        emit(BENCH, "redundancy_pct", r.redundancy_pct, "%",
             overhead_pct=round(r.overhead_pct, 3), **common)
        emit(BENCH, "per_node_mbit", r.per_node_mbit_mean, "Mbit/s",
             max_mbit=round(r.per_node_mbit_max, 3), **common)
        emit(BENCH, "coverage", min(r.tx_full_coverage, r.block_full_coverage), "fraction",
             items=r.items, blocks=r.blocks, events=r.events, retries=r.retries,
             collisions=r.collisions, id_bytes_per_bundle_per_node=round(
                 r.id_bytes_per_bundle, 1), dropped=r.dropped, **common)


if __name__ == "__main__":
    main()
