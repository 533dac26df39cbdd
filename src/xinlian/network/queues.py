"""The per-peer send queue: bounded by messages and bytes, drained in batches.

`put_nowait` refuses (returns False) when full, so callers that must not block can drop
and count; `put` waits for room instead. `get_batch` hands the sender everything that fits
in one record, and `wake` lets a sender that lost its connection stop waiting.

Two lanes share the bounds: protocol messages, and bulk data (transaction batches) marked
`bulk=True`. A record holds one lane's messages and is taken from the protocol lane while
it has any, so a vote or a proposal waits behind at most the record already on the wire
(and a shaper can tell bulk records apart), never behind megabytes of batches — what running
ordering and dissemination over separate connections (Narwhal's primaries and workers)
achieves, on one connection.
"""

from __future__ import annotations

import asyncio
from collections import deque

from xinlian.network.channel import MESSAGE_HEADER


class SendQueue:
    """A bounded FIFO of outgoing messages (by count and by bytes)."""

    def __init__(self, max_messages: int, max_bytes: int) -> None:
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self._items: deque[bytes] = deque()  # the protocol lane
        self._bulk: deque[bytes] = deque()
        self._bytes = 0
        self._nonempty = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    def __len__(self) -> int:
        return len(self._items) + len(self._bulk)

    @property
    def queued_bytes(self) -> int:
        return self._bytes

    def _full_for(self, size: int) -> bool:
        if len(self) >= self.max_messages:
            return True
        # A message larger than max_bytes still goes through an empty queue.
        return bool(len(self)) and self._bytes + size > self.max_bytes

    def put_nowait(self, message: bytes, bulk: bool = False) -> bool:
        if self._full_for(len(message)):
            self._room.clear()
            return False
        (self._bulk if bulk else self._items).append(message)
        self._bytes += len(message)
        self._nonempty.set()
        return True

    async def put(self, message: bytes, bulk: bool = False) -> None:
        while not self.put_nowait(message, bulk):
            await self._room.wait()

    async def get_batch(self, max_bytes: int) -> tuple[list[bytes], bool]:
        """Wait for messages, then take as many of one lane as fit in `max_bytes` of record
        (at least one); also says whether they are bulk.

        Returns an empty list if `wake()` was called while the queue was empty.
        """
        while not len(self):
            if self._nonempty.is_set():  # woken with nothing to send
                self._nonempty.clear()
                return [], False
            await self._nonempty.wait()
        batch: list[bytes] = []
        size = 0
        bulk = not self._items
        items = self._bulk if bulk else self._items
        while items and (not batch or size + len(items[0]) + MESSAGE_HEADER <= max_bytes):
            message = items.popleft()
            batch.append(message)
            size += len(message) + MESSAGE_HEADER
        self._bytes -= size - MESSAGE_HEADER * len(batch)
        if not len(self):
            self._nonempty.clear()
        self._room.set()
        return batch, bulk

    def requeue(self, batch: list[bytes], bulk: bool = False) -> None:
        """Put a batch that could not be sent back at the front of its lane."""
        (self._bulk if bulk else self._items).extendleft(reversed(batch))
        self._bytes += sum(len(m) for m in batch)
        if batch:
            self._nonempty.set()

    def wake(self) -> None:
        self._nonempty.set()
