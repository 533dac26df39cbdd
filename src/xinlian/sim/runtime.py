"""A seeded discrete-event runtime that drives sans-I/O cores (sim/protocol.py).

Theory of operation. The simulation owns time, the network, the disks and randomness. Its
queue holds events ordered by (time in µs, sequence number); the sequence number breaks ties
in the order events were scheduled, so one seed gives one order. Popping an event hands it
to the node's core and carries out the returned actions in order: `Persist` writes the
node's durable store at once, `Send`/`Broadcast` go through the `NetworkModel`, timers
become queue entries (a re-set timer supersedes the old entry by a generation count), and
`Deliver` reaches the observers. An optional CPU model charges each handled event simulated
time: the node is busy until then, its sends leave afterwards and later events wait.

A crash drops the core, its timers and the messages in flight to it; only the durable store
survives, and a restart rebuilds the core from it through the node's factory. Adversary
hooks (`intercept`) sit between a core and the network and may rewrite, drop or add what a
Byzantine node sends; `inject` puts arbitrary bytes on the wire. Every step is folded into a
running SHA-256 (messages enter it by CRC-32), the trace hash, so replaying a seed can be
checked bit for bit.
"""

from __future__ import annotations

import hashlib
import heapq
import random
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from xinlian.errors import XinlianError
from xinlian.protocol import (
    Action,
    Broadcast,
    CancelTimer,
    Core,
    Deliver,
    Event,
    Input,
    NodeId,
    Persist,
    Receive,
    Send,
    SetTimer,
    Start,
    Timeout,
)
from xinlian.sim.network import NetworkModel


class SimError(XinlianError):
    """Misuse of the simulator (unknown node, time going backwards)."""

    code = 9000
    name = "sim_error"


Factory = Callable[[NodeId, Mapping[bytes, bytes]], Core]
"""Builds a node's core from its durable store (a live read-only view; empty on first
start)."""

CpuCost = Callable[[NodeId, Core, Event, Sequence[Action]], int]
"""Simulated CPU time in µs that handling `event` took (charged after the fact)."""

Interceptor = Callable[["Simulation", NodeId, Action], Sequence[Action]]
"""Rewrites one action of a Byzantine node before the runtime carries it out."""

Observer = Callable[[NodeId, int, Any], None]
"""Called with (node, time in ms, value) for every `Deliver`."""


@dataclass
class NodeState:
    factory: Factory
    store: dict[bytes, bytes] = field(default_factory=dict)
    core: Core | None = None
    incarnation: int = 0  # starts so far; timers belong to one incarnation
    crashes: int = 0  # messages in flight across a crash are lost
    busy_until: int = 0
    timers: dict[str, int] = field(default_factory=dict)  # name -> generation


@dataclass
class Stats:
    sent: int = 0
    delivered: int = 0
    lost: int = 0
    undeliverable: int = 0
    bytes_sent: int = 0
    events: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)  # messages sent, by kind
    bytes_by_kind: Counter[str] = field(default_factory=Counter)


