"""The ledger's rules for fees and executability: one text that admission and execution follow.

Admission (ledger/mempool.py) applies them against the latest committed state to refuse a
transaction before it costs anything; execution (execution/executor.py) applies them again
to each transaction of a block, in block order, on the state the block has built so far.

- Fee: a transaction of kind TRANSFER costs `transfer_cost`, any other kind `system_cost`
  (resource units, burned). Its `fee_limit` must cover that cost.
- Contract kinds (DEPLOY, CALL, UPGRADE, FUND, SET_ADMIN): the base cost is `system_cost` plus
  `code_byte_cost` per byte of code deployed or upgraded, and the fee limit must also cover
  the fuel the transaction may burn: base + ceil(fuel_limit x fuel_price / 1e6). What is
  charged, success or failure, is base + ceil(fuel_used x fuel_price / 1e6). A run that
  makes async calls also has their fuel's fee reserved, within the same fee limit (what
  the run will request cannot be foreseen here: execution.contracts.engine_runs). Reading a
  contract payload is execution's business: it hands these rules the figures (`Fees`).
- Data kinds (DATA_COLLECTION, DATA_WRITE): the base cost is `system_cost` plus
  `data_byte_cost` per byte of payload, whatever the outcome.
- Executable: the transaction's nonce is the sender's next nonce, its expiry height is not
  below the block's height, the sender is permitted (on a permissioned chain), and the
  sender's balance covers the most it may be charged (base cost, plus the fuel of its fuel
  limit). A transaction failing one of these is left out of the block; the error says which
  rule it broke. A contract transaction whose fuel limit does not fit in what is left of the
  block's fuel cap is left out too (BlockFuelFull) but stays in the pool for a later block.
"""

from __future__ import annotations

from typing import NamedTuple

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


class Fees(NamedTuple):
    """A transaction's fee figures: its base cost (charged whatever the outcome) and the
    fuel it may burn (contract kinds; 0 for the others). A named tuple: one is made per
    transaction admitted or executed."""

    base: int
    fuel_limit: int = 0


def base_cost(params: ChainParams, kind: int) -> int:
    """The fee charged for a transaction of `kind` without code, whatever its outcome."""
    return params.transfer_cost if kind == TxKind.TRANSFER else params.system_cost


def contract_base_cost(params: ChainParams, code_len: int) -> int:
    """The base cost of a contract transaction carrying `code_len` bytes of code."""
    return params.system_cost + params.code_byte_cost * code_len


def data_base_cost(params: ChainParams, payload_len: int) -> int:
    """The base cost of a data transaction (DATA_COLLECTION, DATA_WRITE) whose payload is
    `payload_len` bytes: what it stores is paid by the byte, like contract code."""
    return params.system_cost + params.data_byte_cost * payload_len


def fuel_fee(params: ChainParams, fuel: int) -> int:
    """The fee for `fuel` units of fuel, rounded up."""
    return -(-fuel * params.fuel_price // 1_000_000)


def max_fee(params: ChainParams, fees: Fees) -> int:
    """The most a transaction may be charged: its base cost and the fee of its fuel limit."""
    return fees.base + fuel_fee(params, fees.fuel_limit)


def fee_limit_error(params: ChainParams, tx: Transaction, fees: Fees,
                    most: int | None = None) -> FeeTooLow | None:
    """Why the transaction's fee limit is too low for its fees (None: it is not);
    `most`: their `max_fee`, if computed already."""
    if most is None:
        most = max_fee(params, fees)
    if tx.body.fee_limit < most:
        return FeeTooLow(f"fee limit {tx.body.fee_limit} is below the base cost and the "
                         f"fuel limit's fee ({most})")
    return None


def is_expired(expiry: int, height: int) -> bool:
    """Whether a transaction with this expiry height may no longer go into block `height`."""
    return expiry < height


def executable_error(params: ChainParams, tx: Transaction, fees: Fees, account: Account,
                     height: int, permitted: bool) -> LedgerError | None:
    """Why `tx` cannot go into block `height` with the sender's `account` as it stands
    (None: it can). `fees`: its fee figures; `permitted`: whether the sender may submit
    (ignored when the chain is not permissioned)."""
    body = tx.body
    if body.nonce < account.nonce:
        return NonceTooLow(f"nonce {body.nonce}, expected {account.nonce}")
    if body.nonce > account.nonce:
        return NonceTooHigh(f"nonce {body.nonce}, expected {account.nonce}")
    if is_expired(body.expiry, height):
        return Expired(f"expiry height {body.expiry} is below block {height}")
    if params.permissioned and not permitted:
        return NotPermitted("the sender is not permitted to submit transactions")
    most = max_fee(params, fees)
    too_low = fee_limit_error(params, tx, fees, most)
    if too_low is not None:
        return too_low
    if account.balance < most:
        return InsufficientFunds(f"balance {account.balance} cannot pay the most this "
                                 f"transaction may be charged ({most})")
    return None
