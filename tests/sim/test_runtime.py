"""The discrete-event runtime: ordering, determinism, network model, crashes, adversaries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from xinlian.protocol import (
    Action,
    Broadcast,
    CancelTimer,
    Deliver,
    Event,
    Input,
    Persist,
    Receive,
    Send,
    SetTimer,
    Start,
    Timeout,
)
from xinlian.sim import adversary
from xinlian.sim.network import LinkModel, NetworkModel
from xinlian.sim.runtime import SimError, Simulation

NODES = [bytes([i]) for i in range(4)]


class Gossip:
    """Floods every new number it hears; persists the largest; ticks every 100 ms."""

    def __init__(self, node: bytes, store: Mapping[bytes, bytes]) -> None:
        self.node = node
        self.best = int.from_bytes(store.get(b"best", b"\0"), "big")
        self.received: list[tuple[int, bytes, bytes]] = []
        self.ticks = 0

    def handle(self, event: Event) -> Sequence[Action]:
        if isinstance(event, Start):
            return [SetTimer("tick", event.now_ms + 100)]
        if isinstance(event, Timeout):
            self.ticks += 1
            return [SetTimer("tick", event.now_ms + 100)]
        if isinstance(event, Input):
            return self._learn(int(event.value))
        if isinstance(event, Receive):
            self.received.append((event.now_ms, event.sender, event.message))
            if len(event.message) == 1:
                return self._learn(event.message[0])
        return []

    def _learn(self, value: int) -> list[Action]:
        if value <= self.best:
            return []
        self.best = value
        others = tuple(n for n in NODES if n != self.node)
        return [Persist(b"best", bytes([value])), Broadcast(others, bytes([value])),
                Deliver(value)]


def make(seed: int, network: NetworkModel | None = None) -> Simulation:
    sim = Simulation(seed, network or NetworkModel(LinkModel(10, jitter_ms=5, loss=0.1)))
    for n in NODES:
        sim.add_node(n, Gossip)
    return sim


def scenario(seed: int) -> Simulation:
    sim = make(seed)
    for k in range(1, 30):
        sim.input(NODES[k % 4], k, at_ms=k * 7)
    sim.crash(NODES[2], 50)
    sim.restart(NODES[2], 120)
    sim.partition([NODES[:2], NODES[2:]], 150)
    sim.heal(190)
    sim.run_until(400)
    return sim


def test_same_seed_same_trace_and_different_seed_differs() -> None:
    a, b, c = scenario(7), scenario(7), scenario(8)
    assert a.trace_hash == b.trace_hash
    assert a.trace_hash != c.trace_hash
    assert a.stats == b.stats


def test_events_at_one_time_run_in_scheduling_order() -> None:
    sim = Simulation(1)
    seen: list[int] = []
    for k in range(5):
        def record(_sim: Simulation, k: int = k) -> None:
            seen.append(k)
        sim.at(10, record)
    sim.run_until(10)
    assert seen == [0, 1, 2, 3, 4]


def test_latency_and_bandwidth_set_arrival_time() -> None:
    net = NetworkModel(LinkModel(latency_ms=20, bytes_per_s=1000))
    sim = Simulation(1, net)
    for n in NODES[:2]:
        sim.add_node(n, Gossip)
    sim.run_until(0)
    # two 1-byte messages: each takes 1 ms on the link, queued one after the other
    sim.inject(NODES[0], NODES[1], b"\x05", at_ms=0)
    sim.inject(NODES[0], NODES[1], b"\x06", at_ms=0)
    sim.run_until(100)
    core = sim.core(NODES[1])
    assert isinstance(core, Gossip)
    assert [t for t, _, _ in core.received][:2] == [21, 22]


def test_nic_bandwidth_serialises_a_broadcast() -> None:
    net = NetworkModel(LinkModel(latency_ms=0), nic_bytes_per_s=1_000_000)
    sim = Simulation(1, net)
    for n in NODES:
        sim.add_node(n, Gossip)
    big = bytes(10_000)  # 10 ms per copy at 1 MB/s
    sim.at(0, lambda s: s._send(NODES[0], NODES[1], big))
    sim.at(0, lambda s: s._send(NODES[0], NODES[2], big))
    sim.run_until(100)
    t1 = [t for t, _, m in sim.core(NODES[1]).received if m == big]  # type: ignore[union-attr]
    t2 = [t for t, _, m in sim.core(NODES[2]).received if m == big]  # type: ignore[union-attr]
    assert t1 == [20] and t2 == [30]  # egress then ingress serialisation


def test_loss_and_partition_drop_messages() -> None:
    sim = make(3, NetworkModel(LinkModel(1, loss=1.0)))
    sim.input(NODES[0], 9, at_ms=1)
    sim.run_until(50)
    assert all(sim.core(n).best == 0 for n in NODES[1:])  # type: ignore[union-attr]
    assert sim.stats.lost == 3

    sim = make(3, NetworkModel(LinkModel(1)))
    sim.partition([[NODES[0], NODES[1]], [NODES[2], NODES[3]]], at_ms=0)
    sim.input(NODES[0], 9, at_ms=1)
    sim.run_until(50)
    assert [sim.core(n).best for n in NODES] == [9, 9, 0, 0]  # type: ignore[union-attr]
    sim.heal(60)
    sim.input(NODES[1], 10, at_ms=61)
    sim.run_until(100)
    assert [sim.core(n).best for n in NODES] == [10] * 4  # type: ignore[union-attr]


def test_crash_loses_memory_and_restart_rebuilds_from_persisted_values() -> None:
    sim = make(1, NetworkModel(LinkModel(1)))
    sim.input(NODES[0], 5, at_ms=1)
    sim.crash(NODES[3], at_ms=10)
    sim.input(NODES[0], 7, at_ms=20)  # NODES[3] is down and misses it
    sim.run_until(30)
    assert not sim.is_up(NODES[3])
    assert sim.store(NODES[3])[b"best"] == b"\x05"
    sim.restart(NODES[3], at_ms=40)
    sim.run_until(41)
    core = sim.core(NODES[3])
    assert isinstance(core, Gossip) and core.best == 5 and core.received == []


def test_a_persist_without_value_deletes_and_the_view_shows_it() -> None:
    class Keeper(Gossip):
        """Input n: persist key n; input -n: delete it. The view is the core's store."""

        def __init__(self, node: bytes, store: Mapping[bytes, bytes]) -> None:
            super().__init__(node, store)
            self.view = store

        def handle(self, event: Event) -> Sequence[Action]:
            if not isinstance(event, Input):
                return []
            key = str(abs(event.value)).encode()
            return [Persist(key, None if event.value < 0 else b"x")]

    sim = Simulation(1)
    sim.add_node(NODES[0], Keeper)
    for at, value in [(1, 1), (2, 2), (3, -1), (4, -9)]:  # deleting what is absent: no-op
        sim.input(NODES[0], value, at_ms=at)
    sim.run_until(2)
    assert dict(sim.store(NODES[0])) == {b"1": b"x", b"2": b"x"}
    sim.run_until(10)
    assert dict(sim.store(NODES[0])) == {b"2": b"x"}
    assert dict(sim.core(NODES[0]).view) == {b"2": b"x"}  # type: ignore[union-attr]


