"""The relay's defences under attack, in simulation, and its payload compression.

Run: `python -m benchmarks.gossip --attacks [--nodes N]` and `--codec` (what
`make bench-gossip-attacks` runs). Attack runs use the scenario of benchmarks.gossip
(40 Mbit/s, 21 measured regions, bundles of 100 transfers) with a fifth of its load
(2,000 transfers/s), and report for honest nodes only:

- dishonest relaying: 20 % of nodes drop, delay, tamper with or replay (5 % each), with
  peer scoring on and off; `attacker_graylisted_pct` by behaviour;
- flood: 10 % of nodes re-request bodies from every peer every heartbeat, with the
  defences (scoring, per-peer budgets, repeat refusal) on and off;
- eclipse: the attacker's success probability against the fraction of addresses it
  controls, for a naive table, the address manager, and the address manager with anchors.

`--codec` measures zlib (and zstd, if the `zstandard` package is installed) against plain
frames on real relay messages: bundles of 100 signed transfers per suite, single
transfers, announcements and compact blocks. Speeds are CPU time of this process.
"""

from __future__ import annotations

import random
import time
import zlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from benchmarks.core import signed_transfers
from benchmarks.report import emit
from xinlian.network.relay.core import RelayConfig
from xinlian.network.relay.messages import Compact, IHave, Txs, encode_message
from xinlian.testing.eclipse import SCHEMES, EclipseScenario, success_probability
from xinlian.testing.relay_scenario import Result, Scenario, run

BENCH = "gossip"
DISHONEST = tuple((b, 0.05) for b in ("drop", "delay", "tamper", "replay"))
UNDEFENDED = RelayConfig(scoring=None, peer_msgs_per_s=None, serve_bytes_per_s=None)


def _emit_run(attack: str, defended: bool, r: Result, cpu: float) -> None:
    common: dict[str, Any] = {"attack": attack, "defended": defended, "nodes": r.nodes,
                              "honest": r.honest, "cpu_s": round(cpu, 1)}
    emit(BENCH, "propagation_p95_s", max(r.tx_p95_s, r.block_p95_s), "s",
         tx_p95_s=r.tx_p95_s, block_p95_s=r.block_p95_s, **common)
    emit(BENCH, "coverage", min(r.tx_full_coverage, r.block_full_coverage), "fraction",
         **common)
    emit(BENCH, "per_node_mbit", r.per_node_mbit_mean, "Mbit/s",
         max_mbit=round(r.per_node_mbit_max, 3), **common)
    emit(BENCH, "attacker_mesh_pct", r.attacker_mesh_pct, "%", **common)
    for behaviour, pct in r.graylisted_pct.items():
        emit(BENCH, "attacker_graylisted_pct", pct, "%", behaviour=behaviour,
             negative_pct=round(r.negative_pct[behaviour], 1), **common)


def attacks(nodes: int) -> None:
    base = Scenario(nodes=nodes, tx_per_s=2_000, warmup_ms=2_000, load_ms=5_000,
                    drain_ms=4_000, seed=5)
    runs = [("dishonest", True, replace(base, attackers=DISHONEST)),
            ("dishonest", False, replace(base, attackers=DISHONEST,
                                         relay=RelayConfig(scoring=None))),
            ("flood", True, replace(base, attackers=(("flood", 0.1),))),
            ("flood", False, replace(base, attackers=(("flood", 0.1),), relay=UNDEFENDED))]
    for attack, defended, scenario in runs:
        cpu = time.process_time()
        result = run(scenario)
        _emit_run(attack, defended, result, time.process_time() - cpu)
    eclipse = EclipseScenario(trials=100)
    for fraction in (0.5, 0.8, 0.9, 0.95):
        for scheme in SCHEMES:
            emit(BENCH, "eclipse_success", success_probability(eclipse, scheme, fraction),
                 "probability", scheme=scheme, attacker_fraction=fraction,
                 trials=eclipse.trials, honest=eclipse.honest,
                 attacker_groups=eclipse.attacker_groups)


def _compressors() -> dict[str, Callable[[bytes], bytes]]:
    def deflate(level: int) -> Callable[[bytes], bytes]:
        def f(data: bytes) -> bytes:
            d = zlib.compressobj(level, zlib.DEFLATED, -15)
            return d.compress(data) + d.flush()
        return f
    found = {"zlib1": deflate(1), "zlib6": deflate(6)}
    try:
        import zstandard  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return found
    for level in (1, 3):
        found[f"zstd{level}"] = zstandard.ZstdCompressor(level=level).compress
    return found


def _speed(f: Callable[[bytes], bytes], data: bytes) -> float:
    """MB/s of CPU time, over at least 0.2 s."""
    start = time.process_time()
    n = 0
    while time.process_time() - start < 0.2:
        f(data)
        n += 1
    return len(data) * n / (time.process_time() - start) / 1e6


def codec() -> None:
    rng = random.Random(1)
    payloads: dict[str, bytes] = {}
    for suite in ("sm", "intl", "pq"):
        raws, _ = signed_transfers(suite, 100)
        payloads[f"bundle100_{suite}"] = encode_message(Txs(raws))
        payloads[f"transfer_{suite}"] = encode_message(Txs(raws[:1]))
    payloads["ihave500"] = encode_message(IHave([rng.randbytes(32) for _ in range(500)]))
    payloads["compact1000"] = encode_message(Compact(rng.randbytes(32), rng.randbytes(200),
                                                     rng.randbytes(32), rng.randbytes(6000)))
    for name, data in payloads.items():
        for cname, f in _compressors().items():
            packed = f(data[1:])
            emit(BENCH, "compressed_ratio", (1 + len(packed)) / len(data), "fraction",
                 payload=name, compressor=cname, plain_bytes=len(data),
                 compress_mb_s=round(_speed(f, data[1:]), 1))
