"""Consensus with post-quantum votes in the simulator: scale, and the choice of signature.

    python -m benchmarks.consensus_pq            # n = 16: pq before/after, against BLS (~1 min)
    python -m benchmarks.consensus_pq --scale    # n = 50, 64, 100 (tens of minutes)
    python -m benchmarks.consensus_pq --params   # every vote signature at n = 4, 16, 50, 100
    python -m benchmarks.consensus_pq --scenarios  # docs/pq.md's recommendations (~15 min)
    python -m benchmarks.consensus_pq --stall    # crashed leaders at n = 50, 100 (~20 min)

Real cores (real ML-DSA-65, SM2, composite, Ed25519 and BLS12-381 signatures) run in the
deterministic simulator with a 100 Mbit/s NIC per node and a 50 ms round trip, as in
benchmarks.consensus_sim; each crypto operation a core counts is charged as simulated CPU at
the cost measured here at the start (per suite: its vote signature's sign and verify, its
hash). Python outside crypto is not charged. `before` is the protocol without compact
proposals (`Config(compact_proposals=False)`: votes to the next leader, full proposals);
`after` the default. Per run: tx/s, p50/p99 submit-to-commit latency, blocks/s, bytes per
committed block (consensus messages, and everything including batches), the crypto CPU
charged per node (mean and the busiest node, ms per simulated second) and the bytes each
node sends per second. The process is a simulation: wall time says nothing.

Next to every run, the analytical model (xinlian.testing.consensus.model) with the same
parameters and costs prints its prediction (`*_model`). ML-DSA-44 and ML-DSA-87 sign no
suite's votes, so the simulator cannot run them: `--params` gives the model's figures for
them, from their sizes and their sign and verify times measured here (fast-mldsa).

`--stall` crashes the leaders of consecutive rounds (round-robin election, so they are the
next ones) at a low load and compares timeouts in full (`compact_timeouts=False`, `before`)
with compact timeouts (`after`): the bytes the timeouts of a round ended by a TC carry, the
consensus bytes from the crash to the end, and the time from the crash to the first commit
of a block proposed after it (xinlian.testing.consensus.stall).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Sequence

import fast_mldsa

from benchmarks.consensus_sim import (
    MBIT_100,
    ONE_WAY_MS,
    TX_SIZE,
    _time_us,
    batch_interval,
    measure_costs,
)
from benchmarks.consensus_sim import simulate as run_sim
from benchmarks.report import emit
from xinlian.consensus.core import Config
from xinlian.consensus.leader import Reputation
from xinlian.crypto.signing import verify_raw
from xinlian.crypto.suites import get_suite
from xinlian.sim.network import LinkModel
from xinlian.testing.consensus.model import Params, Prediction, predict
from xinlian.testing.consensus.simnet import ConsensusNet
from xinlian.testing.consensus.stall import crashed_leaders

BENCH = "consensus_pq"
# the vote signatures a committee can use: suite name, aggregate (BLS) or a list per signer
CHOICES = {
    "bls": ("intl", True),
    "ed25519": ("intl", False),
    "sm2": ("sm", False),
    "ml-dsa-65": ("pq", False),
    "ed25519+ml-dsa-65": ("hybrid-intl", False),
    "sm2+ml-dsa-65": ("hybrid-sm", False),
}


def suite_costs(base: dict[str, float], choice: str) -> dict[str, float]:
    """`base` (BLS and hashing) with the choice's signature and hash measured here."""
    suite_name, aggregate = CHOICES[choice]
    suite = get_suite(suite_name)
    blob = bytes(512 * 1024)
    costs = dict(base, hash_bytes=_time_us(lambda: suite.hash_bytes(blob), 20) / len(blob))
    if aggregate:
        return costs
    key = suite.generate_signing_key(hashlib.sha256(choice.encode()).digest())
    message = b"x" * 60
    sig = key.sign(message).data
    costs["sig_sign"] = _time_us(lambda: key.sign(message), 40)
    costs["sig_verify"] = _time_us(
        lambda: verify_raw(suite.signature, key.public_key.data, message, sig), 100)
    costs["sig_bytes"] = float(len(sig))
    return costs


ROUNDS_PER_S = 4  # for the vote traffic in `batch_ms_for`


