"""A chain for contract tests: signed contract transactions executed block by block through
the ledger's `Executor`, with the committed state in a dict (no node, no consensus)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xinlian import codec
from xinlian.crypto.suites import get_suite
from xinlian.execution.contracts.records import (
    ContractInfo,
    contract_address,
    contract_key,
    storage_key,
)
from xinlian.execution.contracts.runner import BlockContext, ContractRunner, Outcome
from xinlian.execution.executor import BlockResult, Executor, max_spend, tx_fees
from xinlian.execution.payloads import Call, Deploy, Fund, SystemOp, Upgrade
from xinlian.execution.state import Overlay
from xinlian.execution.system import genesis_writes, is_permitted
from xinlian.lang import abi
from xinlian.lang.compiler import Artifact, compile_source
from xinlian.ledger.account import Account, account_key
from xinlian.ledger.block import Receipt
from xinlian.ledger.genesis import genesis_from_dict
from xinlian.ledger.mempool import Mempool
from xinlian.ledger.transaction import TxBody, TxKind, decode_transaction, sign_body

SUITE = get_suite("intl")
ROOT = Path(__file__).resolve().parents[3]
FEE = 10**9  # a fee limit covering any test transaction
FUEL = 200_000_000


def compile_example(name: str, contract: str | None = None) -> Artifact:
    path = ROOT / "examples" / "qi" / name
    return compile_source(path.read_text(), str(path), contract=contract)


def encode_args(art: Artifact, method: str, *args: Any) -> bytes:
    spec = next(f for f in art.abi["functions"] if f["name"] == method)
    return b"".join(abi.encode(abi.type_from_json(p["type"]), a)
                    for p, a in zip(spec["params"], args, strict=True))


@dataclass
class ContractChain:
    """Three organisations (admins are keys 0-2), `accounts` (at least five) accounts of
    10^12 units."""

    state: dict[bytes, bytes] = field(default_factory=dict)
    height: int = 0
    nonces: dict[int, int] = field(default_factory=dict)
    params: dict[str, int] = field(default_factory=dict)
    accounts: int = 5

    def __post_init__(self) -> None:
        self.keys = [SUITE.generate_signing_key(bytes([i + 1]) * 32 if i < 5
                                                else SUITE.hash_bytes(i.to_bytes(8, "big")))
                     for i in range(max(5, self.accounts))]
        doc = {
            "chain_id": "t", "suite": "intl",
            "organisations": [{"name": f"org{i}", "admins": [self.keys[i].public_key.data.hex()]}
                              for i in range(3)],
            "accounts": [{"key": k.public_key.data.hex(), "balance": 10**12} for k in self.keys],
            "params": dict(self.params),
        }
        self.genesis = genesis_from_dict(doc)
        self.state.update(genesis_writes(self.genesis))
        for acct in self.genesis.accounts:
            self.state[account_key(acct.address)] = codec.encode(Account(acct.balance, 0))
        self.runner = ContractRunner(SUITE.hash_bytes, SUITE.name)
        self.executor = Executor(self.genesis.params, SUITE, self.runner)

    def addr(self, i: int) -> bytes:
        return self.genesis.accounts[i].address

    def account(self, i: int) -> Account:
        return self.account_of(self.addr(i))

    def raw(self, i: int, kind: int, payload: Any, fee: int = FEE) -> bytes:
        nonce = self.nonces.get(i, 0)
        self.nonces[i] = nonce + 1
        body = TxBody("t", self.keys[i].public_key, nonce, kind, codec.encode(payload), fee,
                      10**6)
        return sign_body(body, self.keys[i])

    def mempool(self) -> Mempool:
        """A pool over this chain's state, with the node's fee and spend rules."""
        params = self.genesis.params
        return Mempool("t", params, SUITE.hash_bytes, self.account_of,
                       lambda a: is_permitted(self.state.get, a), spend=max_spend,
                       fees=lambda tx: tx_fees(params, tx), clock=lambda: 0)

    def account_of(self, address: bytes) -> Account:
        raw = self.state.get(account_key(address))
        return Account() if raw is None else codec.decode(raw, Account)

    def block(self, raws: list[bytes], timestamp_ms: int = 0,
              pool: Mempool | None = None) -> BlockResult:
        """Execute `raws` as the next block and commit its writes; with `pool`, tell the
        pool what the block left out and what it committed, as the node does."""
        self.height += 1
        txs = [decode_transaction(r, "t", SUITE.hash_bytes, self.genesis.params.max_tx_size)
               for r in raws]
        result = self.executor.execute_block(
            txs, BlockContext(self.height, timestamp_ms or self.height * 1000), self.state.get)
        for k, v in result.writes.items():
            if v is None:
                self.state.pop(k, None)
            else:
                self.state[k] = v
        if pool is not None:
            pool.drop_excluded(result.excluded)
            pool.on_commit(self.height, result.included)
        return result

    def one(self, i: int, kind: int, payload: Any, fee: int = FEE) -> Receipt:
        result = self.block([self.raw(i, kind, payload, fee)])
        assert not result.excluded, result.excluded
        [receipt] = result.receipts
        return receipt

    def deploy(self, art: Artifact, *args: Any, sender: int = 0,
               fuel: int = FUEL) -> tuple[bytes, Receipt]:
        nonce = self.nonces.get(sender, 0)
        init = encode_args(art, "init", *args) if args else b""
        receipt = self.one(sender, TxKind.DEPLOY, Deploy(art.wasm, art.abi_json().encode(),
                                                          init, fuel))
        return contract_address(SUITE.hash_bytes, self.addr(sender), nonce), receipt

    def call(self, art: Artifact, contract: bytes, method: str, *args: Any, sender: int = 0,
             fuel: int = FUEL) -> Receipt:
        return self.one(sender, TxKind.CALL,
                        Call(contract, method, encode_args(art, method, *args), fuel))

    def upgrade(self, art: Artifact, contract: bytes, sender: int = 0,
                fuel: int = FUEL) -> Receipt:
        return self.one(sender, TxKind.UPGRADE, Upgrade(contract, art.wasm,
                                                        art.abi_json().encode(), fuel))

    def fund(self, contract: bytes, amount: int, sender: int = 0) -> Receipt:
        return self.one(sender, TxKind.FUND, Fund(contract, amount))

    def system(self, i: int, op: SystemOp) -> Receipt:
        return self.one(i, TxKind.SYSTEM, op)

    def query(self, art: Artifact, contract: bytes, method: str, *args: Any) -> Outcome:
        return self.runner.query(Overlay(self.state.get), BlockContext(self.height, 0),
                                 contract, method, encode_args(art, method, *args))

    def info(self, contract: bytes) -> ContractInfo | None:
        raw = self.state.get(contract_key(contract))
        return None if raw is None else codec.decode(raw, ContractInfo)

    def storage(self, contract: bytes) -> dict[bytes, bytes]:
        prefix = storage_key(contract, b"")
        return {k: v for k, v in self.state.items() if k.startswith(prefix)}


def abi_bytes(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()
