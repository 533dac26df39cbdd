"""The metrics listener: GET /metrics (Prometheus), /health and /ready, on its own address.

Separate from the RPC listener, so that an operator can expose RPC to clients and metrics
only to the monitoring network (node.toml `[metrics] listen`; docs/operations.md). It takes
no request bodies: anything but those three GETs gets an HTTP error (400 for what is not
HTTP, 404, 405), and a connection that does not send its headers in time is closed.
"""

from __future__ import annotations

from aiohttp import web

from xinlian.api.health import probe_response
from xinlian.api.listener import Listener
from xinlian.api.metrics import CONTENT_TYPE, Scraped

HEADER_TIMEOUT_S = 10.0  # for the first request's headers, and idle kept-alive connections
MAX_BODY = 1024  # a GET carries no body: none is ever read


class MetricsServer(Listener):
    """Serves `metrics` (a full or light node's) on host:port; `await start()`, `.url`."""

    def __init__(self, metrics: Scraped, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port, HEADER_TIMEOUT_S)
        self.metrics = metrics

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/health", self._health)
        app.router.add_get("/ready", self._ready)
        await self.serve(app)

    async def _metrics(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=self.metrics.render(),
                            headers={"Content-Type": CONTENT_TYPE})

    async def _health(self, request: web.Request) -> web.StreamResponse:
        return probe_response(self.metrics.health())

    async def _ready(self, request: web.Request) -> web.StreamResponse:
        return probe_response(self.metrics.ready())
