"""Solo ordering policy: when the single orderer cuts a block. Sans-I/O: time comes in.

As in Fabric's solo orderer and FISCO BCOS's single-node mode: a block is cut as soon as
`max_txs` transactions are pending, or when `interval_ms` has passed since the oldest pending
transaction arrived. No transactions, no block.
"""

from __future__ import annotations


class BlockCutter:
    def __init__(self, interval_ms: int, max_txs: int) -> None:
        self.interval_ms = interval_ms
        self.max_txs = max_txs
        self._first_pending_ms: int | None = None

    def deadline(self, now_ms: int, pending: int) -> int | None:
        """The time at which to cut (<= now_ms: cut now), or None while nothing is pending."""
        if pending == 0:
            self._first_pending_ms = None
            return None
        if self._first_pending_ms is None:
            self._first_pending_ms = now_ms
        if pending >= self.max_txs:
            return now_ms
        return self._first_pending_ms + self.interval_ms

    def cut(self, now_ms: int, remaining: int) -> None:
        """A block was cut; the transactions still pending start a new interval now."""
        self._first_pending_ms = now_ms if remaining else None
