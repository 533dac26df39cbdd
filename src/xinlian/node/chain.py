"""The node's chain store: state tree, blocks and indexes in one LMDB store.

Every block — its state-tree nodes, the block, its receipts, every index entry, the new
nodes of the header history (node/history.py), the last-height marker and, on a pruned
node, the deletion of the state versions, block bodies and transaction records that left
the window (node/retention.py) — goes to disk in ONE atomic LMDB write (storage.kv), so
after a crash the store shows exactly the blocks that finished committing, with their
pruning, never part of one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

from xinlian import codec
from xinlian.crypto.keys import PublicKey
from xinlian.crypto.signing import SigningKey
from xinlian.execution.data.apply import IndexUpdates
from xinlian.execution.data.changes import RecordChange
from xinlian.execution.system import genesis_writes
from xinlian.ledger import merkle
from xinlian.ledger.account import Account, account_key, address_of
from xinlian.ledger.block import Block, BlockHeader, Receipt, header_hash, sign_header
from xinlian.ledger.errors import InvalidGenesis
from xinlian.ledger.genesis import Genesis
from xinlian.ledger.transaction import SignedTransaction, Transaction, TxBody
from xinlian.node import data, data_history, data_plan
from xinlian.node.history import HISTORY_DB, HISTORY_KEY, HeaderProof, decode_peaks, node_key
from xinlian.node.interface import TxRecord
from xinlian.node.retention import ARCHIVE, Retention
from xinlian.storage import chain_index, jmt, mmr, mst
from xinlian.storage.bloom import BLOOM_ROOT_KEY
from xinlian.storage.errors import CorruptDataError
from xinlian.storage.kv import Store, WriteBatch
from xinlian.storage.mst_proof import INDEX_ROOT_KEY

NODE_META_DB = "node_meta"
CONSENSUS_DB = "consensus"  # what a BFT node's consensus core persists
_GENESIS = b"genesis"
_COMMITTED_TXS = b"committed_txs"
CHAIN_SUB_DBS = (*jmt.SUB_DBS, *chain_index.SUB_DBS, *mst.SUB_DBS, *data.SUB_DBS,
                 *data_history.SUB_DBS, NODE_META_DB,
                 CONSENSUS_DB, HISTORY_DB)
CACHE_LIMIT = 2_000_000
# The store holds only what this node wrote, so it is decoded without canonical checks.
_decode_account = codec.trusted_decoder(Account)
_decode_block = codec.trusted_decoder(Block)
_decode_receipt = codec.trusted_decoder(Receipt)
_decode_signed = codec.trusted_decoder(SignedTransaction)
_decode_body = codec.trusted_decoder(TxBody)


class ChainStore:
    """One chain's persistent state. Not thread-safe: the node's event loop owns it."""

    def __init__(self, path: Path, genesis: Genesis, *, durable: bool = True,
                 retention: Retention = ARCHIVE) -> None:
        """`retention`: which blocks and state versions the store keeps
        (node/retention.py); `prune_floor`, set by a validator, the oldest height it must
        keep whatever the window (the block state sync serves)."""
        self.genesis = genesis
        self.retention = retention
        self.prune_floor: int | None = None
        self.suite = genesis.crypto_suite()
        self.hash = self.suite.hash_bytes
        self.store = Store(path, sub_dbs=CHAIN_SUB_DBS, durable=durable)
        self.tree = jmt.StateTree(self.store, self.hash)
        self.index = chain_index.ChainIndex(self.store)
        self.ordered = mst.OrderedIndex(self.store, self.hash)  # contract data, with proofs
        self.data = data.DataIndexes(self.store, self.hash)  # data collections' indexes
        self.data_history = data_history.DataHistory(self.store, self.hash)  # provenance
        self._latest: dict[bytes, bytes | None] = {}  # read-through cache of the head state
        stored = self.store.get(NODE_META_DB, _GENESIS)
        if stored is not None and stored != codec.encode(genesis):
            raise InvalidGenesis("the data directory belongs to a chain with another genesis")
        self.head: Block | None = None
        raw_count = self.store.get(NODE_META_DB, _COMMITTED_TXS)
        self.committed_txs = 0 if raw_count is None else codec.decode(raw_count, int)
        height = self.index.last_height()
        if height is not None:
            self.head = self.block(height)

    def close(self) -> None:
        self.store.close()

    # -- reads -------------------------------------------------------------------------

    @property
    def height(self) -> int:
        return -1 if self.head is None else self.head.header.height

    def read(self, key: bytes) -> bytes | None:
        """The head state's value of `key` (cached)."""
        try:
            return self._latest[key]
        except KeyError:
            value = self._latest[key] = self.tree.get(key)
            return value

    def account(self, address: bytes) -> Account:
        raw = self.read(account_key(address))
        return Account() if raw is None else _decode_account(raw)

    @property
    def pruned_below(self) -> int:
        """The oldest height whose block body and state this store still holds, unless it
        joined from a snapshot later (0: nothing pruned)."""
        return self.tree.pruned_below

    def block(self, height: int) -> Block | None:
        """The block with its transactions (None: none at `height`, or pruned)."""
        if height < 0:
            return None
        raw = self.index.block_by_height(height)
        return None if raw is None else _decode_block(raw)

    def header(self, height: int) -> Block | None:
        """The block at `height` without its transactions (kept below a pruned node's
        window too; None: no such block)."""
        if height < 0:
            return None
        raw = self.index.header(height) or self.index.block_by_height(height)
        if raw is None:
            return None
        block = _decode_block(raw)
        return Block(block.header, block.signature, [])

    def header_hash(self, height: int) -> bytes | None:
        """The hash of block `height`'s header (None: no such block), read from its
        header record alone."""
        raw = self.index.header(height) if height >= 0 else None
        return None if raw is None else header_hash(_decode_block(raw).header, self.hash)

    def block_by_hash(self, block_hash: bytes) -> Block | None:
        raw = self.index.block_by_hash(block_hash)
        return None if raw is None else _decode_block(raw)

    def receipt(self, tx_hash: bytes) -> Receipt | None:
        """A transaction's receipt once its block is the head or below: a block committed
        on the ledger thread but not yet published does not show its receipts, so whoever
        sees a receipt can read the state it produced."""
        location = self.index.tx_location(tx_hash)
        if location is not None and location.height > self.height:
            return None
        raw = self.index.receipt(tx_hash)
        return None if raw is None else _decode_receipt(raw)

    def transaction(self, tx_hash: bytes) -> TxRecord | None:
        """A committed transaction with both audit paths, read without its block: a few
        point reads and log2(block size) pair reads (storage.chain_index), no hashing.
        None for an engine run's id too (it has a receipt, `receipt`, but no transaction)."""
        location = self.index.tx_location(tx_hash)
        if location is None or location.height > self.height:
            return None
        raw_header = self.index.header(location.height)
        if raw_header is None:
            raise CorruptDataError(f"the records of transaction {tx_hash.hex()} are incomplete")
        stored = _decode_block(raw_header)
        header, i = stored.header, location.index
        if i >= header.tx_count:
            return None  # a run's receipt, after the transactions'
        raw_tx = self.index.tx_raw(tx_hash)
        receipt = self.receipt(tx_hash)
        if raw_tx is None or receipt is None:
            raise CorruptDataError(f"the records of transaction {tx_hash.hex()} are incomplete")
        positions = merkle.path_positions(i, header.tx_count)
        tx_siblings, receipt_siblings = self.index.tree_siblings(location.height, positions)
        receipts = self.index.receipt_count(location.height, header.tx_count)
        if receipts != header.tx_count:  # the block's runs widen its receipts tree
            receipt_siblings = self.index.receipt_siblings(
                location.height, merkle.path_positions(i, receipts), header.tx_count)
        return TxRecord(raw_tx, tx_hash, location.height, i, header, stored.signature,
                        merkle.AuditPath(i, header.tx_count, tx_siblings), receipt,
                        merkle.AuditPath(i, receipts, receipt_siblings))

    def header_proof(self, height: int, anchor: int) -> HeaderProof | None:
        """Header `height` proven in the history of block `anchor` (None: this node lacks a
        block or, having joined from a snapshot, the older history nodes)."""
        old, top = self.header(height), self.header(anchor)
        if old is None or top is None or not 0 <= height < anchor:
            return None
        raw, proof = self.tree.get_with_proof(HISTORY_KEY, anchor)
        if raw is None:
            return None
        inclusion = mmr.make_proof(height, decode_peaks(raw), self._history_node)
        if inclusion is None:
            return None
        return HeaderProof(old.header, anchor, raw, proof, inclusion)

    def _history_node(self, level: int, index: int) -> bytes | None:
        return self.store.get(HISTORY_DB, node_key(level, index))

    def tx_hashes(self, block: Block) -> list[bytes]:
        return [self.hash(codec.decode(raw, SignedTransaction).body) for raw in block.txs]

    # -- writes ------------------------------------------------------------------------

    def init_genesis(self, key: SigningKey, timestamp_ms: int) -> Block:
        """Write block 0: the genesis state, with the genesis hash as its parent.

        On a BFT chain every validator must hold the same block 0, so its proposer is the
        first genesis validator; a solo chain's is its node."""
        if self.head is not None:
            raise InvalidGenesis("the chain is already initialised")
        writes: dict[bytes, bytes | None] = dict(genesis_writes(self.genesis))
        for acct in self.genesis.accounts:
            writes[account_key(acct.address)] = codec.encode(Account(acct.balance, 0))
        batch = WriteBatch()
        batch.put(NODE_META_DB, _GENESIS, codec.encode(self.genesis))
        proposer = self.genesis.validators[0].node_key if self.genesis.validators else None
        prepared = self.prepare_block(batch, 0, self.genesis.hash(), timestamp_ms, key, [], [],
                                      writes, proposer)
        self.store.commit(prepared.batch)
        self.publish(prepared)
        return prepared.block

    def prepare_block(self, batch: WriteBatch, height: int, parent: bytes, timestamp_ms: int,
                      key: SigningKey, txs: Sequence[Transaction], receipts: Sequence[Receipt],
                      writes: dict[bytes, bytes | None],
                      proposer: PublicKey | None = None,
                      runs: Sequence[Receipt] = (),
                      index_updates: dict[bytes, bytes | None] | None = None,
                      data_updates: IndexUpdates | None = None,
                      data_changes: Sequence[RecordChange] = ()
                      ) -> PreparedBlock:
        """Build and sign a block and put everything it writes into `batch`, uncommitted.

        `receipts` are the transactions' (one each, in order), `runs` the receipts of the
        runs no transaction started (async deliveries, scheduled runs: execution.executor),
        which follow them in the receipts tree and are found by their ids like receipts.
        `index_updates` (the entries of contract runs, execution/indexing.py) go into the
        ordered index as version `height`, and its new root into the state at
        `INDEX_ROOT_KEY`, so the header's state root commits to the index too;
        `data_updates` (of data writes, execution/data) likewise go into the data indexes,
        their roots at `dx/<kind>` (node/data.py), after the reviews of adaptive collections
        due in the block (node/data_plan.py) added their builds and drops; and
        `data_changes` (the records they changed, in block order) into the records'
        histories and the block filters, their peaks at `dh/<collection id><record id>`
        and `dx/bloom` (node/data_history.py).

        `proposer` defaults to the signing key (solo); under BFT it is the round's leader,
        the same on every node, while `key` is the node that attests the header it stores.
        The caller commits the batch (`store.commit`, which may run in another thread) and
        then calls `publish`; nothing else may touch the store in between. From block 1 on,
        the parent's hash joins the header history in the state (node/history.py)."""
        if index_updates:
            writes = {**writes,
                      INDEX_ROOT_KEY: self.ordered.apply(height, index_updates, batch)}
        reviewed, data_updates = data_plan.review(self.data, self.read, height, writes,
                                                  data_updates or {})
        writes = {**writes, **reviewed}
        if data_updates:
            writes = {**writes, **self.data.apply(height, data_updates, batch)}
        if data_changes:
            writes = {**writes, **self.data_history.apply(
                height, data_changes, batch, self.read(BLOOM_ROOT_KEY))}
        if height > 0:
            writes = {**writes, HISTORY_KEY: self._extend_history(parent, batch)}
        state_root = self.tree.apply(height, writes, batch)
        keep_from = self.retention.keep_from(height, self.pruned_below, self.prune_floor)
        if keep_from is not None:
            self._prune(keep_from, batch)
        encoded_receipts = [codec.encode(r) for r in receipts]
        encoded_runs = [codec.encode(r) for r in runs]
        tx_tree = merkle.levels([tx.hash for tx in txs], self.hash)
        receipt_tree = merkle.levels(encoded_receipts + encoded_runs, self.hash)
        empty_root = self.hash(b"")
        header = BlockHeader(
            chain_id=self.genesis.chain_id, height=height, parent_hash=parent,
            timestamp_ms=timestamp_ms, tx_count=len(txs),
            tx_root=tx_tree[-1][0] if txs else empty_root, state_root=state_root,
            receipts_root=receipt_tree[-1][0] if txs or runs else empty_root,
            proposer=proposer or key.public_key)
        signature = sign_header(header, key)
        block = Block(header, signature, [tx.raw for tx in txs])
        indexed = [chain_index.IndexedTx(tx.hash, tx.sender_address, tx.body.nonce, r, tx.raw)
                   for tx, r in zip(txs, encoded_receipts, strict=True)]
        self.index.write_block(batch, height=height, block_hash=header_hash(header, self.hash),
                               block=codec.encode(block),
                               header=codec.encode(Block(header, signature, [])),
                               txs=indexed,
                               tree_levels=list(zip_longest(tx_tree[:-1], receipt_tree[:-1],
                                                            fillvalue=[])),
                               runs=[chain_index.IndexedRun(r.tx_hash, raw)
                                     for r, raw in zip(runs, encoded_runs, strict=True)])
        batch.put(NODE_META_DB, _COMMITTED_TXS, codec.encode(self.committed_txs + len(txs)))
        return PreparedBlock(block, batch, writes, list(txs))

    def _prune(self, keep_from: int, batch: WriteBatch) -> None:
        """Drop, in `batch`, the state versions and the block bodies and transaction
        records of the heights from `pruned_below` up to `keep_from` (exclusive)."""
        for height in range(self.pruned_below, keep_from):
            block = self.block(height)
            if block is None:
                continue  # below a snapshot this node joined from
            txs = []
            for raw in block.txs:
                signed = _decode_signed(raw)
                body = _decode_body(signed.body)
                txs.append((self.hash(signed.body), address_of(body.sender, self.hash),
                            body.nonce))
            self.index.prune_block(batch, height, txs)
        self.tree.prune(keep_from, batch)

    def _extend_history(self, parent: bytes, batch: WriteBatch) -> bytes:
        def written(level: int, index: int, node: bytes) -> None:
            batch.put(HISTORY_DB, node_key(level, index), node)
        peaks = mmr.append(self.hash, decode_peaks(self.read(HISTORY_KEY)), parent, written)
        return codec.encode(peaks)

    def publish(self, prepared: PreparedBlock) -> None:
        """Make a durably committed block the head."""
        if len(self._latest) + len(prepared.writes) > CACHE_LIMIT:
            self._latest.clear()
        self._latest.update(prepared.writes)
        self.committed_txs += prepared.block.header.tx_count
        self.head = prepared.block


@dataclass(frozen=True)
class PreparedBlock:
    block: Block
    batch: WriteBatch
    writes: dict[bytes, bytes | None]
    txs: list[Transaction]
