"""NetworkRuntime: a small counter core on 4 nodes over real sockets, timers, persistence."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from xinlian.crypto.suites import Suite, get_suite
from xinlian.network.runtime import NetworkRuntime, persisted
from xinlian.network.transport import Transport
from xinlian.protocol import (
    Action,
    Broadcast,
    CancelTimer,
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
from xinlian.storage.kv import Store

from .conftest import membership, node_keys
from .harness import Cluster

pytestmark = pytest.mark.timeout(60)


class CounterCore:
    """Input n: persist it, broadcast count:n to every member (itself included: the runtime
    drops that copy, as the simulator does); each receiver acks; when the acks of all other
    members are in, deliver ("acked", n). Timers: 'boot' fires once, 'never' is set and
    cancelled, 'twice' is set and then replaced."""

    def __init__(self, me: NodeId, members: Sequence[NodeId]) -> None:
        self.me = me
        self.members = tuple(members)
        self.acks: dict[int, set[NodeId]] = {}
        self.fired: list[str] = []
        self.senders: set[NodeId] = set()
        self.deadlines: dict[str, int] = {}
        self.early: list[str] = []  # timers seen before their time (must stay empty)

    def handle(self, event: Event) -> list[Action]:
        if isinstance(event, Start):
            self.deadlines = {"boot": event.now_ms + 5, "twice": event.now_ms + 15}
            return [SetTimer("boot", event.now_ms + 5), SetTimer("never", event.now_ms + 20),
                    SetTimer("twice", event.now_ms + 10_000), CancelTimer("never"),
                    SetTimer("twice", event.now_ms + 15)]
        if isinstance(event, Timeout):
            self.fired.append(event.timer)
            if event.now_ms < self.deadlines[event.timer]:
                self.early.append(event.timer)
            return [Deliver(("timer", event.timer))]
        if isinstance(event, Input):
            n = int(event.value)
            self.acks[n] = set()
            return [Persist(b"last", b"%d" % n),
                    Broadcast(self.members, b"count:%d" % n)]
        if isinstance(event, Receive):
            self.senders.add(event.sender)
            kind, _, count = event.message.partition(b":")
            if kind == b"count":
                return [Persist(b"seen/" + event.sender + b"/" + count, b"1"),
                        Send(event.sender, b"ack:" + count)]
            if kind == b"ack" and int(count) in self.acks:
                acks = self.acks[int(count)]
                acks.add(event.sender)
                if len(acks) == len(self.members) - 1:
                    return [Deliver(("acked", int(count)))]
            return []  # anything else is dropped, as the contract asks
        return []


class Node:
    def __init__(self, runtime: NetworkRuntime) -> None:
        self.runtime = runtime
        self.delivered: list[Any] = []
        self._waiters: list[tuple[Any, asyncio.Future[None]]] = []

    def __call__(self, value: Any) -> None:
        self.delivered.append(value)
        for want, fut in self._waiters:
            if want == value and not fut.done():
                fut.set_result(None)

    async def delivered_value(self, value: Any) -> None:
        if value in self.delivered:
            return
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append((value, fut))
        await fut


def _runtimes(cluster: Cluster, tmp_path: Path) -> tuple[list[Node], list[Store]]:
    nodes, stores = [], []
    for i in range(len(cluster.ids)):
        store = Store(tmp_path / f"node{i}", sub_dbs=("core",))
        core = CounterCore(cluster.ids[i], cluster.ids)
        holder: list[Node] = []

        def deliver(value: Any, h: list[Node] = holder) -> None:
            h[0](value)
        runtime = NetworkRuntime(core, cluster.node(i), store, deliver=deliver)
        holder.append(Node(runtime))
        nodes.append(holder[0])
        stores.append(store)
    return nodes, stores


@pytest.mark.parametrize("suite_name", ["intl", "sm", "pq", "hybrid-sm", "hybrid-intl"])
def test_four_nodes_count_and_ack(suite_name: str, tmp_path: Path) -> None:
    async def main() -> None:
        cluster = Cluster(get_suite(suite_name), 4)
        nodes, stores = _runtimes(cluster, tmp_path)
        try:
            for node in nodes:
                await node.runtime.start()
            for node in nodes:
                await node.delivered_value(("timer", "boot"))
            for i, node in enumerate(nodes):
                node.runtime.input(i + 1)
            for i, node in enumerate(nodes):
                await node.delivered_value(("acked", i + 1))
                await node.delivered_value(("timer", "twice"))
            for i, store in enumerate(stores):
                values = persisted(store)
                assert values[b"last"] == b"%d" % (i + 1)
                for j, sender in enumerate(cluster.ids):
                    if j != i:
                        assert values[b"seen/" + sender + b"/%d" % (j + 1)] == b"1"
            for i, node in enumerate(nodes):
                core = node.runtime.core
                assert isinstance(core, CounterCore)
                assert core.fired == ["boot", "twice"]  # 'never' cancelled, 'twice' replaced
                assert core.early == []
                assert core.senders == set(cluster.ids) - {cluster.ids[i]}
                assert node.runtime.self_sends == 1
        finally:
            for node in nodes:
                await node.runtime.stop()
            for store in stores:
                store.close()

    asyncio.run(main())


class PersistThenSend:
    """On Input: persist the value, then send it; the receiver checks the sender's disk."""

    def __init__(self, peer: NodeId) -> None:
        self.peer = peer

    def handle(self, event: Event) -> list[Action]:
        if isinstance(event, Input):
            return [Persist(b"k", event.value), Persist(b"k2", event.value),
                    Persist(b"bulk", event.value, sync=False), Send(self.peer, event.value)]
        if isinstance(event, Receive):
            return [Deliver(event.message)]
        return []


