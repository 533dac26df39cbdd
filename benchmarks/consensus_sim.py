"""Consensus in the simulator: throughput, latency and message cost as the committee grows.

    python -m benchmarks.consensus_sim            # n = 4, 16, 64, 100, 200 (several minutes)
    python -m benchmarks.consensus_sim --quick    # n = 4, 16

Each run drives real cores (real BLS12-381 signatures, real hashing) in the deterministic
simulator with a 100 Mbit/s NIC per node (both directions) and 25 ms one-way delay (50 ms
round trip). The simulator charges each node simulated CPU time for its crypto: every
operation the cores count is priced at the cost measured once, at the start, on this machine
(`measure_costs`), so a node that verifies more is slower in simulated time. Python overhead
outside crypto is not charged: the figures are for the protocol with native-speed message
handling. Clients offer a steady load of 200-byte transactions, spread over all nodes.

Also: the `sm` suite (SM2 vote lists, SM3 digests) simulated for n <= 64; certificate size
and verification time, BLS aggregate vs a list of SM2 signatures (measured directly, not
simulated); the commit-latency increase around an epoch change; and one of four validators
crashed (`one_down_*`: throughput and p50 against all up, with the leader election in force
and with plain round-robin).

    python -m benchmarks.consensus_sim --one-down    # only the crashed-validator scenario
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import time

from benchmarks.report import best_of, emit, percentile
from xinlian.consensus.certificates import Cert, Meter, combine, verify_cert
from xinlian.consensus.committee import Committee
from xinlian.consensus.core import Config, EpochStarted, Reconfigure
from xinlian.consensus.leader import Reputation
from xinlian.consensus.messages import vote_message
from xinlian.crypto.hashes import sm3
from xinlian.crypto.primitives import bls
from xinlian.crypto.signing import AlgId, generate_signing_key, verify_raw
from xinlian.sim.network import LinkModel
from xinlian.testing.consensus.committees import local_committee, node_name
from xinlian.testing.consensus.simnet import ConsensusNet

BENCH = "consensus_sim"
MBIT_100 = 100e6 / 8
ONE_WAY_MS = 25
TX_SIZE = 200
CONSENSUS_KINDS = ("proposal", "vote", "timeout", "certified", "compact_proposal",
                   "cert_request", "cert_response", "compact_timeout", "compact_tc_proposal",
                   "compact_certified")


def _time_us(fn, repeats: int = 200) -> float:  # type: ignore[no-untyped-def]
    """Best of 20 timed loops: the machine is shared, and the model wants the cost of the
    operation, not of waiting for a core."""
    loop = max(1, repeats // 20)

    def run() -> None:
        for _ in range(loop):
            fn()
    return best_of(20, run) / loop * 1e6


def measure_costs() -> dict[str, float]:
    """The cost in µs of each operation the cores' meters count, measured here and now."""
    key = bls.BlsKey.generate(bytes(range(32)))
    pk = bls.decode_public_key(key.public)
    msg = b"x" * 60
    sig_bytes = key.sign(msg)
    sig = bls.decode_signature(sig_bytes)
    verify = _time_us(lambda: bls.verify(pk, msg, sig), 100)
    sm2 = generate_signing_key(AlgId.SM2, bytes(32))
    sm2_sig = sm2.sign(msg).data
    blob = bytes(512 * 1024)
    return {
        "bls_sign": _time_us(lambda: key.sign(msg), 100),
        "bls_pairing": verify / 2,  # a verification is two Miller loops and a final exp.
        "bls_pk_add": _time_us(lambda: pk + pk, 2000),
        "bls_sig_add": _time_us(lambda: bls.decode_signature(sig_bytes) + sig, 500),
        "sig_sign": _time_us(lambda: sm2.sign(msg), 100),
        "sig_verify": _time_us(lambda: verify_raw(AlgId.SM2, sm2.public_key.data, msg,
                                                  sm2_sig), 100),
        "hash_bytes": _time_us(lambda: hashlib.sha256(blob).digest(), 20) / len(blob),
        "hash_bytes_sm3": _time_us(lambda: sm3(blob), 20) / len(blob),
    }


def batch_interval(n: int) -> int:
    """Per-node batch timer, 5n ms (at least 20): the committee as a whole then seals about
    200 batches/s whatever its size, because every node acks and checks the certificate of
    every batch — the per-batch crypto, not the bytes, is what grows with n."""
    return max(20, 5 * n)


