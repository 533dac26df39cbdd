"""The ledger's rules for fees and executability: one text that admission and execution follow.

Admission (ledger/mempool.py) applies them against the latest committed state to refuse a
transaction before it costs anything; execution (execution/executor.py) applies them again
to each transaction of a block, in block order, on the state the block has built so far.

- Fee: a transaction of kind TRANSFER costs `transfer_cost`, any other kind `system_cost`
  (resource units, burned). Its `fee_limit` must cover that cost.
- Executable: the transaction's nonce is the sender's next nonce, its expiry height is not
  below the block's height, the sender is permitted (on a permissioned chain), and the
  sender's balance covers the base cost. A transaction failing one of these is left out of
  the block; the error says which rule it broke.
"""

from __future__ import annotations

from xinlian.ledger.account import Account
from xinlian.ledger.errors import (
    Expired,
    FeeTooLow,
    InsufficientFunds,
    LedgerError,
    NonceTooHigh,
    NonceTooLow,
    NotPermitted,
)
from xinlian.ledger.genesis import ChainParams
from xinlian.ledger.transaction import Transaction, TxKind


def base_cost(params: ChainParams, kind: int) -> int:
    """The fee charged for a transaction of `kind`, whatever its outcome."""
    return params.transfer_cost if kind == TxKind.TRANSFER else params.system_cost


def fee_limit_error(params: ChainParams, tx: Transaction) -> FeeTooLow | None:
    """Why the transaction's fee limit is too low for its kind (None: it is not)."""
    if tx.body.fee_limit < base_cost(params, tx.body.kind):
        return FeeTooLow(f"fee limit {tx.body.fee_limit} is below the base cost")
    return None


def is_expired(expiry: int, height: int) -> bool:
    """Whether a transaction with this expiry height may no longer go into block `height`."""
    return expiry < height


def executable_error(params: ChainParams, tx: Transaction, account: Account, height: int,
                     permitted: bool) -> LedgerError | None:
    """Why `tx` cannot go into block `height` with the sender's `account` as it stands
    (None: it can). `permitted`: whether the sender may submit (ignored when the chain is
    not permissioned)."""
    body = tx.body
    if body.nonce < account.nonce:
        return NonceTooLow(f"nonce {body.nonce}, expected {account.nonce}")
    if body.nonce > account.nonce:
        return NonceTooHigh(f"nonce {body.nonce}, expected {account.nonce}")
    if is_expired(body.expiry, height):
        return Expired(f"expiry height {body.expiry} is below block {height}")
    if params.permissioned and not permitted:
        return NotPermitted("the sender is not permitted to submit transactions")
    too_low = fee_limit_error(params, tx)
    if too_low is not None:
        return too_low
    if account.balance < base_cost(params, body.kind):
        return InsufficientFunds(f"balance {account.balance} cannot pay the base cost")
    return None
