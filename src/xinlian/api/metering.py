"""Work budgets per client, so that one client cannot take the event loop from the others.

Theory of operation. Each client (an IP address) has a token bucket of work units: it holds
at most `burst` units and earns `rate` units a second. A call is admitted while the bucket
is positive, and is charged afterwards for what it really did: one unit for the call plus
whatever its handler reported through `record()` (one per transaction read, decoded or
submitted). A batch or a busy connection therefore runs until its client's bucket is spent,
then its further calls are refused with `rate_limited` until the bucket refills; other
clients keep their own buckets. No sockets and no clock of its own: `now` is passed in.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

_work: ContextVar[list[int] | None] = ContextVar("xinlian_api_work", default=None)
_SWEEP_AT = 4096  # forget refilled buckets once this many clients are tracked


def record(units: int) -> None:
    """Report `units` of work done for the call being handled (ignored outside a call)."""
    tally = _work.get()
    if tally is not None:
        tally[0] += units


@contextmanager
def counting() -> Iterator[list[int]]:
    """Count the work `record`ed inside the block (in this task's context only)."""
    tally = [0]
    token = _work.set(tally)
    try:
        yield tally
    finally:
        _work.reset(token)


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class Meter:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}

    def _bucket(self, client: str, now: float) -> _Bucket:
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= _SWEEP_AT:
                self._sweep(now)
            bucket = self._buckets[client] = _Bucket(self.burst, now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
            bucket.stamp = now
        return bucket

    def admits(self, client: str, now: float) -> bool:
        """True while `client` has budget left for another call."""
        return self._bucket(client, now).tokens > 0

    def balance(self, client: str, now: float) -> float:
        """The units `client` has left (negative while it is refused)."""
        return self._bucket(client, now).tokens

    def charge(self, client: str, units: int, now: float) -> None:
        self._bucket(client, now).tokens -= units

    def _sweep(self, now: float) -> None:
        full = [c for c, b in self._buckets.items()
                if b.tokens + (now - b.stamp) * self.rate >= self.burst]
        for client in full:
            del self._buckets[client]
