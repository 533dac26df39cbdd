"""A deadline for a new connection's first request headers, for every aiohttp listener.

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
