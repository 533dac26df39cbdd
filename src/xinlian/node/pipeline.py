"""The ledger pipeline: admission, execution and commit of one node's chain, sans-I/O.

Every node, solo or validator, runs the same pipeline; only its ordering strategy differs
(solo.py, bft.py). The pipeline owns the chain store, the mempool and the executor, and
never waits: it reads no clock (timestamps come in), starts no thread and opens no socket.
The expensive steps are left to its driver, which chooses how to run them:

- admission is `precheck` (decode, stateless and state checks), then signature
  verification of `Admission.items` (a process pool in a real node, inline in the
  simulator), then `admit` with the verdicts;
- a block is `build` (execute on the head state, everything it writes into one batch; a
  block is made when a transaction executes, or when the executor has work of its own:
  async deliveries due, or armed schedules whose heights must come),
  then `commit` of that batch (a worker thread in a real node, since LMDB releases the GIL
  while it syncs; a solo node runs `build` there too, so that admission goes on while a
  block executes; inline in the simulator), then `publish` (the new head, the mempool
  cleared of what committed, the block listeners told). Nothing may touch the store or
  the executor between `build` and `publish` (queries use an engine of their own).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from xinlian.crypto import batch as batch_verify
from xinlian.crypto.keys import PublicKey
from xinlian.crypto.signing import SigningKey
from xinlian.execution.contracts.engine_runs import has_work
from xinlian.execution.contracts.runner import BlockContext
from xinlian.execution.contracts.world import BlockHashes
from xinlian.execution.executor import BlockResult, Executor, max_spend, tx_fees
from xinlian.execution.migration import get_schedule, key_rule
from xinlian.execution.parallel import BaseState, ExecutionPool
from xinlian.execution.system import is_permitted
from xinlian.ledger.block import Block, Receipt, header_hash
from xinlian.ledger.errors import LedgerError
from xinlian.ledger.genesis import Genesis
from xinlian.ledger.mempool import Clock, Mempool, PoolLimits, Refused
from xinlian.ledger.transaction import Transaction
from xinlian.node.chain import ChainStore, PreparedBlock
from xinlian.node.interface import (
    BlockListener,
    SubmitResult,
)
from xinlian.node.retention import ARCHIVE, Retention
from xinlian.node.stages import StageCpu
from xinlian.storage.kv import WriteBatch


@dataclass(frozen=True)
class Admission:
    """Submitted bytes after `precheck`: the decoded transactions wait for their verdicts."""

    raws: Sequence[bytes]
    checked: list[Transaction | Refused]
    txs: list[Transaction]
    prechecked_at: int

    @property
    def items(self) -> list[batch_verify.Item]:
        return [tx.verify_item() for tx in self.txs]


@dataclass(frozen=True)
class Built:
    """A block executed into `batch` but not committed yet (`prepared` None: no block)."""

    batch: WriteBatch
    prepared: PreparedBlock | None
    receipts: list[Receipt]  # the transactions', then the engine runs' (receipts-tree order)
    excluded: list[tuple[Transaction, LedgerError]]  # left out as not executable


def chain_dir(data_dir: Path) -> Path:
    """Where a node's chain store lives in its data directory."""
    return Path(data_dir) / "chain"


