"""Qi values written as Qi source spells them, for messages a user reads (revert errors in
engine errors, receipts and the CLI): `TooBig(limit: 100)`, not a Python tuple."""

from __future__ import annotations

import json
from typing import Any

from xinlian.lang.types import (
    ArrayTy,
    EnumTy,
    IntTy,
    ListTy,
    OptionalTy,
    StructTy,
    Ty,
)


def value(t: Ty, v: Any) -> str:
    """One decoded ABI value of type `t` (see `abi.decode`) in Qi syntax."""
    if isinstance(t, IntTy):
        return str(v)
    if isinstance(t, EnumTy):
        return f"{t.label}::{v}"
    if isinstance(t, OptionalTy):
        return "none" if v is None else value(t.inner, v)
    if isinstance(t, ListTy | ArrayTy):
        return "[" + ", ".join(value(t.elem, x) for x in v) + "]"
    if isinstance(t, StructTy):
        inner = ", ".join(f"{n}: {value(ft, v[n])}" for n, ft in t.fields)
        return f"{t.label} {{ {inner} }}"
    name = t.name()
    if name == "bool":
        return "true" if v else "false"
    if name == "string":
        return json.dumps(v, ensure_ascii=False)
    if name == "address":
        return "0x" + bytes(v).hex()
    if name == "bytes":
        return f'hex"{bytes(v).hex()}"'
    return repr(v)


def error(name: str, params: list[tuple[str, Ty]], values: list[Any]) -> str:
    """A raised error as its declaration names it: `TooBig(limit: 100)`."""
    inner = ", ".join(f"{n}: {value(t, v)}" for (n, t), v in zip(params, values, strict=True))
    return f"{name}({inner})"
