"""A least-recently-used map bounded by an item count and a total size, for the caches a
node keeps across blocks (compiled modules, decoded code): many deployments must not grow
a node's memory without limit, and the hot contracts should stay."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Lru(Generic[K, V]):
    def __init__(self, max_items: int, max_size: int = 0,
                 size: Callable[[V], int] = lambda _: 0) -> None:
        """`max_size` 0: no size bound; else the sum of `size(value)` stays within it (an
        item larger than it is still kept, alone)."""
        if max_items < 1:
            raise ValueError("an Lru holds at least one item")
        self.max_items = max_items
        self.max_size = max_size
        self._size_of = size
        self._items: OrderedDict[K, V] = OrderedDict()  # least recently used first
        self.size = 0
        self.evictions = 0

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self.size -= self._size_of(old)
        self._items[key] = value
        self.size += self._size_of(value)
        while len(self._items) > self.max_items or (
                self.max_size and self.size > self.max_size and len(self._items) > 1):
            _, gone = self._items.popitem(last=False)
            self.size -= self._size_of(gone)
            self.evictions += 1

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)
