"""Misbehaving parties for both runtimes: a core wrapper that rewrites what a party sends.

The simulator's interceptors (xinlian.sim.adversary) only exist in simulation; a party
process needs its misbehaviour inside its own core. `Byzantine(core, tamper)` runs the
honest core and passes each outgoing action through `tamper`, which may drop it, keep it or
replace it. Protocol modules build payload-level attacks with `rewrite_payload`, and
equivocation in broadcast rounds with `equivocate`, which tells each recipient something
else and signs each version with the party's own key (a misbehaving member is still a
member, with a valid key).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.crypto.signing import SigningKey
from xinlian.crypto.suites import get_suite
from xinlian.crypto.threshold import broadcast
from xinlian.crypto.threshold.envelope import Envelope, peek
from xinlian.protocol import Action, Broadcast, Core, Event, NodeId, Send

Tamper = Callable[[Action], Sequence[Action]]


class Byzantine:
    """`core` with every outgoing action passed through `tamper`."""

    def __init__(self, core: Core, tamper: Tamper) -> None:
        self.inner = core
        self.tamper = tamper

    def handle(self, event: Event) -> Sequence[Action]:
        return [out for action in self.inner.handle(event) for out in self.tamper(action)]


def inner(core: Core) -> Any:
    """The protocol core inside any wrappers (Byzantine, timed), for counters and state."""
    while hasattr(core, "inner"):
        core = core.inner
    return core


def silent(action: Action) -> Sequence[Action]:
    """Send nothing (runs, listens, never speaks)."""
    return () if isinstance(action, Send | Broadcast) else (action,)


def silent_in(slots: Collection[int]) -> Tamper:
    """Say nothing in the given broadcast slots (no post, echo, copy or request for them),
    and speak normally in every other: a member that skips single rounds."""
    def tamper(action: Action) -> Sequence[Action]:
        if not isinstance(action, Send | Broadcast) or (env := peek(action.message)) is None:
            return (action,)
        try:
            msg = codec.decode(env.payload, broadcast.Wire)
        except CodecError:
            return (action,)
        slot = msg.message.slot if isinstance(msg, broadcast.Post | broadcast.Copy) else (
            getattr(msg, "slot", None))
        return () if slot in slots else (action,)
    return tamper


def rewrite_payload(change: Callable[[bytes], bytes | None]) -> Tamper:
    """Apply `change` to the payload of every envelope sent (None drops the message)."""
    def tamper(action: Action) -> Sequence[Action]:
        if not isinstance(action, Send | Broadcast):
            return (action,)
        env = peek(action.message)
        if env is None:
            return (action,)
        payload = change(env.payload)
        if payload is None:
            return ()
        data = codec.encode(Envelope(env.protocol, env.session, env.sender, env.seq, payload))
        return (replace(action, message=data),)
    return tamper


Change = Callable[[bytes, broadcast.Signed, int], bytes]  # (session, message, recipient)


def equivocate(key: SigningKey, parties: Mapping[NodeId, int], change: Change) -> Tamper:
    """Give each recipient of a broadcast post the payload `change` makes for it, signed
    with `key`. Recipients given the same payload share one message; different payloads
    go as separate sends, each validly signed."""
    suite = get_suite(broadcast.SUITE)

    def tamper(action: Action) -> Sequence[Action]:
        if not isinstance(action, Send | Broadcast):
            return (action,)
        env = peek(action.message)
        try:
            post = codec.decode(env.payload, broadcast.Post) if env is not None else None
        except CodecError:
            post = None
        if env is None or post is None:
            return (action,)
        m = post.message
        groups: dict[bytes, list[NodeId]] = {}
        for node in (action.to,) if isinstance(action, Send) else action.to:
            groups.setdefault(change(env.session, m, parties[node]), []).append(node)
        out: list[Action] = []
        for payload, nodes in groups.items():
            signed = broadcast.sign(key, suite, env.protocol, env.session, m.slot, m.sender,
                                    payload)
            data = codec.encode(Envelope(env.protocol, env.session, env.sender, env.seq,
                                         codec.encode(broadcast.Post(signed, post.direct))))
            out.append(replace(action, message=data) if isinstance(action, Send)
                       else Broadcast(tuple(nodes), data, action.bulk))
        return out
    return tamper
