"""Chain indexes: round trips, sender history pages, atomicity with the block, typed errors."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from xinlian.ledger import merkle
from xinlian.storage import chain_index, jmt
from xinlian.storage.chain_index import ChainIndex, IndexedTx, TxLocation
from xinlian.storage.errors import CorruptDataError, InvalidKeyError, UnknownDatabaseError
from xinlian.storage.kv import Store, WriteBatch


def h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


ALICE, BOB = h(b"alice")[:20], h(b"bob")[:20]


def block_txs(height: int) -> list[IndexedTx]:
    """Alice sends nonces 2h, 2h+1 and Bob nonce h in block h."""
    txs = []
    for sender, nonce in ((ALICE, 2 * height), (ALICE, 2 * height + 1), (BOB, height)):
        tx_hash = h(b"tx%s%d" % (sender, nonce))
        txs.append(IndexedTx(tx_hash, sender, nonce, b"receipt:" + tx_hash, b"raw:" + tx_hash))
    return txs


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "db", sub_dbs=chain_index.SUB_DBS + jmt.SUB_DBS) as s:
        yield s


def write_chain(store: Store, heights: range) -> None:
    for height in heights:
        batch = WriteBatch()
        ChainIndex.write_block(batch, height=height, block_hash=h(b"block%d" % height),
                               block=b"block-bytes-%d" % height, txs=block_txs(height),
                               header=b"header-%d" % height)
        store.commit(batch)


def test_blocks_transactions_and_receipts_round_trip(store: Store) -> None:
    index = ChainIndex(store)
    assert index.last_height() is None
    write_chain(store, range(0, 10))
    assert index.last_height() == 9
    for height in range(10):
        block_hash = h(b"block%d" % height)
        assert index.block_by_height(height) == b"block-bytes-%d" % height
        assert index.height_by_hash(block_hash) == height
        assert index.block_by_hash(block_hash) == b"block-bytes-%d" % height
        for i, tx in enumerate(block_txs(height)):
            assert index.tx_location(tx.tx_hash) == TxLocation(height, i)
            assert index.receipt(tx.tx_hash) == tx.receipt
    assert index.block_by_height(10) is None
    assert index.block_by_hash(h(b"nope")) is None
    assert index.height_by_hash(h(b"nope")) is None
    assert index.tx_location(h(b"nope")) is None
    assert index.receipt(h(b"nope")) is None


def test_sender_history_pages_in_both_directions(store: Store) -> None:
    write_chain(store, range(0, 30))
    index = ChainIndex(store)
    nonces: list[int] = []
    start = None
    while True:
        page = index.sender_txs(ALICE, start_nonce=start, limit=7)
        if not page:
            break
        nonces += [n for n, _ in page]
        start = page[-1][0] + 1
    assert nonces == list(range(60))
    newest = index.sender_txs(ALICE, descending=True, limit=3)
    assert [n for n, _ in newest] == [59, 58, 57]
    older = index.sender_txs(ALICE, start_nonce=56, descending=True, limit=3)
    assert [n for n, _ in older] == [56, 55, 54]
    assert [n for n, _ in index.sender_txs(BOB, start_nonce=28)] == [28, 29]
    assert index.sender_txs(BOB)[5] == (5, h(b"tx%s%d" % (BOB, 5)))
    assert index.sender_txs(h(b"carol")[:20]) == []
    assert index.sender_txs(BOB, start_nonce=2**64 - 1, descending=True, limit=1)[0][0] == 29


def test_a_sender_is_not_a_prefix_of_another(store: Store) -> None:
    batch = WriteBatch()
    ChainIndex.write_block(batch, height=1, block_hash=h(b"b"), block=b"b", txs=[
        IndexedTx(h(b"1"), b"ab", 1, b"", b""), IndexedTx(h(b"2"), b"abc", 1, b"", b"")],
        header=b"h")
    store.commit(batch)
    index = ChainIndex(store)
    assert index.sender_txs(b"ab") == [(1, h(b"1"))]
    assert index.sender_txs(b"abc") == [(1, h(b"2"))]


def test_block_indexes_and_state_commit_together_or_not_at_all(tmp_path: Path) -> None:
    path = tmp_path / "db"
    subs = chain_index.SUB_DBS + jmt.SUB_DBS
    with Store(path, sub_dbs=subs) as store:
        tree = jmt.StateTree(store, h)
        batch = WriteBatch()
        root = tree.apply(1, {b"alice": b"100"}, batch)
        ChainIndex.write_block(batch, height=1, block_hash=h(b"b1"), block=root,
                               txs=block_txs(1), header=b"h1")
        store.commit(batch)
        tree.apply(2, {b"alice": b"50"}, batch)
        ChainIndex.write_block(batch, height=2, block_hash=h(b"b2"), block=b"2",
                               txs=block_txs(2), header=b"h2")  # never committed
    with Store(path, sub_dbs=subs) as store:
        index = ChainIndex(store)
        tree = jmt.StateTree(store, h)
        assert index.last_height() == 1 == tree.latest_version()
        assert index.block_by_height(1) == tree.root()
        assert index.block_by_height(2) is None
        assert index.tx_location(block_txs(2)[0].tx_hash) is None
        assert tree.get(b"alice") == b"100"


def test_bad_index_arguments_are_typed_errors(store: Store) -> None:
    batch = WriteBatch()
    tx = IndexedTx(h(b"t"), ALICE, 0, b"", b"")
    one = dict(height=1, block_hash=h(b"b"), block=b"", header=b"h")
    bad_calls = [
        dict(height=-1, block_hash=h(b"b"), block=b"", txs=[]),
        dict(height=2**64, block_hash=h(b"b"), block=b"", txs=[]),
        dict(height=1, block_hash=b"", block=b"", txs=[]),
        dict(one, txs=[IndexedTx(b"", ALICE, 0, b"", b"")]),
        dict(one, txs=[IndexedTx(h(b"t"), b"", 0, b"", b"")]),
        dict(one, txs=[IndexedTx(h(b"t"), b"x" * 256, 0, b"", b"")]),
        dict(one, txs=[IndexedTx(h(b"t"), ALICE, -1, b"", b"")]),
        dict(height=1, block_hash=h(b"b"), block=b"", txs=[tx]),  # transactions, no header
        dict(one, txs=[tx], tree_levels=[([h(b"a"), h(b"b")], [h(b"a")])]),  # shapes differ
    ]
    for kwargs in bad_calls:
        with pytest.raises(InvalidKeyError):
            ChainIndex.write_block(batch, **kwargs)  # type: ignore[arg-type]
    ChainIndex.write_block(batch, height=1, block_hash=h(b"b"), block=b"", txs=[tx], header=b"h")
    index = ChainIndex(store)
    with pytest.raises(InvalidKeyError):
        index.block_by_height(-5)
    with pytest.raises(InvalidKeyError):
        index.tx_location(b"")
    with pytest.raises(InvalidKeyError):
        index.sender_txs(b"")
    with pytest.raises(InvalidKeyError):
        index.sender_txs(ALICE, start_nonce=-1)


def test_index_needs_its_sub_databases(tmp_path: Path) -> None:
    with Store(tmp_path / "db", sub_dbs=jmt.SUB_DBS) as store, \
            pytest.raises(UnknownDatabaseError):
        ChainIndex(store)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 33])
def test_stored_tree_pairs_give_the_audit_paths_of_both_trees(store: Store, size: int) -> None:
    """Each path read from the stored pairs equals ledger.merkle's over the whole list, for
    even and odd widths (a lone node is promoted), in both trees of a block."""
    txs = [h(b"tx%d" % i) for i in range(size)]
    receipts = [b"receipt %d" % i for i in range(size)]
    tx_tree, receipt_tree = merkle.levels(txs, h), merkle.levels(receipts, h)
    batch = WriteBatch()
    ChainIndex.write_block(batch, height=7, block_hash=h(b"b"), block=b"", txs=[],
                           tree_levels=list(zip(tx_tree[:-1], receipt_tree[:-1], strict=True)))
    store.commit(batch)
    index = ChainIndex(store)
    for i in range(size):
        tx_nodes, receipt_nodes = index.tree_siblings(7, merkle.path_positions(i, size))
        assert tx_nodes == merkle.audit_path(txs, i, h).siblings
        assert receipt_nodes == merkle.audit_path(receipts, i, h).siblings
        assert merkle.verify_path(tx_tree[-1][0], txs[i], merkle.AuditPath(i, size, tx_nodes), h)
    with pytest.raises(CorruptDataError):
        index.tree_siblings(8, [(0, 1)])  # a block whose pairs were never written


def test_prune_block_keeps_the_header_and_drops_everything_per_transaction(
        store: Store) -> None:
    """Block 1 has three transactions and two runs (with Merkle pairs); after
    `prune_block` its header and hash remain, nothing of its body, transactions or runs,
    and blocks 0 and 2 are untouched. A block without a header record is left whole."""
    index = ChainIndex(store)
    write_chain(store, range(0, 1))
    runs = [chain_index.IndexedRun(h(b"run%d" % i), b"run-receipt%d" % i) for i in range(2)]
    txs = block_txs(1)
    leaves = [tx.tx_hash for tx in txs]
    receipts = [h(tx.receipt) for tx in txs] + [h(r.receipt) for r in runs]
    batch = WriteBatch()
    ChainIndex.write_block(batch, height=1, block_hash=h(b"block1"), block=b"block-1",
                           txs=txs, header=b"header-1", runs=runs,
                           tree_levels=list(zip(merkle.levels(leaves, h)[:-1],
                                                merkle.levels(receipts, h)[:-1],
                                                strict=False)))
    store.commit(batch)
    write_chain(store, range(2, 3))
    batch = WriteBatch()
    ChainIndex.write_block(batch, height=3, block_hash=h(b"block3"), block=b"snap", txs=[])
    store.commit(batch)
    assert index.receipt_count(1, 3) == 5 and store.scan(chain_index.TREE_PAIRS_DB)

    batch = WriteBatch()
    index.prune_block(batch, 1, [(tx.tx_hash, tx.sender, tx.nonce) for tx in txs])
    index.prune_block(batch, 3, [])
    store.commit(batch)
    assert index.block_by_height(1) is None and index.header(1) == b"header-1"
    assert index.height_by_hash(h(b"block1")) == 1
    for key in [*leaves, *(r.run_id for r in runs)]:
        assert index.tx_location(key) is None and index.receipt(key) is None
        assert index.tx_raw(key) is None
    assert not store.scan(chain_index.TREE_PAIRS_DB)
    assert index.receipt_count(1, 3) == 3  # its record is gone with the runs
    assert [n for n, _ in index.sender_txs(BOB)] == [0, 2]
    assert [n for n, _ in index.sender_txs(ALICE)] == [0, 1, 4, 5]
    assert index.block_by_height(0) == b"block-bytes-0"
    assert index.block_by_height(2) == b"block-bytes-2"
    assert index.block_by_height(3) == b"snap"  # a snapshot's block: no header record
