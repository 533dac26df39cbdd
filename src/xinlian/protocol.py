"""The contract between a sans-I/O protocol core and the runtime that drives it.

A core (consensus, gossip, sync, DKG, ...) is a deterministic state machine: the runtime
feeds it events and carries out the actions it returns, in order. A core never reads a
clock, opens a socket, starts a thread or touches a disk; time arrives inside events and
durability is requested with `Persist`. Two runtimes drive the same cores: `network/`
(asyncio TCP between real processes) and `sim/` (a seeded discrete-event simulation).

Rules every runtime keeps:
- actions are carried out in the order returned; a `Persist` is durable before any later
  action of the same batch is carried out (so "persist the vote, then send it" is safe);
- after a crash, a core is rebuilt from the values it persisted and nothing else; the
  runtime hands it a live read-only `Mapping` of them, which stays current as later
  `Persist`s are carried out, so a core may keep old values out of memory and read them
  back from the view (a pure lookup, no I/O the core drives); a deleted key leaves the view;
- messages are opaque bytes to the runtime; the core decodes and validates them, and
  drops (and counts) what is malformed — a message never raises out of `handle`;
- a message a core sends to its own node is dropped (both runtimes do so and count it): a
  core handles its own contribution directly instead of mailing it to itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

NodeId = bytes  # a node's identity: its address in the membership


# -- events: runtime -> core ---------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Start:
    now_ms: int


@dataclass(frozen=True, slots=True)
class Receive:
    now_ms: int
    sender: NodeId  # authenticated by the runtime's channel
    message: bytes


@dataclass(frozen=True, slots=True)
class Timeout:
    now_ms: int
    timer: str


@dataclass(frozen=True, slots=True)
class Input:
    """Something from the local application (e.g. a batch of transactions to order)."""

    now_ms: int
    value: Any


Event = Start | Receive | Timeout | Input


# -- actions: core -> runtime --------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Send:
    """`bulk`: data (say a batch of transactions) that may wait behind protocol messages."""

    to: NodeId
    message: bytes
    bulk: bool = False


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send to each of `to` (the core names its recipients; the runtime does not guess)."""

    to: tuple[NodeId, ...]
    message: bytes
    bulk: bool = False


@dataclass(frozen=True, slots=True)
class SetTimer:
    timer: str
    at_ms: int  # absolute time; setting a timer again replaces it


@dataclass(frozen=True, slots=True)
class CancelTimer:
    timer: str


@dataclass(frozen=True, slots=True)
class Persist:
    """Stored before any action that follows it. `sync=False`: bulk data that may reach the
    disk later — it survives a crash of the process, not of the machine. `value` None
    deletes `key` (from the store a Persist of the same `sync` wrote it to), in the same
    atomic write as the other Persists of its kind that the event returned."""

    key: bytes
    value: bytes | None
    sync: bool = True


@dataclass(frozen=True, slots=True)
class Deliver:
    """Output for the local application (e.g. a committed block)."""

    value: Any


Action = Send | Broadcast | SetTimer | CancelTimer | Persist | Deliver


class Core(Protocol):
    def handle(self, event: Event) -> Sequence[Action]: ...


@runtime_checkable
class Scannable(Protocol):
    """A view of persisted values that can list one prefix without walking every key."""

    def scan_prefix(self, prefix: bytes) -> Sequence[tuple[bytes, bytes]]: ...
