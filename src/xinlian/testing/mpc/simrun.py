"""Run one protocol's party cores in the seeded discrete-event simulator (xinlian.sim).

The run ends when every finisher has delivered its outcome, or at the simulated deadline.
Time is simulated: latency and jitter come from the network model, and computation takes no
simulated time, so the same seed gives the same schedule, the same messages and the same
trace hash. Every party's secrets come from its own seeded source (`seeded_keys`): keys
that replay from the seed, for simulation only. With `measured=True` each party is charged
the CPU time its handler really took in this process, as if every party ran on its own
machine: the simulated time is then a completion time for n parallel machines (and no
longer reproducible bit for bit).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from xinlian.crypto.threshold.envelope import DROP_REASONS, MpcCore
from xinlian.protocol import Action, Core, Event, NodeId
from xinlian.sim.network import LinkModel, NetworkModel
from xinlian.sim.runtime import Factory, Simulation
from xinlian.testing.mpc.byzantine import inner
from xinlian.testing.mpc.keys import Keys
from xinlian.testing.mpc.setup import Outcome, Setup, seeded_rng

Prepare = Callable[[Simulation, Mapping[int, NodeId]], None]


@dataclass
class RunResult:
    """What a run did, in either mode; `report()` is the CLI's JSON object."""

    protocol: str
    mode: str
    parties: int
    summary: dict[str, Any]
    outcomes: dict[int, Outcome]
    messages: int
    bytes: int
    wall_s: float
    finished: bool
    dropped: dict[str, int] = field(default_factory=dict)
    faults_reported: dict[int, int] = field(default_factory=dict)
    roles: dict[str, int] = field(default_factory=dict)  # how many parties play each role
    faulty: list[int] = field(default_factory=list)  # the parties told to misbehave
    secrets: str = "seeded"  # "seeded" (simulation only) or "os-random" (each party its own)
    sim_ms: int | None = None
    transcript: str | None = None
    held: dict[int, list[str]] = field(default_factory=dict)  # processes: secrets' hashes

    def report(self) -> dict[str, Any]:
        out = {"protocol": self.protocol, "mode": self.mode, "parties": self.parties,
               "finished": self.finished, **self.summary, "messages": self.messages,
               "bytes": self.bytes, "wall_s": round(self.wall_s, 3),
               "dropped": self.dropped,
               "faults_reported": {str(k): v for k, v in sorted(self.faults_reported.items())},
               "roles": self.roles, "faulty": self.faulty, "secrets": self.secrets}
        if self.sim_ms is not None:
            out["sim_ms"] = self.sim_ms
            out["transcript"] = self.transcript
        return out


def node_id(party: int) -> NodeId:
    return b"party-%d" % party


def tally(cores: list[MpcCore]) -> tuple[dict[str, int], dict[int, int]]:
    """Envelopes dropped by reason, and faults the protocols reported, over all parties."""
    dropped: Counter[str] = Counter(dict.fromkeys(DROP_REASONS, 0))
    faults: Counter[int] = Counter()
    for core in cores:
        dropped.update(core.dropped)
        faults.update(core.faults)
    return dict(dropped), dict(faults)


class Timed:
    """A core that remembers how long its last `handle` took (for `measured` runs)."""

    def __init__(self, core: Core) -> None:
        self.inner = core
        self.last_us = 0

    def handle(self, event: Event) -> Sequence[Action]:
        started = time.perf_counter_ns()
        actions = self.inner.handle(event)
        self.last_us = (time.perf_counter_ns() - started) // 1000
        return actions


def _charged(_node: NodeId, core: Core, _event: Event, _actions: Sequence[Action]) -> int:
    return core.last_us if isinstance(core, Timed) else 0


def _factory(setup: Setup, party: int, roster: Mapping[int, NodeId], keys: Keys,
             measured: bool) -> Factory:
    def make(_node: NodeId, _store: Mapping[bytes, bytes]) -> Core:
        core = setup.make_core(party, roster, keys)
        return Timed(core) if measured else core
    return make


def seeded_keys(setup: Setup) -> dict[int, Keys]:
    """Every party's keys, each generated from its own seeded source (simulation only)."""
    params = setup.params
    own = {i: setup.generate(i, seeded_rng(params.seed, params.protocol, "keys", i))
           for i in setup.parties}
    public = {i: k.public for i, k in own.items()}
    return {i: Keys(own[i].secret, public, seeded_rng(params.seed, params.protocol, "party", i))
            for i in setup.parties}


def run_sim(setup: Setup, *, latency_ms: float = 20.0, jitter_ms: float = 5.0,
            loss: float = 0.0, deadline_ms: int = 3_600_000,
            prepare: Prepare | None = None, measured: bool = False) -> RunResult:
    """Run `setup` in a simulation seeded with its parameters' seed."""
    roster = {i: node_id(i) for i in setup.parties}
    network = NetworkModel(default=LinkModel(latency_ms, jitter_ms, loss))
    sim = Simulation(setup.params.seed, network, cpu_cost=_charged if measured else None)
    outcomes: dict[int, Outcome] = {}
    by_node = {node: i for i, node in roster.items()}

    def observe(node: NodeId, _at_ms: int, value: Any) -> None:
        outcomes.setdefault(by_node[node], value)

    sim.observe(observe)
    keys = seeded_keys(setup)
    for i in setup.parties:
        sim.add_node(roster[i], _factory(setup, i, roster, keys[i], measured))
    if prepare is not None:
        prepare(sim, roster)
    started = time.perf_counter()
    sim.run_until(deadline_ms, stop=lambda: setup.finishers <= outcomes.keys())
    wall = time.perf_counter() - started
    cores = [inner(core) for i in setup.parties if (core := sim.core(roster[i])) is not None]
    dropped, faults = tally([c for c in cores if isinstance(c, MpcCore)])
    finished = setup.finishers <= outcomes.keys()
    return RunResult(setup.params.protocol, "sim", len(setup.parties),
                     setup.summarise(outcomes), outcomes, sim.stats.sent, sim.stats.bytes_sent,
                     wall, finished, dropped, faults, role_counts(setup), list(setup.faulty),
                     "seeded", sim.now_ms, sim.trace_hash)


def role_counts(setup: Setup) -> dict[str, int]:
    return dict(Counter(setup.roles[i] for i in setup.parties))
