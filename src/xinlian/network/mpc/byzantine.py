"""Misbehaving parties for both runtimes: a core wrapper that rewrites what a party sends.

The simulator's interceptors (xinlian.sim.adversary) only exist in simulation; a party
process needs its misbehaviour inside its own core. `Byzantine(core, tamper)` runs the
honest core and passes each outgoing action through `tamper`, which may drop it, keep it or
replace it. Protocol modules build payload-level attacks with `rewrite_payload`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from xinlian import codec
from xinlian.network.mpc.envelope import Envelope, peek
from xinlian.sim.protocol import Action, Broadcast, Core, Event, Send

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
