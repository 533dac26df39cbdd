"""What the RPC server lets one request, one connection and one client use.

Every limit here bounds memory or event-loop time that a client could otherwise take from
block production and from other clients; the defaults come from the measurements in
docs/benchmarks.md ("RPC limits") and each is explained, with what a client sees when it
trips, in docs/operations.md. A node sets them in the `[rpc]` table of node.toml.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from xinlian.api.errors import LimitsError

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    # one request
    max_body_size: int = 4 * MIB          # bytes of one HTTP body or websocket message
    max_batch_requests: int = 1000        # JSON-RPC requests in one batch array
    max_batch_txs: int = 5000             # transactions in one xl_submitTransactions
    max_method_name: int = 64             # characters of a method name echoed in an error
    # all requests together
    max_inflight_bytes: int = 16 * MIB    # HTTP body bytes being read or handled at once
    # slow clients (seconds)
    header_timeout: float = 10.0          # to send a request's headers (also the idle limit)
    body_timeout: float = 30.0            # to send a request's body
    # work: one unit is one light call; reading a block costs one unit per transaction
    work_rate: float = 20_000.0           # units per second a client (IP address) earns
    work_burst: float = 100_000.0         # units a client may spend at once
    # websockets
    ws_max_connections: int = 1000        # open websockets in total
    ws_max_per_ip: int = 32               # open websockets from one IP address
    ws_send_queue: int = 1024             # messages waiting for one websocket client
    ws_send_timeout: float = 10.0         # a blocked send or close older than this drops it
    ws_max_watched: int = 10_000          # watched transaction hashes per connection
    ws_max_watched_total: int = 200_000   # watched transaction hashes over all connections


def limits_from(table: Mapping[str, object]) -> Limits:
    """The limits of node.toml's `[rpc]` table (absent keys keep their defaults)."""
    known = {f.name: f.type for f in fields(Limits)}
    values: dict[str, int | float] = {}
    for key, value in table.items():
        kind = known.get(key)
        if kind is None:
            raise LimitsError(f"unknown [rpc] setting {key!r}; known: {sorted(known)}")
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise LimitsError(f"[rpc] {key} must be a positive number, not {value!r}")
        if kind == "int" and not isinstance(value, int):
            raise LimitsError(f"[rpc] {key} must be an integer, not {value!r}")
        values[key] = value if kind == "int" else float(value)
    return Limits(**values)  # type: ignore[arg-type]
