"""Transactions: the signed body, its decoded form and the checks that need no state.

On the wire and on disk a transaction is `SignedTransaction(body, signature)` where `body` is
the canonical encoding of `TxBody`: the exact bytes that were signed. The transaction hash is
the chain hash of those bytes, so the signature cannot change a transaction's identity.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import Annotated

from xinlian import codec
from xinlian.codec import Struct, at_most
from xinlian.crypto.keys import PublicKey, Signature
from xinlian.crypto.signing import SigningKey
from xinlian.ledger.account import address_of
from xinlian.ledger.errors import InvalidTransaction, TxTooLarge, UnknownKind, WrongChain

MAX_TX_SIZE = 32 * 1024
SIGNING_DOMAIN = b"xinlian/tx/v1\x00"


class TxKind(IntEnum):
    TRANSFER = 1
    SYSTEM = 2  # the membership and permissions system contract
    DEPLOY = 3  # install a Qi contract and run its constructor
    CALL = 4  # call a public method of a contract
    UPGRADE = 5  # replace a contract's code (by the rule it declares) and run `migrate`
    FUND = 6  # prepay a contract's scheduled runs from the sender's balance
    SET_ADMIN = 7  # the contract's admin hands the role to another address
    DATA_COLLECTION = 8  # declare or alter a data collection (execution/data)
    DATA_WRITE = 9  # put and delete records of one data collection
    CONFIDENTIAL = 10  # confidential accounts: register, deposit, transfer, withdraw, open
    ANONYMOUS = 11  # anonymous notes: register an address, shield, transfer, open


class TxBody(Struct):
    chain_id: str
    sender: PublicKey
    nonce: int
    kind: int
    payload: Annotated[bytes, at_most(MAX_TX_SIZE)]
    fee_limit: int
    expiry: int  # the highest block height that may include this transaction


class SignedTransaction(Struct):
    body: bytes
    signature: Signature


def signing_message(body: bytes) -> bytes:
    return SIGNING_DOMAIN + body


def sign_body(body: TxBody, key: SigningKey) -> bytes:
    """The wire encoding of `body` signed with `key`."""
    raw = codec.encode(body)
    return codec.encode(SignedTransaction(raw, key.sign(signing_message(raw))))


class Transaction:
    """A decoded transaction with its derived values; the raw bytes are kept for storage."""

    __slots__ = ("body", "body_bytes", "hash", "raw", "sender_address", "signature")

    def __init__(self, raw: bytes, signed: SignedTransaction, body: TxBody,
                 hash_bytes: Callable[[bytes], bytes]) -> None:
        self.raw = raw
        self.body_bytes = signed.body
        self.signature = signed.signature
        self.body = body
        self.hash = hash_bytes(signed.body)
        self.sender_address = address_of(body.sender, hash_bytes)

    def verify_item(self) -> tuple[int, bytes, bytes, bytes]:
        """The (alg, public key, message, signature) tuple for batch verification."""
        return (int(self.body.sender.alg), self.body.sender.data,
                signing_message(self.body_bytes), self.signature.data)


def decode_transaction(raw: bytes, chain_id: str, hash_bytes: Callable[[bytes], bytes],
                       max_size: int = MAX_TX_SIZE) -> Transaction:
    """Decode and check everything that needs neither state nor the signature.

    Raises TxTooLarge, a CodecError for malformed bytes, WrongChain, UnknownKind, or
    InvalidTransaction for negative numbers and mismatched key/signature algorithms.
    """
    if len(raw) > max_size:
        raise TxTooLarge(f"transaction is {len(raw)} bytes; the limit is {max_size}")
    signed = codec.decode(raw, SignedTransaction)
    body = codec.decode(signed.body, TxBody)
    if body.chain_id != chain_id:
        raise WrongChain(f"transaction is for chain {body.chain_id!r}, this is {chain_id!r}")
    if body.kind not in TxKind.__members__.values():
        raise UnknownKind(f"unknown transaction kind {body.kind}")
    if body.nonce < 0 or body.fee_limit < 0 or body.expiry < 0:
        raise InvalidTransaction("nonce, fee limit and expiry must not be negative")
    if body.sender.alg != signed.signature.alg:
        raise InvalidTransaction("signature algorithm differs from the sender key's")
    return Transaction(raw, signed, body, hash_bytes)
