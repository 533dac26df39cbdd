"""A small in-process NodeAPI over the real ledger parts, for the API framing tests.

It admits through the real mempool (real decoding and signature checks), executes with the
real executor and keeps state in the real state tree, but seals a block only when a test
calls `seal()`, so tests decide exactly when blocks commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest

from xinlian import codec
from xinlian.crypto.signing import SigningKey, verify_raw
from xinlian.crypto.suites import get_suite
from xinlian.execution.executor import Executor
from xinlian.execution.system import genesis_writes, is_permitted
from xinlian.ledger import merkle
from xinlian.ledger.account import Account, account_key, address_of
from xinlian.ledger.block import Block, BlockHeader, Receipt, header_hash, sign_header
from xinlian.ledger.genesis import ChainParams, Genesis, GenesisAccount, Organisation
from xinlian.ledger.mempool import Mempool
from xinlian.ledger.transaction import SignedTransaction, Transaction
from xinlian.node.interface import (
    AccountView,
    BlockListener,
    NodeStatus,
    StateProof,
    SubmitResult,
    TxRecord,
)
from xinlian.storage import jmt
from xinlian.storage.kv import Store, WriteBatch

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class MiniNode:
    def __init__(self, path: Path, genesis: Genesis, key: SigningKey) -> None:
        self.genesis = genesis
        self.suite = genesis.crypto_suite()
        self.key = key
        h = self.suite.hash_bytes
        self._store = Store(path, sub_dbs=jmt.SUB_DBS, map_size=1 << 24)
        self.tree = jmt.StateTree(self._store, h)
        self.mempool = Mempool(genesis.chain_id, genesis.params, h, self._account,
                               lambda a: is_permitted(self.tree.get, a))
        self.executor = Executor(genesis.params, h)
        self.blocks: list[Block] = []
        self.records: dict[bytes, TxRecord] = {}
        self.by_sender: dict[bytes, list[bytes]] = {}
        self.listeners: list[BlockListener] = []
        writes: dict[bytes, bytes | None] = dict(genesis_writes(genesis))
        for acct in genesis.accounts:
            writes[account_key(acct.address)] = codec.encode(Account(acct.balance, 0))
        self._commit([], [], writes, genesis.hash())

    def close(self) -> None:
        self._store.close()

    def _account(self, address: bytes) -> Account:
        raw = self.tree.get(account_key(address))
        return Account() if raw is None else codec.decode(raw, Account)

    def _commit(self, txs: Sequence[Transaction], receipts: list[Receipt],
                writes: dict[bytes, bytes | None], parent: bytes) -> Block:
        h = self.suite.hash_bytes
        height = len(self.blocks)
        batch = WriteBatch()
        state_root = self.tree.apply(height, writes, batch)
        self._store.commit(batch)
        hashes = [tx.hash for tx in txs]
        header = BlockHeader(self.genesis.chain_id, height, parent, 1000 * height, len(txs),
                             merkle.root(hashes, h), state_root,
                             merkle.root([codec.encode(r) for r in receipts], h),
                             self.key.public_key)
        block = Block(header, sign_header(header, self.key), [tx.raw for tx in txs])
        self.blocks.append(block)
        for i, (tx, receipt) in enumerate(zip(txs, receipts, strict=True)):
            path = merkle.audit_path(hashes, i, h)
            self.records[tx.hash] = TxRecord(tx.raw, tx.hash, height, i, header, path, receipt)
            self.by_sender.setdefault(tx.sender_address, []).append(tx.hash)
        return block

    def seal(self) -> Block:
        """Execute what the mempool offers into the next block and tell the listeners."""
        h = self.suite.hash_bytes
        height = len(self.blocks)
        result = self.executor.execute_block(self.mempool.select(1000), height, self.tree.get)
        block = self._commit(result.included, result.receipts, result.writes,
                             header_hash(self.blocks[-1].header, h))
        self.mempool.on_commit(height, result.included)
        for listener in list(self.listeners):
            listener(block, result.receipts)
        return block

    # -- NodeAPI -------------------------------------------------------------------------

    def status(self) -> NodeStatus:
        head = self.blocks[-1].header
        return NodeStatus(self.genesis.chain_id, self.suite.name, self.genesis.hash(),
                          head.height, header_hash(head, self.suite.hash_bytes),
                          head.state_root, len(self.mempool), len(self.records),
                          codec.encode(self.key.public_key))

    async def submit(self, raws: Sequence[bytes]) -> list[SubmitResult]:
        checked = self.mempool.precheck(raws)
        txs = [c for c in checked if isinstance(c, Transaction)]
        valid = [verify_raw(*tx.verify_item()) for tx in txs]
        verdicts = iter(self.mempool.admit(txs, valid))
        out = []
        for raw, c in zip(raws, checked, strict=True):
            error = next(verdicts) if isinstance(c, Transaction) else c
            tx_hash = c.hash if isinstance(c, Transaction) else self._hash_of(raw)
            if error is None:
                out.append(SubmitResult(tx_hash, True))
            else:
                out.append(SubmitResult(tx_hash, False, error.code, error.name, error.message))
        return out

    def _hash_of(self, raw: bytes) -> bytes:
        try:
            return self.suite.hash_bytes(codec.decode(raw, SignedTransaction).body)
        except codec.CodecError:
            return self.suite.hash_bytes(raw)

    def block(self, height: int) -> Block | None:
        return self.blocks[height] if height < len(self.blocks) else None

    def block_by_hash(self, block_hash: bytes) -> Block | None:
        h = self.suite.hash_bytes
        return next((b for b in self.blocks if header_hash(b.header, h) == block_hash), None)

    def transaction(self, tx_hash: bytes) -> TxRecord | None:
        return self.records.get(tx_hash)

    def receipt(self, tx_hash: bytes) -> Receipt | None:
        record = self.records.get(tx_hash)
        return None if record is None else record.receipt

    def pending(self, tx_hash: bytes) -> bool:
        return tx_hash in self.mempool

    def state_proof(self, key: bytes, height: int | None = None) -> StateProof:
        block = self.blocks[-1 if height is None else height]
        value, proof = self.tree.get_with_proof(key, block.header.height)
        return StateProof(key, value, proof, block.header, codec.encode(block.signature))

    def account(self, address: bytes, height: int | None = None) -> AccountView:
        state = self.state_proof(account_key(address), height)
        account = Account() if state.value is None else codec.decode(state.value, Account)
        return AccountView(address, account, state)

    def sender_transactions(self, address: bytes, offset: int, limit: int) -> list[bytes]:
        return self.by_sender.get(address, [])[offset:offset + limit]

    def add_block_listener(self, listener: BlockListener) -> None:
        self.listeners.append(listener)

    def remove_block_listener(self, listener: BlockListener) -> None:
        self.listeners.remove(listener)


class Keys:
    def __init__(self, suite: str) -> None:
        s = get_suite(suite)
        self.node = s.generate_signing_key(bytes(32))
        self.admin = s.generate_signing_key(bytes([1]) * 32)
        self.alice = s.generate_signing_key(bytes([2]) * 32)
        self.bob = s.generate_signing_key(bytes([3]) * 32)
        self.address = {name: address_of(getattr(self, name).public_key, s.hash_bytes)
                        for name in ("admin", "alice", "bob")}


def make_genesis(keys: Keys, suite: str, *, max_tx_size: int = 32 * 1024) -> Genesis:
    params = ChainParams(max_tx_size=max_tx_size)
    return Genesis("test-chain", suite, 0, params,
                   [Organisation("org1", [keys.admin.public_key])],
                   [GenesisAccount(keys.address["admin"], 1_000_000),
                    GenesisAccount(keys.address["alice"], 1000),
                    GenesisAccount(keys.address["bob"], 0)])


@pytest.fixture
def keys() -> Keys:
    return Keys("intl")


@pytest.fixture
def mini(tmp_path: Path, keys: Keys) -> Any:
    node = MiniNode(tmp_path / "chain", make_genesis(keys, "intl"), keys.node)
    yield node
    node.close()
