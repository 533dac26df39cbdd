"""Bounded caches with expiry: what the relay remembers is capped in count and in time."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")


class SeenCache:
    """Ids seen recently: each kept `ttl_ms` after it was added, and at most `cap` of them
    (the oldest go first), so a flood of new ids costs bounded memory."""

    __slots__ = ("_at", "cap", "ttl_ms")

    def __init__(self, ttl_ms: int, cap: int) -> None:
        if ttl_ms <= 0 or cap <= 0:
            raise ValueError("a seen cache needs a positive ttl and cap")
        self.ttl_ms = ttl_ms
        self.cap = cap
        self._at: OrderedDict[bytes, int] = OrderedDict()

    def __contains__(self, key: bytes) -> bool:
        return key in self._at

    def __len__(self) -> int:
        return len(self._at)

    def is_fresh(self, key: bytes, now_ms: int, window_ms: int) -> bool:
        """Not seen yet, or first seen at most `window_ms` ago."""
        at = self._at.get(key)
        return at is None or at - self.ttl_ms >= now_ms - window_ms

    def add(self, key: bytes, now_ms: int) -> None:
        if key in self._at:
            return
        self._at[key] = now_ms + self.ttl_ms
        if len(self._at) > self.cap:
            self._at.popitem(last=False)

    def expire(self, now_ms: int) -> None:
        at = self._at
        while at:
            key, deadline = next(iter(at.items()))
            if deadline > now_ms:
                break
            del at[key]


class BoundedStore(Generic[V]):
    """A map that keeps at most `cap` entries, dropping the oldest inserted first (the
    message cache that answers IWant and block-transaction requests)."""

    __slots__ = ("_items", "cap")

    def __init__(self, cap: int) -> None:
        if cap <= 0:
            raise ValueError("a store needs a positive cap")
        self.cap = cap
        self._items: OrderedDict[bytes, V] = OrderedDict()

    def __contains__(self, key: bytes) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: bytes) -> V | None:
        return self._items.get(key)

    def put(self, key: bytes, value: V) -> None:
        self._items[key] = value
        if len(self._items) > self.cap:
            self._items.popitem(last=False)

    def pop(self, key: bytes) -> V | None:
        return self._items.pop(key, None)

    def items(self) -> list[tuple[bytes, V]]:
        return list(self._items.items())
