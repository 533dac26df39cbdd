"""Layered state views for execution: writes collect in an overlay over committed state.

A block executes on one overlay over the committed state; each transaction runs on a child
overlay that is merged on success and dropped on failure, so a failed transaction leaves
only its fee and nonce behind. Accounts stay decoded `Account` objects while the block
runs and are encoded once, by `encoded_writes`, when the block is done.
"""

from __future__ import annotations

from collections.abc import Callable

from xinlian import codec
from xinlian.ledger.account import EMPTY_ACCOUNT, Account, account_key

Reader = Callable[[bytes], bytes | None]
_decode_account = codec.trusted_decoder(Account)  # state is written by this node only
_Value = bytes | Account | None


class Overlay:
    __slots__ = ("_parent", "_read", "writes")

    def __init__(self, read: Reader, parent: Overlay | None = None) -> None:
        self._read = read
        self._parent = parent
        self.writes: dict[bytes, _Value] = {}

    def _lookup(self, key: bytes) -> _Value:
        overlay: Overlay | None = self
        while overlay is not None:
            if key in overlay.writes:
                return overlay.writes[key]
            overlay = overlay._parent
        return self._read(key)

    def get(self, key: bytes) -> bytes | None:
        value = self._lookup(key)
        return codec.encode(value) if isinstance(value, Account) else value

    def set(self, key: bytes, value: bytes | None) -> None:
        self.writes[key] = value

    def child(self) -> Overlay:
        return Overlay(self._read, self)

    def merge(self, child: Overlay) -> None:
        self.writes.update(child.writes)

    def account(self, address: bytes) -> Account:
        value = self._lookup(account_key(address))
        if value is None:
            return EMPTY_ACCOUNT
        return value if isinstance(value, Account) else _decode_account(value)

    def set_account(self, address: bytes, account: Account) -> None:
        self.writes[account_key(address)] = account

    def encoded_writes(self) -> dict[bytes, bytes | None]:
        return {k: codec.encode(v) if isinstance(v, Account) else v
                for k, v in self.writes.items()}
