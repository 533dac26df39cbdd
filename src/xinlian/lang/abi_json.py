"""ABI values written as JSON, for command lines and JSON documents.

The mapping (per ABI type; docs/sdk.md, "Contracts from the command line", shows it to
users; `xinlian qi run` reads its arguments the same way):

| ABI type | JSON |
| --- | --- |
| integers (`u8` .. `u256`, `i8` .. `i256`) | a number, or a decimal or `0x` hex string |
| `bool` | `true` / `false` |
| `address` | `"0x"` + 40 hex digits (the `0x` is optional) |
| `bytes` | `"0x"` + hex digits |
| `string` | a string (on a command line a bare word is a string too) |
| enum | the variant's name, e.g. `"Open"` |
| `list<T>`, `[T; N]` | an array |
| `optional<T>` | `null` for none, else the value |
| struct | an object with every field |

Output uses the same mapping (integers as numbers, bytes and addresses as `0x` hex).
"""

from __future__ import annotations

import json
from typing import Any

from xinlian.lang import abi
from xinlian.lang.errors import ArgumentError
from xinlian.lang.types import ADDRESS_LEN, ArrayTy, IntTy, ListTy, OptionalTy, StructTy, Ty


def value_from_json(t: Ty, v: Any) -> Any:
    """A JSON value to the Python value `lang.abi.encode` takes for type `t`; what is not
    converted here is checked by the encoder."""
    if t.name() in ("bytes", "address") and isinstance(v, str):
        raw = bytes.fromhex(v.removeprefix("0x").removeprefix("0X"))
        if t.name() == "address" and len(raw) != ADDRESS_LEN:
            raise ValueError(f"an address is {ADDRESS_LEN} bytes, this is {len(raw)}")
        return raw
    if isinstance(t, IntTy) and isinstance(v, str):
        return int(v, 0)
    if isinstance(t, ListTy | ArrayTy) and isinstance(v, list):
        return [value_from_json(t.elem, x) for x in v]
    if isinstance(t, OptionalTy) and v is not None:
        return value_from_json(t.inner, v)
    if isinstance(t, StructTy) and isinstance(v, dict):
        return {n: value_from_json(ft, v.get(n)) for n, ft in t.fields}
    return v


def value_to_json(v: Any) -> Any:
    """A decoded ABI value as JSON (bytes and addresses as `0x` hex)."""
    if isinstance(v, bytes | bytearray):
        return "0x" + bytes(v).hex()
    if isinstance(v, list | tuple):
        return [value_to_json(x) for x in v]
    if isinstance(v, dict):
        return {k: value_to_json(x) for k, x in v.items()}
    return v


def params_of(doc: dict[str, Any], fn: str) -> list[tuple[str, Ty]]:
    """The named, typed parameters of function `fn` in an ABI document."""
    spec = next((f for f in doc["functions"] if f["name"] == fn), None)
    if spec is None:
        raise ArgumentError(f"no function `{fn}`")
    return [(p["name"], abi.type_from_json(p["type"])) for p in spec["params"]]


def args_from_text(params: list[tuple[str, Ty]], fn: str, raw: list[str]) -> list[Any]:
    """Command-line arguments (each a JSON value, or a bare word for a string) as the
    Python values of `fn`'s parameters; ArgumentError names the one that does not fit."""
    if len(params) != len(raw):
        raise ArgumentError(f"`{fn}` takes {len(params)} argument(s), got {len(raw)}")
    return [value_from_text(t, r, f"argument `{name}` of `{fn}`")
            for (name, t), r in zip(params, raw, strict=True)]


def value_from_text(t: Ty, raw: str, what: str) -> Any:
    """A value of type `t` given on a command line as JSON (a bare word is a string);
    ArgumentError naming `what` if it is not one."""
    try:
        v = json.loads(raw)
    except json.JSONDecodeError:
        v = raw  # bare words are strings
    try:
        value = value_from_json(t, v)
        abi.encode(t, value)  # fails here, naming `what`, if it does not fit
    except (ValueError, TypeError, ArgumentError) as exc:
        detail = exc.message if isinstance(exc, ArgumentError) else str(exc)
        raise ArgumentError(f"{what}: {raw!r} is not a `{t}` ({detail})") from exc
    return value