def test_persist_is_durable_before_the_next_action(tmp_path: Path) -> None:
    """Bulk data (`sync=False`) goes to the unsynced bulk store, also before the send."""

    async def main() -> None:
        cluster = Cluster(get_suite("intl"), 2)
        stores = [Store(tmp_path / f"n{i}", sub_dbs=("core",)) for i in range(2)]
        bulk = Store(tmp_path / "bulk0", sub_dbs=("core",), durable=False)
        got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        on_disk: list[bytes | None] = []

        def receive(value: Any) -> None:  # the sender's stores, right now
            on_disk.extend([stores[0].get("core", b"k2"), bulk.get("core", b"bulk"),
                            stores[0].get("core", b"bulk")])
            got.set_result(value)

        runtimes = [
            NetworkRuntime(PersistThenSend(cluster.ids[1]), cluster.node(0), stores[0],
                           deliver=lambda v: None, bulk_store=bulk),
            NetworkRuntime(PersistThenSend(cluster.ids[0]), cluster.node(1), stores[1],
                           deliver=receive),
        ]
        try:
            for r in runtimes:
                await r.start()
            runtimes[0].input(b"v1")
            assert await got == b"v1"
            assert on_disk == [b"v1", b"v1", None]
        finally:
            for r in runtimes:
                await r.stop()
            for s in [*stores, bulk]:
                s.close()

    asyncio.run(main())


class PutThenDelete:
    """Input "put": persist a synced and a bulk value; input "del": delete both (a Persist
    whose value is None, to the store of its `sync`); each then delivers its input."""

    def handle(self, event: Event) -> list[Action]:
        if not isinstance(event, Input):
            return []
        value = b"v" if event.value == "put" else None
        return [Persist(b"k", value), Persist(b"bulk", value, sync=False), Deliver(event.value)]


def test_a_persist_without_value_deletes_from_its_store_before_the_next_action(
        tmp_path: Path) -> None:
    async def main() -> None:
        suite = get_suite("intl")
        keys = node_keys(suite, 1)
        transport = Transport(suite, keys[0], membership(suite, keys), listen=("127.0.0.1", 0))
        seen: list[tuple[Any, bytes | None, bytes | None]] = []
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        with (Store(tmp_path / "n", sub_dbs=("core",)) as store,
              Store(tmp_path / "bulk", sub_dbs=("core",), durable=False) as bulk):
            def deliver(value: Any) -> None:  # the stores, right now
                seen.append((value, store.get("core", b"k"), bulk.get("core", b"bulk")))
                if value == "put":
                    runtime.input("del")  # a later group (one group's last write would win)
                else:
                    done.set_result(None)

            runtime = NetworkRuntime(PutThenDelete(), transport, store, deliver=deliver,
                                     bulk_store=bulk)
            await runtime.start()
            runtime.input("put")
            await done
            await runtime.stop()
        assert seen == [("put", b"v", b"v"), ("del", None, None)]

    asyncio.run(main())


class Exploding:
    def handle(self, event: Event) -> list[Action]:
        if isinstance(event, Input):
            raise RuntimeError("core bug")
        return []


def _input_stops_the_runtime(tmp_path: Path, core: Any, deliver: Callable[[Any], None],
                             value: int, error: str) -> None:
    """Input `value` to a one-node runtime; it must stop with a RuntimeError matching
    `error`, which `run()` re-raises."""
    async def main() -> None:
        suite: Suite = get_suite("intl")
        keys = node_keys(suite, 1)
        transport = Transport(suite, keys[0], membership(suite, keys),
                              listen=("127.0.0.1", 0))
        with Store(tmp_path / "n", sub_dbs=("core",)) as store:
            runtime = NetworkRuntime(core, transport, store, deliver=deliver)
            await runtime.start()
            runtime.input(value)
            with pytest.raises(RuntimeError, match=error):
                await runtime.run()
            await runtime.stop()

    asyncio.run(main())


def test_a_failing_core_stops_the_runtime(tmp_path: Path) -> None:
    _input_stops_the_runtime(tmp_path, Exploding(), lambda v: None, 1, "core bug")


class Echo:
    def handle(self, event: Event) -> list[Action]:
        return [Deliver(event.value)] if isinstance(event, Input) else []


def test_a_failing_deliver_callback_stops_the_runtime(tmp_path: Path) -> None:
    def refuse(value: Any) -> None:
        raise RuntimeError(f"lost {value}")

    _input_stops_the_runtime(tmp_path, Echo(), refuse, 7, "lost 7")


def test_backlog_pauses_and_resumes_socket_reading(tmp_path: Path) -> None:
    async def main() -> None:
        suite = get_suite("intl")
        keys = node_keys(suite, 1)
        transport = Transport(suite, keys[0], membership(suite, keys), listen=("127.0.0.1", 0))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        seen: list[int] = []

        def deliver(value: Any) -> None:
            seen.append(value)
            if len(seen) == 10:
                done.set_result(None)

        with Store(tmp_path / "n", sub_dbs=("core",)) as store:
            runtime = NetworkRuntime(Echo(), transport, store, deliver=deliver, max_backlog=4)
            await runtime.start()
            for i in range(10):
                runtime.input(i)
            assert not transport.receiving.is_set()
            await done
            assert transport.receiving.is_set()
            assert seen == list(range(10))
            assert runtime.events_handled == 11  # Start and ten inputs
            await runtime.stop()

    asyncio.run(main())
