"""Block execution: transactions in, receipts and state writes out. Deterministic.

Rules, per transaction in block order:
1. Inclusion: the ledger's executability rules (ledger/rules.py: nonce, expiry, permission,
   base cost). A transaction failing them is left out of the block, with the typed error
   of the rule it broke; the node drops it from its pool (see docs/operations.md).
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
from xinlian.execution.errors import BadPayload, InsufficientBalance, InvalidOperation
from xinlian.execution.payloads import SystemOp, Transfer
from xinlian.execution.state import Overlay, Reader
from xinlian.execution.system import SystemContract, is_permitted
from xinlian.ledger.account import Account
from xinlian.ledger.block import Event, Receipt
from xinlian.ledger.errors import LedgerError
from xinlian.ledger.genesis import ChainParams
from xinlian.ledger.rules import base_cost, executable_error
from xinlian.ledger.transaction import Transaction, TxKind


@dataclass
class BlockResult:
    included: list[Transaction]
    receipts: list[Receipt]
    writes: dict[bytes, bytes | None]
    excluded: list[tuple[Transaction, LedgerError]]  # not executable, with the rule broken


class Executor:
    def __init__(self, params: ChainParams, suite: Suite) -> None:
        self.params = params
        self.system = SystemContract(suite)

    def execute_block(self, txs: Sequence[Transaction], height: int, read: Reader) -> BlockResult:
        state = Overlay(read)
        result = BlockResult([], [], {}, [])
        for tx in txs:
            error = executable_error(
                self.params, tx, state.account(tx.sender_address), height,
                not self.params.permissioned or is_permitted(state.get, tx.sender_address))
            if error is not None:
                result.excluded.append((tx, error))
                continue
            result.included.append(tx)
            result.receipts.append(self._execute(state, tx))
        result.writes = state.encoded_writes()
        return result

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
            if tx.body.kind != TxKind.SYSTEM:
                raise InvalidOperation("contract transactions are not executed by this node")
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


def max_spend(tx: Transaction) -> int:
    """The most `tx` can take from its sender's balance: its fee limit plus, for a transfer
    whose payload decodes, the amount. The mempool's admission budget (ledger/mempool.py)."""
    if tx.body.kind != TxKind.TRANSFER:
        return tx.body.fee_limit
    try:
        amount = codec.decode(tx.body.payload, Transfer).amount
    except codec.CodecError:
        return tx.body.fee_limit  # fails with bad_payload: only the fee is charged
    return tx.body.fee_limit + max(amount, 0)
