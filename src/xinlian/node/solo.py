"""Solo ordering: the node alone cuts blocks from its own mempool.

As in Fabric's solo orderer and FISCO BCOS's single-node mode: a block is cut as soon as
`max_txs` transactions are pending, or when `interval_ms` has passed since the oldest pending
transaction arrived (transactions admitted while a block executes count from their
arrival, so a backlog is cut as soon as that block is done). No transactions, no block —
unless the executor has work of its own (async requests due, or armed scheduled functions,
whose heights come only with blocks): then a block is cut `interval_ms` after the last
one, transactions or not. `BlockCutter` is
that policy, sans-I/O (time comes in); `SoloOrdering` drives it from the event loop and
runs each block (execution and commit) on the ledger thread (offload.py), so the next
block's transactions are admitted while one executes.
"""

from __future__ import annotations

import asyncio
import contextlib

from xinlian.ledger.block import Block
from xinlian.ledger.transaction import Transaction, TxKind
from xinlian.node.offload import LedgerThread, now_ms
from xinlian.node.pipeline import Built, LedgerPipeline
from xinlian.node.supervise import Supervisor


class BlockCutter:
    def __init__(self, interval_ms: int, max_txs: int) -> None:
        self.interval_ms = interval_ms
        self.max_txs = max_txs
        self._first_pending_ms: int | None = None

    def deadline(self, now_ms: int, pending: int, work_since_ms: int | None = None) -> int | None:
        """The time at which to cut (<= now_ms: cut now), or None while nothing is pending
        and the executor has no work (`work_since_ms`: the last block's time, if it has)."""
        if pending == 0:
            self._first_pending_ms = None
            return None if work_since_ms is None else work_since_ms + self.interval_ms
        if self._first_pending_ms is None:
            self._first_pending_ms = now_ms
        if pending >= self.max_txs:
            return now_ms
        return self._first_pending_ms + self.interval_ms

    def admitted(self, now_ms: int) -> None:
        """Transactions arrived: the first since the last cut starts the interval."""
        if self._first_pending_ms is None:
            self._first_pending_ms = now_ms

    def cut(self, now_ms: int, remaining: int) -> None:
        """A block was cut (before it executes); the transactions pending beyond it start a
        new interval now, those admitted from now on when they arrive."""
        self._first_pending_ms = now_ms if remaining else None


class SoloOrdering:
    """A producer task cuts blocks by the cutter; each executes and commits (in one write)
    on the ledger thread, and is published on the event loop."""

    def __init__(self, ledger: LedgerPipeline) -> None:
        self.ledger = ledger
        params = ledger.genesis.params
        self.cutter = BlockCutter(params.block_interval_ms, params.max_block_txs)
        self._thread = LedgerThread(ledger)
        self._wake = asyncio.Event()
        self._producer: asyncio.Task[None] | None = None

    async def start(self, supervisor: Supervisor) -> None:
        self._producer = supervisor.spawn("solo-producer", self._produce())

    def health(self) -> tuple[int | None, list[str]]:
        """No consensus height (solo); unready while the producer is not running."""
        running = self._producer is not None and not self._producer.done()
        return None, [] if running else ["the block producer is not running"]

    async def stop(self) -> None:
        if self._producer is not None:
            self._producer.cancel()  # a failure was reported by the supervisor
            await asyncio.gather(self._producer, return_exceptions=True)
            self._producer = None
        self._thread.close()

    def on_admitted(self, txs: list[Transaction]) -> None:
        """New transactions are pending: re-evaluate the block cut."""
        self.cutter.admitted(now_ms())
        self._wake.set()

    def produce_block(self) -> Block | None:
        """Cut, execute and commit one block from the mempool; None if nothing executes."""
        return self.ledger.publish(self._build_commit(*self._cut()))

    async def _produce(self) -> None:
        while True:
            self._wake.clear()  # before deciding, so no admission can slip past the wait
            deadline = self.cutter.deadline(now_ms(), len(self.ledger.mempool),
                                            self._engine_work_since())
            if deadline is None:
                await self._wait(None)
            elif deadline > now_ms():
                await self._wait((deadline - now_ms()) / 1000)  # re-evaluate on new txs
            elif await self._produce_block_async() is None:
                # Nothing pending is executable yet (say the transactions before a nonce
                # gap are still being verified): wait for an admission or an interval,
                # never retry at once, or the loop would starve the admissions it waits for.
                await self._wait(self.cutter.interval_ms / 1000)

    def _engine_work_since(self) -> int | None:
        """The last block's time if the next block has engine work even without
        transactions (pipeline.has_engine_work), else None."""
        head = self.ledger.chain.head
        if head is None or not self.ledger.has_engine_work():
            return None
        return head.header.timestamp_ms

    async def _wait(self, timeout: float | None) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    async def _produce_block_async(self) -> Block | None:
        # The block executes and commits on the ledger thread, so admission and queries go
        # on meanwhile (nothing else touches the executor or writes the store); the
        # producer waits for it before the next block, whose state builds on this one.
        txs, timestamp_ms = self._cut()
        return self.ledger.publish(await self._thread.run(self._run_block, txs, timestamp_ms))

    def _run_block(self, txs: list[Transaction], timestamp_ms: int) -> Built:
        """On the ledger thread: the first block with a contract call starts the execution
        workers, so that the blocks of many calls after it do not wait for them."""
        pool = self.ledger.pool
        if pool is not None and not pool.processes() and any(
                tx.body.kind == TxKind.CALL for tx in txs):
            pool.start()
        return self._build_commit(txs, timestamp_ms)

    def _cut(self) -> tuple[list[Transaction], int]:
        """The next block's transactions and timestamp, taken on the event loop."""
        head = self.ledger.chain.head
        assert head is not None
        txs = self.ledger.mempool.select(self.cutter.max_txs)
        now = now_ms()
        self.cutter.cut(now, len(self.ledger.mempool) - len(txs))
        return txs, max(now, head.header.timestamp_ms)

    def _build_commit(self, txs: list[Transaction], timestamp_ms: int) -> Built:
        built = self.ledger.build(txs, timestamp_ms)
        self.ledger.commit(built)
        return built
