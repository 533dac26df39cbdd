"""The Qi ABI: the JSON description of a compiled contract and the value encoding in Python.

`encode(type, value)` / `decode(type, data)` implement the same canonical encoding as the
generated Wasm code (see `wasm_helpers`): the engine uses them to pass arguments in and read
results, events and errors out. JSON type descriptors look like `"u64"`, `{"list": "u8"}`,
`{"struct": "Point", "fields": [["x", "i32"], ...]}`.
"""

from __future__ import annotations

from typing import Any

from xinlian.lang import ir
from xinlian.lang.errors import ArgumentError
from xinlian.lang.types import (
    ADDRESS_LEN,
    INT_TYPES,
    PRIMS,
    UNIT,
    ArrayTy,
    EnumTy,
    IntTy,
    ListTy,
    MapTy,
    OptionalTy,
    PrimTy,
    StructTy,
    Ty,
)

ABI_VERSION = 1


def type_json(t: Ty) -> Any:
    if isinstance(t, StructTy):
        return {"struct": t.label, "fields": [[n, type_json(ft)] for n, ft in t.fields]}
    if isinstance(t, EnumTy):
        return {"enum": t.label, "variants": list(t.variants)}
    if isinstance(t, ListTy):
        return {"list": type_json(t.elem)}
    if isinstance(t, ArrayTy):
        return {"array": type_json(t.elem), "size": t.size}
    if isinstance(t, MapTy):
        return {"map": [type_json(t.key), type_json(t.value)]}
    if isinstance(t, OptionalTy):
        return {"optional": type_json(t.inner)}
    return t.name()


def type_from_json(j: Any) -> Ty:
    if isinstance(j, str):
        if j in INT_TYPES:
            return INT_TYPES[j]
        if j in PRIMS or j == "unit":
            return PRIMS.get(j, UNIT)
        raise ArgumentError(f"unknown ABI type {j!r}")
    if "struct" in j:
        return StructTy(j["struct"], [(n, type_from_json(t)) for n, t in j["fields"]])
    if "enum" in j:
        return EnumTy(j["enum"], list(j["variants"]))
    if "list" in j:
        return ListTy(type_from_json(j["list"]))
    if "array" in j:
        return ArrayTy(type_from_json(j["array"]), int(j["size"]))
    if "map" in j:
        return MapTy(type_from_json(j["map"][0]), type_from_json(j["map"][1]))
    if "optional" in j:
        return OptionalTy(type_from_json(j["optional"]))
    raise ArgumentError(f"unknown ABI type {j!r}")


def _params(params: list[ir.Var]) -> list[dict[str, Any]]:
    return [{"name": p.name, "type": type_json(p.ty)} for p in params]


def build(prog: ir.Program, entries: dict[str, str]) -> dict[str, Any]:
    """The ABI JSON object (deterministic: lists in declaration order, sets sorted)."""
    fns = []
    for name, fn in prog.functions.items():
        if name not in entries:
            continue
        extra = {"expect_revert": fn.expect_revert} if fn.kind == "test" else {}
        fns.append({
            "name": name, "export": entries[name], "kind": fn.kind, "public": fn.public,
            "view": fn.view, "params": _params(fn.params), "returns": type_json(fn.ret),
            "every": fn.every,
            "access": {"reads": sorted(fn.reads | fn.writes), "writes": sorted(fn.writes),
                       "declared": fn.declared_reads is not None
                       or fn.declared_writes is not None,
                       "external_calls": fn.external},
            **extra,
        })
    return {
        "abi_version": ABI_VERSION,
        "contract": prog.contract,
        "upgrades": prog.upgrades,
        "upgrade": prog.upgrade_rule.to_json(),
        "functions": fns,
        "events": [{"name": e.name, "id": i, "params": [
            {"name": n, "type": type_json(t), "indexed": ix}
            | ({"index": index_kind(t)} if ix else {}) for n, t, ix in e.params]}
            for i, e in enumerate(prog.events)],
        "errors": [{"name": e.name, "id": i, "params": [
            {"name": n, "type": type_json(t)} for n, t, _ in e.params]}
            for i, e in enumerate(prog.errors)],
        "storage": [{"name": s.name, "slot": s.slot, "type": type_json(s.ty),
                     "indexed": s.indexed}
                    | ({"key_prefix": slot_prefix(s.slot).hex(),
                        "key_types": [type_json(k) for k in map_keys(s.ty)]}
                       if s.indexed else {}) for s in prog.states],
    }


# --- index semantics --------------------------------------------------------------------
# An indexed value is indexed under its order-preserving encoding (lang/indexkeys.py) for
# integers, bool, enums, address, bytes and string, so ranges can be queried; under the SM3
# digest of its canonical encoding for the rest (lists, structs...): equality only.
def index_kind(t: Ty) -> str:
    """`ordered` or `sm3`: how an indexed value of type `t` becomes its index key."""
    if isinstance(t, IntTy | EnumTy):
        return "ordered"
    if isinstance(t, PrimTy) and t.name() in ("bool", "address", "bytes", "string"):
        return "ordered"
    return "sm3"


def slot_prefix(slot: int) -> bytes:
    """Every storage key of a state variable starts with its slot (4 bytes, little-endian),
    followed by the encodings of its map keys."""
    return slot.to_bytes(4, "little")


