"""Block execution: transactions in, receipts and state writes out. Deterministic.

Rules, per transaction in block order:
1. Inclusion: the sender's nonce must match, the transaction must not be expired, the
   sender must be permitted (on a permissioned chain), and the balance must cover the
   base cost. A transaction failing these is not executable and is left out of the block.
2. The base cost of its kind is charged as the fee (burned) and the nonce is spent.
3. The operation runs on a child overlay: on success its writes are kept; on failure
   (overdraft, unauthorised, invalid operation, bad payload) they are dropped and the
   receipt carries the error code. The fee and nonce stay spent either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from xinlian import codec
from xinlian.crypto.suites import Suite
from xinlian.errors import XinlianError
from xinlian.execution.errors import BadPayload, InsufficientBalance
from xinlian.execution.payloads import SystemOp, Transfer
from xinlian.execution.state import Overlay, Reader
from xinlian.execution.system import SystemContract, is_permitted
from xinlian.ledger.account import Account
from xinlian.ledger.block import Event, Receipt
from xinlian.ledger.genesis import ChainParams
from xinlian.ledger.mempool import base_cost
from xinlian.ledger.transaction import Transaction, TxKind


@dataclass
class BlockResult:
    included: list[Transaction]
    receipts: list[Receipt]
    writes: dict[bytes, bytes | None]
    excluded: list[tuple[Transaction, str]]  # not executable, with the reason


class Executor:
    def __init__(self, params: ChainParams, suite: Suite) -> None:
        self.params = params
        self.system = SystemContract(suite)

    def execute_block(self, txs: Sequence[Transaction], height: int, read: Reader) -> BlockResult:
        state = Overlay(read)
        result = BlockResult([], [], {}, [])
        for tx in txs:
            reason = self._not_executable(state, tx, height)
            if reason:
                result.excluded.append((tx, reason))
                continue
            result.included.append(tx)
            result.receipts.append(self._execute(state, tx))
        result.writes = state.encoded_writes()
        return result

    def _not_executable(self, state: Overlay, tx: Transaction, height: int) -> str:
        body = tx.body
        account = state.account(tx.sender_address)
        if body.nonce != account.nonce:
            return f"nonce {body.nonce}, expected {account.nonce}"
        if body.expiry < height:
            return "expired"
        if self.params.permissioned and not is_permitted(state.get, tx.sender_address):
            return "sender not permitted"
        cost = base_cost(self.params, body.kind)
        if body.fee_limit < cost or account.balance < cost:
            return "cannot pay the base cost"
        return ""

    def _execute(self, state: Overlay, tx: Transaction) -> Receipt:
        cost = base_cost(self.params, tx.body.kind)
        account = state.account(tx.sender_address)
        state.set_account(tx.sender_address, Account(account.balance - cost, account.nonce + 1))
        scope = state.child()
        try:
            events = self._run(scope, tx)
        except XinlianError as exc:
            return Receipt(tx.hash, exc.code, exc.name, [], cost, cost)
        state.merge(scope)
        return Receipt(tx.hash, 0, "", events, cost, cost)

    def _run(self, state: Overlay, tx: Transaction) -> list[Event]:
        try:
            if tx.body.kind == TxKind.TRANSFER:
                return self._transfer(state, tx, codec.decode(tx.body.payload, Transfer))
            op = codec.decode(tx.body.payload, SystemOp)
        except codec.CodecError as exc:
            raise BadPayload(f"payload does not decode: {exc.message}") from exc
        return self.system.execute(state, tx.sender_address, tx.hash, op)

    @staticmethod
    def _transfer(state: Overlay, tx: Transaction, op: Transfer) -> list[Event]:
        if op.amount < 0:
            raise BadPayload("transfer amount must not be negative")
        sender = state.account(tx.sender_address)
        if sender.balance < op.amount:
            raise InsufficientBalance(f"balance {sender.balance} < amount {op.amount}")
        state.set_account(tx.sender_address, Account(sender.balance - op.amount, sender.nonce))
        receiver = state.account(op.to)
        state.set_account(op.to, Account(receiver.balance + op.amount, receiver.nonce))
        return [Event("transfer", "Transfer",
                      codec.encode([tx.sender_address, op.to, op.amount]))]