def simulate(n: int, costs: dict[str, float], offered: float, seconds: float,
             seed: int = 1, bandwidth: float = MBIT_100, one_way_ms: float = ONE_WAY_MS,
             suite: str = "intl", aggregate: bool = True, crash_ms: int | None = None,
             reputation: bool = True, batch_ms: int | None = None, compact: bool = True,
             batchers: int | None = None) -> dict[str, float]:
    """One run; with `crash_ms`, node 1 crashes then and the others take its clients.
    `batch_ms` overrides the batch interval, `compact=False` sends full proposals and votes
    to the next leader only (consensus/compact.py), `batchers` puts the clients on the first
    members only (the others still vote, ack and lead)."""
    config = Config(batch_delay_ms=batch_ms or batch_interval(n), batch_bytes=4 * 1024 * 1024,
                    reputation=Reputation(enabled=reputation), compact_proposals=compact)
    if suite == "sm":  # the sm suite hashes with SM3
        costs = dict(costs, hash_bytes=costs["hash_bytes_sm3"])
    net = ConsensusNet(n, seed, suite=suite, aggregate=aggregate, config=config,
                       link=LinkModel(latency_ms=one_way_ms), nic_bytes_per_s=bandwidth,
                       cpu_costs_us=costs)
    end = int(seconds * 1000)
    warm = end * 2 // 5  # measure after the pipeline has filled
    dead = net.committee.nodes[1]
    if crash_ms is not None:
        net.sim.crash(dead, crash_ms)
    clients = list(net.committee.nodes[:batchers] if batchers else net.committee.nodes)
    net.load(offered, TX_SIZE, 0, end, every_ms=10,
             nodes=[x for x in clients if crash_ms is None or x != dead])
    started = time.perf_counter()
    net.run(end)
    wall = time.perf_counter() - started
    node = net.committee.nodes[0]
    window = [(t, c) for t, c in net.log.times.get(node, []) if warm <= t < end]
    blocks = len(window)
    txs = sum(c.tx_count for _, c in window)
    lat = net.latencies(node, warm, end - 500)
    samples = [ms for ms, count in lat for _ in range(min(count, 50))]
    stats = net.sim.stats
    all_blocks = max(1, len(net.log.times.get(node, [])))
    consensus_msgs = sum(stats.by_kind[k] for k in CONSENSUS_KINDS)
    consensus_bytes = sum(stats.bytes_by_kind[k] for k in CONSENSUS_KINDS)
    # the crypto CPU each node was charged (meters count operations; costs price them)
    cpu_ms = [sum(costs.get(k, 0.0) * v for k, v in net.core(x).meter.items()) / 1000
              for x in net.committee.nodes]
    return {
        "throughput": txs / ((end - warm) / 1000),
        "p50": percentile(samples, 50) if samples else float("nan"),
        "p99": percentile(samples, 99) if samples else float("nan"),
        "blocks_per_s": blocks / ((end - warm) / 1000),
        "consensus_msgs_per_block": consensus_msgs / all_blocks,
        "consensus_bytes_per_block": consensus_bytes / all_blocks,
        "all_msgs_per_block": stats.sent / all_blocks,
        "all_bytes_per_block": stats.bytes_sent / all_blocks,
        "wall_s": wall,
        "cpu_ms_per_s_mean": sum(cpu_ms) / len(cpu_ms) / seconds,
        "cpu_ms_per_s_max": max(cpu_ms) / seconds,
        "bytes_per_s_per_node": stats.bytes_sent / n / seconds,
        "violations": len(net.log.violations),
        "recovery_ms": _recovery_ms([t for t, _ in net.log.times.get(node, [])], crash_ms, end),
    }


def _recovery_ms(commits: list[int], crash_ms: int | None, until_ms: int) -> float:
    """From the crash to the end of the last stall (over 1 s without a commit) before
    `until_ms` (the end of the run: stalls that never stop show as no recovery); 0 without
    a crash or a stall."""
    if crash_ms is None:
        return 0.0
    times = [crash_ms] + [t for t in commits if crash_ms <= t < until_ms]
    return float(max((b for a, b in itertools.pairwise(times) if b - a > 1000),
                     default=crash_ms) - crash_ms)