def test_timers_fire_replace_and_cancel() -> None:
    class Timed(Gossip):
        def handle(self, event: Event) -> Sequence[Action]:
            if isinstance(event, Start):
                return [SetTimer("a", 10), SetTimer("a", 20), SetTimer("b", 5), CancelTimer("b")]
            if isinstance(event, Timeout):
                self.received.append((event.now_ms, b"", event.timer.encode()))
            return []

    sim = Simulation(1)
    sim.add_node(NODES[0], Timed)
    sim.run_until(100)
    assert sim.core(NODES[0]).received == [(20, b"", b"a")]  # type: ignore[union-attr]


def test_cpu_cost_delays_later_events_and_sends() -> None:
    net = NetworkModel(LinkModel(latency_ms=1))
    sim = Simulation(1, net, cpu_cost=lambda node, core, ev, acts: 5000 if acts else 0)
    for n in NODES:
        sim.add_node(n, Gossip)
    sim.input(NODES[0], 3, at_ms=10)
    sim.input(NODES[0], 4, at_ms=11)  # waits until 15 ms, its broadcast leaves at 20 ms
    sim.run_until(100)
    times = [t for t, who, _ in sim.core(NODES[1]).received  # type: ignore[union-attr]
             if who == NODES[0]]
    assert times == [16, 21]


