"""Protocol-agnostic Byzantine behaviours, as interceptors for `Simulation.intercept`.

Each function returns an interceptor that rewrites what one node sends. Protocol-specific
attacks (an equivocating leader, a vote with a forged signature) live beside the protocol,
which knows its message formats; these only treat messages as bytes. All randomness comes
from the simulation's seeded generator.
"""

from __future__ import annotations

from collections.abc import Sequence

from xinlian.protocol import Action, Broadcast, NodeId, Send
from xinlian.sim.runtime import Interceptor, Simulation


def _sends(action: Action) -> list[Send] | None:
    if isinstance(action, Send):
        return [action]
    if isinstance(action, Broadcast):
        return [Send(to, action.message, action.bulk) for to in action.to]
    return None


def silent() -> Interceptor:
    """Withhold every message (a node that runs but never speaks)."""
    def hook(sim: Simulation, node: NodeId, action: Action) -> Sequence[Action]:
        return () if _sends(action) is not None else (action,)
    return hook


def withhold_from(victims: Sequence[NodeId]) -> Interceptor:
    """Send to everyone except `victims`."""
    blocked = set(victims)

    def hook(sim: Simulation, node: NodeId, action: Action) -> Sequence[Action]:
        sends = _sends(action)
        if sends is None:
            return (action,)
        return [s for s in sends if s.to not in blocked]
    return hook


def garbage(probability: float, max_size: int = 256) -> Interceptor:
    """Also send random bytes (and truncated or bit-flipped copies) with some probability."""
    def hook(sim: Simulation, node: NodeId, action: Action) -> Sequence[Action]:
        sends = _sends(action)
        if sends is None:
            return (action,)
        out: list[Action] = list(sends)
        for s in sends:
            if sim.rng.random() >= probability:
                continue
            choice = sim.rng.randrange(3)
            if choice == 0:
                junk = sim.rng.randbytes(sim.rng.randrange(max_size))
            elif choice == 1:
                junk = s.message[: sim.rng.randrange(len(s.message) + 1)]
            else:
                flip = bytearray(s.message)
                if flip:
                    flip[sim.rng.randrange(len(flip))] ^= 1 << sim.rng.randrange(8)
                junk = bytes(flip)
            out.append(Send(s.to, junk))
        return out
    return hook


def replay(probability: float, memory: int = 64) -> Interceptor:
    """Also resend, with some probability, an old message this node sent before."""
    seen: list[bytes] = []

    def hook(sim: Simulation, node: NodeId, action: Action) -> Sequence[Action]:
        sends = _sends(action)
        if sends is None:
            return (action,)
        out: list[Action] = list(sends)
        for s in sends:
            if seen and sim.rng.random() < probability:
                out.append(Send(s.to, seen[sim.rng.randrange(len(seen))]))
        seen.append(sends[0].message)
        del seen[:-memory]
        return out
    return hook


def chain(*hooks: Interceptor) -> Interceptor:
    """Apply interceptors one after another."""
    def hook(sim: Simulation, node: NodeId, action: Action) -> Sequence[Action]:
        actions: list[Action] = [action]
        for h in hooks:
            actions = [out for a in actions for out in h(sim, node, a)]
        return actions
    return hook
