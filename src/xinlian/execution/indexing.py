"""What a contract run adds to the node's ordered index (keys: lang/indexkeys.py).

The ABI says what to index: `indexed` event parameters and `indexed state` variables. A
run's entries are a pure function of its position (height, transaction index), its events
and its storage writes, so every node derives the same index from the same block.

Entries are made from bytes: an event's data and a storage key's map keys are canonical
encodings, and the ordered key of an integer, address, bool or enum is a byte transform of
its encoding (`indexkeys.KeyReader`), so the common case decodes and re-encodes nothing;
what does not decode by the ABI is refused exactly as the decoder would refuse it. The id
part of each key (`indexkeys.index_tail`) is made once per ABI.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from xinlian.execution.contracts.records import CONTRACT_PREFIX, STORAGE_PREFIX
from xinlian.execution.contracts.world import ArtifactCache
from xinlian.execution.state import Overlay
from xinlian.lang import abi, indexkeys
from xinlian.lang.types import Ty
from xinlian.ledger.block import Event


@dataclass(frozen=True)
class EventSpec:
    types: list[Ty]
    indexed: list[tuple[int, str, Ty]]  # (parameter position, name, type)
    # the tails of the index ids (indexkeys.index_tail): of every event of this name, then
    # of each indexed parameter; and the reader of the indexed parameters' value keys
    all_tail: bytes = b""
    tails: list[bytes] = field(default_factory=list)
    keys: indexkeys.KeyReader | None = None

    @classmethod
    def make(cls, name: str, params: list[tuple[str, Ty, bool]]) -> EventSpec:
        indexed = [(i, p, t) for i, (p, t, flag) in enumerate(params) if flag]
        types = [t for _, t, _ in params]
        return cls(types, indexed, indexkeys.index_tail(indexkeys.EVENT_KIND, name,
                                                        indexkeys.ALL_EVENTS),
                   [indexkeys.index_tail(indexkeys.EVENT_KIND, name, p) for _, p, _ in indexed],
                   indexkeys.KeyReader(types, [i for i, _, _ in indexed]))


@dataclass(frozen=True)
class StateSpec:
    name: str
    key_types: list[Ty]
    tail: bytes = b""  # of the variable's index id (indexkeys.index_tail)
    keys: indexkeys.KeyReader | None = None  # of its map keys

    @classmethod
    def make(cls, name: str, key_types: list[Ty]) -> StateSpec:
        return cls(name, key_types, indexkeys.index_tail(indexkeys.STATE_KIND, name),
                   indexkeys.KeyReader(key_types))


@dataclass(frozen=True)
class IndexSpec:
    """The indexes one contract's ABI asks for."""

    events: dict[str, EventSpec]
    states: dict[bytes, StateSpec]  # by slot prefix

    @classmethod
    def from_abi(cls, spec: dict[str, Any]) -> IndexSpec:
        events = {event["name"]: EventSpec.make(event["name"], [
                      (p["name"], abi.type_from_json(p["type"]), bool(p.get("indexed")))
                      for p in event["params"]])
                  for event in spec.get("events", [])}
        states = {bytes.fromhex(s["key_prefix"]): StateSpec.make(
                      s["name"], [abi.type_from_json(k) for k in s["key_types"]])
                  for s in spec.get("storage", []) if s.get("indexed")}
        return cls(events, states)


SpecOf = Callable[[bytes], "IndexSpec | None"]  # contract address -> its spec, if a contract
_ADDRESS_END = len(STORAGE_PREFIX) + 20