def test_delivered_values_reach_observers() -> None:
    sim = make(2, NetworkModel(LinkModel(1)))
    seen: list[tuple[bytes, int, object]] = []
    sim.observe(lambda node, t, v: seen.append((node, t, v)))
    sim.input(NODES[0], 3, at_ms=5)
    sim.run_until(50)
    assert sorted(n for n, _, _ in seen) == NODES and {v for _, _, v in seen} == {3}


def test_adversary_hooks_rewrite_a_byzantine_node() -> None:
    sim = make(4, NetworkModel(LinkModel(1)))
    sim.intercept(NODES[0], adversary.silent())
    sim.input(NODES[0], 9, at_ms=1)
    sim.run_until(50)
    assert [sim.core(n).best for n in NODES] == [9, 0, 0, 0]  # type: ignore[union-attr]

    sim = make(4, NetworkModel(LinkModel(1)))
    sim.intercept(NODES[0], adversary.chain(adversary.withhold_from([NODES[1]]),
                                             adversary.garbage(1.0)))
    sim.input(NODES[0], 9, at_ms=1)
    sim.run_until(2)
    extra = [len(sim.core(n).received) for n in NODES[2:]]  # type: ignore[union-attr]
    assert extra == [2, 2]  # the real message and one garbled copy each

    sim = make(4, NetworkModel(LinkModel(1)))
    sim.intercept(NODES[0], adversary.replay(1.0))
    sim.input(NODES[0], 9, at_ms=1)
    sim.input(NODES[0], 10, at_ms=20)
    sim.run_until(50)
    got = [m for _, who, m in sim.core(NODES[1]).received  # type: ignore[union-attr]
           if who == NODES[0]]
    assert got.count(b"\x09") == 2  # once, then replayed


def test_misuse_raises_sim_error() -> None:
    sim = make(1)
    with pytest.raises(SimError):
        sim.crash(b"nobody", 1)
    with pytest.raises(SimError):
        sim.add_node(NODES[0], Gossip)
    sim.run_until(10)
    with pytest.raises(SimError):
        sim.input(NODES[0], 1, at_ms=5)


def test_send_to_unknown_or_self_is_ignored() -> None:
    sim = make(1, NetworkModel(LinkModel(1)))
    sim.at(1, lambda s: s._send(NODES[0], b"nobody", b"x"))
    sim.at(1, lambda s: s._send(NODES[0], NODES[0], b"x"))
    sim.run_until(10)
    assert sim.stats.sent == 0 and sim.stats.undeliverable == 2
    assert not any(sim.core(n).received for n in NODES)  # type: ignore[union-attr]


def test_send_action_reaches_one_node() -> None:
    class Once(Gossip):
        def handle(self, event: Event) -> Sequence[Action]:
            if isinstance(event, Start) and self.node == NODES[0]:
                return [Send(NODES[2], b"hi")]
            return super().handle(event)

    sim = Simulation(1, NetworkModel(LinkModel(2)))
    for n in NODES:
        sim.add_node(n, Once)
    sim.run_until(10)
    from_first = [[m for _, who, m in sim.core(n).received if who == NODES[0]]  # type: ignore[union-attr]
                  for n in NODES]
    assert from_first == [[], [], [b"hi"], []]
