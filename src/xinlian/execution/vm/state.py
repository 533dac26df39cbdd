"""Contract state as the engine sees it, and its in-memory form for local runs.

`ContractState` is what the engine needs: per-contract key-value storage with nested
savepoints (a failed callee or a caught error rolls back to one). `MemoryState` keeps it in
a dict; the chain's form (execution.contracts.world) keeps it in the block's overlay.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class ContractState(Protocol):
    def get(self, contract: bytes, key: bytes) -> bytes | None: ...

    def set(self, contract: bytes, key: bytes, value: bytes) -> None: ...

    def snapshot(self) -> int: ...

    def revert(self, snap: int) -> None: ...

    def commit(self) -> None: ...


@dataclass
class MemoryState:
    """Key-value storage per contract address. `snapshot()`/`revert(snap)` nest."""

    data: dict[tuple[bytes, bytes], bytes] = field(default_factory=dict)
    _journal: list[tuple[tuple[bytes, bytes], bytes | None]] = field(default_factory=list)

    def get(self, contract: bytes, key: bytes) -> bytes | None:
        return self.data.get((contract, key))

    def set(self, contract: bytes, key: bytes, value: bytes) -> None:
        k = (contract, key)
        self._journal.append((k, self.data.get(k)))
        self.data[k] = value

    def snapshot(self) -> int:
        return len(self._journal)

    def revert(self, snap: int) -> None:
        while len(self._journal) > snap:
            k, old = self._journal.pop()
            if old is None:
                self.data.pop(k, None)
            else:
                self.data[k] = old

    def commit(self) -> None:
        """Forget undo information (after a top-level call succeeded)."""
        self._journal.clear()
