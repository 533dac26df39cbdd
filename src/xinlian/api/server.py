"""The HTTP and websocket server (aiohttp): POST /rpc and GET /ws over one dispatcher.

All protocol logic lives in `jsonrpc` (framing), `methods` (the table) and `subscriptions`
(who gets which notification); this module only moves bytes between sockets and those, and
enforces the limits of `api.limits` on them: a body's size is checked from its headers and
while it streams in (never read whole first), the bodies being read or handled at once are
capped in bytes, slow headers and bodies time out, websockets are capped per IP address and
in total, and a websocket client that does not read is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections import Counter

from aiohttp import WSCloseCode, WSMsgType, web

from xinlian.api.errors import (
    RequestTimeout,
    RequestTooLarge,
    ServerBusy,
    TooManyConnections,
)
from xinlian.api.health import node_health, node_ready, probe_response
from xinlian.api.jsonrpc import Dispatcher, encode_error
from xinlian.api.limits import Limits
from xinlian.api.listener import HeaderDeadline
from xinlian.api.methods import Api
from xinlian.api.subscriptions import Session
from xinlian.errors import XinlianError
from xinlian.node.interface import NodeAPI

JSON = "application/json"
log = logging.getLogger(__name__)


class _Oversize(Exception):
    pass


class RpcServer:
    """Serves `node` over JSON-RPC 2.0: `await start()`, then `.port`; `await stop()`."""

    def __init__(self, node: NodeAPI, host: str = "127.0.0.1", port: int = 0,
                 limits: Limits | None = None) -> None:
        self.node = node
        self.host = host
        self.port = port
        self.limits = limits or Limits()
        self.api = Api(node, self.limits)
        self.dispatcher = Dispatcher(self.api.table(), self.limits)
        self.inflight_bytes = 0  # HTTP body bytes reserved by requests being read or handled
        self.ws_by_ip: Counter[str] = Counter()
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None
        self._deadline = HeaderDeadline(self.limits.header_timeout)
        self._sockets: dict[web.WebSocketResponse, asyncio.Transport] = {}

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def connections(self) -> int:
        """Open TCP connections (HTTP and websocket)."""
        server = None if self._runner is None else self._runner.server
        return 0 if server is None else len(server.connections)

    @property
    def ws_count(self) -> int:
        return sum(self.ws_by_ip.values())

    async def start(self) -> None:
        app = web.Application(client_max_size=self.limits.max_body_size,
                              middlewares=[self._deadline.middleware])
        app.router.add_post("/rpc", self._rpc)
        app.router.add_get("/ws", self._ws)
        app.router.add_get("/ready", self._ready)
        app.router.add_get("/health", self._health)
        # aiohttp closes a kept-alive connection that has not sent a next request's headers
        # this long after its previous reply (also when it trickles bytes); `_deadline` does
        # the same for the first request. A refused body is not drained ("lingering"): its
        # connection closes right after the reply.
        self._runner = web.AppRunner(app, access_log=None, lingering_time=0,
                                     keepalive_timeout=self.limits.header_timeout)
        await self._runner.setup()
        assert self._runner.server is not None  # set up above
        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(self._deadline.factory(self._runner.server),
                                                  self.host, self.port)
        self.port = self._listener.sockets[0].getsockname()[1]
        self.node.add_block_listener(self.api.hub.on_block)

    async def stop(self) -> None:
        if self._runner is None:
            return
        self.node.remove_block_listener(self.api.hub.on_block)
        if self._listener is not None:
            self._listener.close()
        await asyncio.gather(*(self._close(ws, transport, WSCloseCode.GOING_AWAY,
                                           b"server stopping", "")
                               for ws, transport in list(self._sockets.items())))
        await self._runner.cleanup()
        self._runner = None

    # -- HTTP ----------------------------------------------------------------------------

    async def _ready(self, request: web.Request) -> web.StreamResponse:
        """For load balancers and orchestrators: 200 when ready, else 503; body as xl_ready."""
        return probe_response(node_ready(self.node))

    async def _health(self, request: web.Request) -> web.StreamResponse:
        """For supervisors: 200 while the process serves and its store reads, else 503."""
        return probe_response(node_health(self.node))

    async def _rpc(self, request: web.Request) -> web.StreamResponse:
        limit = self.limits.max_body_size
        size = request.content_length
        if size is not None and size > limit:
            return _refuse(413, RequestTooLarge(f"the body limit is {limit} bytes"))
        reserve = limit if size is None else size
        if self.inflight_bytes + reserve > self.limits.max_inflight_bytes:
            return _refuse(503, ServerBusy(
                f"{self.inflight_bytes} request bytes are in flight; the limit is "
                f"{self.limits.max_inflight_bytes}"))
        self.inflight_bytes += reserve
        try:
            try:
                async with asyncio.timeout(self.limits.body_timeout):
                    body = await _read_capped(request, limit)
            except TimeoutError:
                return _refuse(408, RequestTimeout(
                    f"the body did not arrive within {self.limits.body_timeout:g} s"))
            except _Oversize:
                return _refuse(413, RequestTooLarge(f"the body limit is {limit} bytes"))
            except ConnectionError:  # the client went away mid-body: nobody to answer
                return web.Response(status=400)
            reply = await self.dispatcher.handle(body, None, request.remote or "")
        finally:
            self.inflight_bytes -= reserve
        if reply is None:
            return web.Response(status=204)
        return web.Response(body=reply, content_type=JSON)

    # -- websockets ----------------------------------------------------------------------

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        ip = request.remote or ""
        if self.ws_count >= self.limits.ws_max_connections:
            return _refuse(503, TooManyConnections(
                f"the node serves {self.limits.ws_max_connections} websockets at most"))
        if self.ws_by_ip[ip] >= self.limits.ws_max_per_ip:
            return _refuse(429, TooManyConnections(
                f"{self.limits.ws_max_per_ip} websockets per IP address at most"))
        transport = request.transport
        if transport is None:  # the client has already gone
            return web.Response(status=400)
        self.ws_by_ip[ip] += 1
        try:
            return await self._serve_ws(request, ip, transport)
        finally:
            self.ws_by_ip[ip] -= 1
            if not self.ws_by_ip[ip]:
                del self.ws_by_ip[ip]

    async def _serve_ws(self, request: web.Request, ip: str,
                        transport: asyncio.Transport) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=self.limits.max_body_size)
        await ws.prepare(request)
        # A client that lets this many messages wait is too slow and gets disconnected.
        queue: asyncio.Queue[bytes] = asyncio.Queue(self.limits.ws_send_queue)
        writer = asyncio.create_task(self._drain(ws, transport, queue, ip))

        closing: list[asyncio.Task[None]] = []  # the close of a client that fell behind

        def push(message: bytes) -> bool:
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                log.warning("websocket client %s dropped: %d notifications wait unread",
                            ip, queue.qsize())
                writer.cancel()
                closing.append(asyncio.create_task(self._close(
                    ws, transport, WSCloseCode.POLICY_VIOLATION,
                    b"notification queue overflow", ip)))
                return False
            return True

        session = Session(push)
        self._sockets[ws] = transport
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    body = msg.data.encode()
                elif msg.type == WSMsgType.BINARY:
                    body = msg.data
                else:
                    break
                reply = await self.dispatcher.handle(body, session, ip)
                if session.overflowed:
                    break
                if reply is not None:
                    session.push(reply)
                await self._pace(session, queue, writer)
        finally:
            self._sockets.pop(ws, None)
            self.api.hub.drop(session)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            if closing:  # returning would let aiohttp wait forever to flush the socket
                await closing[0]
        return ws

    async def _pace(self, session: Session, queue: asyncio.Queue[bytes],
                    writer: asyncio.Task[None]) -> None:
        """Push the session's deferred notifications (the already-committed hashes of a
        txStatus subscription, up to 10,000) half a queue at a time, each half once the
        queue has been sent: answering a request never overflows the client, and block
        notifications arriving meanwhile always find room."""
        messages = session.take_deferred()
        step = max(1, self.limits.ws_send_queue // 2)
        for start in range(0, len(messages), step):
            if start:
                sent = asyncio.ensure_future(queue.join())
                await asyncio.wait({sent, writer}, return_when=asyncio.FIRST_COMPLETED)
                sent.cancel()
                if writer.done():
                    return
            for message in messages[start:start + step]:
                session.push(message)

    async def _drain(self, ws: web.WebSocketResponse, transport: asyncio.Transport,
                     queue: asyncio.Queue[bytes], ip: str) -> None:
        while True:
            message = await queue.get()
            queue.task_done()
            if ws.closed:
                return
            try:
                async with asyncio.timeout(self.limits.ws_send_timeout):
                    await ws.send_str(message.decode())
            except TimeoutError:
                log.warning("websocket client %s dropped: not reading for %g s",
                            ip, self.limits.ws_send_timeout)
                _cut(transport)
                return
            except ConnectionError:
                return

    async def _close(self, ws: web.WebSocketResponse, transport: asyncio.Transport,
                     code: int, message: bytes, ip: str) -> None:
        """Close with a close frame; a client that has not taken it within the send
        timeout (its socket still full) is cut off: the transport is aborted."""
        with contextlib.suppress(TimeoutError, ConnectionError):
            async with asyncio.timeout(self.limits.ws_send_timeout):
                await ws.close(code=code, message=message)
        if transport.get_write_buffer_size() or not transport.is_closing():
            log.warning("websocket client %s cut off: it took no close frame within %g s",
                        ip or "-", self.limits.ws_send_timeout)
            _cut(transport)


async def _read_capped(request: web.Request, limit: int) -> bytes:
    """The body, read as it streams in and refused as soon as it passes `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.readany()
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise _Oversize
        chunks.append(chunk)


def _cut(transport: asyncio.Transport) -> None:
    """Reset the connection: what is still buffered for the client is discarded, in the
    kernel too (SO_LINGER 0), rather than kept until a client that does not read takes it."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _refuse(status: int, error: XinlianError) -> web.Response:
    """An error reply that also closes the connection (its unread body is not drained)."""
    response = web.Response(status=status, body=encode_error(error), content_type=JSON)
    response.force_close()
    return response
