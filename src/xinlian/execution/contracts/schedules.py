"""The schedule registry: which scheduled functions are due at which height, in state.

The state tree hashes its keys, so nothing is found by a prefix scan:
- `sched/c/<addr 20>` -> `Schedules`: a contract's scheduled functions (from the ABI of its
  code, registered at deployment and upgrade), each with its next due height (0: cancelled)
  and its count of unpaid runs in a row;
- `sched/h/<height 8 BE>` -> `DueList`: the (contract, function) pairs due at that height,
  sorted by contract address, then function name;
- `sched/armed` -> how many schedules are not cancelled (while any is, blocks must keep
  coming for their heights to come: engine_runs.has_work).

`fn f() every N blocks` is due at the multiples of N above the height it was registered at.
Running them is engine_runs' business.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from msgspec.structs import replace

from xinlian import codec
from xinlian.codec import Struct
from xinlian.execution.state import Overlay

SCHEDULES_PREFIX = b"sched/c/"
DUE_PREFIX = b"sched/h/"
ARMED_KEY = b"sched/armed"


class Schedule(Struct):
    function: str
    every: int
    next_height: int  # 0: cancelled
    unpaid: int  # unpaid runs in a row


class Schedules(Struct):
    items: list[Schedule]


class Due(Struct):
    contract: bytes
    function: str


class DueList(Struct):
    items: list[Due]


_decode_schedules = codec.trusted_decoder(Schedules)
_decode_due = codec.trusted_decoder(DueList)


def schedules_key(contract: bytes) -> bytes:
    return SCHEDULES_PREFIX + contract


def due_key(height: int) -> bytes:
    return DUE_PREFIX + height.to_bytes(8, "big")


def next_due(height: int, every: int) -> int:
    """The first multiple of `every` above `height`."""
    return (height // every + 1) * every


def armed(read: Callable[[bytes], bytes | None]) -> int:
    raw = read(ARMED_KEY)
    return 0 if raw is None else codec.decode(raw, int)


def schedules(state: Overlay, contract: bytes) -> list[Schedule]:
    raw = state.get(schedules_key(contract))
    return [] if raw is None else _decode_schedules(raw).items


def due(state: Overlay, height: int) -> list[Due]:
    raw = state.get(due_key(height))
    return [] if raw is None else _decode_due(raw).items


def set_due(state: Overlay, height: int, items: list[Due]) -> None:
    state.set(due_key(height), codec.encode(DueList(items)) if items else None)


def register(state: Overlay, contract: bytes, abi: dict[str, Any], height: int) -> None:
    """(Re)register a contract's scheduled functions from the ABI of its code, replacing
    what its previous code scheduled (deployment and upgrade)."""
    _drop(state, contract)
    items = [Schedule(str(f["name"]), int(f["every"]), next_due(height, int(f["every"])), 0)
             for f in abi.get("functions", []) if f.get("kind") == "scheduled"]
    for s in items:
        _add_due(state, s.next_height, Due(contract, s.function))
    _set(state, contract, items)
    _add_armed(state, len(items))


def rearm(state: Overlay, contract: bytes, height: int) -> None:
    """A FUND of the contract: its cancelled schedules are due again from their next due
    height above `height`, with no unpaid runs counted."""
    items = [replace(s, next_height=next_due(height, s.every), unpaid=0)
             if s.next_height == 0 else s for s in schedules(state, contract)]
    rearmed = [s for s, old in zip(items, schedules(state, contract), strict=True)
               if old.next_height == 0]
    for s in rearmed:
        _add_due(state, s.next_height, Due(contract, s.function))
    if rearmed:
        _set(state, contract, items)
        _add_armed(state, len(rearmed))


def update(state: Overlay, entry: Due, **changes: int) -> Schedule:
    """Change fields of the schedule of a due entry; the changed schedule."""
    items = schedules(state, entry.contract)
    i = next(i for i, s in enumerate(items) if s.function == entry.function)
    items[i] = replace(items[i], **changes)
    _set(state, entry.contract, items)
    return items[i]


def after_run(state: Overlay, entry: Due, height: int, paid: bool) -> Schedule:
    """A due run at `height` was paid (unpaid count cleared) or not (counted): it is due
    next at the next multiple of its period, unless this was the `unpaid_runs`-th unpaid
    run in a row (the caller decides: `cancel`)."""
    old = next(s for s in schedules(state, entry.contract) if s.function == entry.function)
    s = update(state, entry, unpaid=0 if paid else old.unpaid + 1,
               next_height=next_due(height, old.every))
    _add_due(state, s.next_height, entry)
    return s


def cancel(state: Overlay, entry: Due, height: int) -> None:
    """Cancel a schedule whose next run was booked at `height` (by `after_run`)."""
    set_due(state, height, [d for d in due(state, height) if d != entry])
    update(state, entry, next_height=0)
    _add_armed(state, -1)


def defer(state: Overlay, entries: list[Due], height: int) -> None:
    """Runs due before `height` that did not fit in their block: due at `height`."""
    set_due(state, height, sorted([*entries, *due(state, height)],
                                  key=lambda d: (d.contract, d.function)))
    for entry in entries:
        update(state, entry, next_height=height)


def _drop(state: Overlay, contract: bytes) -> None:
    armed_items = [s for s in schedules(state, contract) if s.next_height]
    for s in armed_items:
        set_due(state, s.next_height, [d for d in due(state, s.next_height)
                                       if d != Due(contract, s.function)])
    _add_armed(state, -len(armed_items))
    state.set(schedules_key(contract), None)


def _add_due(state: Overlay, height: int, entry: Due) -> None:
    set_due(state, height, sorted([*due(state, height), entry],
                                  key=lambda d: (d.contract, d.function)))


def _set(state: Overlay, contract: bytes, items: list[Schedule]) -> None:
    state.set(schedules_key(contract), codec.encode(Schedules(items)) if items else None)


def _add_armed(state: Overlay, delta: int) -> None:
    if delta:
        count = armed(state.get) + delta
        state.set(ARMED_KEY, codec.encode(count) if count else None)
