"""Blocks of data transactions on a real chain store, without a node process: the harness
that the data benchmarks (benchmarks/data_model.py, data_select.py) and the node's data
query tests (tests/node/test_data_select.py) share.

`DataChain` signs transactions with one funded key, and executes and commits each block as
the node's pipeline does (Executor.execute_block, ChainStore.prepare_block, one LMDB
commit per block; signatures are not checked: that is the mempool's). `reader()` serves
data queries with proofs as a node's RPC does (node/data_reads.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xinlian import codec
from xinlian.crypto.suites import get_suite
from xinlian.execution.contracts.runner import BlockContext
from xinlian.execution.executor import Executor
from xinlian.ledger.account import address_of
from xinlian.ledger.block import header_hash
from xinlian.ledger.genesis import ChainParams, Genesis, GenesisAccount, Organisation
from xinlian.ledger.transaction import TxBody, decode_transaction, sign_body
from xinlian.node.chain import ChainStore
from xinlian.node.data_reads import DataReader
from xinlian.node.interface import StateProof
from xinlian.storage.kv import WriteBatch

CHAIN_ID = "bench"


class DataChain:
    """A chain store fed blocks of data transactions (see the module docstring)."""

    def __init__(self, path: Path, suite_name: str) -> None:
        self.suite = suite = get_suite(suite_name)
        self.key = suite.generate_signing_key(bytes(32))
        sender = address_of(self.key.public_key, suite.hash_bytes)
        self.params = ChainParams()
        genesis = Genesis(CHAIN_ID, suite.name, 0, self.params,
                          [Organisation("o", [self.key.public_key])],
                          [GenesisAccount(sender, 10**15)])
        self.chain = ChainStore(path, genesis, durable=False)
        self.executor = Executor(self.params, suite)
        self.chain.init_genesis(self.key, 0)
        self.nonce = 0

    def signed(self, kind: int, payload: object) -> bytes:
        body = TxBody(CHAIN_ID, self.key.public_key, self.nonce, kind, codec.encode(payload),
                      10**12, 10**9)
        self.nonce += 1
        return sign_body(body, self.key)

    def commit(self, raws: list[bytes]) -> dict[str, Any]:
        """Execute and commit one block of transactions (every one must succeed); its data
        index updates."""
        chain, suite = self.chain, self.suite
        height = chain.height + 1
        txs = [decode_transaction(r, CHAIN_ID, suite.hash_bytes, self.params.max_tx_size)
               for r in raws]
        result = self.executor.execute_block(txs, BlockContext(height, height), chain.read)
        assert not result.excluded and all(r.status == 0 for r in result.receipts)
        head = chain.head
        assert head is not None
        prepared = chain.prepare_block(
            WriteBatch(), height, header_hash(head.header, suite.hash_bytes), height, self.key,
            result.included, result.receipts, result.writes, None, result.runs,
            result.index, result.data_index)
        chain.store.commit(prepared.batch)
        chain.publish(prepared)
        return result.data_index

    def prove(self, key: bytes, height: int) -> StateProof:
        """A state value and its proof at `height`, as a node serves it."""
        block = self.chain.header(height)
        assert block is not None
        value, proof = self.chain.tree.get_with_proof(key, height)
        return StateProof(key, value, proof, block.header, codec.encode(block.signature))

    def reader(self) -> DataReader:
        return DataReader(self.chain, self.prove)

