"""Stalled rounds in the simulator: crashed leaders and partitions, and what recovery costs.

Used by the compact-timeout tests and `benchmarks.consensus_pq --stall`. A fault starts at
`fault_ms`; from then on the harness counts the bytes every kind of message carried, the
rounds the committee left by a TC, and how long it took to commit again.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from xinlian.sim.runtime import Simulation
from xinlian.testing.consensus.simnet import ConsensusNet

TIMEOUT_KINDS = ("timeout", "compact_timeout")


@dataclass
class Stall:
    """What one stalled run measured, from the fault to the end of the run."""

    bytes_by_kind: Counter[str]  # bytes sent per message kind since the fault
    tc_rounds: int  # rounds the first honest member entered by a TC since the fault
    recovery_ms: float | None  # from the fault (or the heal) to the first commit of a block
    # proposed after it; None: none by the end of the run
    heights: list[int]  # every live member's committed height at the end
    violations: list[str]

    @property
    def timeout_bytes(self) -> int:
        return sum(self.bytes_by_kind[k] for k in TIMEOUT_KINDS)

    def per_tc_round(self, kinds: tuple[str, ...] = TIMEOUT_KINDS) -> float:
        """Bytes of these kinds per round ended by a TC."""
        return sum(self.bytes_by_kind[k] for k in kinds) / max(1, self.tc_rounds)


class _Since:
    """Counters at the fault, to subtract at the end."""

    def __init__(self) -> None:
        self.bytes: Counter[str] = Counter()
        self.tc_rounds = 0
        self.round = 0

    def mark(self, net: ConsensusNet, observer: bytes) -> None:
        self.bytes = Counter(net.sim.stats.bytes_by_kind)
        core = net.core(observer)
        self.tc_rounds = core.metrics["rounds_by_tc"]
        self.round = core.round


def _report(net: ConsensusNet, observer: bytes, since: _Since, from_ms: int,
            live: list[bytes]) -> Stall:
    sent = Counter(net.sim.stats.bytes_by_kind)
    sent.subtract(since.bytes)
    later = [t for t, c in net.log.times.get(observer, []) if t >= from_ms
             and c.round > since.round + 1]
    return Stall(+sent, net.core(observer).metrics["rounds_by_tc"] - since.tc_rounds,
                 float(later[0] - from_ms) if later else None,
                 [net.log.height(n) for n in live], list(net.log.violations))


def crashed_leaders(net: ConsensusNet, fault_ms: int, leaders: int, end_ms: int) -> Stall:
    """Crash the leaders of the `leaders` rounds after the next one, as seen by member 0
    at `fault_ms`: that many rounds in a row time out. Recovery ends with the first commit
    of a block proposed after the fault."""
    observer = net.committee.nodes[0]
    since = _Since()
    crashed: list[bytes] = []

    def crash(sim: Simulation) -> None:
        since.mark(net, observer)
        core = net.core(observer)
        r = core.round + 2
        while len(crashed) < leaders:
            leader = core.election.leader(r)
            if leader != observer and leader not in crashed:
                crashed.append(leader)
                sim.crash(leader, fault_ms)
            r += 1

    net.sim.at(fault_ms, crash)
    net.run(end_ms)
    live = [n for n in net.committee.nodes if n not in crashed]
    return _report(net, observer, since, fault_ms, live)


def partitioned(net: ConsensusNet, fault_ms: int, heal_ms: int, end_ms: int) -> Stall:
    """Split the committee in two halves, neither with a quorum, then heal. Recovery is
    counted from the heal."""
    nodes = list(net.committee.nodes)
    observer = nodes[0]
    since = _Since()
    net.sim.at(fault_ms, lambda sim: since.mark(net, observer))
    half = len(nodes) // 2
    net.sim.partition([nodes[:half], nodes[half:]], fault_ms)
    net.sim.heal(heal_ms)
    net.run(end_ms)
    return _report(net, observer, since, heal_ms, nodes)