def cert_costs(n: int) -> None:
    """QC size and verification time: one BLS aggregate vs a list of SM2 signatures."""
    message = vote_message(0, 1, 1, bytes(32))
    for suite, aggregate, label in (("intl", True, "bls"), ("sm", False, "sm2_list")):
        committee, keys = local_committee(n, suite=suite, aggregate=aggregate, seed=b"bench")
        meter = Meter()
        votes = [(i, keys[node].sign(committee, message, meter))
                 for i, node in enumerate(committee.nodes[:committee.quorum])]
        cert = combine(committee, votes, meter)
        size = len(cert.signers) + sum(len(s) for s in cert.signatures)

        def check(committee: Committee = committee, cert: Cert = cert) -> None:
            # a fresh meter each time: time the check itself, not the memo
            verify_cert(committee, cert, lambda i: message, committee.quorum, Meter())
        check()  # decoded member keys are cached per committee, as in a running node
        ms = best_of(5, check) * 1000
        emit(BENCH, f"qc_bytes_{label}", size, "bytes", n=n)
        emit(BENCH, f"qc_verify_{label}", ms, "ms", n=n, signers=len(votes))


def reconfiguration(costs: dict[str, float]) -> None:
    """Commit latency around adding a validator, against steady state (n = 4 -> 5)."""
    config = Config(batch_delay_ms=20)
    net = ConsensusNet(4, 7, config=config, link=LinkModel(latency_ms=ONE_WAY_MS),
                       nic_bytes_per_s=MBIT_100, cpu_costs_us=costs)
    five, keys = local_committee(5, epoch=1)
    net.load(20_000, TX_SIZE, 0, 6000)
    at = 3000
    for node in net.committee.nodes:
        net.sim.input(node, Reconfigure(five), at_ms=at)
    newcomer = node_name(4)

    def join(who: bytes, now_ms: int, value: object) -> None:
        if isinstance(value, EpochStarted) and value.root.committee.epoch == 1 \
                and newcomer not in net.sim.nodes:
            net.add(newcomer, value.root, start_ms=now_ms, key=keys[newcomer])
    net.sim.observe(join)
    net.run(6000)
    node = net.committee.nodes[0]
    switched = next(t for t, r in net.log.epochs[node] if r.committee.epoch == 1)
    steady = [ms for ms, _ in net.latencies(node, 1000, at - 300)]
    around = [ms for ms, _ in net.latencies(node, at - 300, switched + 300)]
    gaps = [b - a for (a, _), (b, _) in zip(net.log.times[node], net.log.times[node][1:],
                                             strict=False)]
    steady_gap = max(b - a for (a, _), (b, _) in zip(
        [x for x in net.log.times[node] if 1000 <= x[0] < at - 300],
        [x for x in net.log.times[node] if 1000 <= x[0] < at - 300][1:], strict=False))
    emit(BENCH, "reconfig_steady_p50", percentile(steady, 50), "ms", n=4)
    emit(BENCH, "reconfig_around_p50", percentile(around, 50), "ms", n="4->5")
    emit(BENCH, "reconfig_around_max", max(around), "ms", n="4->5")
    emit(BENCH, "reconfig_latency_increase_p50", percentile(around, 50) - percentile(steady, 50),
         "ms", target="< 50 ms")
    emit(BENCH, "reconfig_latency_increase_max", max(around) - max(steady), "ms")
    emit(BENCH, "reconfig_longest_commit_gap", max(gaps), "ms", steady_max_gap=steady_gap)
    emit(BENCH, "reconfig_safety_violations", len(net.log.violations), "count")


