"""One node: the ledger pipeline plus an ordering strategy, chosen from the genesis.

A genesis without validators is a solo chain: the node orders alone (solo.py). A genesis
that lists validators is a BFT chain: the node is one of them, and consensus orders
(validator.py over bft.py). Either way submissions go through the same pipeline
(pipeline.py): checked, signature-verified in batches on all cores, admitted to the mempool,
and handed to the ordering strategy, which cuts or orders blocks that the pipeline
executes and commits in one atomic write each before telling the block listeners (the
API's websocket subscriptions).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from xinlian import codec
from xinlian.consensus.proofs import EpochProof
from xinlian.crypto.signing import SigningKey
from xinlian.execution.contracts.runner import ContractRunner
from xinlian.execution.data.select import Condition
from xinlian.ledger.account import Account, account_key
from xinlian.ledger.block import Block, Receipt, header_hash
from xinlian.ledger.genesis import Genesis
from xinlian.ledger.mempool import PoolLimits
from xinlian.ledger.transaction import Transaction
from xinlian.network.shaper import ShapeFor
from xinlian.node.bft import BftLedger
from xinlian.node.blob_service import BlobService
from xinlian.node.certify import CertifiedHeader
from xinlian.node.contracts import ContractReader
from xinlian.node.data_history_reads import HistoryReader
from xinlian.node.data_reads import DataReader
from xinlian.node.errors import BlockPruned, NodeConfigError, NotFound, TaskFailed
from xinlian.node.history import HeaderProof
from xinlian.node.identity import IdentityFiles
from xinlian.node.interface import (
    AccountView,
    BlockListener,
    CodeView,
    ContractView,
    DataAggregateAnswer,
    DataBlocksAnswer,
    DataCollectionView,
    DataHistoryAnswer,
    DataPlanAnswer,
    DataQueryAnswer,
    DataRecordAnswer,
    DataSearchAnswer,
    DataSelectAnswer,
    IndexAnswer,
    IndexEntry,
    NodeStatus,
    QueryResult,
    Readiness,
    StateProof,
    SubmitResult,
    TransportKey,
    TxLocation,
    TxRecord,
    VersionView,
)
from xinlian.node.offload import execution_pool, monotonic_ms, verify
from xinlian.node.pipeline import LedgerPipeline
from xinlian.node.retention import ARCHIVE, Retention
from xinlian.node.solo import SoloOrdering
from xinlian.node.stages import StageCpu
from xinlian.node.statesync import MAX_PROOFS
from xinlian.node.supervise import Supervisor
from xinlian.node.validator import DEFAULT_CONSENSUS, BftOrdering, ConsensusSettings
from xinlian.storage.blob_config import BlobConfig, blob_config_from, open_blob_store
from xinlian.storage.bloom_proof import WindowQuery
from xinlian.storage.mst_proof import INDEX_ROOT_KEY, RangeQuery, encode_range_proof
from xinlian.storage.provenance_proof import HistoryQuery

POOL_SWEEP_S = 1.0  # how often the pool drops what waited too long


class Ordering(Protocol):
    """How a node's admitted transactions become blocks."""

    async def start(self, supervisor: Supervisor) -> None:
        """Start the ordering's long-running tasks under `supervisor`."""
        ...

    async def stop(self) -> None: ...

    def health(self) -> tuple[int | None, list[str]]:
        """Consensus's committed height (None: solo) and why the node is unready."""
        ...

    def on_admitted(self, txs: list[Transaction]) -> None:
        """New transactions are pending in the mempool."""
        ...


