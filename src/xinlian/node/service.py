"""One node: chain store, mempool, executor and solo ordering, on an asyncio event loop.

Submissions are admitted in batches (signatures verified on all cores, off the event
loop); a producer task cuts blocks by the solo policy, executes them and commits each in
one atomic write, then tells the block listeners (the API's websocket subscriptions).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from xinlian import codec
from xinlian.crypto import batch as batch_verify
from xinlian.crypto.keys import PublicKey
from xinlian.crypto.signing import SigningKey
from xinlian.execution.executor import Executor, max_spend
from xinlian.execution.system import is_permitted
from xinlian.ledger import merkle
from xinlian.ledger.account import Account, account_key
from xinlian.ledger.block import Block, Receipt, header_hash
from xinlian.ledger.errors import LedgerError
from xinlian.ledger.genesis import Genesis
from xinlian.ledger.mempool import Mempool, PoolLimits
from xinlian.ledger.transaction import Transaction
from xinlian.node.chain import ChainStore, PreparedBlock
from xinlian.node.errors import NotFound
from xinlian.node.interface import (
    AccountView,
    BlockListener,
    NodeStatus,
    StateProof,
    SubmitResult,
    TxLocation,
    TxRecord,
)
from xinlian.node.solo import BlockCutter
from xinlian.storage.kv import WriteBatch

POOL_SWEEP_S = 1.0  # how often the pool drops what waited too long (idle chains too)


def now_ms() -> int:
    """Wall-clock milliseconds: block timestamps and the solo cutter's clock."""
    return time.time_ns() // 1_000_000


def monotonic_ms() -> int:
    """The pool's clock: ages of pending transactions, immune to wall-clock steps."""
    return time.monotonic_ns() // 1_000_000


