"""A tiny assembler for the Wasm helpers: one instruction per line, WAT mnemonics.

Immediates are integers or names; names are looked up in `env` (type indices, helper and
import function indices, globals). It keeps the hand-written helpers readable and checked
by the same validator as everything else.
"""

from __future__ import annotations

from xinlian.lang import wasm as W

_SIMPLE = {
    "unreachable": 0x00, "nop": 0x01, "else": 0x05, "end": 0x0B, "return": 0x0F,
    "drop": 0x1A, "select": 0x1B,
    "i32.eqz": 0x45, "i32.eq": 0x46, "i32.ne": 0x47, "i32.lt_s": 0x48, "i32.lt_u": 0x49,
    "i32.gt_s": 0x4A, "i32.gt_u": 0x4B, "i32.le_s": 0x4C, "i32.le_u": 0x4D,
    "i32.ge_s": 0x4E, "i32.ge_u": 0x4F,
    "i64.eqz": 0x50, "i64.eq": 0x51, "i64.ne": 0x52, "i64.lt_s": 0x53, "i64.lt_u": 0x54,
    "i64.gt_s": 0x55, "i64.gt_u": 0x56, "i64.le_s": 0x57, "i64.le_u": 0x58,
    "i64.ge_s": 0x59, "i64.ge_u": 0x5A,
    "i32.add": 0x6A, "i32.sub": 0x6B, "i32.mul": 0x6C, "i32.div_u": 0x6E, "i32.and": 0x71,
    "i32.or": 0x72, "i32.xor": 0x73, "i32.shl": 0x74, "i32.shr_s": 0x75, "i32.shr_u": 0x76,
    "i64.add": 0x7C, "i64.sub": 0x7D, "i64.mul": 0x7E, "i64.div_s": 0x7F, "i64.div_u": 0x80,
    "i64.rem_s": 0x81, "i64.rem_u": 0x82, "i64.and": 0x83, "i64.or": 0x84, "i64.xor": 0x85,
    "i64.shl": 0x86, "i64.shr_s": 0x87, "i64.shr_u": 0x88,
    "i32.wrap_i64": 0xA7, "i64.extend_i32_s": 0xAC, "i64.extend_i32_u": 0xAD,
    "ref.is_null": 0xD1,
}
_INDEXED = {"local.get": 0x20, "local.set": 0x21, "local.tee": 0x22, "global.get": 0x23,
            "global.set": 0x24, "call": 0x10, "br": 0x0C, "br_if": 0x0D}
_GC = {"struct.new": 0x00, "struct.new_default": 0x01, "struct.get": 0x02, "struct.set": 0x05,
       "array.new": 0x06, "array.new_default": 0x07, "array.new_fixed": 0x08, "array.get": 0x0B,
       "array.get_u": 0x0D, "array.set": 0x0E, "array.len": 0x0F, "array.copy": 0x11}
_MEM = {"i32.load8_u": (0x2D, 0), "i32.store8": (0x3A, 0), "i64.load": (0x29, 3),
        "i64.store": (0x37, 3)}


def assemble(code: W.Code, text: str, env: dict[str, object]) -> None:
    for raw in text.splitlines():
        line = raw.split(";;")[0].strip()
        if not line:
            continue
        mnem, *imm = line.split()
        vals = [_value(x, env) for x in imm]
        if mnem in _SIMPLE:
            code.op(_SIMPLE[mnem])
        elif mnem in _INDEXED:
            code.op(_INDEXED[mnem], W.uleb(int(vals[0])))  # type: ignore[call-overload]
        elif mnem in _GC:
            code.gc(_GC[mnem], *[int(v) for v in vals])  # type: ignore[call-overload]
        elif mnem in _MEM:
            opc, align = _MEM[mnem]
            code.op(opc, W.uleb(align), W.uleb(int(vals[0]) if vals else 0))  # type: ignore
        elif mnem == "i32.const":
            code.i32(int(vals[0]) % 2**32)  # type: ignore[call-overload]
        elif mnem == "i64.const":
            code.i64(int(vals[0]) % 2**64)  # type: ignore[call-overload]
        elif mnem in ("block", "loop", "if"):
            opc = {"block": 0x02, "loop": 0x03, "if": 0x04}[mnem]
            blocktype = vals[0] if vals else b"\x40"
            assert isinstance(blocktype, bytes)
            code.op(opc, blocktype)
        elif mnem == "ref.null":
            code.op(0xD0, W.sleb(int(vals[0])))  # type: ignore[call-overload]
        elif mnem == "memory.size":
            code.op(0x3F, 0x00)
        elif mnem == "memory.grow":
            code.op(0x40, 0x00)
        else:
            raise ValueError(f"unknown mnemonic {mnem}")


def _value(tok: str, env: dict[str, object]) -> object:
    if tok[0] in "$@%" or tok in env:
        return env[tok]
    if tok == "i32":
        return W.I32
    if tok == "i64":
        return W.I64
    return int(tok, 0)
