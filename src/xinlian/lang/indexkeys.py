"""Index keys of contract data: the order-preserving encoding of Qi values, and the layout
of the keys under which a node indexes events and state writes.

A node keeps one ordered index (storage/mst.py) for every contract; an entry's key is

    index id  ||  ordered value (or map keys)  ||  position

- index id: contract address (20 bytes), a kind byte (1 event field, 2 state variable),
  then the names, each as one length byte and its UTF-8 bytes: the event and the parameter
  (the parameter "" indexes every event of that name by position alone), or the variable;
- ordered value: byte order equals value order. Unsigned integers big-endian at their
  width; signed integers likewise after adding 2^(bits-1); bool, enum: one byte; address:
  its 20 bytes; bytes and string: the bytes with 0x00 written 0x00 0xff, ended by 0x00 0x00.
  Other types (lists, structs, optionals, arrays) are indexed by the SM3 digest of their
  canonical encoding: equality only. Every encoding is prefix-free, so a value's entries
  are exactly the keys that start with id || value;
- position: block height (8 bytes), the run's origin (1 byte: 0 an engine run, such as an
  async delivery, a callback or a scheduled run; 1 a transaction), its index (4 bytes: the
  transaction's in the block, or the engine run's among the block's engine runs) and, for
  events, the event's index in its receipt (4 bytes), all big-endian. A block runs its
  engine runs before its transactions, so within one value entries run oldest to newest in
  execution order, and a descending scan pages newest first.

Values: an event entry holds the event's ABI-encoded arguments; a state entry holds 0x01 and
the value written, or 0x00 for a deletion.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import partial
from operator import itemgetter
from typing import Any

from xinlian.crypto.hashes import sm3
from xinlian.lang import abi
from xinlian.lang.errors import ArgumentError
from xinlian.lang.types import ADDRESS_LEN, EnumTy, IntTy, PrimTy, Ty
from xinlian.storage import keys
from xinlian.storage.errors import InvalidKeyError
from xinlian.storage.keys import key_range, prefix_end

__all__ = ["key_range", "prefix_end"]  # kept here for the SDK's contract-index plans

EVENT_KIND = 1
STATE_KIND = 2
ALL_EVENTS = ""  # the parameter name of the index of every event of one name
STATE_SET = b"\x01"
STATE_DELETED = b"\x00"
_EVENT_POSITION = struct.Struct(">QBII")
_STATE_POSITION = struct.Struct(">QBI")


def value_key(t: Ty, v: Any) -> bytes:
    """The ordered (or, for composite types, digest) encoding of value `v` of type `t`;
    ArgumentError if `v` is not a `t`."""
    canonical = abi.encode(t, v)  # also validates v
    if isinstance(t, IntTy):
        offset = 1 << (t.bits - 1) if t.signed else 0
        return int(v + offset).to_bytes(t.bits // 8, "big")
    if isinstance(t, EnumTy) or (isinstance(t, PrimTy) and t.name() in ("bool", "address")):
        return canonical
    if abi.index_kind(t) == "ordered":  # bytes, string
        return keys.escaped(canonical[4:])
    return sm3(canonical)


class KeyReader:
    """The value keys (`value_key`) of some of a sequence of values of `types`, read
    straight from the values' canonical encoding (an event's data, the map keys of a
    storage key). When every type has a fixed width and a key that is a byte transform of
    its encoding (integers, address, bool, enum) the keys are cut from the bytes, which is
    what a node does for most indexed events and state writes; otherwise the values are
    decoded and their keys made. Either way the whole encoding is checked: `read` returns
    None when `data` is not exactly the encoding of values of `types` (a reader that keeps
    no keys is a strict check of an encoding)."""

    __slots__ = ("_bounded", "_cuts", "_keep", "_size", "_types")

    def __init__(self, types: list[Ty], keep: list[int] | None = None) -> None:
        """`keep`: the positions whose keys `read` returns, in that order (None: all)."""
        self._types = types
        self._keep = list(range(len(types))) if keep is None else keep
        self._size = -1  # not a fixed layout: values are decoded
        self._bounded: list[tuple[int, int]] = []  # (offset, bound) of one-byte values
        self._cuts: list[Callable[[bytes], bytes]] = []
        cuts, offset = [], 0
        for t in types:
            how = _byte_key(t)
            if how is None:
                return
            width, bound, cut = how
            if bound:
                self._bounded.append((offset, bound))
            cuts.append(cut(offset, offset + width))
            offset += width
        self._size = offset
        self._cuts = [cuts[i] for i in self._keep]

    def read(self, data: bytes) -> list[bytes] | None:
        if self._size < 0:
            try:
                values = abi.decode_many(self._types, data)
            except ArgumentError:
                return None
            return [value_key(self._types[i], values[i]) for i in self._keep]
        if len(data) != self._size:
            return None
        for offset, bound in self._bounded:
            if data[offset] >= bound:  # a bool or an enum's variant out of range
                return None
        return [cut(data) for cut in self._cuts]


# the cuts are item getters and partials of module functions: readers pickle (an engine
# event holds its ABI's reader)
def _as_is(start: int, end: int) -> Callable[[bytes], bytes]:
    return itemgetter(slice(start, end))


def _reversed(start: int, end: int) -> Callable[[bytes], bytes]:
    return itemgetter(slice(end - 1, start - 1 if start else None, -1) if end > start
                      else slice(0, 0))


def _sign_flipped(start: int, end: int) -> Callable[[bytes], bytes]:
    """Two's complement plus 2^(bits-1), big-endian: the sign bit flipped."""
    return partial(_flip_sign, end - 1, _reversed(start, end - 1))