class Node:
    """A solo-ordering node; implements `xinlian.node.interface.NodeAPI`."""

    def __init__(self, data_dir: Path, genesis: Genesis, key: SigningKey,
                 pool_limits: PoolLimits | None = None) -> None:
        self.genesis = genesis
        self.suite = genesis.crypto_suite()
        self.key = key
        self.chain = ChainStore(Path(data_dir) / "chain", genesis)
        if self.chain.head is None:
            self.chain.init_genesis(key, genesis.timestamp_ms)
        params = genesis.params
        self.mempool = Mempool(genesis.chain_id, params, self.suite.hash_bytes,
                               self.chain.account,
                               lambda address: is_permitted(self.chain.read, address),
                               spend=max_spend, clock=monotonic_ms, limits=pool_limits)
        self.mempool.height = self.chain.height
        self.executor = Executor(params, self.suite)
        self.cutter = BlockCutter(params.block_interval_ms, params.max_block_txs)
        self._listeners: list[BlockListener] = []
        self._wake = asyncio.Event()
        self._producer: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="commit")

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        self._producer = asyncio.create_task(self._produce(), name="solo-producer")
        self._start_pool_sweep()

    def _start_pool_sweep(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep_pool(), name="pool-sweep")

    async def _sweep_pool(self) -> None:
        while True:
            await asyncio.sleep(POOL_SWEEP_S)
            self.mempool.drop_aged()

    async def stop(self) -> None:
        for task in (self._producer, self._sweeper):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._producer = self._sweeper = None
        self._committer.shutdown(wait=True)  # a commit in flight finishes before the close
        self.chain.close()

    # -- admission ---------------------------------------------------------------------

    async def submit(self, raws: Sequence[bytes]) -> list[SubmitResult]:
        prechecked_at = self.mempool.commits
        checked = self.mempool.precheck(raws)
        txs = [c for c in checked if isinstance(c, Transaction)]
        items = [tx.verify_item() for tx in txs]
        if len(items) > batch_verify.INLINE_LIMIT:
            valid = await asyncio.get_running_loop().run_in_executor(
                None, batch_verify.verify_batch, items)
        else:
            valid = batch_verify.verify_batch(items)
        admitted = iter(self.mempool.admit(txs, valid, prechecked_at=prechecked_at))
        results = []
        for raw, item in zip(raws, checked, strict=True):
            if isinstance(item, Transaction):
                error, tx_hash = next(admitted), item.hash
            else:  # refused at precheck; undecodable bytes are named by their hash
                error, tx_hash = item.error, item.tx_hash or self.suite.hash_bytes(raw)
            if error is None:
                results.append(SubmitResult(tx_hash, True))
            else:
                results.append(SubmitResult(tx_hash, False, error.code, error.name,
                                            error.message))
        accepted = {r.tx_hash for r in results if r.accepted}
        if accepted:
            self._on_admitted([tx for tx in txs if tx.hash in accepted])
        return results

    def _on_admitted(self, txs: list[Transaction]) -> None:
        """New transactions are pending: solo ordering re-evaluates its block cut."""
        self._wake.set()

    # -- block production --------------------------------------------------------------

    async def _produce(self) -> None:
        while True:
            self._wake.clear()  # before deciding, so no admission can slip past the wait
            deadline = self.cutter.deadline(now_ms(), len(self.mempool))
            if deadline is None:
                await self._wait(None)
            elif deadline > now_ms():
                await self._wait((deadline - now_ms()) / 1000)  # re-evaluate on new txs
            elif await self._produce_block_async() is None:
                # Nothing pending is executable yet (say the transactions before a nonce
                # gap are still being verified): wait for an admission or an interval,
                # never retry at once, or the loop would starve the admissions it waits for.
                await self._wait(self.cutter.interval_ms / 1000)

    async def _wait(self, timeout: float | None) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    def produce_block(self) -> Block | None:
        """Cut, execute and commit one block from the mempool; None if nothing executes."""
        prepared, receipts = self._prepare_block()
        if prepared is not None:
            self.chain.store.commit(prepared.batch)
        return self._publish(prepared, receipts)

    async def _produce_block_async(self) -> Block | None:
        # The durable LMDB commit runs in a thread (it releases the GIL while it writes and
        # syncs), so admission and queries go on meanwhile; the producer waits for it before
        # the next block, whose state-tree update builds on this one.
        prepared, receipts = self._prepare_block()
        if prepared is not None:
            await asyncio.get_running_loop().run_in_executor(
                self._committer, self.chain.store.commit, prepared.batch)
        return self._publish(prepared, receipts)

    def _prepare_block(self) -> tuple[PreparedBlock | None, list[Receipt]]:
        head = self.chain.head
        assert head is not None
        return self._build(self.mempool.select(self.genesis.params.max_block_txs),
                           max(now_ms(), head.header.timestamp_ms), WriteBatch())

    def _build(self, txs: Sequence[Transaction], timestamp_ms: int, batch: WriteBatch,
               proposer: PublicKey | None = None) -> tuple[PreparedBlock | None, list[Receipt]]:
        """Execute `txs` on the head state into the next block (None if none executes)."""
        head = self.chain.head
        assert head is not None
        height = head.header.height + 1
        result = self.executor.execute_block(txs, height, self.chain.read)
        self._excluded(result.excluded)
        if not result.included:
            return None, []
        prepared = self.chain.prepare_block(
            batch, height, header_hash(head.header, self.suite.hash_bytes), timestamp_ms,
            self.key, result.included, result.receipts, result.writes, proposer)
        return prepared, result.receipts

    def _excluded(self, excluded: list[tuple[Transaction, LedgerError]]) -> None:
        """Transactions left out of a block as not executable leave the pool, unless they
        only wait for an earlier nonce (see ledger/mempool.py)."""
        self.mempool.drop_excluded(excluded)

    def _publish(self, prepared: PreparedBlock | None, receipts: list[Receipt]) -> Block | None:
        if prepared is not None:
            self.chain.publish(prepared)
            block = prepared.block
            self.mempool.on_commit(block.header.height, prepared.txs)
        self.cutter.cut(now_ms(), len(self.mempool))
        if prepared is None:
            return None
        for listener in list(self._listeners):
            listener(prepared.block, receipts)
        return prepared.block

    # -- queries -----------------------------------------------------------------------

    def status(self) -> NodeStatus:
        head = self.chain.head
        assert head is not None
        return NodeStatus(
            chain_id=self.genesis.chain_id, suite=self.suite.name,
            genesis_hash=self.genesis.hash(), height=head.header.height,
            head_hash=header_hash(head.header, self.suite.hash_bytes),
            state_root=head.header.state_root, mempool_size=len(self.mempool),
            committed_txs=self.chain.committed_txs, node_key=codec.encode(self.key.public_key))

    def block(self, height: int) -> Block | None:
        return self.chain.block(height)

    def block_by_hash(self, block_hash: bytes) -> Block | None:
        return self.chain.block_by_hash(block_hash)

    def receipt(self, tx_hash: bytes) -> Receipt | None:
        return self.chain.receipt(tx_hash)

    def pending(self, tx_hash: bytes) -> bool:
        return tx_hash in self.mempool

    def tx_location(self, tx_hash: bytes) -> TxLocation | None:
        location = self.chain.index.tx_location(tx_hash)
        return None if location is None else TxLocation(location.height, location.index)

    def transaction(self, tx_hash: bytes) -> TxRecord | None:
        """The transaction with both audit paths: reads its whole block and its receipts."""
        location = self.chain.index.tx_location(tx_hash)
        if location is None:
            return None
        block = self.chain.block(location.height)
        if block is None:
            raise NotFound("the transaction's block is missing")
        hashes = self.chain.tx_hashes(block)
        receipts = [self.chain.index.receipt(h) for h in hashes]
        if any(r is None for r in receipts):
            raise NotFound(f"a receipt of block {location.height} is missing")
        encoded = [r for r in receipts if r is not None]
        h, i = self.suite.hash_bytes, location.index
        return TxRecord(block.txs[i], tx_hash, location.height, i, block.header,
                        block.signature, merkle.audit_path(hashes, i, h),
                        codec.decode(encoded[i], Receipt), merkle.audit_path(encoded, i, h))

    def state_proof(self, key: bytes, height: int | None = None) -> StateProof:
        height = self.chain.height if height is None else height
        block = self.chain.block(height)
        if block is None:
            raise NotFound(f"no block at height {height}")
        value, proof = self.chain.tree.get_with_proof(key, height)
        return StateProof(key, value, proof, block.header, codec.encode(block.signature))

    def account(self, address: bytes, height: int | None = None) -> AccountView:
        state = self.state_proof(account_key(address), height)
        account = Account() if state.value is None else codec.decode(state.value, Account)
        return AccountView(address, account, state)

    def sender_transactions(self, address: bytes, offset: int, limit: int) -> list[bytes]:
        return [h for _, h in self.chain.index.sender_txs(address, start_nonce=offset,
                                                           limit=limit)]

    def add_block_listener(self, listener: BlockListener) -> None:
        self._listeners.append(listener)

    def remove_block_listener(self, listener: BlockListener) -> None:
        self._listeners.remove(listener)
