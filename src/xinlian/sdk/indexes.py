"""Typed queries of a contract's indexes (events by indexed parameter, indexed state writes)
built from its ABI, and typed records read back from verified index entries.

The client computes every key range itself from the ABI (lang/indexkeys.py), so a node can
neither answer another query than the one asked nor leave an entry out: the range proof is
checked against that range (sdk/verify.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from xinlian.lang import abi, indexkeys
from xinlian.lang.errors import ArgumentError
from xinlian.lang.types import MapTy, Ty
from xinlian.sdk.errors import IndexQueryError, ProofError
from xinlian.storage.mst_proof import RangeQuery

T = TypeVar("T")
_UNSET: Any = object()


@dataclass(frozen=True)
class EventRecord:
    """One indexed event: where it was emitted and its decoded arguments. `engine_run`:
    emitted by the block's `tx_index`-th engine run (an async delivery, a callback, a
    scheduled run), whose receipt follows the transactions' in the block."""

    height: int
    tx_index: int
    event_index: int
    name: str
    args: dict[str, Any]
    key: bytes  # its index key (the cursor to page on from here)
    engine_run: bool = False


@dataclass(frozen=True)
class StateRecord:
    """One write to an indexed state variable: the map keys (a composite key type gives
    its digest), the value written (None: deleted), and the writing transaction (or engine
    run, as in `EventRecord`)."""

    height: int
    tx_index: int
    keys: list[Any]
    value: Any
    key: bytes
    engine_run: bool = False


@dataclass(frozen=True)
class IndexPage(Generic[T]):
    """A verified page, in query order, at block `height` (None when the range was empty
    by construction and nothing was asked); `cursor` continues it (None: the last page)."""

    items: list[T]
    height: int | None
    cursor: bytes | None


@dataclass(frozen=True)
class Plan(Generic[T]):
    """A typed query: the key range to ask for (None: nothing can match) and how to read
    each proven entry."""

    query: RangeQuery | None
    kind: int
    decode: Any  # Callable[[bytes, bytes], T]


def _bounds(t: Ty, equals: Any, lo: Any, hi: Any) -> tuple[bytes | None, bytes | None]:
    try:
        if equals is not _UNSET:
            key = indexkeys.value_key(t, equals)
            return key, key
        return (None if lo is None else indexkeys.value_key(t, lo),
                None if hi is None else indexkeys.value_key(t, hi))
    except ArgumentError as exc:
        raise IndexQueryError(exc.message) from None


def _range(index: bytes, lo: bytes | None, hi: bytes | None, newest_first: bool,
           limit: int, cursor: bytes | None) -> RangeQuery | None:
    found = indexkeys.key_range(index, lo, hi, reverse=newest_first, cursor=cursor)
    return None if found is None else RangeQuery(found[0], found[1], newest_first, limit)


def events_plan(contract: bytes, spec: dict[str, Any], event: str, field: str | None = None,
                *, equals: Any = _UNSET, lo: Any = None, hi: Any = None,
                newest_first: bool = True, limit: int = 100,
                cursor: bytes | None = None) -> Plan[EventRecord]:
    """Events `event` of `contract` whose indexed parameter `field` equals `equals` or lies
    from `lo` to `hi` (both included); with no field, every such event by position. Within
    one value, newest first (or oldest first); across a range, by value (descending when
    newest first)."""
    found = next((e for e in spec.get("events", []) if e["name"] == event), None)
    if found is None:
        raise IndexQueryError(f"the contract has no event `{event}`")
    names = [p["name"] for p in found["params"]]
    bounds: tuple[bytes | None, bytes | None] = (None, None)
    types = [abi.type_from_json(p["type"]) for p in found["params"]]
    if field is None:
        if equals is not _UNSET or lo is not None or hi is not None:
            raise IndexQueryError("a value bound needs the indexed parameter it applies to")
        index = indexkeys.event_index(contract, event)
    else:
        param = next((p for p in found["params"] if p["name"] == field), None)
        if param is None or not param.get("indexed"):
            raise IndexQueryError(f"`{field}` is not an indexed parameter of `{event}`")
        index = indexkeys.event_index(contract, event, field)
        bounds = _bounds(abi.type_from_json(param["type"]), equals, lo, hi)

    def decode(key: bytes, value: bytes) -> EventRecord:
        try:
            height, engine, tx_index, event_index = indexkeys.read_position(
                key, indexkeys.EVENT_KIND)
            args = abi.decode_many(types, value)
        except ArgumentError as exc:
            raise ProofError(f"a proven event does not decode by the ABI: {exc.message}"
                             ) from None
        return EventRecord(height, tx_index, event_index, event,
                           dict(zip(names, args, strict=True)), key, engine)

    return Plan(_range(index, *bounds, newest_first, limit, cursor), indexkeys.EVENT_KIND,
                decode)


def state_plan(contract: bytes, spec: dict[str, Any], variable: str,
               keys: Sequence[Any] = (), *, lo: Any = None, hi: Any = None,
               newest_first: bool = True, limit: int = 100,
               cursor: bytes | None = None) -> Plan[StateRecord]:
    """Writes to `indexed state` `variable`: with leading map `keys` given (equality), and
    the next map key from `lo` to `hi`; newest first within one key."""
    found = next((s for s in spec.get("storage", []) if s["name"] == variable), None)
    if found is None or not found.get("indexed"):
        raise IndexQueryError(f"`{variable}` is not an indexed state variable")
    key_types = [abi.type_from_json(k) for k in found["key_types"]]
    value_type = _value_type(abi.type_from_json(found["type"]), len(key_types))
    if len(keys) > len(key_types) or (
            (lo is not None or hi is not None) and len(keys) >= len(key_types)):
        raise IndexQueryError(f"`{variable}` has {len(key_types)} map keys")
    try:
        prefix = b"".join(indexkeys.value_key(t, k)
                          for t, k in zip(key_types, keys, strict=False))
    except ArgumentError as exc:
        raise IndexQueryError(exc.message) from None
    if lo is None and hi is None:
        bounds: tuple[bytes | None, bytes | None] = (prefix, prefix) if keys else (None, None)
    else:
        low, high = _bounds(key_types[len(keys)], _UNSET, lo, hi)
        bounds = (prefix + low if low is not None else prefix or None,
                  prefix + high if high is not None else prefix or None)

    def decode(key: bytes, value: bytes) -> StateRecord:
        try:
            height, engine, tx_index, _ = indexkeys.read_position(key, indexkeys.STATE_KIND)
            pos, map_keys = len(index), []
            for t in key_types:
                k, pos = indexkeys.read_value_key(t, key, pos)
                map_keys.append(k)
            written = (None if value == indexkeys.STATE_DELETED
                       else abi.decode(value_type, value[1:]))
        except ArgumentError as exc:
            raise ProofError(f"a proven state entry does not decode: {exc.message}") from None
        return StateRecord(height, tx_index, map_keys, written, key, engine)

    index = indexkeys.state_index(contract, variable)
    return Plan(_range(index, *bounds, newest_first, limit, cursor), indexkeys.STATE_KIND,
                decode)


def _value_type(t: Ty, depth: int) -> Ty:
    for _ in range(depth):
        if not isinstance(t, MapTy):
            raise IndexQueryError("the ABI's map keys do not match the variable's type")
        t = t.value
    return t


def page(plan: Plan[T], entries: list[tuple[bytes, bytes]], height: int) -> IndexPage[T]:
    """The typed page of a plan's verified entries."""
    items = [plan.decode(k, v) for k, v in entries]
    full = plan.query is not None and len(entries) == plan.query.limit
    return IndexPage(items, height, entries[-1][0] if full else None)