class LedgerPipeline:
    """One chain's admission, execution and commit (see the module docstring)."""

    def __init__(self, data_dir: Path, genesis: Genesis, key: SigningKey, *, clock: Clock,
                 durable: bool = True, pool_limits: PoolLimits | None = None,
                 pool: ExecutionPool | None = None, stages: StageCpu | None = None,
                 retention: Retention = ARCHIVE) -> None:
        """`clock`: the pool's monotonic milliseconds (how long transactions have waited),
        given by the driver; `stages`: where the CPU time of each stage is added up (the
        driver's CPU clock; none: not timed); `durable=False`: commits survive the process,
        not the machine (simulation); `pool`: the driver's worker processes that run
        contract calls in parallel (execution/parallel.py, made by
        `node.offload.execution_pool`; None: serial). The pipeline closes it.
        `retention`: the state versions the chain store keeps (node/retention.py)."""
        self.genesis = genesis
        self.suite = genesis.crypto_suite()
        self.key = key
        self.chain = ChainStore(chain_dir(data_dir), genesis, durable=durable,
                                retention=retention)
        if self.chain.head is None:
            self.chain.init_genesis(key, genesis.timestamp_ms)
        self.mempool = Mempool(genesis.chain_id, genesis.params, self.suite.hash_bytes,
                               self.chain.account,
                               lambda address: is_permitted(self.chain.read, address),
                               spend=max_spend,
                               fees=lambda tx: tx_fees(genesis.params, tx, read=self.chain.read),
                               clock=clock, limits=pool_limits,
                               keys=lambda tx, height: key_rule(
                                   self.chain.read, self.suite.hash_bytes,
                                   get_schedule(self.chain.read), tx, height))
        self.mempool.height = self.chain.height
        self.pool = pool
        self.executor = Executor(genesis.params, self.suite, pool=self.pool)
        self._listeners: list[BlockListener] = []
        self.stages = stages or StageCpu(clock=None)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
        self.chain.close()

    # -- admission ---------------------------------------------------------------------

    def precheck(self, raws: Sequence[bytes]) -> Admission:
        prechecked_at = self.mempool.commits
        with self.stages.stage("admission"):
            checked = self.mempool.precheck(raws)
        return Admission(raws, checked, [c for c in checked if isinstance(c, Transaction)],
                         prechecked_at)

    def admit(self, admission: Admission, valid: Sequence[bool]
              ) -> tuple[list[SubmitResult], list[Transaction]]:
        """Admit the transactions whose signatures are `valid`: each submission's result,
        and the transactions now pending."""
        with self.stages.stage("admission"):
            admitted = iter(self.mempool.admit(admission.txs, valid,
                                               prechecked_at=admission.prechecked_at))
        results = []
        for raw, item in zip(admission.raws, admission.checked, strict=True):
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
        return results, [tx for tx in admission.txs if tx.hash in accepted]

    # -- execution and commit ----------------------------------------------------------

    def build(self, txs: Sequence[Transaction], timestamp_ms: int,
              batch: WriteBatch | None = None, proposer: PublicKey | None = None,
              signer: SigningKey | None = None) -> Built:
        """Execute `txs` on the head state into the next block, written into `batch`,
        its header signed by `signer` (default: the node key)."""
        batch = WriteBatch() if batch is None else batch
        head = self.chain.head
        assert head is not None
        height = head.header.height + 1
        with self.stages.stage("execution"):
            result = self.execute(txs, timestamp_ms)
        if not (result.included or result.runs or result.engine_work):
            return Built(batch, None, [], result.excluded)
        with self.stages.stage("tree"):
            prepared = self.chain.prepare_block(
                batch, height, header_hash(head.header, self.suite.hash_bytes), timestamp_ms,
                signer or self.key, result.included, result.receipts, result.writes, proposer,
                result.runs, result.index, result.data_index, result.data_changes)
        return Built(batch, prepared, result.receipts + result.runs, result.excluded)

    def has_engine_work(self) -> bool:
        """Whether the next block must be made even without transactions: async requests
        are due in it or schedules are armed (execution.contracts.engine_runs)."""
        return has_work(self.chain.read, self.chain.height + 1)

    def execute(self, txs: Sequence[Transaction], timestamp_ms: int,
                executor: Executor | None = None) -> BlockResult:
        """Execute `txs` as the next block on the head state, writing nothing (`build`
        writes); `executor`: another than the pipeline's own."""
        head = self.chain.head
        assert head is not None
        block = BlockContext(head.header.height + 1, timestamp_ms,
                             BlockHashes(self.chain.header_hash))
        return (executor or self.executor).execute_block(
            txs, block, self.chain.read, BaseState(head.header.height, head.header.state_root))

    def commit(self, built: Built) -> None:
        """The one atomic write of a built block (and whatever else its batch holds)."""
        if len(built.batch):
            with self.stages.stage("commit"):
                self.chain.store.commit(built.batch)

    def publish(self, built: Built) -> Block | None:
        """Make a committed block the head and tell the listeners."""
        # Left out as never executable: gone from the pool (unless only waiting for an
        # earlier nonce; see ledger/mempool.py), so nothing forwards them again.
        self.mempool.drop_excluded(built.excluded)
        prepared = built.prepared
        if prepared is None:
            return None
        self.chain.publish(prepared)
        self.mempool.on_commit(prepared.block.header.height, prepared.txs)
        for listener in list(self._listeners):
            listener(prepared.block, built.receipts)
        return prepared.block

    def add_block_listener(self, listener: BlockListener) -> None:
        self._listeners.append(listener)

    def remove_block_listener(self, listener: BlockListener) -> None:
        self._listeners.remove(listener)
