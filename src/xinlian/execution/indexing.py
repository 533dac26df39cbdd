"""What a contract run adds to the node's ordered index (keys: lang/indexkeys.py).

The ABI says what to index: `indexed` event parameters and `indexed state` variables. A
run's entries are a pure function of its position (height, transaction index), its events
and its storage writes, so every node derives the same index from the same block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from xinlian.lang import abi, indexkeys
from xinlian.lang.errors import ArgumentError
from xinlian.lang.types import Ty
from xinlian.ledger.block import Event


@dataclass(frozen=True)
class EventSpec:
    types: list[Ty]
    indexed: list[tuple[int, str, Ty]]  # (parameter position, name, type)


@dataclass(frozen=True)
class StateSpec:
    name: str
    key_types: list[Ty]


@dataclass(frozen=True)
class IndexSpec:
    """The indexes one contract's ABI asks for."""

    events: dict[str, EventSpec]
    states: dict[bytes, StateSpec]  # by slot prefix

    @classmethod
    def from_abi(cls, spec: dict[str, Any]) -> IndexSpec:
        events = {}
        for event in spec.get("events", []):
            types = [abi.type_from_json(p["type"]) for p in event["params"]]
            events[event["name"]] = EventSpec(types, [
                (i, p["name"], t) for i, (p, t) in enumerate(zip(event["params"], types,
                                                                 strict=True))
                if p.get("indexed")])
        states = {bytes.fromhex(s["key_prefix"]): StateSpec(
                      s["name"], [abi.type_from_json(k) for k in s["key_types"]])
                  for s in spec.get("storage", []) if s.get("indexed")}
        return cls(events, states)


SpecOf = Callable[[bytes], "IndexSpec | None"]  # contract address -> its spec, if a contract


def event_entries(spec_of: SpecOf, height: int, tx_index: int,
                  events: Sequence[Event]) -> dict[bytes, bytes]:
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
        position = indexkeys.event_position(height, tx_index, n)
        out[indexkeys.event_index(contract, event.name) + position] = event.data
        if not found.indexed:
            continue
        try:
            values = abi.decode_many(found.types, event.data)
        except ArgumentError:  # not this ABI's event (only hand-written code can do that)
            continue
        for i, name, t in found.indexed:
            key = indexkeys.event_index(contract, event.name, name)
            out[key + indexkeys.value_key(t, values[i]) + position] = event.data
    return out


def state_entries(spec_of: SpecOf, height: int, tx_index: int,
                  writes: Iterable[tuple[bytes, bytes, bytes | None]]
                  ) -> dict[bytes, bytes]:
    """The entries of a run's storage writes (contract, storage key, value or None) to
    `indexed state`: keyed by the variable and its map keys, holding the value written.
    A key under an indexed slot that does not decode as the declared map keys (possible
    only for hand-written code) is not indexed."""
    out: dict[bytes, bytes] = {}
    position = indexkeys.state_position(height, tx_index)
    for contract, key, value in writes:
        spec = spec_of(contract)
        state = None if spec is None else spec.states.get(key[:4])
        if state is None:
            continue
        try:
            map_keys = abi.decode_many(state.key_types, key[4:])
        except ArgumentError:
            continue
        entry = indexkeys.state_index(contract, state.name) + b"".join(
            indexkeys.value_key(t, k) for t, k in zip(state.key_types, map_keys, strict=True))
        out[entry + position] = (indexkeys.STATE_DELETED if value is None
                                 else indexkeys.STATE_SET + value)
    return out


def _contract_address(source: str) -> bytes | None:
    if len(source) != 40:
        return None
    try:
        return bytes.fromhex(source)
    except ValueError:
        return None
