"""Layered state views for execution: writes collect in an overlay over committed state.

A block executes on one overlay over the committed state; each transaction runs on a child
overlay that is merged on success and dropped on failure, so a failed transaction leaves
only its fee and nonce behind.
"""

from __future__ import annotations

from collections.abc import Callable

from xinlian import codec
from xinlian.ledger.account import EMPTY_ACCOUNT, Account, account_key

Reader = Callable[[bytes], bytes | None]
_decode_account = codec.trusted_decoder(Account)  # state is written by this node only


class Overlay:
    __slots__ = ("_read", "writes")

    def __init__(self, read: Reader) -> None:
        self._read = read
        self.writes: dict[bytes, bytes | None] = {}

    def get(self, key: bytes) -> bytes | None:
        if key in self.writes:
            return self.writes[key]
        return self._read(key)

    def set(self, key: bytes, value: bytes | None) -> None:
        self.writes[key] = value

    def child(self) -> Overlay:
        return Overlay(self.get)

    def merge(self, child: Overlay) -> None:
        self.writes.update(child.writes)

    def account(self, address: bytes) -> Account:
        raw = self.get(account_key(address))
        return EMPTY_ACCOUNT if raw is None else _decode_account(raw)

    def set_account(self, address: bytes, account: Account) -> None:
        self.set(account_key(address), codec.encode(account))
