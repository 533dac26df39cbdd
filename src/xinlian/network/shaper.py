"""A test shaper: one-way latency and a bandwidth cap on a connection's outgoing bytes.

For tests and benchmarks on loopback, where netem is not available. `ShapedLink` sits
between the transport's sender and the socket: a token bucket (the link rate, with a
burst like tbf's) paces the sender, so a full link pushes back on the send queue exactly
as a bottleneck does, and a delay line holds each frame for the one-way latency before
writing it, so frames are pipelined (latency is not paid once per frame). Shaping is on
the egress side of each node; two shaped nodes see a round trip of twice the latency.
`uniform` caps each link on its own; `node_egress` makes all of a node's links share one
budget, as `tbf` on the node's network interface does, and serves protocol frames before
bulk ones (a `prio` qdisc under the tbf): a vote waits for at most the frame on the wire,
not for every batch the node's other links have queued.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

from xinlian.network.limits import TokenBucket
from xinlian.protocol import NodeId


@dataclass(frozen=True, slots=True)
class LinkShape:
    latency_s: float = 0.0
    rate_bytes_per_s: float | None = None  # None: no cap
    burst_bytes: int = 64 * 1024
    max_in_flight: int = 8 * 1024 * 1024  # bytes held in the delay line before send() waits
    egress: NodeEgress | None = None  # shared by every link of a node; None: one per link

    @classmethod
    def mbit(cls, mbit_per_s: float, latency_ms: float = 0.0,
             burst_bytes: int = 64 * 1024) -> LinkShape:
        return cls(latency_ms / 1000.0, mbit_per_s * 1e6 / 8, burst_bytes)


ShapeFor = Callable[[NodeId], LinkShape | None]


def uniform(shape: LinkShape) -> ShapeFor:
    """The same shape towards every peer."""
    return lambda _peer: shape


class NodeEgress:
    """One node's outgoing bandwidth: links ask for their frames' bytes and are granted them
    in turn at the rate, protocol frames before bulk ones."""

    def __init__(self, rate_bytes_per_s: float, burst_bytes: int) -> None:
        # A token bucket only compares times it is given; loop.time() starts it full anyway.
        self._bucket = TokenBucket(rate_bytes_per_s, burst_bytes, 0.0)
        self._waiting: tuple[deque[tuple[int, asyncio.Future[None]]], ...] = (deque(), deque())
        self._ready = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None

    async def acquire(self, size: int, bulk: bool) -> None:
        """Until `size` bytes of the node's budget are this frame's."""
        if self._pump is None or self._pump.done():
            self._pump = asyncio.get_running_loop().create_task(self._run())
        future = asyncio.get_running_loop().create_future()
        self._waiting[bulk].append((size, future))
        self._ready.set()
        await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            queue = next((q for q in self._waiting if q), None)
            if queue is None:
                self._ready.clear()
                await self._ready.wait()
                continue
            size, future = queue.popleft()
            if future.done():
                continue  # the link gave up (closed)
            wait = self._bucket.reserve(size, loop.time())
            if wait > 0:
                await asyncio.sleep(wait)
            if not future.done():
                future.set_result(None)


def node_egress(shape: LinkShape) -> ShapeFor:
    """Every peer's link paced by one `NodeEgress` at `shape`'s rate."""
    if shape.rate_bytes_per_s is None:
        return uniform(shape)
    return uniform(replace(shape, egress=NodeEgress(shape.rate_bytes_per_s, shape.burst_bytes)))


class DirectLink:
    """Frames straight to the socket, waiting only for the socket's own flow control."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    async def send(self, frame: bytes, bulk: bool = False) -> None:
        """`bulk`: the frame holds only bulk data (see queues.py), which a shaper may delay."""
        self._writer.write(frame)
        await self._writer.drain()

    async def flush(self) -> None:
        """Until every frame sent so far is in the socket's hands."""
        await self._writer.drain()

    def close(self) -> None:
        self._writer.close()


class ShapedLink(DirectLink):
    """A DirectLink behind a token bucket and a delay line; see the module docstring."""

    def __init__(self, writer: asyncio.StreamWriter, shape: LinkShape) -> None:
        super().__init__(writer)
        self.shape = shape
        loop = asyncio.get_running_loop()
        self._time = loop.time
        self._bucket = (TokenBucket(shape.rate_bytes_per_s, shape.burst_bytes, loop.time())
                        if shape.rate_bytes_per_s and shape.egress is None else None)
        self._line: deque[tuple[float, bytes]] = deque()
        self._in_flight = 0
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._error: BaseException | None = None
        self._pump = asyncio.create_task(self._run())

    async def send(self, frame: bytes, bulk: bool = False) -> None:
        while self._in_flight >= self.shape.max_in_flight and self._error is None:
            self._room.clear()
            await self._room.wait()
        if self._error is not None:
            raise ConnectionError("shaped link failed") from self._error
        now = self._time()
        wait = self._bucket.reserve(len(frame), now) if self._bucket else 0.0
        if self.shape.egress is not None:
            await self.shape.egress.acquire(len(frame), bulk)
            now = self._time()
        elif wait > 0:
            await asyncio.sleep(wait)
        self._line.append((now + wait + self.shape.latency_s, frame))
        self._in_flight += len(frame)
        self._ready.set()

    async def flush(self) -> None:
        while self._line and self._error is None:
            self._room.clear()
            await self._room.wait()
        await super().flush()

    async def _run(self) -> None:
        try:
            while True:
                while not self._line:
                    self._ready.clear()
                    await self._ready.wait()
                due, frame = self._line[0]
                delay = due - self._time()
                if delay > 0:
                    await asyncio.sleep(delay)
                self._line.popleft()
                await super().send(frame)
                self._in_flight -= len(frame)
                self._room.set()
        except (OSError, ConnectionError) as exc:
            self._error = exc
            self._room.set()

    def close(self) -> None:
        self._pump.cancel()
        super().close()
