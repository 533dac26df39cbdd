"""ROAST signing among given key shares in the simulator: misbehaving signers, the ROAST
paper's coordinated worst case, and CPU measured per step (tests and benchmarks).

Every party is `xinlian.crypto.threshold.roast_core.RoastParty` (the protocol's core) in
`xinlian.sim`, each on its own simulated machine. With `measured=True` a party is busy for
the CPU time its handler really took in this process, so the completion time is what n
parallel machines would see; `cpu_total` is what this one process spent. Under
`coordinated=True` the network is also adversarial the way the paper's worst case needs:
the misbehaving signers' first messages, and one honest signer's, are held back and
released one at a time whenever nothing else is in flight, so that every session but the
last contains exactly one misbehaving signer.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from xinlian import codec
from xinlian.crypto.threshold import frost
from xinlian.crypto.threshold.dkg import KeyShare
from xinlian.crypto.threshold.frost import Signature
from xinlian.crypto.threshold.roast import (
    COORDINATOR,
    Fault,
    Outgoing,
    Request,
    Response,
    RoastCoordinator,
    RoastError,
    RoastSigner,
)
from xinlian.crypto.threshold.roast_core import RoastParty
from xinlian.protocol import Action, Core, Event, NodeId, Send
from xinlian.sim.network import LinkModel, NetworkModel
from xinlian.sim.runtime import Factory, Simulation
from xinlian.testing.mpc.setup import seeded_rng

Behaviour = Literal["honest", "silent", "absent", "invalid", "bad_point", "replay"]


# -- misbehaving signers ------------------------------------------------------------------


class SilentSigner(RoastSigner):
    """Announces nonces, then never answers a request."""

    def receive(self, sender: int, data: bytes) -> list[Outgoing]:
        return []


class AbsentSigner(SilentSigner):
    """Sends nothing at all."""

    def start(self) -> list[Outgoing]:
        return []


class InvalidShareSigner(RoastSigner):
    """Answers every request promptly, with a share that does not verify."""

    def receive(self, sender: int, data: bytes) -> list[Outgoing]:
        req = codec.decode(data, Request)
        junk = self.key.group.random_scalar(self.rng).encode()
        return self._respond(req.session, junk)


class BadPointSigner(RoastSigner):
    """Answers with a next commitment that is not a valid group element."""

    def receive(self, sender: int, data: bytes) -> list[Outgoing]:
        req = codec.decode(data, Request)
        ((_, answer),) = RoastSigner.receive(self, sender, data)
        msg = codec.decode(answer, Response)
        bad = frost.WireCommitments(msg.signer, bytes(len(msg.next_commitment.hiding)),
                                    msg.next_commitment.binding)
        return [(COORDINATOR, codec.encode(Response(msg.run, msg.signer, req.session,
                                                    msg.share, bad)))]


class ReplaySigner(RoastSigner):
    """Replays its first message instead of answering."""

    def start(self) -> list[Outgoing]:
        self.first = super().start()
        return self.first

    def receive(self, sender: int, data: bytes) -> list[Outgoing]:
        return list(self.first)


SIGNER_CLASSES: dict[str, type[RoastSigner]] = {
    "honest": RoastSigner, "silent": SilentSigner, "absent": AbsentSigner,
    "invalid": InvalidShareSigner, "bad_point": BadPointSigner, "replay": ReplaySigner,
}


# -- a run ----------------------------------------------------------------------------------


@dataclass
class SimResult:
    signature: Signature | None
    sessions_started: int
    completion_time: float  # seconds, parties in parallel, plus simulated latency
    cpu_total: float  # seconds spent by this process on all parties
    cpu_coordinator: float
    messages: int
    bytes: int
    malicious_identified: tuple[int, ...]
    faults: list[tuple[int, Fault]] = field(default_factory=list)
    error: RoastError | None = None


class _Measured:
    """A core that adds up the CPU time its handlers take."""

    def __init__(self, core: RoastParty) -> None:
        self.inner = core
        self.last_us = 0
        self.total_s = 0.0

    def handle(self, event: Event) -> Sequence[Action]:
        started = time.perf_counter()
        actions = self.inner.handle(event)
        spent = time.perf_counter() - started
        self.total_s += spent
        self.last_us = int(spent * 1e6)
        return actions


def _node(i: int) -> NodeId:
    return b"roast-%d" % i


def _factory(core: _Measured) -> Factory:
    def make(_node: NodeId, _store: Mapping[bytes, bytes]) -> Core:
        return core
    return make


def simulate(keys: Sequence[KeyShare], message: bytes, *,
             behaviours: Mapping[int, Behaviour] | None = None, coordinated: bool = False,
             latency_ms: float = 0.0, run: bytes = b"roast-run", seed: int = 0,
             signer_ids: Sequence[int] | None = None, measured: bool = True) -> SimResult:
    """Sign `message` with ROAST among `keys` (one per signer) and a coordinator.

    With `measured=False` handlers take no simulated time, so the whole run is determined
    by the seed: what the tests use. CPU is reported either way.
    """
    behaviours = behaviours or {}
    ids = [k.identifier for k in keys]
    roster = {i: _node(i) for i in (COORDINATOR, *ids)}
    coordinator = RoastCoordinator(keys[0].public, run, message,
                                   signer_ids if signer_ids is not None else sorted(ids))
    parties: dict[int, RoastCoordinator | RoastSigner] = {COORDINATOR: coordinator}
    for k in keys:
        parties[k.identifier] = SIGNER_CLASSES[behaviours.get(k.identifier, "honest")](
            k, run, message, rng=seeded_rng(seed, "roast", k.identifier))
    cores = {i: _Measured(RoastParty(i, roster, p, run)) for i, p in parties.items()}

    def charged(_node: NodeId, core: Core, _event: Event, _actions: Sequence[Action]) -> int:
        return core.last_us if measured and isinstance(core, _Measured) else 0

    sim = Simulation(seed, NetworkModel(default=LinkModel(latency_ms, 0.0, 0.0)),
                     cpu_cost=charged)
    finished: list[int] = []

    def observe(_node: NodeId, at_ms: int, _value: Any) -> None:
        finished.append(at_ms)

    sim.observe(observe)
    honest = sorted(i for i in ids if behaviours.get(i, "honest") == "honest")
    hold = ({i for i in ids if behaviours.get(i, "honest") != "honest"} | set(honest[-1:])
            if coordinated else set())
    held: list[tuple[int, bytes]] = []
    for i, core in cores.items():
        sim.add_node(roster[i], _factory(core))
        if i in hold:
            sim.intercept(roster[i], _hold_first(i, held))
    idle = RoastError("network idle and nothing left to deliver")
    error: RoastError | None = None
    while not coordinator.done:
        sim.run_until(10**12, stop=lambda: coordinator.done or sim.pending() == 0)
        if coordinator.done:
            break
        if not held:
            error = idle
            break
        held.sort(key=lambda m: (m[0] in honest, m[0]))  # misbehaving first, honest last
        i, data = held.pop(0)
        sim.inject(roster[i], roster[COORDINATOR], data, -(-sim.now_us // 1000))
    return SimResult(
        coordinator.signature, len(coordinator.sessions),
        finished[0] / 1000 if finished else sim.now_us / 1e6,
        sum(c.total_s for c in cores.values()), cores[COORDINATOR].total_s,
        sim.stats.sent, sim.stats.bytes_sent, tuple(sorted(coordinator.malicious)),
        [(i, f) for i, p in parties.items() for f in p.faults],
        coordinator.error or error)


def _hold_first(signer: int, held: list[tuple[int, bytes]]) -> Any:
    """An interceptor that keeps a signer's first message back (released by `simulate`)."""
    first = [True]

    def hook(_sim: Simulation, _node: NodeId, action: Action) -> Sequence[Action]:
        if first[0] and isinstance(action, Send):
            first[0] = False
            held.append((signer, action.message))
            return ()
        return (action,)
    return hook
