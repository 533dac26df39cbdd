"""The engine's `World` over a block's overlay: contract storage, code and admins in state.

`ChainState` is the engine's `ContractState` over an `Overlay`: every write goes through
one journal, so `snapshot`/`revert` nest (a failed callee, a caught error, a failed
`migrate` roll back to a savepoint) and cover storage, contract records and code alike.
`code` and `admins` are views over `ct/` and `code/`: reading a contract's code decodes its
record once per code hash and a contract record once per encoding (`ArtifactCache`, shared
across blocks: a record's bytes decode to the same value whatever block holds them).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any

import msgspec

from xinlian import codec
from xinlian.execution.contracts.records import (
    CONTRACT_PREFIX,
    CodeRecord,
    ContractInfo,
    code_key,
    code_record,
    contract_key,
    storage_key,
)
from xinlian.execution.errors import InvalidOperation
from xinlian.execution.state import Overlay
from xinlian.execution.vm.engine import MAX_CACHED_MODULES, MAX_CACHED_WASM
from xinlian.execution.vm.lru import Lru
from xinlian.lang.compiler import Artifact

_decode_info = codec.trusted_decoder(ContractInfo)
_decode_code = codec.trusted_decoder(CodeRecord)
_ABSENT = object()


class ArtifactCache:
    """Artifacts by code hash, decoded from their `code/` records once; least recently used
    out first, bounded like the engine's compiled modules (a count and their Wasm's size).
    Also decoded `ct/` records by their encoding (a call reads its contract's record
    several times: to find its code, to check it is not frozen, for nested calls); they
    are shared, so they are replaced (`msgspec.structs.replace`), never changed in place."""

    def __init__(self, limit: int = MAX_CACHED_MODULES, max_wasm: int = MAX_CACHED_WASM,
                 info_limit: int = 4096) -> None:
        self._items: Lru[bytes, Artifact] = Lru(limit, max_wasm, lambda a: len(a.wasm))
        self._info_limit = info_limit
        self._infos: dict[bytes, ContractInfo] = {}

    def info(self, raw: bytes) -> ContractInfo:
        """The `ContractInfo` encoded as `raw`."""
        hit = self._infos.get(raw)
        if hit is None:
            if len(self._infos) >= self._info_limit:
                self._infos.clear()
            hit = self._infos[raw] = _decode_info(raw)
        return hit

    def put(self, code_hash: bytes, art: Artifact) -> None:
        """Remember an artifact that has more than its record (a local build's debug map,
        so that traces name source lines)."""
        self._items.put(code_hash, art)

    def peek(self, code_hash: bytes) -> Artifact | None:
        return self._items.get(code_hash)

    def get(self, code_hash: bytes, read: Callable[[bytes], bytes | None]) -> Artifact | None:
        hit = self._items.get(code_hash)
        if hit is not None:
            return hit
        raw = read(code_key(code_hash))
        if raw is None:
            return None
        record = _decode_code(raw)
        art = Artifact(record.wasm, json.loads(record.abi), file=f"code {code_hash.hex()[:16]}")
        self.put(code_hash, art)
        return art


class ChainState:
    """Journaled contract storage and records over an overlay (see the module docstring)."""

    def __init__(self, overlay: Overlay, cache: ArtifactCache | None = None) -> None:
        self.overlay = overlay
        self.cache = cache or ArtifactCache()  # the runner's, shared across its runs
        self._journal: list[tuple[bytes, object]] = []

    def read(self, key: bytes) -> bytes | None:
        return self.overlay.get(key)

    def write(self, key: bytes, value: bytes | None) -> None:
        self._journal.append((key, self.overlay.writes.get(key, _ABSENT)))
        self.overlay.set(key, value)

    def get(self, contract: bytes, key: bytes) -> bytes | None:
        return self.overlay.get(storage_key(contract, key))

    def set(self, contract: bytes, key: bytes, value: bytes) -> None:
        self.write(storage_key(contract, key), value)

    def snapshot(self) -> int:
        return len(self._journal)

    def revert(self, snap: int) -> None:
        writes = self.overlay.writes
        while len(self._journal) > snap:
            key, old = self._journal.pop()
            if old is _ABSENT:
                writes.pop(key, None)
            else:
                writes[key] = old  # type: ignore[assignment]

    def commit(self) -> None:
        self._journal.clear()

    def info(self, address: bytes) -> ContractInfo | None:
        raw = self.overlay.get(CONTRACT_PREFIX + address)
        return None if raw is None else self.cache.info(raw)

    def artifact(self, address: bytes) -> tuple[ContractInfo, Artifact] | None:
        """The record and the code of the contract at `address` (None: there is none)."""
        raw = self.overlay.get(CONTRACT_PREFIX + address)
        if raw is None:
            return None
        info = self.cache.info(raw)
        art = self.cache.get(info.code_hash, self.overlay.get)
        return None if art is None else (info, art)

    def set_info(self, address: bytes, info: ContractInfo | None) -> None:
        self.write(contract_key(address), None if info is None else codec.encode(info))


class CodeView(MutableMapping[bytes, Artifact]):
    """`World.code` on the chain: a contract's artifact from its `ct/` record's code hash.
    Setting installs the code (its `code/` record if new) under the contract's record.
    `listing`: the deployed addresses, where the state can list them (`LocalChain`'s dict;
    the chain's hashed tree cannot)."""

    def __init__(self, state: ChainState, hash_bytes: Callable[[bytes], bytes],
                 created_height: int, listing: Callable[[], list[bytes]] | None = None
                 ) -> None:
        self._state = state
        self._cache = state.cache
        self._hash = hash_bytes
        self._height = created_height
        self._listing = listing

    def __getitem__(self, address: bytes) -> Artifact:
        found = self._state.artifact(address)
        if found is None:
            raise KeyError(address)
        return found[1]

    def __contains__(self, address: object) -> bool:
        return isinstance(address, bytes) and self._state.info(address) is not None

    def __setitem__(self, address: bytes, art: Artifact) -> None:
        code_hash = self.store_code(art.wasm, art.abi)
        self._cache.put(code_hash, art)
        info = self._state.info(address) or ContractInfo(code_hash, bytes(20), 1, False, 0,
                                                         self._height)
        self._state.set_info(address, msgspec.structs.replace(info, code_hash=code_hash))

    def store_code(self, wasm: bytes, abi: dict[str, Any]) -> bytes:
        """Keep the code record of `wasm` under `abi` (if new); its code hash."""
        code_hash, record = code_record(self._hash, wasm, abi)
        if self._state.read(code_key(code_hash)) is None:
            self._state.write(code_key(code_hash), record)
        return code_hash

    def __delitem__(self, address: bytes) -> None:
        self._state.set_info(address, None)

    def _addresses(self) -> list[bytes]:
        if self._listing is None:
            raise TypeError("the chain's contracts cannot be listed (the state tree is hashed)")
        return self._listing()

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._addresses())

    def __len__(self) -> int:
        return len(self._addresses())


