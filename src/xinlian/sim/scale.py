"""A fast discrete-event driver for thousands of sans-I/O cores (network simulations).

Theory of operation. Like `sim/runtime.py` it owns time and hands each core its events
through the one contract (`xinlian.protocol`), but it keeps only what a network-scale run
needs, in flat lists indexed by node number: one egress and one ingress queue per node at
the node's line rate, and a one-way latency between the nodes' regions (a matrix). A
message of `s` bytes from a to b leaves after a's earlier messages and its own
serialisation (`s / rate`), crosses the region-to-region latency, and is read in when b's
ingress has room (store-and-forward at b's rate: uncontended, that costs nothing extra;
contended, it queues). `wire_size(message)` says how many bytes a message occupies on the
wire (its length plus framing, or more when a scenario stands small bodies in for large
ones). There are no crashes, loss or disks here: a scenario that needs them uses
`sim/runtime.py`. Events are ordered by (time in µs, sequence number), so a seed gives one
schedule.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from typing import Any

from xinlian.errors import XinlianError
from xinlian.protocol import (
    Action,
    Broadcast,
    CancelTimer,
    Core,
    Deliver,
    Input,
    NodeId,
    Receive,
    Send,
    SetTimer,
    Start,
    Timeout,
)

_RECV, _TIMER, _INPUT, _START = 0, 1, 2, 3


class ScaleSimError(XinlianError):
    code = 9010
    name = "scale_sim_error"


def node_id(index: int) -> NodeId:
    return index.to_bytes(4, "big")


def node_index(node: NodeId) -> int:
    return int.from_bytes(node, "big")


class ScaleSim:
    """See the module docstring. `one_way_us[r][s]`: latency from region r to region s."""

    def __init__(self, cores: Sequence[Core], regions: Sequence[int],
                 one_way_us: Sequence[Sequence[int]], bytes_per_s: float,
                 wire_size: Callable[[bytes], int],
                 on_deliver: Callable[[int, int, Any], None]) -> None:
        if len(cores) != len(regions):
            raise ScaleSimError("one region per core")
        if bytes_per_s <= 0:
            raise ScaleSimError("the line rate must be positive")
        self.cores = list(cores)
        self.regions = list(regions)
        self.one_way_us = [list(row) for row in one_way_us]
        self.us_per_byte = 1e6 / bytes_per_s
        self.wire_size = wire_size
        self.on_deliver = on_deliver
        n = len(cores)
        self.now_us = 0
        self.rx_bytes = [0] * n
        self.tx_bytes = [0] * n
        self.events = 0
        self._egress = [0.0] * n
        self._ingress = [0.0] * n
        self._timers: list[dict[str, int]] = [{} for _ in range(n)]
        self._queue: list[tuple[int, int, int, int, Any]] = []
        self._seq = 0

    def _push(self, at_us: int, kind: int, node: int, payload: Any) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (at_us, self._seq, kind, node, payload))

    def start(self, node: int, at_us: int) -> None:
        self._push(at_us, _START, node, None)

    def input(self, node: int, at_us: int, value: Any) -> None:
        if at_us < self.now_us:
            raise ScaleSimError("an input cannot be scheduled in the past")
        self._push(at_us, _INPUT, node, value)

    def run(self, until_us: int) -> None:
        """Handle every event before `until_us`, in order."""
        queue = self._queue
        cores = self.cores
        while queue and queue[0][0] < until_us:
            at, _, kind, node, payload = heapq.heappop(queue)
            self.now_us = at
            now_ms = at // 1000
            if kind == _RECV:
                event: Any = Receive(now_ms, payload[0], payload[1])
            elif kind == _TIMER:
                name, gen = payload
                if self._timers[node].get(name) != gen:
                    continue  # replaced or cancelled
                event = Timeout(now_ms, name)
            elif kind == _INPUT:
                event = Input(now_ms, payload)
            else:
                event = Start(now_ms)
            self.events += 1
            self._act(node, at, cores[node].handle(event))
        self.now_us = max(self.now_us, until_us)

    def _act(self, node: int, at: int, actions: Sequence[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                self._transmit(node, node_index(action.to), action.message, at)
            elif isinstance(action, SetTimer):
                timers = self._timers[node]
                gen = timers[action.timer] = timers.get(action.timer, 0) + 1
                self._push(max(at, action.at_ms * 1000), _TIMER, node, (action.timer, gen))
            elif isinstance(action, Deliver):
                self.on_deliver(node, at, action.value)
            elif isinstance(action, Broadcast):
                for to in action.to:
                    self._transmit(node, node_index(to), action.message, at)
            elif isinstance(action, CancelTimer):
                timers = self._timers[node]
                timers[action.timer] = timers.get(action.timer, 0) + 1
            else:
                raise ScaleSimError(f"{type(action).__name__} is not supported at scale")

    def _transmit(self, a: int, b: int, message: bytes, at: int) -> None:
        if a == b:
            return
        size = self.wire_size(message)
        serial = size * self.us_per_byte
        depart = max(float(at), self._egress[a]) + serial
        self._egress[a] = depart
        arrive = max(depart + self.one_way_us[self.regions[a]][self.regions[b]],
                     self._ingress[b] + serial)
        self._ingress[b] = arrive
        self.tx_bytes[a] += size
        self.rx_bytes[b] += size
        self._push(int(arrive), _RECV, b, (node_id(a), message))
