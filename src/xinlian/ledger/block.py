"""Blocks and receipts.

`BlockHeader.state_root` is the state after executing the block's transactions; `tx_root`
and `receipts_root` are binary Merkle roots (ledger.merkle) over the transaction hashes and
the receipt encodings, so one transaction or receipt can be proven against a header.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from xinlian import codec
from xinlian.codec import Struct
from xinlian.crypto.keys import PublicKey, Signature
from xinlian.crypto.signing import SigningKey

HEADER_DOMAIN = b"xinlian/header/v1\x00"


class BlockHeader(Struct):
    chain_id: str
    height: int
    parent_hash: bytes
    timestamp_ms: int
    tx_count: int
    tx_root: bytes
    state_root: bytes
    receipts_root: bytes
    proposer: PublicKey


class Block(Struct):
    header: BlockHeader
    signature: Signature  # the proposer's signature over the header
    txs: list[bytes]      # encoded SignedTransactions, in execution order


class Event(Struct):
    source: str  # "transfer", "system", or a contract address
    name: str
    data: bytes


class Receipt(Struct):
    tx_hash: bytes
    status: int   # 0 on success, otherwise the error code
    error: str    # the error name, "" on success
    events: list[Event]
    resources_used: int
    fee_paid: int
    # contract runs only: the ABI-encoded return value, the error message and its Qi stack
    # trace (innermost first), the fuel burned and the peak memory in bytes
    output: bytes = b""
    message: str = ""
    trace: list[str] = msgspec.field(default_factory=list)
    fuel_used: int = 0
    memory_used: int = 0


def header_hash(header: BlockHeader, hash_bytes: Callable[[bytes], bytes]) -> bytes:
    return hash_bytes(codec.encode(header))


def sign_header(header: BlockHeader, key: SigningKey) -> Signature:
    return key.sign(HEADER_DOMAIN + codec.encode(header))


def header_message(header: BlockHeader) -> bytes:
    return HEADER_DOMAIN + codec.encode(header)
