"""One DKG session among given `DkgParty` objects, run in the simulator (tests, benchmarks).

The tests of the DKG's round logic build the parties themselves (some of them subclasses
that cheat) and want them run over a reliable authenticated broadcast, with no consistent
broadcast layer in between: `run_parties` wraps each party in a small core that
broadcasts what the party sends to every other party, closes a round when its deadline
passes, and delivers when the party is done; `xinlian.sim` carries the messages (seeded,
reliable, a fixed latency). Silent parties never speak and never listen. The protocol's
own core over a consistent broadcast is `xinlian.crypto.threshold.dkg_core.DkgCore`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from xinlian.crypto.threshold.dkg import DkgError, DkgParty, DkgResult, Fault
from xinlian.protocol import (
    Action,
    Broadcast,
    Core,
    Deliver,
    Event,
    NodeId,
    Receive,
    SetTimer,
    Start,
    Timeout,
)
from xinlian.sim.network import LinkModel, NetworkModel
from xinlian.sim.runtime import Factory, Simulation

ROUND_MS = 1000  # a round's deadline; every message arrives long before it
LATENCY_MS = 1.0


@dataclass
class SessionRun:
    """Per-party results, aborts, the faults each party saw, and bytes each broadcast."""

    results: dict[int, DkgResult]
    aborted: dict[int, DkgError]
    faults: list[tuple[int, Fault]]
    bytes_sent: dict[int, int]


def node_of(i: int) -> NodeId:
    return b"dkg-party-%d" % i


class _Session:
    """A core around one DkgParty: a broadcast to all others, a deadline per round."""

    def __init__(self, me: int, party: DkgParty, others: Sequence[int], silent: bool) -> None:
        self.me = me
        self.party = party
        self.to = tuple(node_of(i) for i in others)
        self.index = {node_of(i): i for i in others}
        self.silent = silent
        self.round = 0
        self.bytes_sent = 0

    def handle(self, event: Event) -> Sequence[Action]:
        if self.silent or self.party.done:
            return []
        if isinstance(event, Start):
            messages = self.party.start()
        elif isinstance(event, Receive) and event.sender in self.index:
            messages = self.party.receive(self.index[event.sender], event.message)
        elif isinstance(event, Timeout):
            messages = self.party.timeout()
        else:
            return []
        out: list[Action] = [Broadcast(self.to, m) for m in messages]
        self.bytes_sent += sum(len(m) for m in messages)
        if self.party.done:
            out.append(Deliver(self.me))
        elif self.party.round != self.round:
            self.round = self.party.round
            out.append(SetTimer("round", event.now_ms + ROUND_MS))
        return out


def _factory(core: _Session) -> Factory:
    def make(_node: NodeId, _store: Mapping[bytes, bytes]) -> Core:
        return core
    return make


def run_parties(parties: Mapping[int, DkgParty], silent: Sequence[int] = (),
                seed: int = 0) -> SessionRun:
    """Run `parties` (index -> party) to the end of their session in the simulator."""
    sim = Simulation(seed, NetworkModel(default=LinkModel(LATENCY_MS, 0.0, 0.0)))
    cores = {i: _Session(i, p, [j for j in parties if j != i], i in silent)
             for i, p in parties.items()}
    for i, core in cores.items():
        sim.add_node(node_of(i), _factory(core))
    live = [p for i, p in parties.items() if i not in silent]
    sim.run_until(ROUND_MS * (4 * len(parties) + 8), stop=lambda: all(p.done for p in live))
    return SessionRun(
        {i: p.result for i, p in parties.items() if p.result is not None},
        {i: p.error for i, p in parties.items() if p.error is not None},
        [(i, f) for i, p in parties.items() for f in p.faults],
        {i: c.bytes_sent for i, c in cores.items()})
