"""Committed transactions with their proofs, at a cost that does not grow with the block.

`ledger.merkle.audit_path` rebuilds a block's whole tree for every path it gives, and the
node's `transaction()` reads and hashes the whole block and all its receipts for each call,
so asking for every transaction of a 5,000-transaction block one by one costs 5,000 times
a block. Here a transaction is found through the chain index (hash -> height, index), and
the hashes of its block's two trees are built once and kept for the few most recently read
blocks; every further transaction of a kept block costs one lookup and a path of log2(n)
sibling hashes. Building a block's trees is reported to `metering.record` as one unit per
transaction, so a client that reads many large blocks spends its budget accordingly.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from xinlian import codec
from xinlian.api.metering import record
from xinlian.ledger.block import Block, Receipt
from xinlian.ledger.merkle import AuditPath
from xinlian.ledger.transaction import SignedTransaction
from xinlian.node.interface import NodeAPI, TxRecord

Hasher = Callable[[bytes], bytes]
KEPT_BLOCKS = 8


class Tree:
    """Every level of one Merkle tree (the shape of ledger.merkle), kept to answer paths."""

    def __init__(self, leaves: Sequence[bytes], h: Hasher) -> None:
        level = [h(b"\x00" + leaf) for leaf in leaves]
        self.levels = [level]
        while len(level) > 1:
            pairs = [h(b"\x01" + level[i] + level[i + 1]) for i in range(0, len(level) - 1, 2)]
            level = pairs + level[-1:] if len(level) % 2 else pairs
            self.levels.append(level)

    def path(self, index: int) -> AuditPath:
        siblings = []
        for depth, level in enumerate(self.levels[:-1]):
            sibling = (index >> depth) ^ 1
            if sibling < len(level):
                siblings.append(level[sibling])
        return AuditPath(index, len(self.levels[0]), siblings)


def tx_hashes(block: Block, h: Hasher) -> list[bytes]:
    """The hashes of a block's transactions (each one decoded: one work unit each)."""
    record(len(block.txs))
    # stored transactions were validated on admission; skip the canonical re-encode
    return [h(codec.decode(raw, SignedTransaction, check_canonical=False).body)
            for raw in block.txs]


@dataclass(frozen=True)
class BlockProofs:
    block: Block
    hashes: list[bytes]
    tx_tree: Tree
    receipts: list[Receipt]  # in block order
    receipt_tree: Tree


class Proofs:
    """Transactions by hash, with proofs, over a node; keeps `kept` blocks' trees."""

    def __init__(self, node: NodeAPI, kept: int = KEPT_BLOCKS) -> None:
        self._node = node
        self._h = node.suite.hash_bytes
        self._kept = kept
        self._blocks: OrderedDict[int, BlockProofs] = OrderedDict()

    def block(self, height: int) -> BlockProofs | None:
        proofs = self._blocks.get(height)
        if proofs is not None:
            self._blocks.move_to_end(height)
            return proofs
        block = self._node.block(height)
        if block is None:
            return None
        hashes = tx_hashes(block, self._h)
        receipts = []
        for tx_hash in hashes:
            receipt = self._node.receipt(tx_hash)
            if receipt is None:
                return None  # the block is being committed: its receipts are not all in yet
            receipts.append(receipt)
        record(len(hashes))
        proofs = BlockProofs(block, hashes, Tree(hashes, self._h), receipts,
                             Tree([codec.encode(r) for r in receipts], self._h))
        self._blocks[height] = proofs
        if len(self._blocks) > self._kept:
            self._blocks.popitem(last=False)
        return proofs

    def transaction(self, tx_hash: bytes) -> TxRecord | None:
        location = self._node.tx_location(tx_hash)
        if location is None:
            return None
        proofs = self.block(location.height)
        if proofs is None:
            return None
        i, block = location.index, proofs.block
        return TxRecord(block.txs[i], tx_hash, location.height, i, block.header,
                        block.signature, proofs.tx_tree.path(i),
                        proofs.receipts[i], proofs.receipt_tree.path(i))
