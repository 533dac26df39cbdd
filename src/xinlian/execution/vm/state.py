"""Contract state as the engine sees it.

`ContractState` is what the engine needs: per-contract key-value storage with nested
savepoints (a failed callee or a caught error rolls back to one). Its one form is
execution.contracts.world.ChainState, over a block's overlay (`LocalChain` included).
"""

from __future__ import annotations

from typing import Protocol


class ContractState(Protocol):
    def get(self, contract: bytes, key: bytes) -> bytes | None: ...

    def set(self, contract: bytes, key: bytes, value: bytes) -> None: ...

    def snapshot(self) -> int: ...

    def revert(self, snap: int) -> None: ...

    def commit(self) -> None: ...

    # world-state keys outside contract storage, journaled like it (a revert undoes a
    # write): the host's confidential-transfer services use them (services.py)
    def read(self, key: bytes) -> bytes | None: ...

    def write(self, key: bytes, value: bytes | None) -> None: ...
