"""A transaction and its proofs are answered from per-transaction records at commit: the
work of one lookup (store reads, hashes) follows log2 of the block's size, never the block,
and the proofs are exactly those built from the whole block."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from xinlian import codec
from xinlian.api.views import TxView
from xinlian.ledger import merkle
from xinlian.ledger.account import address_of
from xinlian.ledger.block import Receipt
from xinlian.ledger.transaction import SignedTransaction, TxBody, decode_transaction
from xinlian.node.chain import ChainStore
from xinlian.node.interface import TxRecord
from xinlian.sdk.verify import Verifier
from xinlian.storage import chain_index
from xinlian.storage.kv import Snapshot, WriteBatch

from .harness import CHAIN_ID, Keys, make_genesis, transfer

SIZES = (10, 5_000)
FIXED_READS = 6  # location (twice: receipts hide above the head), header, tx, receipt, count


def commit_blocks(chain: ChainStore, keys: Keys) -> list[list[bytes]]:
    """One block per size in SIZES (transfers from admin), with failing receipts in between."""
    hashes, nonce = [], 0
    for height, size in enumerate(SIZES, start=1):
        txs = [decode_transaction(transfer(keys, "admin", "bob", 1, nonce + i), CHAIN_ID,
                                  chain.hash) for i in range(size)]
        nonce += size
        receipts = [Receipt(tx.hash, i % 3, "x" if i % 3 else "", [], i, i)
                    for i, tx in enumerate(txs)]
        assert chain.head is not None
        prepared = chain.prepare_block(WriteBatch(), height, chain.head.header.tx_root,
                                       height, keys.node, txs, receipts, {})
        chain.store.commit(prepared.batch)
        chain.publish(prepared)
        hashes.append([tx.hash for tx in txs])
    return hashes


def old_record(chain: ChainStore, tx_hash: bytes) -> TxRecord:
    """What the node answered before: read the whole block and rebuild both trees."""
    location = chain.index.tx_location(tx_hash)
    assert location is not None
    block = chain.block(location.height)
    assert block is not None
    hashes = chain.tx_hashes(block)
    encoded = [chain.index.receipt(h) or b"" for h in hashes]
    i = location.index
    return TxRecord(block.txs[i], tx_hash, location.height, i, block.header, block.signature,
                    merkle.audit_path(hashes, i, chain.hash),
                    codec.decode(encoded[i], Receipt), merkle.audit_path(encoded, i, chain.hash))


def view_of(record: TxRecord, h: Callable[[bytes], bytes]) -> TxView:
    """The RPC's view of a record (as api.methods builds it), for the SDK's verifier."""
    body = codec.decode(codec.decode(record.raw, SignedTransaction).body, TxBody)
    return TxView(record.tx_hash, record.height, record.index, address_of(body.sender, h),
                  body, record.raw, record.receipt, record.header, record.header_signature,
                  record.tx_path, record.receipt_path)


def test_a_lookup_costs_log2_of_its_block_and_proves_the_same(
        tmp_path: Path, keys: Keys, monkeypatch: pytest.MonkeyPatch) -> None:
    chain = ChainStore(tmp_path / "chain", make_genesis(keys), durable=False)
    try:
        chain.init_genesis(keys.node, 0)
        blocks = commit_blocks(chain, keys)
        verifier = Verifier(keys.suite, CHAIN_ID, keys.node.public_key)
        reads: list[tuple[str, bytes]] = []
        hashed: list[bytes] = []
        real_get, real_hash = Snapshot.get, chain.hash

        def counting_get(self: Snapshot, db: str, key: bytes) -> Any:
            reads.append((db, key))
            return real_get(self, db, key)

        def counting_hash(data: bytes) -> bytes:
            hashed.append(data)
            return real_hash(data)

        for size, hashes in zip(SIZES, blocks, strict=True):
            depth = (size - 1).bit_length()
            for i in sorted({0, 1, size // 2, size - 2, size - 1}):
                reads.clear()
                hashed.clear()
                with monkeypatch.context() as patch:
                    patch.setattr(Snapshot, "get", counting_get)
                    patch.setattr(chain, "hash", counting_hash)
                    record = chain.transaction(hashes[i])
                assert record is not None and record.index == i
                pair_reads = [k for db, k in reads if db == chain_index.TREE_PAIRS_DB]
                assert len(pair_reads) == len(record.tx_path.siblings) <= depth
                assert len(reads) == FIXED_READS + len(pair_reads)
                assert not any(db == chain_index.BLOCKS_DB for db, _ in reads)
                assert hashed == []
                assert record == old_record(chain, hashes[i])
                verifier.transaction(view_of(record, chain.hash))
        assert chain.transaction(keys.suite.hash_bytes(b"absent")) is None
    finally:
        chain.close()


def test_per_transaction_storage_is_modest(tmp_path: Path, keys: Keys) -> None:
    """What the lookup records add per transaction: its bytes again, and on average one
    pair of both trees' nodes plus its key (4 hashes of 32 bytes + 13)."""
    chain = ChainStore(tmp_path / "chain", make_genesis(keys), durable=False)
    try:
        chain.init_genesis(keys.node, 0)
        commit_blocks(chain, keys)
        pairs = chain.store.scan(chain_index.TREE_PAIRS_DB, prefix=(2).to_bytes(8, "big"))
        per_tx = sum(len(k) + len(v) for k, v in pairs) / SIZES[1]
        assert per_tx <= 4 * 32 + 13
    finally:
        chain.close()


@pytest.mark.parametrize(("size", "runs"), [(0, 1), (0, 4), (1, 2), (5, 3), (6, 6), (9, 17)])
def test_engine_runs_widen_the_receipts_tree_and_every_receipt_is_proven(
        tmp_path: Path, keys: Keys, size: int, runs: int) -> None:
    """A block's engine runs (async deliveries, scheduled runs) follow its transactions in
    the receipts tree: each transaction still proves its receipt (the SDK accepts the wider
    tree), each run's receipt is found by its id, and a run id is no transaction."""
    chain = ChainStore(tmp_path / "chain", make_genesis(keys), durable=False)
    try:
        chain.init_genesis(keys.node, 0)
        txs = [decode_transaction(transfer(keys, "admin", "bob", 1, i), CHAIN_ID, chain.hash)
               for i in range(size)]
        receipts = [Receipt(tx.hash, 0, "", [], i, i) for i, tx in enumerate(txs)]
        run_receipts = [Receipt(chain.hash(b"run" + bytes([j])), 0, "", [], j, j)
                        for j in range(runs)]
        assert chain.head is not None
        prepared = chain.prepare_block(WriteBatch(), 1, chain.head.header.tx_root, 1,
                                       keys.node, txs, receipts, {}, runs=run_receipts)
        chain.store.commit(prepared.batch)
        chain.publish(prepared)
        header = prepared.block.header
        everything = [codec.encode(r) for r in receipts + run_receipts]
        assert header.receipts_root == merkle.root(everything, chain.hash)
        verifier = Verifier(keys.suite, CHAIN_ID, keys.node.public_key)
        for i, tx in enumerate(txs):
            record = chain.transaction(tx.hash)
            assert record is not None and record.receipt_path == merkle.audit_path(
                everything, i, chain.hash)
            verifier.transaction(view_of(record, chain.hash))
        for r in run_receipts:
            assert chain.receipt(r.tx_hash) == r
            assert chain.transaction(r.tx_hash) is None
    finally:
        chain.close()
