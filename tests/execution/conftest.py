"""A small chain of real keys and a dict-backed committed state for execution tests."""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec
import pytest

from xinlian import codec
from xinlian.crypto.signing import SigningKey
from xinlian.crypto.suites import get_suite
from xinlian.execution.contracts.runner import BlockContext
from xinlian.execution.executor import BlockResult, Executor, max_spend, tx_fees
from xinlian.execution.payloads import SystemOp, Transfer
from xinlian.execution.system import genesis_writes, is_permitted
from xinlian.ledger.account import Account, account_key, address_of
from xinlian.ledger.genesis import Genesis, genesis_from_dict
from xinlian.ledger.mempool import Mempool, PoolLimits
from xinlian.ledger.transaction import Transaction, TxBody, TxKind, decode_transaction, sign_body

SUITE = get_suite("intl")


@dataclass
class Chain:
    genesis: Genesis
    keys: list[SigningKey]
    state: dict[bytes, bytes] = field(default_factory=dict)
    height: int = 0
    now_ms: int = 0  # the pools' clock, moved by the tests

    def addr(self, i: int) -> bytes:
        return address_of(self.keys[i].public_key, SUITE.hash_bytes)

    def account(self, address: bytes) -> Account:
        raw = self.state.get(account_key(address))
        return Account() if raw is None else codec.decode(raw, Account)

    def tx(self, i: int, nonce: int, *, kind: int = TxKind.TRANSFER, payload: bytes = b"",
           fee: int = 10, expiry: int = 1000, chain_id: str = "t") -> bytes:
        body = TxBody(chain_id, self.keys[i].public_key, nonce, kind, payload, fee, expiry)
        return sign_body(body, self.keys[i])

    def transfer(self, i: int, nonce: int, to: bytes, amount: int, **kw: object) -> bytes:
        return self.tx(i, nonce, payload=codec.encode(Transfer(to, amount)), **kw)  # type: ignore[arg-type]

    def system(self, i: int, nonce: int, op: SystemOp) -> bytes:
        return self.tx(i, nonce, kind=TxKind.SYSTEM, payload=codec.encode(op))

    def decode(self, raw: bytes) -> Transaction:
        return decode_transaction(raw, "t", SUITE.hash_bytes)

    def mempool(self, limits: PoolLimits | None = None, **params: object) -> Mempool:
        p = self.genesis.params
        if params:
            p = msgspec.structs.replace(p, **params)
        return Mempool("t", p, SUITE.hash_bytes, self.account,
                       lambda a: is_permitted(self.state.get, a), spend=max_spend,
                       fees=lambda tx: tx_fees(p, tx),
                       clock=lambda: self.now_ms, limits=limits)

    def execute(self, raws: list[bytes]) -> BlockResult:
        self.height += 1
        result = Executor(self.genesis.params, SUITE).execute_block(
            [self.decode(r) for r in raws], BlockContext(self.height, 0), self.state.get)
        for k, v in result.writes.items():
            if v is None:
                self.state.pop(k, None)
            else:
                self.state[k] = v
        return result


@pytest.fixture
def chain() -> Chain:
    return make_chain()


def make_chain() -> Chain:
    keys = [SUITE.generate_signing_key(bytes([i + 1]) * 32) for i in range(6)]
    doc = {
        "chain_id": "t", "suite": "intl",
        "organisations": [{"name": f"org{i}", "admins": [keys[i].public_key.data.hex()]}
                          for i in range(3)],
        "accounts": [{"key": k.public_key.data.hex(), "balance": 1000} for k in keys[:5]],
        "params": {"nonce_window": 8, "mempool_capacity": 20},
    }
    genesis = genesis_from_dict(doc)
    c = Chain(genesis, keys)
    c.state.update(genesis_writes(genesis))
    for acct in genesis.accounts:
        c.state[account_key(acct.address)] = codec.encode(Account(acct.balance, 0))
    return c
