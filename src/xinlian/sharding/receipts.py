"""The records of cross-shard transfers: what is signed, hashed, cross-linked and relayed.

A shard block is a list of `ShardTx`: a signed transfer (intra-shard, or the debit half of a
cross-shard one) or a claim (the credit half: a receipt with its proof). Executing a block
yields a `ShardHeader` that commits to the shard's state and to the receipts the block
emitted; the shard committee certifies the header (`header_message`), the beacon cross-links
it, and a claim proves its receipt against it with a Merkle audit path (ledger/merkle.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from xinlian import codec
from xinlian.consensus.certificates import Cert
from xinlian.crypto.keys import PublicKey, Signature
from xinlian.ledger.merkle import AuditPath

TRANSFER_DOMAIN = b"xinlian/shard/transfer/v1\x00"
HEADER_DOMAIN = b"xinlian/shard/header/v1\x00"

Bytes32 = Annotated[bytes, codec.at_most(64)]


class Transfer(codec.Struct):
    """Move `amount` from the signer's account to `to`; `nonce` is the signer's account
    nonce on its shard (a debit cannot be replayed)."""

    sender: PublicKey
    to: Bytes32
    amount: int
    nonce: int


class SignedTransfer(codec.Struct):
    transfer: Transfer
    signature: Signature


class Receipt(codec.Struct):
    """Value in flight from shard `source` to `to` on shard `dest`. (`source`, `nonce`) is
    unique on `dest`: `nonce` is the source shard's sequence number towards `dest`."""

    source: int
    dest: int
    nonce: int
    epoch: int
    to: Bytes32
    amount: int


class ShardHeader(codec.Struct):
    shard: int
    epoch: int
    height: int
    parent: Bytes32  # the previous header's hash (zeros before the first)
    state_root: Bytes32
    receipts_root: Bytes32  # Merkle root over the encodings of the receipts emitted
    receipt_count: int


class CertifiedHeader(codec.Struct):
    """A shard header with its committee's quorum certificate over `header_message`."""

    header: ShardHeader
    cert: Cert


class Claim(codec.Struct):
    """A relayed receipt: proven at `path` under `header`, which the beacon chain holds as a
    cross-link at or below `beacon_height`."""

    receipt: Receipt
    header: ShardHeader
    path: AuditPath
    beacon_height: int


class ShardTx(codec.Struct):
    """Exactly one of the two is set."""

    transfer: SignedTransfer | None = None
    claim: Claim | None = None


def transfer_message(transfer: Transfer) -> bytes:
    return TRANSFER_DOMAIN + codec.encode(transfer)


def header_message(header: ShardHeader) -> bytes:
    """What a shard committee member signs to certify `header`."""
    return HEADER_DOMAIN + codec.encode(header)


def header_hash(header: ShardHeader, hash_bytes: Callable[[bytes], bytes]) -> bytes:
    return hash_bytes(codec.encode(header))


def address_of(key: PublicKey, hash_bytes: Callable[[bytes], bytes]) -> bytes:
    """An account's address: the hash of its algorithm-tagged public key."""
    return hash_bytes(codec.encode(key))
