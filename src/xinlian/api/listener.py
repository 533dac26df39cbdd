"""The node's HTTP listeners' common ground: a deadline for a new connection's first
request headers, and a listener that serves an aiohttp application under it.

aiohttp closes a kept-alive connection that has not sent its next request's headers
`keepalive_timeout` after its previous reply (also when it trickles bytes), but it waits
forever for the first request of a new connection: a client that trickles headers
(slowloris) would hold the connection open. `HeaderDeadline` closes those.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class HeaderDeadline:
    """Wrap the listener's connection factory with `factory` and add `middleware` to the
    application: a connection whose first request has not started within `timeout`
    seconds is closed."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._unstarted: set[RequestHandler] = set()  # connections yet to send a request

    def factory(self, make: Callable[[], RequestHandler]) -> Callable[[], RequestHandler]:
        loop = asyncio.get_running_loop()

        def make_guarded() -> RequestHandler:
            handler = make()
            self._unstarted.add(handler)
            loop.call_later(self.timeout, self._expire, handler)
            return handler
        return make_guarded

    def _expire(self, handler: RequestHandler) -> None:
        if handler in self._unstarted:
            self._unstarted.discard(handler)
            handler.force_close()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self._unstarted.discard(request.protocol)
        return await handler(request)


class Listener:
    """An aiohttp application served on host:port, new connections' first headers under a
    `HeaderDeadline`: `await serve(app)`, then `.port` and `.url`; `await stop()`."""

    def __init__(self, host: str, port: int, header_timeout: float) -> None:
        self.host = host
        self.port = port
        self.header_timeout = header_timeout
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def serve(self, app: web.Application) -> None:
        """Serve `app` (not started yet); idle kept-alive connections close after the
        header timeout too, and a refused body is not drained."""
        deadline = HeaderDeadline(self.header_timeout)
        app.middlewares.append(deadline.middleware)
        self._runner = web.AppRunner(app, access_log=None, lingering_time=0,
                                     keepalive_timeout=self.header_timeout)
        await self._runner.setup()
        assert self._runner.server is not None  # set up above
        self._listener = await asyncio.get_running_loop().create_server(
            deadline.factory(self._runner.server), self.host, self.port)
        self.port = self._listener.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
