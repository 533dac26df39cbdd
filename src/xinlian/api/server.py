"""The HTTP and websocket server (aiohttp): POST /rpc and GET /ws over one dispatcher.

All protocol logic lives in `jsonrpc` (framing), `methods` (the table) and `subscriptions`
(who gets which notification); this module only moves bytes between sockets and those.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from xinlian.api.errors import RequestTooLarge
from xinlian.api.jsonrpc import Dispatcher, encode_error
from xinlian.api.methods import Api, Limits
from xinlian.api.subscriptions import Session
from xinlian.node.interface import NodeAPI

JSON = "application/json"


class RpcServer:
    """Serves `node` over JSON-RPC 2.0: `await start()`, then `.port`; `await stop()`."""

    def __init__(self, node: NodeAPI, host: str = "127.0.0.1", port: int = 0,
                 limits: Limits | None = None) -> None:
        self.node = node
        self.host = host
        self.port = port
        self.limits = limits or Limits()
        self.api = Api(node, self.limits)
        self.dispatcher = Dispatcher(self.api.table(), max_batch=self.limits.max_batch_requests)
        self._runner: web.AppRunner | None = None
        self._sockets: set[web.WebSocketResponse] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=self.limits.max_body_size)
        app.router.add_post("/rpc", self._rpc)
        app.router.add_get("/ws", self._ws)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.node.add_block_listener(self.api.hub.on_block)

    async def stop(self) -> None:
        if self._runner is None:
            return
        self.node.remove_block_listener(self.api.hub.on_block)
        for ws in list(self._sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server stopping")
        await self._runner.cleanup()
        self._runner = None

    async def _rpc(self, request: web.Request) -> web.StreamResponse:
        too_large = RequestTooLarge(f"the body limit is {self.limits.max_body_size} bytes")
        if (request.content_length or 0) > self.limits.max_body_size:
            return web.Response(status=413, body=encode_error(too_large), content_type=JSON)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=413, body=encode_error(too_large), content_type=JSON)
        reply = await self.dispatcher.handle(body, None)
        if reply is None:
            return web.Response(status=204)
        return web.Response(body=reply, content_type=JSON)

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=self.limits.max_body_size)
        await ws.prepare(request)
        # A client that lets this many messages wait is too slow and gets disconnected.
        queue: asyncio.Queue[bytes] = asyncio.Queue(self.limits.ws_send_queue)

        def push(message: bytes) -> bool:
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                self._spawn(ws.close(code=WSCloseCode.POLICY_VIOLATION,
                                     message=b"notification queue overflow"))
                return False
            return True

        session = Session(push)
        writer = asyncio.create_task(_drain(ws, queue))
        self._sockets.add(ws)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    body = msg.data.encode()
                elif msg.type == WSMsgType.BINARY:
                    body = msg.data
                else:
                    break
                reply = await self.dispatcher.handle(body, session)
                if reply is not None:
                    session.push(reply)
                session.flush()
        finally:
            self._sockets.discard(ws)
            self.api.hub.drop(session)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def _drain(ws: web.WebSocketResponse, queue: asyncio.Queue[bytes]) -> None:
    while True:
        message = await queue.get()
        if ws.closed:
            return
        await ws.send_str(message.decode())
