"""The ledger and mempool's typed errors (4xxx): why a transaction or block is refused."""

from __future__ import annotations

from xinlian.errors import XinlianError


class LedgerError(XinlianError):
    code = 4000
    name = "ledger_error"


class InvalidTransaction(LedgerError):
    code = 4001
    name = "invalid_transaction"


class WrongChain(InvalidTransaction):
    code = 4002
    name = "wrong_chain_id"


class BadSignature(InvalidTransaction):
    code = 4003
    name = "bad_signature"


class NonceTooLow(InvalidTransaction):
    """The nonce was already used: a replay or a stale resubmission."""

    code = 4004
    name = "nonce_too_low"


class NonceTooHigh(InvalidTransaction):
    """The nonce is beyond the sender's admission window."""

    code = 4005
    name = "nonce_too_high"


class InsufficientFunds(InvalidTransaction):
    code = 4006
    name = "insufficient_funds"


class TxTooLarge(InvalidTransaction):
    code = 4007
    name = "tx_too_large"


class Expired(InvalidTransaction):
    code = 4008
    name = "expired"


class DuplicateTransaction(InvalidTransaction):
    code = 4009
    name = "duplicate"


class NotPermitted(InvalidTransaction):
    """The sender is not an account allowed to submit transactions."""

    code = 4010
    name = "not_permitted"


class MempoolFull(LedgerError):
    code = 4011
    name = "mempool_full"


class UnknownKind(InvalidTransaction):
    code = 4012
    name = "unknown_kind"


class FeeTooLow(InvalidTransaction):
    """The fee limit does not cover the transaction's base cost."""

    code = 4013
    name = "fee_limit_too_low"


class SenderQuota(LedgerError):
    """The sender already holds its share of the mempool (pending plus this batch)."""

    code = 4014
    name = "sender_quota"


class InvalidGenesis(LedgerError):
    code = 4020
    name = "invalid_genesis"


class BlockFuelFull(LedgerError):
    """The transaction's fuel limit does not fit in what is left of the block's fuel cap:
    it waits in the pool for a later block."""

    code = 4015
    name = "block_fuel_full"


class KeyNotAccepted(InvalidTransaction):
    """The sender key's algorithm is not accepted at this height of a suite migration
    (ledger/migration.py): a new-suite key before the switch, an old one after the window."""

    code = 4030
    name = "key_not_accepted"
