"""Result records of the API that add derived values to the node's records.

Their JSON forms (api.format) are the method results documented in docs/api.md; the SDK
decodes results back into these same classes, so server and client share one schema.
"""

from __future__ import annotations

import msgspec

from xinlian.codec import Struct
from xinlian.crypto.keys import Signature
from xinlian.ledger.block import BlockHeader, Receipt
from xinlian.ledger.genesis import Genesis
from xinlian.ledger.merkle import AuditPath
from xinlian.ledger.migration import MigrationSchedule
from xinlian.ledger.transaction import TxBody
from xinlian.node.interface import TransportKey


class BlockView(Struct):
    """A block with its header hash and transaction hashes; raw `txs` only when asked."""

    hash: bytes
    header: BlockHeader
    signature: Signature
    tx_hashes: list[bytes]
    txs: list[bytes] | None = None


class TxView(Struct):
    """A committed transaction with the header (and its signature) that proves it."""

    hash: bytes
    height: int
    index: int
    sender: bytes  # the sender's address
    body: TxBody
    raw: bytes
    receipt: Receipt
    header: BlockHeader
    header_signature: Signature
    tx_path: AuditPath       # of `hash` under header.tx_root
    receipt_path: AuditPath  # of the receipt's encoding under header.receipts_root


class ErrorView(Struct):
    code: int
    name: str
    message: str


class SubmitView(Struct):
    hash: bytes
    accepted: bool
    error: ErrorView | None = None


class TxStatus(Struct):
    """Where a transaction is: "committed" (with its receipt), "pending" or "unknown".
    Cheap to answer (one index lookup); `xl_getTransaction` gives the position and proof."""

    hash: bytes
    status: str
    receipt: Receipt | None = None


class ChainInfo(Struct):
    genesis_hash: bytes
    genesis: Genesis


class MigrationStatus(Struct):
    """A suite migration as the head's state has it (execution/migration.py): the schedule
    (None: none), its phase for the next block (`height`) and how many accounts have bound
    a key."""

    schedule: MigrationSchedule | None
    phase: str
    height: int
    bound_accounts: int
    # a validator's view of the committee's transport keys (empty elsewhere)
    transport: list[TransportKey] = msgspec.field(default_factory=list)


class SenderPage(Struct):
    """One page of a sender's transaction hashes; `next` is the offset of the next page."""

    hashes: list[bytes]
    offset: int
    next: int | None