def one_down(costs: dict[str, float], offered: float) -> None:
    """n = 4 with node 1 crashed 1 s in, measured from 6 s to 15 s, against all up."""
    seconds, crash_ms = 15.0, 1000  # simulate() measures the last 3/5 of the run
    up = simulate(4, costs, offered, seconds)
    extra = {"n": 4, "offered_tx_s": offered, "sim_s": seconds, "crash_ms": crash_ms,
             "measured_from_ms": int(seconds * 1000 * 2 // 5)}
    emit(BENCH, "one_down_all_up_throughput", up["throughput"], "tx/s", **extra)
    emit(BENCH, "one_down_all_up_p50", up["p50"], "ms", **extra)
    for election, reputation in (("reputation", True), ("round-robin", False)):
        r = simulate(4, costs, offered, seconds, crash_ms=crash_ms, reputation=reputation)
        tags = {**extra, "election": election}
        emit(BENCH, "one_down_throughput", r["throughput"], "tx/s", **tags)
        emit(BENCH, "one_down_p50", r["p50"], "ms", **tags)
        emit(BENCH, "one_down_throughput_ratio", r["throughput"] / up["throughput"], "ratio",
             **tags, target=">= 0.7")
        emit(BENCH, "one_down_p50_ratio", r["p50"] / up["p50"], "ratio", **tags, target="< 2")
        emit(BENCH, "one_down_recovery", r["recovery_ms"], "ms", **tags,
             note="from the crash to the end of the last commit stall over 1 s")
        emit(BENCH, "one_down_safety_violations", r["violations"], "count", **tags)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.consensus_sim")
    parser.add_argument("--quick", action="store_true", help="n = 4 and 16 only")
    parser.add_argument("--sizes", type=int, nargs="*", help="committee sizes to simulate")
    parser.add_argument("--offered", type=float, default=50_000, help="offered tx/s")
    parser.add_argument("--costs", type=json.loads, default={},
                        help='JSON of µs costs overriding the measured ones, e.g. '
                             '\'{"bls_pairing": 577}\' (the machine is shared: a busy moment '
                             'inflates a measurement, and every simulated figure with it)')
    parser.add_argument("--one-down", action="store_true",
                        help="only the scenario with one of four validators crashed")
    args = parser.parse_args(argv)
    sizes = args.sizes or ([4, 16] if args.quick else [4, 16, 64, 100, 200])
    costs = {**measure_costs(), **args.costs}
    for name, us in costs.items():
        emit(BENCH, f"cost_{name}", us, "us", note="charged as simulated CPU time")
    if args.one_down:
        one_down(costs, args.offered)
        return
    for n in sizes:
        seconds = 3.0 if n <= 16 else 5.0
        r = simulate(n, costs, args.offered, seconds)
        extra = {"n": n, "offered_tx_s": args.offered, "tx_bytes": TX_SIZE,
                 "nic_mbit_s": 100, "rtt_ms": 2 * ONE_WAY_MS, "sim_s": seconds,
                 "batch_interval_ms": batch_interval(n), "wall_s": round(r["wall_s"], 1)}
        emit(BENCH, "throughput", r["throughput"], "tx/s", **extra)
        emit(BENCH, "latency_p50", r["p50"], "ms", **extra)
        emit(BENCH, "latency_p99", r["p99"], "ms", **extra)
        emit(BENCH, "blocks_per_s", r["blocks_per_s"], "blocks/s", n=n)
        emit(BENCH, "consensus_msgs_per_block", r["consensus_msgs_per_block"], "messages", n=n)
        emit(BENCH, "consensus_bytes_per_block", r["consensus_bytes_per_block"], "bytes", n=n)
        emit(BENCH, "all_msgs_per_block", r["all_msgs_per_block"], "messages", n=n,
             note="including batch dissemination")
        emit(BENCH, "all_bytes_per_block", r["all_bytes_per_block"], "bytes", n=n)
        emit(BENCH, "safety_violations", r["violations"], "count", n=n)
    for n in [x for x in sizes if x <= 64]:  # the sm suite: SM2 vote lists, SM3 digests
        r = simulate(n, costs, args.offered, 3.0 if n <= 16 else 5.0, suite="sm",
                     aggregate=False)
        extra = {"n": n, "suite": "sm", "certificates": "sm2_list",
                 "offered_tx_s": args.offered, "wall_s": round(r["wall_s"], 1)}
        emit(BENCH, "throughput", r["throughput"], "tx/s", **extra)
        emit(BENCH, "latency_p50", r["p50"], "ms", **extra)
        emit(BENCH, "latency_p99", r["p99"], "ms", **extra)
        emit(BENCH, "consensus_bytes_per_block", r["consensus_bytes_per_block"], "bytes",
             **extra)
        emit(BENCH, "safety_violations", r["violations"], "count", **extra)
    for n in sizes:
        cert_costs(n)
    reconfiguration(costs)
    one_down(costs, args.offered)


if __name__ == "__main__":
    main()
