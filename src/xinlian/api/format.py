"""JSON shapes of Xinlian records, shared by the server and the SDK.

One rule for every record: a `codec.Struct` becomes a JSON object of its fields (by name;
a tagged-union member also carries its tag under `"type"`), bytes become 0x-prefixed lower
case hex, algorithm ids and other integers stay integers, and None is null. `to_json` and
`from_json(value, Type)` are inverses, and `from_json` validates against the Struct's
schema (field names, types, byte and list length limits), so the same code decodes RPC
params on the server and RPC results in the SDK.
"""

from __future__ import annotations

from collections.abc import Hashable
from enum import Enum
from functools import lru_cache
from typing import Any, TypeVar, cast

import msgspec
import msgspec.inspect as mi

from xinlian.api.errors import FormatError

T = TypeVar("T")


def hex_of(data: bytes) -> str:
    return "0x" + data.hex()


def bytes_of(value: object, where: str = "value", *, size: int | None = None,
             max_size: int | None = None) -> bytes:
    """Decode a 0x-prefixed hex string, checking its length before decoding it."""
    if not isinstance(value, str) or not value.startswith(("0x", "0X")):
        raise FormatError(f"{where} must be a 0x-prefixed hex string")
    digits = len(value) - 2
    if size is not None and digits != 2 * size:
        raise FormatError(f"{where} must be {size} bytes")
    if max_size is not None and digits > 2 * max_size:
        raise FormatError(f"{where} exceeds {max_size} bytes")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise FormatError(f"{where} is not valid hex") from None


def to_json(value: Any) -> Any:
    """The JSON-ready form (dicts, lists, str, int, bool, None) of a record."""
    if isinstance(value, msgspec.Struct):
        cls = type(value)
        out: dict[str, Any] = {}
        config = cls.__struct_config__
        if config.tag is not None:
            out[str(config.tag_field)] = config.tag
        for name in cls.__struct_fields__:
            out[name] = to_json(getattr(value, name))
        return out
    if isinstance(value, bytes | bytearray | memoryview):
        return "0x" + bytes(value).hex()
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, Enum):
        return value.value
    return value


@lru_cache(maxsize=256)
def _info(type_: Hashable) -> mi.Type:
    return mi.type_info(type_)


def from_json(value: Any, type_: type[T] | Any, where: str = "value") -> T:
    """Build a `type_` from its JSON form; FormatError names the offending field."""
    built: T = _build(value, _info(cast(Hashable, type_)), where)
    return built


def _length_ok(n: int, t: mi.BytesType | mi.StrType | mi.ListType) -> bool:
    return (t.min_length is None or n >= t.min_length) and (
        t.max_length is None or n <= t.max_length)


def _build(value: Any, t: mi.Type, where: str) -> Any:
    if isinstance(t, mi.StructType):
        return _struct(value, t, where)
    if isinstance(t, mi.BytesType):
        data = bytes_of(value, where, max_size=t.max_length)
        if not _length_ok(len(data), t):
            raise FormatError(f"{where} has a wrong length ({len(data)} bytes)")
        return data
    if isinstance(t, mi.IntType):
        return _int(value, t, where)
    if isinstance(t, mi.EnumType):
        try:
            return t.cls(value)
        except ValueError:
            raise FormatError(f"{where}: {value!r} is not a valid {t.cls.__name__}") from None
    if isinstance(t, mi.StrType):
        if not isinstance(value, str) or not _length_ok(len(value), t):
            raise FormatError(f"{where} must be a string within its length limits")
        return value
    if isinstance(t, mi.BoolType):
        if not isinstance(value, bool):
            raise FormatError(f"{where} must be true or false")
        return value
    if isinstance(t, mi.NoneType):
        if value is not None:
            raise FormatError(f"{where} must be null")
        return None
    if isinstance(t, mi.ListType):
        if not isinstance(value, list) or not _length_ok(len(value), t):
            raise FormatError(f"{where} must be a list within its length limits")
        return [_build(item, t.item_type, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(t, mi.UnionType):
        return _union(value, t, where)
    if isinstance(t, mi.DictType):
        if not isinstance(value, dict):
            raise FormatError(f"{where} must be an object")
        return {_build(k, t.key_type, f"{where} key"): _build(v, t.value_type, f"{where}.{k}")
                for k, v in value.items()}
    if isinstance(t, mi.AnyType):  # free JSON (an ABI, a decoded contract value): as is
        return value
    raise FormatError(f"{where}: no JSON form for {t!r}")


def _int(value: Any, t: mi.IntType, where: str) -> int:
    if type(value) is not int:  # bool is an int subclass but not an integer here
        raise FormatError(f"{where} must be an integer")
    if (t.ge is not None and value < t.ge) or (t.gt is not None and value <= t.gt) or (
            t.le is not None and value > t.le) or (t.lt is not None and value >= t.lt):
        raise FormatError(f"{where} is out of range")
    return value


def _struct(value: Any, t: mi.StructType, where: str) -> Any:
    if not isinstance(value, dict):
        raise FormatError(f"{where} must be an object")
    names = {f.name for f in t.fields}
    if t.tag_field is not None:
        if value.get(t.tag_field) != t.tag:
            raise FormatError(f"{where}.{t.tag_field} must be {t.tag!r}")
        names.add(t.tag_field)
    unknown = set(value) - names
    if unknown:
        raise FormatError(f"{where} has unknown fields {sorted(map(str, unknown))}")
    kwargs = {}
    for f in t.fields:
        if f.name in value:
            kwargs[f.name] = _build(value[f.name], f.type, f"{where}.{f.name}")
        elif f.required:
            raise FormatError(f"{where} lacks the field {f.name!r}")
    return t.cls(**kwargs)


def _union(value: Any, t: mi.UnionType, where: str) -> Any:
    members = t.types
    if value is None and any(isinstance(m, mi.NoneType) for m in members):
        return None
    structs = [m for m in members if isinstance(m, mi.StructType)]
    tagged = {m.tag: m for m in structs if m.tag is not None}
    if tagged and isinstance(value, dict):
        tag_field = str(structs[0].tag_field)
        tag = value.get(tag_field)
        member = tagged.get(tag) if isinstance(tag, str | int) else None
        if member is None:
            raise FormatError(f"{where}.{tag_field} must be one of {sorted(map(str, tagged))}")
        return _struct(value, member, where)
    others = [m for m in members if not isinstance(m, mi.NoneType)]
    if len(others) == 1:
        return _build(value, others[0], where)
    raise FormatError(f"{where} matches none of its allowed types")
