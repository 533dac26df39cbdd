"""Small policies the transport applies per peer: token buckets, duplicate window, backoff.

All of them take the time as an argument (seconds, any monotonic origin) so that tests
drive them without a clock.
"""

from __future__ import annotations

import random
from collections import OrderedDict


class TokenBucket:
    """`rate` tokens per second, holding at most `burst`; starts full."""

    __slots__ = ("_last", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        if rate <= 0 or burst <= 0:
            raise ValueError("a token bucket needs a positive rate and burst")
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._last = now

    def _refill(self, now: float) -> None:
        if now > self._last:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now

    def take(self, n: float, now: float) -> bool:
        """Take `n` tokens if there are that many; False (and take none) otherwise."""
        self._refill(now)
        if self._tokens >= n:
            self._tokens -= n
            return True
        return False

    def refund(self, n: float) -> None:
        """Give back tokens taken for work that was not done after all."""
        self._tokens = min(self.burst, self._tokens + n)

    def reserve(self, n: float, now: float) -> float:
        """Take `n` tokens, going into debt if needed; return seconds until the debt is paid."""
        self._refill(now)
        self._tokens -= n
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate


class DuplicateFilter:
    """Remembers message digests for `ttl` seconds, at most `capacity` of them (oldest out)."""

    __slots__ = ("_expires", "_seen", "capacity", "ttl")

    def __init__(self, capacity: int, ttl: float) -> None:
        self.capacity = capacity
        self.ttl = ttl
        self._seen: OrderedDict[bytes, float] = OrderedDict()  # oldest first
        self._expires = float("inf")  # when the oldest entry leaves the window

    def _expire(self, now: float) -> None:
        seen = self._seen
        horizon = now - self.ttl
        while seen:
            oldest = next(iter(seen))
            at = seen[oldest]
            if at > horizon:
                self._expires = at + self.ttl
                return
            del seen[oldest]
        self._expires = float("inf")

    def seen(self, digest: bytes, now: float) -> bool:
        """True if `digest` was seen within the window; otherwise record it and say False."""
        if self.capacity <= 0:
            return False
        if now >= self._expires:
            self._expire(now)
        seen = self._seen
        if digest in seen:
            return True
        seen[digest] = now
        if len(seen) > self.capacity:
            seen.popitem(last=False)
            self._expire(now)
        elif self._expires == float("inf"):
            self._expires = now + self.ttl
        return False

    def __len__(self) -> int:
        return len(self._seen)


class Backoff:
    """Exponential backoff with jitter: initial * 2^attempt, capped, scaled by [1-jitter, 1]."""

    __slots__ = ("_attempt", "_rng", "initial", "jitter", "maximum")

    def __init__(self, initial: float, maximum: float, jitter: float,
                 rng: random.Random) -> None:
        if not (0 < initial <= maximum and 0 <= jitter < 1):
            raise ValueError("backoff needs 0 < initial <= maximum and 0 <= jitter < 1")
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
        self._rng = rng
        self._attempt = 0

    def next(self) -> float:
        base = min(self.maximum, self.initial * 2.0 ** min(self._attempt, 64))
        self._attempt += 1
        return base * (1.0 - self.jitter * self._rng.random())

    def reset(self) -> None:
        self._attempt = 0
