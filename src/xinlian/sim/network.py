"""The simulated network: per-link latency, jitter, loss and bandwidth, NIC limits, partitions.

Theory of operation. A message from a to b leaves a's NIC after every earlier message a sent
has been serialised (egress queue, `nic_bytes_per_s`), crosses the a->b link (its own
serialisation queue when the link has a bandwidth, then latency plus seeded jitter), and is
read in after b's NIC has taken in every earlier arrival (ingress queue). A NIC has two
classes: urgent (control) messages wait only for other urgent ones, as on a prioritised
channel, while their bytes still delay the bulk queue. Loss and partitions
decide at send time whether the message arrives at all. Every random draw comes from the
simulation's seeded generator, in event order, so a seed fixes the whole schedule.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from xinlian.protocol import NodeId

Key = TypeVar("Key")  # a NIC (a node) or a link (a pair of nodes)

US_PER_S = 1_000_000


@dataclass(frozen=True, slots=True)
class LinkModel:
    """One direction of a link: one-way latency, uniform jitter, loss and optional bandwidth."""

    latency_ms: float = 25.0
    jitter_ms: float = 0.0
    loss: float = 0.0
    bytes_per_s: float | None = None  # None: the link itself adds no serialisation delay


@dataclass
class NetworkModel:
    """Links between nodes plus each node's NIC bandwidth (the same in both directions)."""

    default: LinkModel = field(default_factory=LinkModel)
    links: dict[tuple[NodeId, NodeId], LinkModel] = field(default_factory=dict)
    nic_bytes_per_s: float | None = None
    _groups: dict[NodeId, int] = field(default_factory=dict)
    _egress_free: dict[object, int] = field(default_factory=dict)
    _ingress_free: dict[object, int] = field(default_factory=dict)
    _link_free: dict[tuple[NodeId, NodeId], int] = field(default_factory=dict)

    def link(self, a: NodeId, b: NodeId) -> LinkModel:
        return self.links.get((a, b), self.default)

    # -- partitions ---------------------------------------------------------------------

    def partition(self, groups: Iterable[Iterable[NodeId]]) -> None:
        """Split the network: nodes talk only inside their group (unlisted nodes: alone)."""
        self._groups = {node: i for i, group in enumerate(groups) for node in group}

    def heal(self) -> None:
        self._groups = {}

    def connected(self, a: NodeId, b: NodeId) -> bool:
        if not self._groups:
            return True
        ga, gb = self._groups.get(a), self._groups.get(b)
        return ga is not None and ga == gb

    # -- timing -------------------------------------------------------------------------

    @staticmethod
    def _serialise(free: dict[Key, int], key: Key, start: int, size: int,
                   rate: float | None) -> int:
        if rate is None:
            return start
        begin = max(start, free.get(key, 0))
        end = begin + int(size * US_PER_S / rate)
        free[key] = end
        return end

    def _nic(self, free: dict[object, int], node: NodeId, size: int, now_us: int,
             urgent: bool) -> int:
        """Two-class NIC: urgent (control) messages queue only behind urgent ones; their bytes
        also push back the bulk queue, which therefore still sees the full bandwidth used."""
        rate = self.nic_bytes_per_s
        if rate is None:
            return now_us
        if not urgent:
            return self._serialise(free, node, now_us, size, rate)
        end = self._serialise(free, (node, "urgent"), now_us, size, rate)
        bulk = free.get(node, 0)
        if bulk > now_us:
            free[node] = bulk + int(size * US_PER_S / rate)
        return end

    def departure(self, sender: NodeId, size: int, now_us: int, urgent: bool = False) -> int:
        """When the last byte of a message queued now leaves the sender's NIC."""
        return self._nic(self._egress_free, sender, size, now_us, urgent)

    def arrival(self, sender: NodeId, to: NodeId, size: int, left_us: int,
                rng: random.Random) -> int | None:
        """When the message's last byte reaches `to`'s NIC, or None when it is lost or cut."""
        if not self.connected(sender, to):
            return None
        model = self.link(sender, to)
        if model.loss and rng.random() < model.loss:
            return None
        on_link = self._serialise(self._link_free, (sender, to), left_us, size, model.bytes_per_s)
        jitter = rng.uniform(0.0, model.jitter_ms) if model.jitter_ms else 0.0
        return on_link + int((model.latency_ms + jitter) * 1000)

    def read_in(self, to: NodeId, size: int, now_us: int, urgent: bool = False) -> int:
        """When a message reaching `to`'s NIC now is fully read in (called in arrival order)."""
        return self._nic(self._ingress_free, to, size, now_us, urgent)

    def forget(self, node: NodeId) -> None:
        """A crashed node's queues empty (what it was sending is lost with it)."""
        for free in (self._egress_free, self._ingress_free):
            free.pop(node, None)
            free.pop((node, "urgent"), None)
