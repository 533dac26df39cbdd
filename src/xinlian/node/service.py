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

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from xinlian.crypto.signing import SigningKey
from xinlian.ledger.block import Block, Receipt
from xinlian.ledger.genesis import Genesis
from xinlian.ledger.transaction import Transaction
from xinlian.network.shaper import ShapeFor
from xinlian.node.errors import NodeConfigError
from xinlian.node.interface import (
    AccountView,
    BlockListener,
    NodeStatus,
    StateProof,
    SubmitResult,
    TxLocation,
    TxRecord,
)
from xinlian.node.offload import verify
from xinlian.node.pipeline import LedgerPipeline
from xinlian.node.solo import SoloOrdering
from xinlian.node.validator import BftOrdering


class Ordering(Protocol):
    """How a node's admitted transactions become blocks."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def on_admitted(self, txs: list[Transaction]) -> None:
        """New transactions are pending in the mempool."""
        ...


class Node:
    """A node; implements `xinlian.node.interface.NodeAPI`. `vote_secret` (a validator's
    consensus key), `listen` and `shape_for` serve a BFT chain's validator only."""

    def __init__(self, data_dir: Path, genesis: Genesis, key: SigningKey,
                 vote_secret: bytes | None = None, *, listen: tuple[str, int] | None = None,
                 shape_for: ShapeFor | None = None) -> None:
        self.ledger = LedgerPipeline(data_dir, genesis, key)
        self.genesis = genesis
        self.suite = self.ledger.suite
        self.key = key
        self.chain = self.ledger.chain
        self.mempool = self.ledger.mempool
        self.ordering: Ordering
        if not genesis.validators:
            self.solo: SoloOrdering | None = SoloOrdering(self.ledger)
            self.ordering = self.solo
        elif vote_secret is None:
            self.ledger.close()
            raise NodeConfigError("a validator of a BFT chain needs its consensus key")
        else:
            self.solo = None
            self.ordering = BftOrdering(self.ledger, Path(data_dir), vote_secret,
                                        listen=listen, shape_for=shape_for)

    async def start(self) -> None:
        await self.ordering.start()

    async def stop(self) -> None:
        await self.ordering.stop()
        self.ledger.close()

    async def submit(self, raws: Sequence[bytes]) -> list[SubmitResult]:
        admission = self.ledger.precheck(raws)
        results, admitted = self.ledger.admit(admission, await verify(admission.items))
        if admitted:
            self.ordering.on_admitted(admitted)
        return results

    def produce_block(self) -> Block | None:
        """Solo chains: cut, execute and commit one block now (tests decide when)."""
        if self.solo is None:
            raise NodeConfigError("blocks of a BFT chain are ordered by consensus")
        return self.solo.produce_block()

    # -- queries: the pipeline's ----------------------------------------------------------

    def status(self) -> NodeStatus:
        return self.ledger.status()

    def block(self, height: int) -> Block | None:
        return self.ledger.block(height)

    def block_by_hash(self, block_hash: bytes) -> Block | None:
        return self.ledger.block_by_hash(block_hash)

    def receipt(self, tx_hash: bytes) -> Receipt | None:
        return self.ledger.receipt(tx_hash)

    def pending(self, tx_hash: bytes) -> bool:
        return self.ledger.pending(tx_hash)

    def tx_location(self, tx_hash: bytes) -> TxLocation | None:
        return self.ledger.tx_location(tx_hash)

    def transaction(self, tx_hash: bytes) -> TxRecord | None:
        return self.ledger.transaction(tx_hash)

    def state_proof(self, key: bytes, height: int | None = None) -> StateProof:
        return self.ledger.state_proof(key, height)

    def account(self, address: bytes, height: int | None = None) -> AccountView:
        return self.ledger.account(address, height)

    def sender_transactions(self, address: bytes, offset: int, limit: int) -> list[bytes]:
        return self.ledger.sender_transactions(address, offset, limit)

    def add_block_listener(self, listener: BlockListener) -> None:
        self.ledger.add_block_listener(listener)

    def remove_block_listener(self, listener: BlockListener) -> None:
        self.ledger.remove_block_listener(listener)
