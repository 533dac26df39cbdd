"""A discrete-event network for ROAST: measured CPU per step, chosen latency, adversaries.

Every party is its own machine: a message is handled when it has arrived and the party is
free, and the party is then busy for the CPU time the handler really took in this process
(`time.perf_counter`). Completion time is therefore what n parallel machines would see,
while `cpu_total` is what this one process spent. The network is reliable; under
`coordinated=True` it is also adversarial in the way the ROAST paper's worst case needs:
the malicious signers' first messages, and one honest signer's, are held back and released
one at a time whenever nothing else is in flight, so that every session but the last
contains exactly one malicious signer.
"""

from __future__ import annotations

import heapq
import os
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from xinlian import codec
from xinlian.crypto.primitives.groups import Rng
from xinlian.crypto.threshold import frost
from xinlian.crypto.threshold.dkg import KeyShare
from xinlian.crypto.threshold.frost import Signature
from xinlian.crypto.threshold.roast import (
    COORDINATOR,
    Aborted,
    Action,
    Completed,
    Fault,
    Request,
    Response,
    RoastCoordinator,
    RoastError,
    RoastSigner,
    Send,
)

Behaviour = Literal["honest", "silent", "absent", "invalid", "bad_point", "replay"]


class SilentSigner(RoastSigner):
    """Announces nonces, then never answers a request."""

    def receive(self, sender: int, data: bytes) -> list[Action]:
        return []


class AbsentSigner(SilentSigner):
    """Sends nothing at all."""

    def start(self) -> list[Action]:
        return []


class InvalidShareSigner(RoastSigner):
    """Answers every request promptly, with a share that does not verify."""

    def receive(self, sender: int, data: bytes) -> list[Action]:
        req = codec.decode(data, Request)
        junk = self.key.group.random_scalar(self.rng).encode()
        return self._respond(req.session, junk)


class BadPointSigner(RoastSigner):
    """Answers with a next commitment that is not a valid group element."""

    def receive(self, sender: int, data: bytes) -> list[Action]:
        req = codec.decode(data, Request)
        out = RoastSigner.receive(self, sender, data)
        msg = codec.decode(next(a.data for a in out if isinstance(a, Send)), Response)
        bad = frost.WireCommitments(msg.signer, bytes(len(msg.next_commitment.hiding)),
                                    msg.next_commitment.binding)
        return [Send(COORDINATOR, codec.encode(Response(msg.run, msg.signer, req.session,
                                                        msg.share, bad)))]


class ReplaySigner(RoastSigner):
    """Replays its first message instead of answering."""

    def start(self) -> list[Action]:
        self.first = super().start()
        return self.first

    def receive(self, sender: int, data: bytes) -> list[Action]:
        return list(self.first)


SIGNER_CLASSES: dict[str, type[RoastSigner]] = {
    "honest": RoastSigner, "silent": SilentSigner, "absent": AbsentSigner,
    "invalid": InvalidShareSigner, "bad_point": BadPointSigner, "replay": ReplaySigner,
}


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


def simulate(keys: Sequence[KeyShare], message: bytes, *,
             behaviours: Mapping[int, Behaviour] | None = None, coordinated: bool = False,
             latency: float = 0.0, run: bytes = b"roast-run", seed: int | None = None,
             signer_ids: Sequence[int] | None = None, measured: bool = True) -> SimResult:
    """Sign `message` with ROAST among `keys` (one per signer) and a coordinator.

    With `measured=False` handlers take zero simulated time, so the schedule (and, with a
    seed, the whole run) is deterministic: what the tests use. CPU is reported either way.
    """
    behaviours = behaviours or {}
    rngs: dict[int, Rng] = {}
    for k in keys:
        rngs[k.identifier] = (random.Random(seed * 100003 + k.identifier).randbytes
                              if seed is not None else os.urandom)
    signers = {k.identifier: SIGNER_CLASSES[behaviours.get(k.identifier, "honest")](
        k, run, message, rng=rngs[k.identifier]) for k in keys}
    coord = RoastCoordinator(keys[0].public, run, message,
                             signer_ids if signer_ids is not None else sorted(signers))
    queue: list[tuple[float, int, int, int, bytes]] = []
    held: list[tuple[int, bytes]] = []
    busy = dict.fromkeys([COORDINATOR, *signers], 0.0)
    res = SimResult(None, 0, 0.0, 0.0, 0.0, 0, 0, ())
    seq = 0
    now = 0.0

    def push(at: float, to: int, sender: int, data: bytes) -> None:
        nonlocal seq
        seq += 1
        res.messages += 1
        res.bytes += len(data)
        heapq.heappush(queue, (at, seq, to, sender, data))

    def emit(sender: int, finished: float, actions: list[Action]) -> bool:
        for a in actions:
            if isinstance(a, Send):
                push(finished + latency, a.to, sender, a.data)
            elif isinstance(a, Fault):
                res.faults.append((sender, a))
            elif isinstance(a, Completed):
                res.signature, res.completion_time = a.signature, finished
                res.sessions_started = a.sessions_started
                res.malicious_identified = a.malicious
                return True
            elif isinstance(a, Aborted):
                res.error, res.completion_time = a.error, finished
                return True
        return False

    honest = sorted(i for i in signers if behaviours.get(i, "honest") == "honest")
    hold = ({i for i in signers if behaviours.get(i, "honest") != "honest"} | set(honest[-1:])
            if coordinated else set())
    for i in sorted(signers):
        start = time.perf_counter()
        actions = signers[i].start()
        dt = time.perf_counter() - start
        res.cpu_total += dt
        dt = dt if measured else 0.0
        busy[i] = dt
        if i in hold:
            held.extend((i, a.data) for a in actions if isinstance(a, Send))
        elif emit(i, dt, actions):
            return res
    held.sort(key=lambda m: (m[0] in honest, m[0]))  # malicious first, the honest one last
    while True:
        if not queue:
            if not held:
                res.error = RoastError("network idle and nothing left to deliver")
                return res
            i, data = held.pop(0)
            push(now + latency, COORDINATOR, i, data)
        at, _, to, sender, data = heapq.heappop(queue)
        party = coord if to == COORDINATOR else signers[to]
        now = max(at, busy[to])
        start = time.perf_counter()
        actions = party.receive(sender, data)
        dt = time.perf_counter() - start
        res.cpu_total += dt
        if to == COORDINATOR:
            res.cpu_coordinator += dt
        dt = dt if measured else 0.0
        busy[to] = now + dt
        res.sessions_started = len(coord.sessions)
        if emit(to, now + dt, actions):
            res.sessions_started = len(coord.sessions)
            return res
