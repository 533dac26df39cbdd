"""The sharding package's typed errors (92xx).

Ledger rules raise them for a transaction or cross-link they refuse; the refusal is a
value the caller reports (a failed receipt, a dropped message), never a crash.
"""

from __future__ import annotations

from xinlian.errors import XinlianError


class ShardingError(XinlianError):
    code = 9200
    name = "sharding_error"


class InvalidParameters(ShardingError):
    """Committee or security parameters that make no sense (sizes, fractions, shards)."""

    code = 9201
    name = "invalid_shard_parameters"


class WrongShard(ShardingError):
    """A transaction or receipt sent to a shard that does not hold its account."""

    code = 9202
    name = "wrong_shard"


class WrongEpoch(ShardingError):
    """A shard header, cross-link or receipt of an epoch the receiver does not accept."""

    code = 9203
    name = "wrong_epoch"


class InvalidReceiptProof(ShardingError):
    """A receipt whose Merkle path does not lead to its source header's receipts root."""

    code = 9204
    name = "invalid_receipt_proof"


class NotCrossLinked(ShardingError):
    """A receipt proven against a shard header the beacon chain has not cross-linked."""

    code = 9205
    name = "not_cross_linked"


class ReplayedReceipt(ShardingError):
    """A receipt whose nonce the destination shard has already consumed."""

    code = 9206
    name = "replayed_receipt"


class InvalidCrossLink(ShardingError):
    """A shard header whose committee certificate, height or parent does not check out."""

    code = 9207
    name = "invalid_cross_link"


class InvalidTransfer(ShardingError):
    """A transfer the ledger refuses: bad amount, unknown sender, insufficient funds."""

    code = 9208
    name = "invalid_transfer"
