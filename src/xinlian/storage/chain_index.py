"""Chain indexes: blocks, transactions and receipts, addressed the ways a node is asked.

Byte-level and ledger-agnostic: the ledger passes encoded blocks and receipts, hashes and
sender addresses as bytes; this module only decides the keys. `write_block` puts one block's
entries and the "last committed height" marker into the caller's `WriteBatch`, so they
become visible together with the block's state-tree nodes, in one LMDB transaction.

Keys (heights, indexes and nonces big-endian so that key order is numeric order):

    blocks        height(8)                      -> block bytes
    block_hashes  block hash                     -> height(8)
    tx_locations  tx hash                        -> height(8) index(4)
    sender_txs    len(sender)(1) sender nonce(8) -> tx hash
    receipts      tx hash                        -> receipt bytes
    tx_raw        tx hash                        -> the transaction's bytes as in its block
    headers       height(8)                      -> the block without its transactions
    tree_pairs    height(8) level(1) pair(4)     -> tx-tree pair || receipts-tree pair
    chain_meta    b"last_height"                 -> height(8)
                  b"receipts" height(8)          -> receipt count(4), when it is not the
                                                    block's transaction count
                  b"runs" height(8)              -> the block's run ids, each after its
                                                    length(1), when it has runs

`tx_raw`, `headers` and `tree_pairs` answer one transaction with its proofs without reading
its block: `tree_pairs` holds, for each level below the root of a block's two Merkle trees,
every complete pair of sibling nodes `2*pair, 2*pair+1`; a lone last node is promoted
unchanged (ledger.merkle), so it is stored where it is paired, higher up. An audit path is
one point read per level.

A block's receipts tree has a leaf per transaction, then one per run that no transaction
started (`runs`: the execution engine's async deliveries and scheduled runs, indexed by
their run ids like transactions, at the positions after the transactions). So it can be
wider than the tx tree: where the tx tree has no pair, the record holds the receipts-tree
pair alone (`receipt_siblings` knows which from the block's transaction count).

`prune_block` deletes one block's body and every per-transaction entry, and keeps its
header and block hash: what a pruned node (node/retention.py) still answers for it.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from xinlian.storage.errors import CorruptDataError, InvalidKeyError, UnknownDatabaseError
from xinlian.storage.kv import Store, WriteBatch

BLOCKS_DB = "blocks"
BLOCK_HASHES_DB = "block_hashes"
TX_LOCATIONS_DB = "tx_locations"
SENDER_TXS_DB = "sender_txs"
RECEIPTS_DB = "receipts"
TX_RAW_DB = "tx_raw"
HEADERS_DB = "headers"
TREE_PAIRS_DB = "tree_pairs"
CHAIN_META_DB = "chain_meta"
SUB_DBS = (BLOCKS_DB, BLOCK_HASHES_DB, TX_LOCATIONS_DB, SENDER_TXS_DB, RECEIPTS_DB,
           TX_RAW_DB, HEADERS_DB, TREE_PAIRS_DB, CHAIN_META_DB)

MAX_SENDER_SIZE = 255
MAX_HASH_SIZE = 64
_LAST_HEIGHT = b"last_height"
_RECEIPT_COUNT = b"receipts"
_RUN_IDS = b"runs"
_u64 = struct.Struct(">Q")
_loc = struct.Struct(">QI")
_pair = struct.Struct(">QBI")


@dataclass(frozen=True, slots=True)
class IndexedTx:
    """What the index needs to know of one transaction of a block."""

    tx_hash: bytes
    sender: bytes
    nonce: int
    receipt: bytes
    raw: bytes


@dataclass(frozen=True, slots=True)
class IndexedRun:
    """A receipt of a block that no transaction of it has: its id and encoding."""

    run_id: bytes
    receipt: bytes


@dataclass(frozen=True, slots=True)
class TxLocation:
    height: int
    index: int


def _check_hash(value: bytes, what: str) -> bytes:
    if type(value) is not bytes or not 0 < len(value) <= MAX_HASH_SIZE:
        raise InvalidKeyError(f"{what} must be 1..{MAX_HASH_SIZE} bytes")
    return value


def _check_uint(value: int, bits: int, what: str) -> int:
    if type(value) is not int or not 0 <= value < 1 << bits:
        raise InvalidKeyError(f"{what} must be an unsigned {bits}-bit integer")
    return value


def _sender_prefix(sender: bytes) -> bytes:
    if type(sender) is not bytes or not 0 < len(sender) <= MAX_SENDER_SIZE:
        raise InvalidKeyError(f"sender must be 1..{MAX_SENDER_SIZE} bytes (an address)")
    return bytes([len(sender)]) + sender


def _height(raw: bytes) -> int:
    if len(raw) != 8:
        raise CorruptDataError("bad stored height")
    return int(_u64.unpack(raw)[0])


class ChainIndex:
    """Writes and reads the chain indexes of one store (opened with `SUB_DBS`)."""

    def __init__(self, store: Store) -> None:
        missing = [db for db in SUB_DBS if db not in store.sub_dbs]
        if missing:
            raise UnknownDatabaseError(f"store lacks the index sub-databases {missing}")
        self._store = store

    # -- writes ------------------------------------------------------------------------

    @staticmethod
    def write_block(batch: WriteBatch, *, height: int, block_hash: bytes, block: bytes,
                    txs: Sequence[IndexedTx], header: bytes | None = None,
                    tree_levels: Sequence[tuple[Sequence[bytes], Sequence[bytes]]] = (),
                    runs: Sequence[IndexedRun] = ()) -> None:
        """Put one block, its transactions' entries and the last-height marker in `batch`.

        `header` is the block without its transactions (needed when `txs` are indexed, so
        that one can be answered without the block); `tree_levels` gives, level by level
        from the leaves up (the root's level left out), the nodes of its tx tree and of its
        receipts tree (as wide or wider: `runs` follow the transactions' receipts)."""
        key = _u64.pack(_check_uint(height, 64, "height"))
        if txs and header is None:
            raise InvalidKeyError("a block with indexed transactions needs its header")
        batch.put(BLOCKS_DB, key, block)
        if header is not None:
            batch.put(HEADERS_DB, key, header)
        if len(tree_levels) > 255:
            raise InvalidKeyError("a Merkle tree has at most 255 levels")
        for level, (tx_nodes, receipt_nodes) in enumerate(tree_levels):
            if len(tx_nodes) > len(receipt_nodes):
                raise InvalidKeyError("the receipts tree is at least as wide as the tx tree")
            for pair in range(len(receipt_nodes) // 2):
                tx_pair = tx_nodes[2 * pair:2 * pair + 2] if 2 * pair + 1 < len(tx_nodes) else []
                batch.put(TREE_PAIRS_DB, _pair.pack(height, level, pair),
                          b"".join((*tx_pair, *receipt_nodes[2 * pair:2 * pair + 2])))
        batch.put(BLOCK_HASHES_DB, _check_hash(block_hash, "block hash"), key)
        for index, tx in enumerate(txs):
            tx_hash = _check_hash(tx.tx_hash, "tx hash")
            batch.put(TX_LOCATIONS_DB, tx_hash, _loc.pack(height, _check_uint(index, 32, "index")))
            batch.put(SENDER_TXS_DB, _sender_prefix(tx.sender)
                      + _u64.pack(_check_uint(tx.nonce, 64, "nonce")), tx_hash)
            batch.put(RECEIPTS_DB, tx_hash, tx.receipt)
            batch.put(TX_RAW_DB, tx_hash, tx.raw)
        for index, run in enumerate(runs, len(txs)):
            run_id = _check_hash(run.run_id, "run id")
            batch.put(TX_LOCATIONS_DB, run_id, _loc.pack(height, _check_uint(index, 32, "index")))
            batch.put(RECEIPTS_DB, run_id, run.receipt)
        if runs:
            batch.put(CHAIN_META_DB, _RECEIPT_COUNT + key,
                      _check_uint(len(txs) + len(runs), 32, "receipt count").to_bytes(4, "big"))
            batch.put(CHAIN_META_DB, _RUN_IDS + key,
                      b"".join(bytes([len(r.run_id)]) + r.run_id for r in runs))
        batch.put(CHAIN_META_DB, _LAST_HEIGHT, key)

    def prune_block(self, batch: WriteBatch, height: int,
                    txs: Sequence[tuple[bytes, bytes, int]]) -> None:
        """Delete, in `batch`, block `height`'s body, its Merkle pairs and the entries of
        its transactions (`txs`: hash, sender, nonce of each) and runs; its header and
        block hash stay. A block stored without a header record (the one a state snapshot
        brought) is left whole: nothing else would answer for its height."""
        key = _u64.pack(_check_uint(height, 64, "height"))
        with self._store.snapshot() as snap:
            if snap.get(HEADERS_DB, key) is None:
                return
            pairs = [k for k, _ in snap.items(TREE_PAIRS_DB, prefix=key)]
            runs = snap.get(CHAIN_META_DB, _RUN_IDS + key) or b""
        batch.delete(BLOCKS_DB, key)
        for pair_key in pairs:
            batch.delete(TREE_PAIRS_DB, pair_key)
        for tx_hash, sender, nonce in txs:
            batch.delete(TX_LOCATIONS_DB, tx_hash)
            batch.delete(SENDER_TXS_DB, _sender_prefix(sender) + _u64.pack(nonce))
            batch.delete(RECEIPTS_DB, tx_hash)
            batch.delete(TX_RAW_DB, tx_hash)
        offset = 0
        while offset < len(runs):
            size = runs[offset]
            run_id = runs[offset + 1:offset + 1 + size]
            if len(run_id) != size:
                raise CorruptDataError(f"bad run ids of block {height}")
            batch.delete(TX_LOCATIONS_DB, run_id)
            batch.delete(RECEIPTS_DB, run_id)
            offset += 1 + size
        if runs:
            batch.delete(CHAIN_META_DB, _RUN_IDS + key)
            batch.delete(CHAIN_META_DB, _RECEIPT_COUNT + key)

    # -- reads -------------------------------------------------------------------------

    def last_height(self) -> int | None:
        raw = self._store.get(CHAIN_META_DB, _LAST_HEIGHT)
        return None if raw is None else _height(raw)

    def block_by_height(self, height: int) -> bytes | None:
        return self._store.get(BLOCKS_DB, _u64.pack(_check_uint(height, 64, "height")))

    def height_by_hash(self, block_hash: bytes) -> int | None:
        raw = self._store.get(BLOCK_HASHES_DB, _check_hash(block_hash, "block hash"))
        return None if raw is None else _height(raw)

    def block_by_hash(self, block_hash: bytes) -> bytes | None:
        with self._store.snapshot() as snap:
            raw = snap.get(BLOCK_HASHES_DB, _check_hash(block_hash, "block hash"))
            return None if raw is None else snap.get(BLOCKS_DB, raw)

    def tx_location(self, tx_hash: bytes) -> TxLocation | None:
        raw = self._store.get(TX_LOCATIONS_DB, _check_hash(tx_hash, "tx hash"))
        if raw is None:
            return None
        if len(raw) != _loc.size:
            raise CorruptDataError("bad stored transaction location")
        height, index = _loc.unpack(raw)
        return TxLocation(height, index)

    def receipt(self, tx_hash: bytes) -> bytes | None:
        return self._store.get(RECEIPTS_DB, _check_hash(tx_hash, "tx hash"))

    def tx_raw(self, tx_hash: bytes) -> bytes | None:
        return self._store.get(TX_RAW_DB, _check_hash(tx_hash, "tx hash"))

    def header(self, height: int) -> bytes | None:
        """The block at `height` without its transactions (as `write_block` was given it)."""
        return self._store.get(HEADERS_DB, _u64.pack(_check_uint(height, 64, "height")))

    def tree_siblings(self, height: int, positions: Sequence[tuple[int, int]]
                      ) -> tuple[list[bytes], list[bytes]]:
        """The tx-tree and receipts-tree nodes at (level, index) `positions` of a block: one
        read each, all from one snapshot."""
        _check_uint(height, 64, "height")
        tx_nodes, receipt_nodes = [], []
        with self._store.snapshot() as snap:
            for level, index in positions:
                raw = snap.get(TREE_PAIRS_DB, _pair.pack(
                    height, _check_uint(level, 8, "level"), _check_uint(index, 32, "index") // 2))
                if raw is None or len(raw) % 4:
                    raise CorruptDataError(f"Merkle node {level}/{index} of block {height} "
                                           "is missing")
                size = len(raw) // 4
                offset = (index & 1) * size
                tx_nodes.append(raw[offset:offset + size])
                receipt_nodes.append(raw[2 * size + offset:2 * size + offset + size])
        return tx_nodes, receipt_nodes

    def receipt_count(self, height: int, tx_count: int) -> int:
        """How many receipts block `height` has: its `tx_count` transactions' and its runs'."""
        raw = self._store.get(CHAIN_META_DB,
                              _RECEIPT_COUNT + _u64.pack(_check_uint(height, 64, "height")))
        return tx_count if raw is None else int.from_bytes(raw, "big")

    def receipt_siblings(self, height: int, positions: Sequence[tuple[int, int]],
                         tx_count: int) -> list[bytes]:
        """The receipts-tree nodes at (level, index) `positions` of a block with `tx_count`
        transactions (its receipts tree may be wider than its tx tree)."""
        _check_uint(height, 64, "height")
        nodes = []
        with self._store.snapshot() as snap:
            for level, index in positions:
                pair = _check_uint(index, 32, "index") // 2
                raw = snap.get(TREE_PAIRS_DB, _pair.pack(height, _check_uint(level, 8, "level"),
                                                         pair))
                width = tx_count
                for _ in range(level):
                    width = (width + 1) // 2
                parts = 4 if 2 * pair + 1 < width else 2  # with the tx tree's pair, or alone
                if raw is None or len(raw) % parts:
                    raise CorruptDataError(f"Merkle node {level}/{index} of block {height} "
                                           "is missing")
                size = len(raw) // parts
                offset = (parts - 2) * size + (index & 1) * size
                nodes.append(raw[offset:offset + size])
        return nodes

    def sender_txs(self, sender: bytes, *, start_nonce: int | None = None, limit: int = 100,
                   descending: bool = False) -> list[tuple[int, bytes]]:
        """A page of (nonce, tx hash) sent by `sender`: nonces >= start_nonce ascending, or
        <= start_nonce descending; start_nonce None starts at the oldest (newest if descending).
        For the next page pass the last nonce + 1 (- 1 if descending)."""
        prefix = _sender_prefix(sender)
        if descending:
            stop = None if start_nonce is None else (
                prefix + _u64.pack(_check_uint(start_nonce, 64, "start nonce")) + b"\x00")
            pairs = self._store.scan(SENDER_TXS_DB, prefix=prefix, stop=stop, reverse=True,
                                     limit=limit)
        else:
            nonce = 0 if start_nonce is None else _check_uint(start_nonce, 64, "start nonce")
            pairs = self._store.scan(SENDER_TXS_DB, prefix=prefix,
                                     start=prefix + _u64.pack(nonce), limit=limit)
        return [(int(_u64.unpack_from(k, len(prefix))[0]), v) for k, v in pairs]
