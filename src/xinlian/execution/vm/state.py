"""In-memory contract state for local runs, with journaling so failed calls roll back."""

from __future__ import annotations

from dataclasses import dataclass, field


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