class Node:
    """A node; implements `xinlian.node.interface.NodeAPI`. `vote_secret` (a validator's
    consensus key), `rotated_votes` and `rotated_node` (the vote and node keys it
    registered for a suite migration: execution/rotation.py), `listen`, `shape_for` and
    `identity` (node.toml's `[identity]` files: its membership certificate) serve a BFT
    chain's validator only. `blobs`:
    node.toml's `[blobs]` settings (default: a disk store under `data_dir`); `retention`:
    its `prune_keep_blocks` or archive mode (node/retention.py); `consensus`: a
    validator's `[consensus]` timing."""

    def __init__(self, data_dir: Path, genesis: Genesis, key: SigningKey,
                 vote_secret: bytes | None = None, *,
                 rotated_votes: Sequence[SigningKey] = (),
                 listen: tuple[str, int] | None = None,
                 shape_for: ShapeFor | None = None, pool_limits: PoolLimits | None = None,
                 exec_workers: int = 0, blobs: BlobConfig | None = None,
                 retention: Retention = ARCHIVE,
                 identity: IdentityFiles | None = None,
                 consensus: ConsensusSettings = DEFAULT_CONSENSUS,
                 rotated_node: SigningKey | None = None) -> None:
        self.ledger = LedgerPipeline(data_dir, genesis, key, clock=monotonic_ms,
                                     pool_limits=pool_limits, retention=retention,
                                     pool=execution_pool(data_dir, genesis, exec_workers),
                                     stages=StageCpu())
        self.genesis = genesis
        self.suite = self.ledger.suite
        self.key = key
        self.chain = self.ledger.chain
        self.mempool = self.ledger.mempool
        # queries have an engine of their own: blocks execute on the ledger thread, and an
        # engine serves one thread (its stores and host state are not shared)
        self.contracts = ContractReader(self.chain, ContractRunner(self.suite.hash_bytes,
                                                                   self.suite.name))
        self.data = DataReader(self.chain, self.state_proof)
        config = blob_config_from({}, Path(data_dir)) if blobs is None else blobs
        try:
            store = open_blob_store(config, self.suite.hash_bytes)
        except BaseException:
            self.ledger.close()
            raise
        self.blobs: BlobService | None = BlobService(store, self.chain, genesis.hash())
        self.data_history = HistoryReader(self.chain, self.state_proof)
        self.ordering: Ordering
        self._sweeper: asyncio.Task[None] | None = None
        self.supervisor: Supervisor | None = None
        if not genesis.validators:
            self.solo: SoloOrdering | None = SoloOrdering(self.ledger)
            self.ordering = self.solo
        elif vote_secret is None:
            self.blobs.close()
            self.ledger.close()
            raise NodeConfigError("a validator of a BFT chain needs its consensus key")
        else:
            self.solo = None
            try:
                self.ordering = BftOrdering(self.ledger, Path(data_dir), vote_secret,
                                            rotated_votes=rotated_votes, listen=listen,
                                            shape_for=shape_for, identity=identity,
                                            consensus=consensus, rotated_node=rotated_node)
            except BaseException:  # its own certificate does not hold, say
                self.blobs.close()
                self.ledger.close()
                raise

    async def start(self) -> None:
        """Start the node's tasks, supervised: `failed()` resolves when one of them fails."""
        self.supervisor = Supervisor()
        await self.ordering.start(self.supervisor)
        self._sweeper = self.supervisor.spawn("pool-sweep", self._sweep_pool())

    async def failed(self) -> TaskFailed:
        """Wait until a supervised task fails; the error names the task and its cause."""
        assert self.supervisor is not None, "the node has not started"
        return await self.supervisor.failed

    async def _sweep_pool(self) -> None:
        """Pending transactions that waited too long leave the pool, on idle chains too."""
        while True:
            await asyncio.sleep(POOL_SWEEP_S)
            self.mempool.drop_aged()

    async def stop(self) -> None:
        if self.supervisor is not None:
            self.supervisor.stopping = True  # what stops from here on is no failure
        if self._sweeper is not None:
            self._sweeper.cancel()  # a failure was reported by the supervisor
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None
        await self.ordering.stop()
        if self.blobs is not None:
            self.blobs.close()
            self.blobs = None
        self.ledger.close()

    async def submit(self, raws: Sequence[bytes]) -> list[SubmitResult]:
        admission = self.ledger.precheck(raws)
        results, admitted = self.ledger.admit(
            admission, await verify(admission.items, self.ledger.stages))
        if admitted:
            self.ordering.on_admitted(admitted)
        return results

    def produce_block(self) -> Block | None:
        """Solo chains: cut, execute and commit one block now (tests decide when)."""
        if self.solo is None:
            raise NodeConfigError("blocks of a BFT chain are ordered by consensus")
        return self.solo.produce_block()

    # -- queries: the ledger's, read on the event loop ------------------------------------

    def status(self) -> NodeStatus:
        head = self.chain.head
        assert head is not None
        return NodeStatus(
            chain_id=self.genesis.chain_id, suite=self.suite.name,
            genesis_hash=self.genesis.hash(), height=head.header.height,
            head_hash=header_hash(head.header, self.suite.hash_bytes),
            state_root=head.header.state_root, mempool_size=len(self.mempool),
            committed_txs=self.chain.committed_txs, node_key=codec.encode(self.key.public_key),
            pruned_below=self.chain.pruned_below)

    def readiness(self) -> Readiness:
        consensus_height, reasons = self.ordering.health()
        if self.supervisor is None:
            reasons.append("the node has not started")
        elif self.supervisor.failed.done():
            reasons.append(self.supervisor.failed.result().message)
        elif not self.supervisor.running("pool-sweep"):
            reasons.append("the pool sweep is not running")
        return Readiness(ready=not reasons, height=self.chain.height,
                         consensus_height=consensus_height, reasons=reasons)

    def transport_keys(self) -> list[TransportKey]:
        ordering = self.ordering
        return ordering.transport_keys() if isinstance(ordering, BftOrdering) else []

    def block(self, height: int) -> Block | None:
        block = self.chain.block(height)
        if block is None and self.chain.header(height) is not None:
            raise BlockPruned(f"block {height} was pruned (this node keeps blocks from "
                              f"{self.chain.pruned_below})")
        return block

    def block_by_hash(self, block_hash: bytes) -> Block | None:
        height = self.chain.index.height_by_hash(block_hash)
        return None if height is None else self.block(height)

    def receipt(self, tx_hash: bytes) -> Receipt | None:
        return self.chain.receipt(tx_hash)

    def pending(self, tx_hash: bytes) -> bool:
        return tx_hash in self.mempool

    def tx_location(self, tx_hash: bytes) -> TxLocation | None:
        location = self.chain.index.tx_location(tx_hash)
        return None if location is None else TxLocation(location.height, location.index)

    def transaction(self, tx_hash: bytes) -> TxRecord | None:
        return self.chain.transaction(tx_hash)

    def state_proof(self, key: bytes, height: int | None = None) -> StateProof:
        height = self.chain.height if height is None else height
        block = self.chain.header(height)
        if block is None:
            raise NotFound(f"no block at height {height}")
        value, proof = self.chain.tree.get_with_proof(key, height)
        return StateProof(key, value, proof, block.header, codec.encode(block.signature))

    def index_query(self, query: RangeQuery, height: int | None = None) -> IndexAnswer:
        root = self.state_proof(INDEX_ROOT_KEY, height)
        answer, proof = self.chain.ordered.query(query, root.header.height)
        return IndexAnswer([IndexEntry(k, v) for k, v in answer], encode_range_proof(proof),
                           root)

    def account(self, address: bytes, height: int | None = None) -> AccountView:
        state = self.state_proof(account_key(address), height)
        account = Account() if state.value is None else codec.decode(state.value, Account)
        return AccountView(address, account, state)

    def contract_query(self, address: bytes, method: str, args: bytes,
                       height: int | None = None, caller: bytes | None = None) -> QueryResult:
        return self.contracts.query(address, method, args, height,
                                    bytes(20) if caller is None else caller)

    def contract_info(self, address: bytes, height: int | None = None) -> ContractView | None:
        return self.contracts.info(address, height)

    def contract_versions(self, address: bytes) -> list[VersionView]:
        return self.contracts.versions(address)

    def contract_code(self, code_hash: bytes) -> CodeView | None:
        return self.contracts.code(code_hash)

    def data_collection(self, name: str, height: int | None = None) -> DataCollectionView:
        return self.data.collection(name, height)

    def data_get(self, name: str, record_id: bytes, height: int | None = None
                 ) -> DataRecordAnswer:
        return self.data.get(name, record_id, height)

    def data_query(self, name: str, attribute: str, lo: Any, hi: Any, reverse: bool,
                   limit: int, cursor: bytes | None, height: int | None = None
                   ) -> DataQueryAnswer:
        return self.data.query(name, attribute, lo, hi, reverse, limit, cursor, height)

    def data_record_history(self, name: str, record_id: bytes, query: HistoryQuery | None,
                            as_of: int | None, height: int | None = None
                            ) -> DataHistoryAnswer:
        return self.data_history.history(name, record_id, query, as_of, height)

    def data_blocks(self, query: WindowQuery, height: int | None = None) -> DataBlocksAnswer:
        return self.data_history.blocks(query, height)

    def data_search(self, name: str, attribute: str, texts: list[str], any_of: bool,
                    exclude: list[str], limit: int, cursor: bytes | None,
                    height: int | None = None) -> DataSearchAnswer:
        return self.data.search(name, attribute, texts, any_of, exclude, limit, cursor,
                                height)

    def data_plan(self, name: str, height: int | None = None) -> DataPlanAnswer:
        return self.data.plan(name, height)

    def data_select(self, name: str, conditions: list[Condition], drive: int | None,
                    reverse: bool, limit: int, scan: int, cursor: bytes | None,
                    height: int | None = None) -> DataSelectAnswer:
        return self.data.select(name, conditions, drive, reverse, limit, scan, cursor,
                                height)

    def data_aggregate(self, name: str, attribute: str, lo: Any, hi: Any,
                       height: int | None = None) -> DataAggregateAnswer:
        return self.data.aggregate(name, attribute, lo, hi, height)

    def sender_transactions(self, address: bytes, offset: int, limit: int) -> list[bytes]:
        return [h for _, h in self.chain.index.sender_txs(address, start_nonce=offset,
                                                           limit=limit)]

    # -- certified headers: served by a validator of a BFT chain ---------------------------

    def _certifying(self) -> BftLedger | None:
        return self.ordering.bft if isinstance(self.ordering, BftOrdering) else None

    def certified_header(self, height: int | None) -> CertifiedHeader | None:
        bft = self._certifying()
        if bft is None:
            return None
        return bft.latest_certified() if height is None else bft.certified(height)

    def epoch_proofs(self, start: int) -> list[EpochProof]:
        bft = self._certifying()
        return [] if bft is None else bft.epoch_proofs(start, MAX_PROOFS)

    def checkpoint(self, epoch: int) -> CertifiedHeader | None:
        bft = self._certifying()
        return None if bft is None else bft.checkpoint(epoch)

    def header_proof(self, height: int, anchor: int) -> HeaderProof | None:
        return self.chain.header_proof(height, anchor)

    def add_block_listener(self, listener: BlockListener) -> None:
        self.ledger.add_block_listener(listener)

    def remove_block_listener(self, listener: BlockListener) -> None:
        self.ledger.remove_block_listener(listener)
