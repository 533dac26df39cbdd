"""Counters of what the transport did and refused, per peer and in total."""

from __future__ import annotations

import asyncio

COUNTERS = (
    "connections_in", "connections_out", "reconnects", "connect_failed",
    "handshakes_failed", "handshakes_refused", "unauthenticated",
    "certificates_refused", "classical_identity", "keys_retired",
    "frames_in", "frames_out", "messages_in", "messages_out", "bytes_in", "bytes_out",
    "malformed", "oversize", "decrypt_failed", "replayed",
    "rate_limited", "duplicates", "dropped_queue_full", "dropped_unknown_peer",
    "dropped_oversize", "dropped_peer_offline",
)


class Stats:
    """Named integer counters; `as_dict()` for reports and the node's metrics."""

    __slots__ = ("_counts", "_waiters")

    def __init__(self) -> None:
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._waiters: list[tuple[str, int, asyncio.Future[None]]] = []

    def add(self, name: str, n: int = 1) -> None:
        self._counts[name] += n
        if self._waiters:
            self._wake()

    def _wake(self) -> None:
        keep = []
        for name, want, fut in self._waiters:
            if self._counts[name] >= want or fut.done():
                if not fut.done():
                    fut.set_result(None)
            else:
                keep.append((name, want, fut))
        self._waiters = keep

    async def reach(self, name: str, value: int) -> None:
        """Wait until counter `name` is at least `value` (for tests and health checks)."""
        if self._counts[name] >= value:
            return
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append((name, value, fut))
        await fut

    def __getitem__(self, name: str) -> int:
        return self._counts[name]

    def as_dict(self) -> dict[str, int]:
        return dict(self._counts)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self._counts.items() if v)
        return f"Stats({shown})"