def map_keys(t: Ty) -> list[Ty]:
    """The key types, outermost first, that follow a state variable's slot in its keys."""
    out: list[Ty] = []
    while isinstance(t, MapTy):
        out.append(t.key)
        t = t.value
    return out


# --- value encoding ---------------------------------------------------------------------
def encode(t: Ty, v: Any) -> bytes:
    out = bytearray()
    _enc(t, v, out)
    return bytes(out)


def _enc(t: Ty, v: Any, out: bytearray) -> None:
    if isinstance(t, IntTy):
        if isinstance(v, bool) or not isinstance(v, int) or not t.min <= v <= t.max:
            raise ArgumentError(f"{v!r} is not a valid {t}")
        out += (v % (1 << t.bits)).to_bytes(t.bits // 8, "little")
    elif isinstance(t, EnumTy):
        if v not in t.variants:
            raise ArgumentError(f"{v!r} is not a variant of {t.label}")
        out.append(t.variants.index(v))
    elif t.name() == "bool":
        if not isinstance(v, bool):
            raise ArgumentError(f"{v!r} is not a bool")
        out.append(int(v))
    elif t.name() == "address":
        if not isinstance(v, bytes | bytearray) or len(v) != ADDRESS_LEN:
            raise ArgumentError(f"an address is {ADDRESS_LEN} bytes")
        out += v
    elif t.name() in ("bytes", "string"):
        if t.name() == "string":
            if not isinstance(v, str):
                raise ArgumentError(f"{v!r} is not a string")
            v = v.encode()
        if not isinstance(v, bytes | bytearray):
            raise ArgumentError(f"{v!r} is not bytes")
        out += len(v).to_bytes(4, "little") + v
    elif isinstance(t, ListTy | ArrayTy):
        if not isinstance(v, list | tuple):
            raise ArgumentError(f"{v!r} is not a list")
        if isinstance(t, ArrayTy) and len(v) != t.size:
            raise ArgumentError(f"expected {t.size} elements, got {len(v)}")
        if isinstance(t, ListTy):
            out += len(v).to_bytes(4, "little")
        for x in v:
            _enc(t.elem, x, out)
    elif isinstance(t, StructTy):
        if not isinstance(v, dict) or set(v) != {n for n, _ in t.fields}:
            raise ArgumentError(f"{t.label} needs fields {[n for n, _ in t.fields]}")
        for n, ft in t.fields:
            _enc(ft, v[n], out)
    elif isinstance(t, OptionalTy):
        if v is None:
            out.append(0)
        else:
            out.append(1)
            _enc(t.inner, v, out)
    else:
        raise ArgumentError(f"type {t} cannot be encoded")


def decode(t: Ty, data: bytes) -> Any:
    v, pos = _dec(t, data, 0)
    if pos != len(data):
        raise ArgumentError(f"{len(data) - pos} trailing bytes after {t}")
    return v


def decode_many(types: list[Ty], data: bytes) -> list[Any]:
    out, pos = [], 0
    for t in types:
        v, pos = _dec(t, data, pos)
        out.append(v)
    if pos != len(data):
        raise ArgumentError(f"{len(data) - pos} trailing bytes")
    return out


def _take(data: bytes, pos: int, n: int) -> bytes:
    if pos + n > len(data):
        raise ArgumentError("truncated value")
    return data[pos:pos + n]


def _dec(t: Ty, data: bytes, pos: int) -> tuple[Any, int]:
    if isinstance(t, IntTy):
        n = t.bits // 8
        u = int.from_bytes(_take(data, pos, n), "little")
        if t.signed and u >= 1 << (t.bits - 1):
            u -= 1 << t.bits
        return u, pos + n
    if isinstance(t, EnumTy):
        i = _take(data, pos, 1)[0]
        if i >= len(t.variants):
            raise ArgumentError(f"bad variant index {i} for {t.label}")
        return t.variants[i], pos + 1
    name = t.name()
    if name == "bool":
        b = _take(data, pos, 1)[0]
        if b > 1:
            raise ArgumentError("bad bool")
        return b == 1, pos + 1
    if name == "address":
        return _take(data, pos, ADDRESS_LEN), pos + ADDRESS_LEN
    if name in ("bytes", "string"):
        n = int.from_bytes(_take(data, pos, 4), "little")
        raw = _take(data, pos + 4, n)
        if name == "string":
            try:
                return raw.decode(), pos + 4 + n
            except UnicodeDecodeError as exc:
                raise ArgumentError("string is not UTF-8") from exc
        return raw, pos + 4 + n
    if isinstance(t, ListTy | ArrayTy):
        if isinstance(t, ListTy):
            n = int.from_bytes(_take(data, pos, 4), "little")
            pos += 4
            if n > len(data) - pos:
                raise ArgumentError("list count larger than the input")
        else:
            n = t.size
        items = []
        for _ in range(n):
            x, pos = _dec(t.elem, data, pos)
            items.append(x)
        return items, pos
    if isinstance(t, StructTy):
        out = {}
        for n_, ft in t.fields:
            out[n_], pos = _dec(ft, data, pos)
        return out, pos
    if isinstance(t, OptionalTy):
        tag = _take(data, pos, 1)[0]
        if tag == 0:
            return None, pos + 1
        if tag != 1:
            raise ArgumentError("bad optional tag")
        return _dec(t.inner, data, pos + 1)
    if name == "unit":
        return None, pos
    raise ArgumentError(f"type {t} cannot be decoded")
