"""The wire envelope of every MPC message, and the base class that checks it at the boundary.

Every message a distributed-crypto core sends is
`Envelope(protocol, session, sender, seq, payload)`, canonically encoded. Before a protocol
party sees a payload, `MpcCore` checks that the bytes decode, that the protocol and
session are this run's, that the sender index is the party the runtime authenticated (a
member cannot speak for another), and that the pair (sender, seq) is new (a replayed
envelope is dropped). Anything else is dropped and counted in `dropped` by reason, never
raised: a message must not be able to stop a party.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.protocol import (
    Action,
    Broadcast,
    Deliver,
    Event,
    Input,
    NodeId,
    Receive,
    Send,
    SetTimer,
    Start,
    Timeout,
)

MAX_ENVELOPE = 4 * 1024 * 1024


class Envelope(codec.Struct):
    protocol: str
    session: bytes
    sender: int
    seq: int
    payload: bytes


DROP_REASONS = ("malformed", "wrong_protocol", "wrong_session", "wrong_sender", "replayed")


def peek(data: bytes) -> Envelope | None:
    """The envelope in `data`, or None (for classifiers and attackers that rewrite it)."""
    try:
        return codec.decode(data, Envelope, max_size=MAX_ENVELOPE)
    except CodecError:
        return None


class MpcCore:
    """A sans-I/O core (xinlian.protocol.Core) for one party of one protocol.

    `roster` maps party indices to node ids (the same at every party). Subclasses implement
    `on_start(now_ms)`, `on_payload(now_ms, sender, session, payload)` and optionally
    `on_timer(now_ms, name)` and `on_input(now_ms, value)`, returning actions built with
    `send`, `broadcast`, `timer` and `deliver`. `faults` counts peer misbehaviour reported
    by the protocol itself.
    """

    protocol = "mpc"

    def __init__(self, me: int, roster: Mapping[int, NodeId], sessions: Iterable[bytes]) -> None:
        self.me = me
        self.roster = dict(roster)
        self._index = {node: i for i, node in self.roster.items()}
        self.sessions = set(sessions)
        self.dropped: Counter[str] = Counter()
        self.faults: Counter[int] = Counter()  # party index -> faults it caused
        self._seq = 0
        self._seen: set[tuple[int, int]] = set()

    # -- the Core contract ------------------------------------------------------------------

    def handle(self, event: Event) -> Sequence[Action]:
        if isinstance(event, Start):
            return self.on_start(event.now_ms)
        if isinstance(event, Timeout):
            return self.on_timer(event.now_ms, event.timer)
        if isinstance(event, Receive):
            return self._receive(event)
        if isinstance(event, Input):
            return self.on_input(event.now_ms, event.value)
        return []

    def _receive(self, event: Receive) -> Sequence[Action]:
        env = peek(event.message)
        if env is None:
            return self._drop("malformed")
        if env.protocol != self.protocol:
            return self._drop("wrong_protocol")
        if env.session not in self.sessions:
            return self._drop("wrong_session")
        if self._index.get(event.sender) != env.sender:
            return self._drop("wrong_sender")
        if (env.sender, env.seq) in self._seen:
            return self._drop("replayed")
        self._seen.add((env.sender, env.seq))
        return self.on_payload(event.now_ms, env.sender, env.session, env.payload)

    def _drop(self, reason: str) -> Sequence[Action]:
        self.dropped[reason] += 1
        return ()

    # -- for subclasses -----------------------------------------------------------------------

    def on_start(self, now_ms: int) -> list[Action]:
        return []

    def on_payload(self, now_ms: int, sender: int, session: bytes,
                   payload: bytes) -> list[Action]:
        return []

    def on_timer(self, now_ms: int, name: str) -> list[Action]:
        return []

    def on_input(self, now_ms: int, value: Any) -> list[Action]:
        """A request from the local application (most protocols take none)."""
        return []

    def fault(self, party: int) -> None:
        self.faults[party] += 1

    def decode_from(self, sender: int, payload: bytes, type_: Any) -> Any:
        """`payload` as `type_`, or None with a fault counted against `sender`."""
        try:
            return codec.decode(payload, type_)
        except CodecError:
            self.fault(sender)
            return None

    def _wrap(self, session: bytes, payload: bytes) -> bytes:
        self._seq += 1
        return codec.encode(Envelope(self.protocol, session, self.me, self._seq, payload))

    def send(self, to: int, session: bytes, payload: bytes) -> Action:
        return Send(self.roster[to], self._wrap(session, payload))

    def broadcast(self, to: Collection[int], session: bytes, payload: bytes) -> Action:
        """One envelope to every party in `to` except this one."""
        return Broadcast(tuple(self.roster[i] for i in sorted(to) if i != self.me),
                         self._wrap(session, payload))

    @staticmethod
    def timer(name: str, at_ms: int) -> Action:
        return SetTimer(name, at_ms)

    def deliver(self, role: str, **result: Any) -> Action:
        """The party's outcome: a JSON-able dict, the same under both runtimes."""
        return Deliver({"party": self.me, "role": role, **result})


class Collector(MpcCore):
    """A party that gathers its peers' messages until `collect_ms` after it starts."""

    def __init__(self, me: int, roster: Mapping[int, NodeId], sessions: Iterable[bytes],
                 collect_ms: int) -> None:
        super().__init__(me, roster, sessions)
        self.collect_ms = collect_ms

    def on_start(self, now_ms: int) -> list[Action]:
        return [self.timer("collect", now_ms + self.collect_ms)]
