"""Loopback clusters of transports for the tests: listening sockets first, then members."""

from __future__ import annotations

import asyncio
import socket
from collections import defaultdict
from dataclasses import dataclass, field

from xinlian.crypto.signing import SigningKey
from xinlian.crypto.suites import Suite
from xinlian.network import handshake as hs
from xinlian.network.channel import Channel
from xinlian.network.framing import encode_frame
from xinlian.network.membership import Membership, node_id_of
from xinlian.network.shaper import ShapeFor
from xinlian.network.transport import Transport, TransportConfig
from xinlian.protocol import NodeId

from .conftest import membership, node_keys


def listening_socket(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(64)
    sock.setblocking(False)
    return sock


@dataclass
class Inbox:
    """Messages received by one node, with a way to wait for a count without sleeping."""

    messages: dict[NodeId, list[bytes]] = field(default_factory=lambda: defaultdict(list))
    total: int = 0
    _waiters: list[tuple[int, asyncio.Future[None]]] = field(default_factory=list)

    def __call__(self, sender: NodeId, message: bytes) -> None:
        self.messages[sender].append(message)
        self.total += 1
        for want, fut in self._waiters:
            if self.total >= want and not fut.done():
                fut.set_result(None)

    async def wait_for(self, count: int) -> None:
        if self.total >= count:
            return
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append((count, fut))
        await fut


class Cluster:
    """n transports on loopback, all members of one membership."""

    def __init__(self, suite: Suite, n: int, *, config: TransportConfig | None = None,
                 shape_for: ShapeFor | None = None, tag: int = 0,
                 identities: list[hs.Identity | None] | None = None,
                 clock_ms: int = 0) -> None:
        """`identities` (by node) and `clock_ms`, the time every node's clock reads: the
        membership certificates' part of the handshake."""
        self.suite = suite
        self.identities = identities or [None] * n
        self.clock_ms = clock_ms
        self.keys: list[SigningKey] = node_keys(suite, n, tag)
        self.socks = [listening_socket() for _ in range(n)]
        self.ports = [s.getsockname()[1] for s in self.socks]
        self.membership: Membership = membership(suite, self.keys, self.ports)
        self.ids = [node_id_of(suite, k.public_key) for k in self.keys]
        self.config = config
        self.shape_for = shape_for
        self.inboxes = [Inbox() for _ in range(n)]
        self.nodes: list[Transport | None] = [self.make(i) for i in range(n)]

    def make(self, i: int, sock: socket.socket | None = None) -> Transport:
        return Transport(self.suite, self.keys[i], self.membership, self.inboxes[i],
                         config=self.config, shape_for=self.shape_for,
                         sock=sock or self.socks[i], seed=i, identity=self.identities[i],
                         clock_ms=lambda: self.clock_ms)

    def node(self, i: int) -> Transport:
        node = self.nodes[i]
        assert node is not None
        return node

    def running(self) -> list[int]:
        return [i for i, node in enumerate(self.nodes) if node is not None]

    async def start(self) -> None:
        """Start every node that exists and wait until they all reach each other."""
        for i in self.running():
            await self.node(i).start()
        up = [self.ids[i] for i in self.running()]
        for i in self.running():
            await self.node(i).wait_connected([x for x in up if x != self.ids[i]])

    async def close(self) -> None:
        for node in self.nodes:
            if node is not None:
                await node.close()


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    n = int.from_bytes(await reader.readexactly(4), "big")
    return await reader.readexactly(n)


async def dial_as(cluster: Cluster, me: int, target: int,
                  ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, Channel]:
    """A hand-driven client: a real handshake with member key `me`, then raw frames."""
    reader, writer = await asyncio.open_connection("127.0.0.1", cluster.ports[target])
    side = hs.Initiator(cluster.suite, cluster.keys[me], cluster.ids[target],
                        cluster.keys[target].public_key)
    writer.write(encode_frame(side.hello(), hs.MAX_HANDSHAKE_FRAME))
    finish, session = side.finish(await read_frame(reader))
    writer.write(encode_frame(finish, hs.MAX_HANDSHAKE_FRAME))
    await writer.drain()
    return reader, writer, Channel(session.aead, session.send_key, session.recv_key)