def batch_ms_for(n: int, sig_bytes: float, offered: float) -> int:
    """The per-member batch interval for list certificates: every member takes in every
    batch's certificate (f+1 signatures), so the committee's batch rate may use at most half
    of what its NIC has left after the transactions (each member takes in (n-1)/n of them)
    and the broadcast votes (n signatures a round); never below benchmarks.consensus_sim's
    5n ms (about 200 batches a second for the committee)."""
    cert = (n // 3 + 1) * sig_bytes
    left = MBIT_100 - offered * TX_SIZE * (n - 1) / n - n * sig_bytes * ROUNDS_PER_S
    rate = max(left, 0.05 * MBIT_100) / 2 / cert  # batches/s for the whole committee
    return max(5 * n, round(n * 1000 / rate))


def model(n: int, costs: dict[str, float], offered: float, batch_ms: int,
          compact: bool = True) -> Prediction:
    """The analytical model's prediction for one run's parameters."""
    sig = int(costs["sig_bytes"]) if "sig_bytes" in costs else None
    return predict(Params(n, TX_SIZE, offered, batch_ms, MBIT_100, ONE_WAY_MS, sig_bytes=sig,
                          compact=compact), costs)


def emit_model(p: Prediction, **where: object) -> None:
    tags = {**where, "bottleneck": p.bottleneck, "nic_load": round(p.nic_load, 2),
            "cpu_load": round(p.cpu_load, 3), "clock": "model"}
    emit(BENCH, "throughput_model", p.throughput_tx_per_s, "tx/s", **tags)
    emit(BENCH, "latency_p50_model", p.latency_ms, "ms", **tags)


def one(choice: str, n: int, costs: dict[str, float], offered: float, seconds: float,
        label: str, batch_ms: int | None = None, compact: bool = True) -> dict[str, float]:
    suite, aggregate = CHOICES[choice]
    batch = batch_ms or batch_interval(n)
    where: dict[str, object] = {
        "n": n, "signature": choice, "run": label, "offered_tx_s": offered,
        "tx_bytes": TX_SIZE, "nic_mbit_s": 100, "rtt_ms": 2 * ONE_WAY_MS, "batch_ms": batch,
        "compact": compact and not aggregate}
    emit_model(model(n, costs, offered, batch, compact), **where)
    r = run_sim(n, costs, offered, seconds, suite=suite, aggregate=aggregate, batch_ms=batch,
                compact=compact)
    where.update(sim_s=seconds, clock="simulated", wall_s=round(r["wall_s"], 1))
    emit(BENCH, "throughput", r["throughput"], "tx/s", **where)
    emit(BENCH, "latency_p50", r["p50"], "ms", **where)
    emit(BENCH, "latency_p99", r["p99"], "ms", **where)
    emit(BENCH, "blocks_per_s", r["blocks_per_s"], "blocks/s", **where)
    emit(BENCH, "consensus_bytes_per_block", r["consensus_bytes_per_block"], "bytes", **where)
    emit(BENCH, "all_bytes_per_block", r["all_bytes_per_block"], "bytes", **where)
    emit(BENCH, "crypto_cpu_per_node", r["cpu_ms_per_s_mean"], "ms/s", **where,
         busiest=round(r["cpu_ms_per_s_max"], 1))
    emit(BENCH, "sent_per_node", r["bytes_per_s_per_node"] / 1e6, "MB/s", **where)
    emit(BENCH, "safety_violations", r["violations"], "count", **where)
    return r


RUNS = ("bls", "before", "after", "pq-interval", "sm")


def scale(base: dict[str, float], sizes: list[int], offered: float, seconds: float,
          runs: Sequence[str] = RUNS) -> None:
    """ML-DSA-65 votes before and after compact proposals, against BLS at the same n."""
    pq = suite_costs(base, "ml-dsa-65")
    bls = suite_costs(base, "bls")
    for n in sizes:
        batch = batch_ms_for(n, pq["sig_bytes"], offered)
        long = max(seconds, 4 * batch / 1000)  # measured over the last 3/5: a few batches
        if "bls" in runs:
            one("bls", n, bls, offered, seconds, "bls")
        if "before" in runs:
            one("ml-dsa-65", n, pq, offered, seconds, "before", compact=False)
        if "after" in runs and n == min(sizes):  # compact alone, at BLS's batch interval
            one("ml-dsa-65", n, pq, offered, seconds, "after")
        if "pq-interval" in runs and (batch != batch_interval(n) or "after" not in runs):
            one("ml-dsa-65", n, pq, offered, long, "after, batch interval for PQ",
                batch_ms=batch)
    if 64 in sizes and "sm" in runs:  # the sm suite's collapse at n = 64 (docs/consensus.md)
        sm2 = suite_costs(base, "sm2")
        one("sm2", 64, sm2, offered, seconds, "before", compact=False)
        one("sm2", 64, sm2, offered, seconds, "after")


def mldsa_costs(base: dict[str, float], level: int) -> dict[str, float]:
    """`base` with ML-DSA-`level` signing and verifying (fast-mldsa), measured here."""
    scheme = getattr(fast_mldsa, f"MlDsa{level}")
    vk, sk = scheme.key_gen()
    message = b"x" * 60
    sig = sk.sign(message)
    return dict(base, sig_sign=_time_us(lambda: sk.sign(message), 40),
                sig_verify=_time_us(lambda: vk.verify(sig, message), 100),
                sig_bytes=float(len(sig)))


def model_only(base: dict[str, float], sizes: list[int], offered: float) -> None:
    """The model alone: every vote signature (the ML-DSA levels from fast-mldsa) at `sizes`."""
    table = {choice: suite_costs(base, choice) for choice in CHOICES}
    table.update({f"ml-dsa-{level}": mldsa_costs(base, level) for level in (44, 65, 87)})
    for choice, costs in table.items():
        for n in sizes:
            listed = "sig_bytes" in costs
            batch = batch_ms_for(n, costs["sig_bytes"], offered) if listed else batch_interval(n)
            emit_model(model(n, costs, offered, batch), n=n, signature=choice,
                       run="model only", offered_tx_s=offered, batch_ms=batch,
                       sig_bytes=int(costs["sig_bytes"]) if listed else 96,
                       sign_us=round(costs["sig_sign"] if listed else costs["bls_sign"], 1),
                       verify_us=round(costs["sig_verify"] if listed
                                       else 2 * costs["bls_pairing"], 1))


def params(base: dict[str, float], sizes: list[int], offered: float, seconds: float,
           choices: list[str]) -> None:
    """Every vote signature at each n, with the batch interval its certificates allow."""
    for choice in choices:
        costs = suite_costs(base, choice)
        for key in ("sig_sign", "sig_verify", "hash_bytes"):
            if key in costs and choice != "bls":
                emit(BENCH, f"cost_{key}", costs[key], "us", signature=choice,
                     note="charged as simulated CPU time")
        for n in sizes:
            batch = None if choice == "bls" else batch_ms_for(n, costs["sig_bytes"], offered)
            long = max(seconds, 4 * (batch or 0) / 1000)
            one(choice, n, costs, offered, long, "params", batch_ms=batch)
    model_only(base, [4, 16, 50, 100], offered)


# docs/pq.md, "Recommended parameters": (scenario, vote signature, n, offered tx/s)
SCENARIOS = [
    ("small high-throughput consortium", "ml-dsa-65", 16, 40_000),
    ("100-member network on a WAN", "ml-dsa-65", 100, 20_000),
    ("long-term archival signatures", "sm2+ml-dsa-65", 16, 20_000),
]


def scenarios(base: dict[str, float], seconds: float, which: list[int]) -> None:
    """Each recommendation: the model's figure, then a simulated run of it."""
    for name, choice, n, offered in [SCENARIOS[i - 1] for i in which]:
        costs = suite_costs(base, choice)
        batch = batch_ms_for(n, costs["sig_bytes"], offered)
        long = max(seconds, 4 * batch / 1000)
        one(choice, n, costs, offered, long, f"scenario: {name}", batch_ms=batch)


STALL_KINDS = ("timeout", "compact_timeout", "certified", "compact_proposal",
               "compact_tc_proposal", "compact_certified", "cert_request", "cert_response",
               "vote")


def stall(base: dict[str, float], sizes: list[int], offered: float, leaders: int,
          seconds: float, runs: Sequence[str] = ("before", "after")) -> None:
    """`leaders` crashed leaders in a row with `pq` votes, timeouts in full and compact."""
    costs = suite_costs(base, "ml-dsa-65")
    for n in sizes:
        batch = batch_ms_for(n, costs["sig_bytes"], offered)
        for label, compact in [(r, r == "after") for r in ("before", "after") if r in runs]:
            config = Config(batch_delay_ms=batch, batch_bytes=4 * 1024 * 1024,
                            reputation=Reputation(enabled=False), compact_timeouts=compact)
            net = ConsensusNet(n, 1, suite="pq", aggregate=False, config=config,
                               link=LinkModel(latency_ms=ONE_WAY_MS), nic_bytes_per_s=MBIT_100,
                               cpu_costs_us=costs)
            net.load(offered, TX_SIZE, 0, int(seconds * 1000), every_ms=10)
            fault = 2000
            r = crashed_leaders(net, fault, leaders, int(seconds * 1000))
            where = {"n": n, "signature": "ml-dsa-65", "run": label, "crashed_leaders": leaders,
                     "offered_tx_s": offered, "nic_mbit_s": 100, "rtt_ms": 2 * ONE_WAY_MS,
                     "base_ms": config.pacemaker.base_ms, "batch_ms": batch, "sim_s": seconds,
                     "clock": "simulated", "tc_rounds": r.tc_rounds}
            emit(BENCH, "stall_timeout_bytes_per_tc_round", r.per_tc_round(), "bytes", **where)
            emit(BENCH, "stall_consensus_bytes", sum(r.bytes_by_kind[k] for k in STALL_KINDS),
                 "bytes", **where, since_ms=fault,
                 certified=r.bytes_by_kind["certified"],
                 compact_certified=r.bytes_by_kind["compact_certified"])
            if r.recovery_ms is None:  # no block proposed after the crash committed
                emit(BENCH, "stall_unrecovered", 1, "count", **where)
            else:
                emit(BENCH, "stall_recovery", r.recovery_ms, "ms", **where)
            emit(BENCH, "safety_violations", len(r.violations), "count", **where)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.consensus_pq")
    parser.add_argument("--scale", action="store_true", help="n = 50, 64, 100 (long)")
    parser.add_argument("--params", action="store_true",
                        help="every vote signature at n = 4, 16, 50, 100 (long)")
    parser.add_argument("--scenarios", type=int, nargs="*",
                        help="the recommended parameters of docs/pq.md, model and run "
                             "(all three, or those numbered)")
    parser.add_argument("--stall", type=int, nargs="?", const=3, metavar="LEADERS",
                        help="crash this many leaders in a row (default 3) at n = 50, 100")
    parser.add_argument("--sizes", type=int, nargs="*", help="committee sizes")
    parser.add_argument("--runs", nargs="*", choices=RUNS, help="--scale, --stall: which runs")
    parser.add_argument("--choices", nargs="*", choices=list(CHOICES),
                        help="vote signatures for --params (default: all)")
    parser.add_argument("--offered", type=float,
                        help="offered tx/s (default 20,000; --stall: 1,000)")
    parser.add_argument("--seconds", type=float,
                        help="simulated seconds (default 5; --stall: 12)")
    parser.add_argument("--costs", type=json.loads, default={},
                        help="JSON of µs costs overriding the measured ones")
    args = parser.parse_args(argv)
    offered, seconds = args.offered or 20_000, args.seconds or 5.0
    base = {**measure_costs(), **args.costs}
    for name, us in base.items():
        if name.startswith(("bls_", "hash_")):
            emit(BENCH, f"cost_{name}", us, "us", note="charged as simulated CPU time")
    if args.stall is not None:
        stall(base, args.sizes or [50, 100], args.offered or 1000, args.stall,
              args.seconds or 12.0, args.runs or RUNS)
    elif args.scenarios is not None:
        scenarios(base, seconds, args.scenarios or [1, 2, 3])
    elif args.params:
        params(base, args.sizes or [4, 16, 50, 100], offered, seconds,
               args.choices or list(CHOICES))
    elif args.scale:
        scale(base, args.sizes or [50, 64, 100], offered, seconds,
              args.runs or RUNS)
    else:
        scale(base, args.sizes or [16], offered, 3.0)


if __name__ == "__main__":
    main()
