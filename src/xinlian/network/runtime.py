"""NetworkRuntime: drives one sans-I/O protocol core over the transport on an asyncio loop.

Theory of operation. Everything that reaches the core is an event in one FIFO: `Start`
once, `Receive` for each authenticated message (the sender is the id the handshake
proved), `Timeout` when a timer set by the core fires, and `Input` from the application.
A single task takes events in order, calls `core.handle`, and carries out the returned
actions in order, as xinlian.protocol requires. Events that are already waiting are
handled as one group (group commit): their Persists are written together, and every other
action of the group runs after that write — later than the protocol requires, never
earlier, so a crash loses only events whose effects nobody has seen. One synced write then
serves many events, which is what lets a node keep up when batches and votes arrive faster
than the disk syncs. A timer's event always starts a new group, so a timer the group before
replaced or cancelled is recognised as stale.

- `Persist` (a value, or a delete): written as one LMDB batch, synced to disk (in a
  worker thread, so the sockets keep moving) before any other action of the group runs; a
  `sync=False` Persist (bulk data such as transaction batches) goes to `bulk_store` if one
  is given, a store whose commits are not flushed, so the group's synced write stays small
  (it commits first: a crash between the two commits leaves the bulk part done);
- `Send` / `Broadcast`: queued on the transport (never blocking; a full queue drops and
  counts, see transport.py), bulk ones behind the protocol messages (queues.py); a
  message addressed to this node itself is dropped and counted in `self_sends`, as the
  simulator (xinlian.sim.runtime) does, so a core behaves the same under both runtimes;
- `SetTimer` / `CancelTimer`: `loop.call_at` on the core's millisecond clock; setting a
  timer again replaces it, and a timer cancelled or replaced after it fired but before its
  event was handled is not delivered;
- `Deliver`: passed to the application callback.

The event FIFO is bounded softly: at `max_backlog` events the runtime stops the transport
reading from its sockets (`Transport.receiving`), and resumes at half that, so a core that
falls behind pushes back through TCP onto the senders' bounded queues instead of growing
memory without limit.

Routing: a node runs more than one core over one transport (a validator's consensus, and
the state-sync server that answers joining nodes). `routes` pairs a predicate on a
message's bytes (its tag, read without decoding) with the core that takes it; a message no
route claims goes to the main core. Routed messages are events of the same FIFO, so the
order and group-commit rules above hold for every core alike.

The core's clock is milliseconds since the Unix epoch at start-up, advancing with the
loop's monotonic clock, so it never jumps backwards while the node runs. A core that
raises stops the runtime (fail-stop: its state can no longer be trusted), and so does a
`deliver` callback that raises (what it was handed is lost); `run()` re-raises.
After a crash, `StoreView((store, bulk_store), db)` gives the core back every value it
persisted, as a live read-only view (cores read old values back from it instead of keeping
them in memory); `persisted(store, db)` copies them all into a dict.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from xinlian.network.transport import Transport
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
from xinlian.storage.kv import Store, WriteBatch

log = logging.getLogger(__name__)

DEFAULT_DB = "core"


@dataclass(frozen=True, slots=True)
class _Fired:
    timer: str
    token: object


@dataclass(frozen=True, slots=True)
class _Routed:
    core: Core
    event: Receive


Route = tuple[Callable[[bytes], bool], Core]
"""(does this message belong to the core, the core): see the module docstring."""


def persisted(store: Store, db: str = DEFAULT_DB) -> dict[bytes, bytes]:
    """Every key and value a core persisted, to rebuild it after a restart."""
    return dict(store.scan(db))


class StoreView(Mapping[bytes, bytes]):
    """What a core persisted into sub-database `db` of `stores` (the first holding a key
    answers), read live: values the runtime writes later show up (protocol.py)."""

    def __init__(self, stores: Sequence[Store], db: str = DEFAULT_DB) -> None:
        self.stores = tuple(stores)
        self.db = db

    def __getitem__(self, key: bytes) -> bytes:
        for store in self.stores:
            value = store.get(self.db, key)
            if value is not None:
                return value
        raise KeyError(key)

    def __iter__(self) -> Iterator[bytes]:
        for store in self.stores:
            for key, _ in store.scan(self.db):
                yield key

    def __len__(self) -> int:
        return sum(len(store.scan(self.db)) for store in self.stores)

    def scan_prefix(self, prefix: bytes) -> list[tuple[bytes, bytes]]:
        return [item for store in self.stores for item in store.scan(self.db, prefix=prefix)]


class NetworkRuntime:
    """Runs `core` over `transport`, persisting into sub-database `db` of `store`."""

    def __init__(self, core: Core, transport: Transport, store: Store, *,
                 deliver: Callable[[Any], None], db: str = DEFAULT_DB,
                 bulk_store: Store | None = None, routes: Sequence[Route] = (),
                 max_backlog: int = 10_000, max_group: int = 256) -> None:
        self.core = core
        self.transport = transport
        self.store = store
        self.bulk_store = bulk_store
        self.db = db
        self.node_id: NodeId = transport.node_id
        self._deliver = deliver
        self.routes = tuple(routes)
        self.max_backlog = max_backlog
        self.max_group = max_group
        self._events: deque[Event | _Fired | _Routed] = deque()
        self._wake = asyncio.Event()
        self._timers: dict[str, tuple[asyncio.TimerHandle, object, int]] = {}
        self._task: asyncio.Task[None] | None = None
        self._origin_ms = 0
        self._origin_loop = 0.0
        self.events_handled = 0
        self.handle_cpu = 0.0  # CPU seconds in the cores' event handling (this thread)
        self.self_sends = 0
        transport.on_message = self._on_message

    # -- clock ----------------------------------------------------------------------------

    def now_ms(self) -> int:
        loop = asyncio.get_running_loop()
        return self._origin_ms + int((loop.time() - self._origin_loop) * 1000)

    def _loop_time(self, at_ms: int) -> float:
        return self._origin_loop + (at_ms - self._origin_ms) / 1000.0

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the transport and the event task; the core sees `Start` first."""
        loop = asyncio.get_running_loop()
        self._origin_ms = time.time_ns() // 1_000_000
        self._origin_loop = loop.time()
        await self.transport.start()
        self._events.appendleft(Start(self.now_ms()))
        self._wake.set()
        self._task = asyncio.create_task(self._run())

    async def run(self) -> None:
        """Wait until the runtime stops; re-raises the core's exception if it failed."""
        if self._task is not None:
            await self._task

    async def stop(self) -> None:
        for handle, _, _ in self._timers.values():
            handle.cancel()
        self._timers.clear()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            except Exception:
                log.debug("core had failed before stop", exc_info=True)
        await self.transport.close()

    # -- events in ------------------------------------------------------------------------

    def _push(self, event: Event | _Fired | _Routed) -> None:
        self._events.append(event)
        self._wake.set()
        if len(self._events) >= self.max_backlog:
            self.transport.receiving.clear()  # stop reading sockets until we catch up

    def _on_message(self, sender: NodeId, message: bytes) -> None:
        event = Receive(self.now_ms(), sender, message)
        for claims, core in self.routes:
            if claims(message):
                self._push(_Routed(core, event))
                return
        self._push(event)

    def input(self, value: Any) -> None:
        """Hand the core something from the local application."""
        self._push(Input(self.now_ms(), value))

    def _fire(self, timer: str, token: object) -> None:
        self._push(_Fired(timer, token))

    async def _run(self) -> None:
        events = self._events
        while True:
            while not events:
                self._wake.clear()
                await self._wake.wait()
            actions: list[Action] = []
            started = time.thread_time()
            for _ in range(min(len(events), self.max_group)):
                if actions and isinstance(events[0], _Fired):
                    break  # a timer is judged against the timers as the group left them
                event = events.popleft()
                if isinstance(event, _Routed):
                    actions += event.core.handle(event.event)
                    self.events_handled += 1
                    continue
                if isinstance(event, _Fired):
                    current = self._timers.get(event.timer)
                    if current is None or current[1] is not event.token:
                        continue  # cancelled or replaced after it fired
                    del self._timers[event.timer]
                    # The loop may run a timer a hair early; the core never sees it early.
                    event = Timeout(max(self.now_ms(), current[2]), event.timer)
                actions += self.core.handle(event)
                self.events_handled += 1
            self.handle_cpu += time.thread_time() - started
            if len(events) <= self.max_backlog // 2 and not self.transport.receiving.is_set():
                self.transport.receiving.set()
            await self._apply(actions)

    # -- actions out ----------------------------------------------------------------------

    async def _apply(self, actions: Iterable[Action]) -> None:
        batch, bulk = WriteBatch(), WriteBatch()
        rest = []
        for action in actions:
            if isinstance(action, Persist):
                target = bulk if not action.sync and self.bulk_store is not None else batch
                if action.value is None:
                    target.delete(self.db, action.key)
                else:
                    target.put(self.db, action.key, action.value)
            else:
                rest.append(action)
        if len(batch) or len(bulk):
            await self._commit(batch, bulk)
        for action in rest:
            if isinstance(action, Send):
                self._send(action.to, action.message, action.bulk)
            elif isinstance(action, Broadcast):
                for to in action.to:
                    self._send(to, action.message, action.bulk)
            elif isinstance(action, SetTimer):
                self._set_timer(action.timer, action.at_ms)
            elif isinstance(action, CancelTimer):
                entry = self._timers.pop(action.timer, None)
                if entry is not None:
                    entry[0].cancel()
            elif isinstance(action, Deliver):
                # A failed delivery lost a committed value: the node cannot go on (fail-stop).
                self._deliver(action.value)
            else:
                raise TypeError(f"unknown action {action!r}")

    async def _commit(self, batch: WriteBatch, bulk: WriteBatch) -> None:
        def write() -> None:
            if len(bulk):
                assert self.bulk_store is not None
                self.bulk_store.commit(bulk)
            if len(batch):
                self.store.commit(batch)
        await asyncio.get_running_loop().run_in_executor(None, write)

    def _send(self, to: NodeId, message: bytes, bulk: bool) -> None:
        if to == self.node_id:
            self.self_sends += 1
        else:
            self.transport.send(to, message, bulk)

    def _set_timer(self, timer: str, at_ms: int) -> None:
        old = self._timers.pop(timer, None)
        if old is not None:
            old[0].cancel()
        token = object()
        handle = asyncio.get_running_loop().call_at(self._loop_time(at_ms), self._fire,
                                                    timer, token)
        self._timers[timer] = (handle, token, at_ms)