def _flip_sign(top: int, rest: Callable[[bytes], bytes], data: bytes) -> bytes:
    return bytes((data[top] ^ 0x80,)) + rest(data)


def _byte_key(t: Ty) -> tuple[int, int, Callable[[int, int], Callable[[bytes], bytes]]] | None:
    """(width, bound of a one-byte value or 0, how its key is cut from the encoding) for
    the types whose key is a byte transform of their fixed-width encoding: an integer's
    little-endian bytes reversed, an address as it is, the byte of a bool or an enum once
    it is checked."""
    if isinstance(t, IntTy):
        return t.bits // 8, 0, _sign_flipped if t.signed else _reversed
    if isinstance(t, EnumTy):
        return 1, len(t.variants), _as_is
    if isinstance(t, PrimTy) and t.name() == "address":
        return ADDRESS_LEN, 0, _as_is
    if isinstance(t, PrimTy) and t.name() == "bool":
        return 1, 2, _as_is
    return None


def index_id(contract: bytes, kind: int, *names: str) -> bytes:
    """The id of one index of a contract (see the module docstring)."""
    if len(contract) != ADDRESS_LEN:
        raise ArgumentError("an index id needs a 20-byte contract address and a known kind")
    return contract + index_tail(kind, *names)


def index_tail(kind: int, *names: str) -> bytes:
    """What follows the contract's address in the id of one of its indexes: the same for
    every contract with that index, so it can be made once per ABI."""
    if kind not in (EVENT_KIND, STATE_KIND):
        raise ArgumentError("an index id needs a 20-byte contract address and a known kind")
    out = bytearray([kind])
    for name in names:
        raw = name.encode()
        if len(raw) > 255:
            raise ArgumentError(f"index name {name[:20]!r}... is longer than 255 bytes")
        out.append(len(raw))
        out += raw
    return bytes(out)


def event_index(contract: bytes, event: str, param: str = ALL_EVENTS) -> bytes:
    return index_id(contract, EVENT_KIND, event, param)


def state_index(contract: bytes, variable: str) -> bytes:
    return index_id(contract, STATE_KIND, variable)


def event_position(height: int, tx_index: int, event_index: int,
                   engine_run: bool = False) -> bytes:
    """`engine_run`: `tx_index` is the index of an engine run, not of a transaction."""
    return _EVENT_POSITION.pack(height, int(not engine_run), tx_index, event_index)


def state_position(height: int, tx_index: int, engine_run: bool = False) -> bytes:
    return _STATE_POSITION.pack(height, int(not engine_run), tx_index)


def read_position(key: bytes, kind: int) -> tuple[int, bool, int, int]:
    """(height, engine run?, tx or engine-run index, event index (0 for state entries))
    from the end of an entry key."""
    layout = _EVENT_POSITION if kind == EVENT_KIND else _STATE_POSITION
    if len(key) < layout.size:
        raise ArgumentError("an index key shorter than its position")
    height, origin, index, *event = layout.unpack_from(key, len(key) - layout.size)
    if origin > 1:
        raise ArgumentError(f"an index key with an unknown run origin {origin}")
    return height, origin == 0, index, event[0] if event else 0


def read_value_key(t: Ty, data: bytes, pos: int = 0) -> tuple[Any, int]:
    """The value whose key starts at `data[pos]`, and where its key ends. A composite type's
    key is its digest, returned as such (32 bytes)."""
    if isinstance(t, IntTy):
        end = pos + t.bits // 8
        if end > len(data):
            raise ArgumentError("an index key cut short")
        offset = 1 << (t.bits - 1) if t.signed else 0
        return int.from_bytes(data[pos:end], "big") - offset, end
    if abi.index_kind(t) == "sm3" or isinstance(t, EnumTy) or t.name() in ("bool", "address"):
        end = pos + (32 if abi.index_kind(t) == "sm3" else
                     ADDRESS_LEN if t.name() == "address" else 1)
        if end > len(data):
            raise ArgumentError("an index key cut short")
        raw = data[pos:end]
        if abi.index_kind(t) == "sm3" or t.name() == "address":
            return raw, end
        return abi.decode(t, raw), end
    try:
        raw, pos = keys.read_escaped(data, pos)
    except InvalidKeyError:
        raise ArgumentError("an index key of bytes without its end mark") from None
    if t.name() == "string":
        try:
            return raw.decode(), pos
        except UnicodeDecodeError as exc:
            raise ArgumentError("an index key of a string that is not UTF-8") from exc
    return raw, pos
