"""Accounts and addresses.

An address is the last 20 bytes of the chain hash of the canonical encoding of a public key,
so a key of any algorithm (and so of any suite, during a migration) has an address.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from xinlian import codec
from xinlian.codec import Struct, exactly
from xinlian.crypto.keys import PublicKey

ADDRESS_SIZE = 20
Address = Annotated[bytes, exactly(ADDRESS_SIZE)]


class Account(Struct):
    balance: int = 0
    nonce: int = 0  # the nonce the account's next transaction must carry


EMPTY_ACCOUNT = Account()


def address_of(public_key: PublicKey, hash_bytes: Callable[[bytes], bytes]) -> bytes:
    return hash_bytes(codec.encode(public_key))[-ADDRESS_SIZE:]


def account_key(address: bytes) -> bytes:
    """The state-tree key of an account."""
    return b"acct/" + address