class AdminView(MutableMapping[bytes, bytes]):
    """`World.admins` on the chain: the admin field of each contract's record."""

    def __init__(self, state: ChainState) -> None:
        self._state = state

    def __getitem__(self, address: bytes) -> bytes:
        info = self._state.info(address)
        if info is None:
            raise KeyError(address)
        return info.admin

    def __setitem__(self, address: bytes, admin: bytes) -> None:
        info = self._state.info(address)
        if info is None:
            raise KeyError(address)
        self._state.set_info(address, msgspec.structs.replace(info, admin=admin))

    def __delitem__(self, address: bytes) -> None:
        """The admin goes with the contract's record: deleting it is allowed only once the
        record is gone (`del code[address], admins[address]`)."""
        if self._state.info(address) is not None:
            raise TypeError("a contract keeps an admin while it exists")

    def __iter__(self) -> Iterator[bytes]:
        raise TypeError("the chain's contracts cannot be listed (the state tree is hashed)")

    def __len__(self) -> int:
        raise TypeError("the chain's contracts cannot be counted")


class BlockHashes(Mapping[int, bytes]):
    """`World.block_hashes` on the chain: header hashes read on demand by height."""

    def __init__(self, hash_at: Callable[[int], bytes | None]) -> None:
        self._hash_at = hash_at

    def __getitem__(self, height: int) -> bytes:
        value = self._hash_at(height)
        if value is None:
            raise KeyError(height)
        return value

    def __iter__(self) -> Iterator[int]:
        raise TypeError("block hashes are read by height")

    def __len__(self) -> int:
        raise TypeError("block hashes are read by height")


def set_frozen(overlay: Overlay, contract: bytes, frozen: bool) -> None:
    """Governance: freeze or unfreeze a contract (InvalidOperation if it is not one, or
    is in that state already)."""
    state = ChainState(overlay)
    info = state.info(contract)
    if info is None:
        raise InvalidOperation(f"no contract at {contract.hex()}")
    if info.frozen == frozen:
        raise InvalidOperation(f"contract {contract.hex()} is "
                               f"{'frozen' if frozen else 'not frozen'} already")
    state.set_info(contract, msgspec.structs.replace(info, frozen=frozen))
