"""Health and readiness probes of a full node, as served on its RPC and metrics listeners.

Health answers "is this process alive and can it read its store" (a supervisor restarts a
node that is not); readiness answers "should clients be sent here" (a load balancer skips a
node that is not: its ledger lags consensus, a validator reaches no quorum, a task died).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from xinlian.api.format import to_json
from xinlian.errors import XinlianError
from xinlian.node.interface import NodeAPI


@dataclass(frozen=True)
class Probe:
    ok: bool
    body: dict[str, Any]


def probe_response(probe: Probe) -> web.Response:
    """200 with the body when the probe passes, else 503."""
    return web.json_response(probe.body, status=200 if probe.ok else 503)


def node_health(node: NodeAPI) -> Probe:
    """Alive, and the head block reads back from the store (checksum checked)."""
    height = node.status().height
    error: dict[str, object] | None
    try:
        readable = node.block(height) is not None
        error = None if readable else {"message": f"block {height} is missing from the store"}
    except XinlianError as exc:
        readable, error = False, exc.to_dict()
    return Probe(readable, {"healthy": readable, "height": height, "error": error})


def node_ready(node: NodeAPI) -> Probe:
    readiness = node.readiness()
    return Probe(readiness.ready, to_json(readiness))