class Simulation:
    """One seeded run. Schedule faults and inputs, then `run_until` a time in ms."""

    def __init__(self, seed: int, network: NetworkModel | None = None,
                 cpu_cost: CpuCost | None = None,
                 classify: Callable[[bytes], str] | None = None) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.network = network or NetworkModel()
        self.cpu_cost = cpu_cost
        self.classify = classify  # names a message's kind for the statistics
        self.nodes: dict[NodeId, NodeState] = {}
        self.observers: list[Observer] = []
        self.interceptors: dict[NodeId, Interceptor] = {}
        self.stats = Stats()
        self.now_us = 0
        self._queue: list[tuple[int, int, str, Any]] = []
        self._seq = 0
        self._trace = hashlib.sha256(seed.to_bytes(8, "big", signed=True))

    # -- public API ---------------------------------------------------------------------

    @property
    def now_ms(self) -> int:
        return self.now_us // 1000

    @property
    def trace_hash(self) -> str:
        return self._trace.hexdigest()

    def add_node(self, node: NodeId, factory: Factory, start_ms: int | None = None) -> None:
        if node in self.nodes:
            raise SimError(f"node {node.hex()} already added")
        self.nodes[node] = NodeState(factory)
        self.restart(node, self.now_ms if start_ms is None else start_ms)

    def is_up(self, node: NodeId) -> bool:
        return self._state(node).core is not None

    def core(self, node: NodeId) -> Core | None:
        return self._state(node).core

    def store(self, node: NodeId) -> Mapping[bytes, bytes]:
        return self._state(node).store

    def crash(self, node: NodeId, at_ms: int) -> None:
        self._state(node)
        self._schedule(at_ms * 1000, "crash", node)

    def restart(self, node: NodeId, at_ms: int) -> None:
        self._state(node)
        self._schedule(at_ms * 1000, "restart", node)

    def input(self, node: NodeId, value: Any, at_ms: int) -> None:
        self._state(node)
        self._schedule(at_ms * 1000, "input", (node, value))

    def partition(self, groups: Iterable[Iterable[NodeId]], at_ms: int) -> None:
        self._schedule(at_ms * 1000, "partition", [list(g) for g in groups])

    def heal(self, at_ms: int) -> None:
        self._schedule(at_ms * 1000, "heal", None)

    def at(self, at_ms: int, callback: Callable[[Simulation], None]) -> None:
        """Run `callback(sim)` at a simulated time (scripted faults, measurements)."""
        self._schedule(at_ms * 1000, "call", callback)

    def inject(self, sender: NodeId, to: NodeId, message: bytes, at_ms: int) -> None:
        """Put bytes on the wire as if `sender` sent them (a Byzantine sender or replayer)."""
        self._schedule(at_ms * 1000, "inject", (sender, to, message))

    def intercept(self, node: NodeId, hook: Interceptor) -> None:
        self.interceptors[node] = hook

    def observe(self, observer: Observer) -> None:
        self.observers.append(observer)

    def pending(self) -> int:
        """How many events are scheduled (0: the network is idle and no timer is set)."""
        return len(self._queue)

    def run_until(self, until_ms: int, stop: Callable[[], bool] | None = None) -> None:
        """Process events up to `until_ms` (or until `stop()` is true after an event)."""
        limit = until_ms * 1000
        while self._queue and self._queue[0][0] <= limit:
            at, seq, kind, payload = heapq.heappop(self._queue)
            self.now_us = at
            self._step(seq, kind, payload)
            if stop is not None and stop():
                return
        self.now_us = max(self.now_us, limit)

    # -- internals ----------------------------------------------------------------------

    def _state(self, node: NodeId) -> NodeState:
        try:
            return self.nodes[node]
        except KeyError:
            raise SimError(f"unknown node {node.hex()}") from None

    def _schedule(self, at_us: int, kind: str, payload: Any) -> None:
        if at_us < self.now_us:
            raise SimError(f"cannot schedule at {at_us} µs, before now ({self.now_us} µs)")
        self._seq += 1
        heapq.heappush(self._queue, (at_us, self._seq, kind, payload))

    def _note(self, *parts: object) -> None:
        self._trace.update(repr(parts).encode())

    def _step(self, seq: int, kind: str, payload: Any) -> None:
        self.stats.events += 1
        if kind == "msg":
            node, crashes, sender, message, _ = payload
            state = self.nodes[node]
            if state.core is None or state.crashes != crashes:
                return  # arrived while the node was down
            self.stats.delivered += 1
            self._handle(node, Receive(self.now_ms, sender, message), seq)
        elif kind == "wire":  # at the receiver's NIC: wait for the ingress queue
            node, crashes, sender, message, bulk = payload
            read = self.network.read_in(node, len(message), self.now_us, not bulk)
            self._schedule(read, "msg", payload)
        elif kind == "timer":
            node, incarnation, name, generation = payload
            state = self.nodes[node]
            if (state.core is None or state.incarnation != incarnation
                    or state.timers.get(name) != generation):
                return
            del state.timers[name]
            self._handle(node, Timeout(self.now_ms, name), seq)
        elif kind == "input":
            node, value = payload
            if self.nodes[node].core is not None:
                self._handle(node, Input(self.now_ms, value), seq)
        elif kind == "start":
            node, incarnation = payload
            if self.nodes[node].incarnation == incarnation and self.nodes[node].core is not None:
                self._handle(node, Start(self.now_ms), seq)
        elif kind == "crash":
            self._crash(payload)
        elif kind == "restart":
            self._restart(payload, seq)
        elif kind == "partition":
            self._note(self.now_us, "partition", payload)
            self.network.partition(payload)
        elif kind == "heal":
            self._note(self.now_us, "heal")
            self.network.heal()
        elif kind == "inject":
            sender, to, message = payload
            self._send(sender, to, message)
        elif kind == "call":
            payload(self)

    def _crash(self, node: NodeId) -> None:
        state = self.nodes[node]
        if state.core is None:
            return
        self._note(self.now_us, "crash", node)
        state.core = None
        state.crashes += 1
        state.timers.clear()
        state.busy_until = 0
        self.network.forget(node)

    def _restart(self, node: NodeId, seq: int) -> None:
        state = self.nodes[node]
        if state.core is not None:
            return
        self._note(self.now_us, "start", node)
        state.incarnation += 1
        state.core = state.factory(node, MappingProxyType(state.store))  # live, read-only
        self._handle(node, Start(self.now_ms), seq)

    def _handle(self, node: NodeId, event: Event, seq: int) -> None:
        state = self.nodes[node]
        if state.busy_until > self.now_us:  # the CPU is still on an earlier event
            self._requeue(state.busy_until, node, event)
            return
        core = state.core
        assert core is not None
        actions = core.handle(event)
        done = self.now_us
        if self.cpu_cost is not None:
            done += max(0, self.cpu_cost(node, core, event, actions))
            state.busy_until = done
        self._note(self.now_us, type(event).__name__, node, len(actions))
        hook = self.interceptors.get(node)
        for action in actions:
            for act in (hook(self, node, action) if hook else (action,)):
                self._carry_out(node, state, act, done)

    def _requeue(self, at_us: int, node: NodeId, event: Event) -> None:
        state = self.nodes[node]
        if isinstance(event, Receive):
            self._schedule(at_us, "msg", (node, state.crashes, event.sender, event.message, False))
        elif isinstance(event, Timeout):
            generation = state.timers.get(event.timer, 0) + 1
            state.timers[event.timer] = generation
            self._schedule(at_us, "timer", (node, state.incarnation, event.timer, generation))
        elif isinstance(event, Input):
            self._schedule(at_us, "input", (node, event.value))
        else:
            self._schedule(at_us, "start", (node, state.incarnation))

    def _carry_out(self, node: NodeId, state: NodeState, action: Action, done_us: int) -> None:
        if isinstance(action, Persist):
            if action.value is None:
                state.store.pop(action.key, None)
            else:
                state.store[action.key] = action.value
        elif isinstance(action, Send):
            self._send(node, action.to, action.message, done_us, bulk=action.bulk)
        elif isinstance(action, Broadcast):
            fingerprint = zlib.crc32(action.message)
            for to in action.to:
                self._send(node, to, action.message, done_us, fingerprint, action.bulk)
        elif isinstance(action, SetTimer):
            generation = state.timers.get(action.timer, 0) + 1
            state.timers[action.timer] = generation
            self._schedule(max(action.at_ms * 1000, done_us), "timer",
                           (node, state.incarnation, action.timer, generation))
        elif isinstance(action, CancelTimer):
            state.timers.pop(action.timer, None)
        elif isinstance(action, Deliver):
            for observer in self.observers:
                observer(node, done_us // 1000, action.value)

    def _send(self, sender: NodeId, to: NodeId, message: bytes, at_us: int | None = None,
              fingerprint: int | None = None, bulk: bool = False) -> None:
        """Bulk messages (`Send.bulk`) queue behind protocol messages at the NICs."""
        if to == sender or to not in self.nodes:
            self.stats.undeliverable += 1  # to itself (the contract drops it) or to no one
            return
        at_us = self.now_us if at_us is None else at_us
        if fingerprint is None:
            fingerprint = zlib.crc32(message)
        size = len(message)
        self.stats.sent += 1
        self.stats.bytes_sent += size
        if self.classify is not None:
            name = self.classify(message)
            self.stats.by_kind[name] += 1
            self.stats.bytes_by_kind[name] += size
        left = self.network.departure(sender, size, at_us, not bulk)
        arrives = self.network.arrival(sender, to, size, left, self.rng)
        self._note(at_us, "send", sender, to, fingerprint, arrives)
        if arrives is None:
            self.stats.lost += 1
            return
        kind = "msg" if self.network.nic_bytes_per_s is None else "wire"
        self._schedule(arrives, kind, (to, self.nodes[to].crashes, sender, message, bulk))