class IndexSpecs:
    """Each contract's `IndexSpec`, from the ABI of the code its `ct/` record names (kept
    per code hash: a spec is derived once per code)."""

    def __init__(self, artifacts: ArtifactCache, limit: int = 256) -> None:
        self._artifacts = artifacts
        self._limit = limit
        self._specs: dict[bytes, IndexSpec] = {}

    def over(self, state: Overlay) -> SpecOf:
        """The specs of the contracts as `state` has them (after a deploy or upgrade: the
        new code's); each contract's is looked up once per `SpecOf`."""
        seen: dict[bytes, IndexSpec | None] = {}

        def spec_of(contract: bytes) -> IndexSpec | None:
            try:
                return seen[contract]
            except KeyError:
                spec = seen[contract] = self._lookup(state, contract)
                return spec
        return spec_of

    def _lookup(self, state: Overlay, contract: bytes) -> IndexSpec | None:
        raw = state.get(CONTRACT_PREFIX + contract)
        if raw is None:
            return None
        code_hash = self._artifacts.info(raw).code_hash
        spec = self._specs.get(code_hash)
        if spec is None:
            art = self._artifacts.get(code_hash, state.get)
            if art is None:
                return None
            if len(self._specs) >= self._limit:
                self._specs.pop(next(iter(self._specs)))
            spec = self._specs[code_hash] = IndexSpec.from_abi(art.abi)
        return spec


def run_entries(spec_of: SpecOf, height: int, tx_index: int, events: Sequence[Event],
                writes: Mapping[bytes, object], engine_run: bool = False) -> dict[bytes, bytes]:
    """Every entry of one successful run: its receipt's events and its state writes (the
    run's overlay, where contract storage is `cs/<contract><storage key>` -> bytes or None;
    its other records, such as decoded accounts, are not indexed). `engine_run`: the run
    is the `tx_index`-th engine run of the block (an async delivery, a callback, a
    scheduled run), not a transaction."""
    out = event_entries(spec_of, height, tx_index, events, engine_run) if events else {}
    stored = [(key[len(STORAGE_PREFIX):_ADDRESS_END], key[_ADDRESS_END:], value)
              for key, value in writes.items()
              if key.startswith(STORAGE_PREFIX) and len(key) > _ADDRESS_END
              and (value is None or isinstance(value, bytes))]
    if stored:
        out.update(state_entries(spec_of, height, tx_index, stored, engine_run))
    return out


def event_entries(spec_of: SpecOf, height: int, tx_index: int,
                  events: Sequence[Event], engine_run: bool = False) -> dict[bytes, bytes]:
    """The entries of a receipt's events: for each contract event, one per indexed
    parameter and one in the index of every event of its name; the value is the event's
    ABI-encoded arguments. Events of other sources (transfers, system) are not indexed,
    nor the parameters of an event whose data does not decode by the ABI."""
    out: dict[bytes, bytes] = {}
    for n, event in enumerate(events):
        contract = _contract_address(event.source)
        spec = None if contract is None else spec_of(contract)
        found = None if spec is None else spec.events.get(event.name)
        if contract is None or found is None:
            continue
        position = indexkeys.event_position(height, tx_index, n, engine_run)
        data = event.data
        out[contract + found.all_tail + position] = data
        if not found.indexed:
            continue
        assert found.keys is not None
        keys = found.keys.read(data)
        if keys is None:  # not this ABI's event (only hand-written code can do that)
            continue
        for tail, key in zip(found.tails, keys, strict=True):
            out[contract + tail + key + position] = data
    return out


def state_entries(spec_of: SpecOf, height: int, tx_index: int,
                  writes: Iterable[tuple[bytes, bytes, bytes | None]],
                  engine_run: bool = False) -> dict[bytes, bytes]:
    """The entries of a run's storage writes (contract, storage key, value or None) to
    `indexed state`: keyed by the variable and its map keys, holding the value written.
    A key under an indexed slot that does not decode as the declared map keys (possible
    only for hand-written code) is not indexed."""
    out: dict[bytes, bytes] = {}
    position = indexkeys.state_position(height, tx_index, engine_run)
    for contract, key, value in writes:
        spec = spec_of(contract)
        state = None if spec is None else spec.states.get(key[:4])
        if state is None:
            continue
        assert state.keys is not None
        keys = state.keys.read(key[4:])
        if keys is None:
            continue
        out[contract + state.tail + b"".join(keys) + position] = (
            indexkeys.STATE_DELETED if value is None else indexkeys.STATE_SET + value)
    return out


def _contract_address(source: str) -> bytes | None:
    if len(source) != 40:
        return None
    try:
        return bytes.fromhex(source)
    except ValueError:
        return None
