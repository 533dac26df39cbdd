"""Wasm helper generators: the fixed helpers compiled code calls (memory I/O, byte cursors,
bytes, wide integers, hashing) and the dispatcher for per-type helpers (`codecs`,
`containers`, `storage`).

Helpers are emitted into a module only when code uses them. Fixed helpers are written in
WAT mnemonics through `asm`; per-type helpers are generated from the type's structure.
The value encoding (the Qi ABI, also used for storage) is:

    uN/iN      N/8 bytes, little-endian two's complement
    bool       1 byte, 0 or 1;  enum: 1 byte, the variant index
    address    20 bytes
    bytes      u32 length + bytes;  string: the same, UTF-8
    list<T>    u32 count + elements;  [T; N]: N elements
    struct     fields in order;  T?: 0, or 1 followed by T

Every value has exactly one encoding, so encodings can be hashed and compared.
"""

from __future__ import annotations

from collections.abc import Callable

from xinlian.lang import ir
from xinlian.lang import wasm as W
from xinlian.lang.codecs import decoder, encoder, equality, zero_value
from xinlian.lang.containers import list_helper, map_helper
from xinlian.lang.emitter import Emitter, FnBuilder, TypedHelper, fn_from_text, panic_text
from xinlian.lang.storage import storage_helper
from xinlian.lang.types import Ty

# --- fixed helpers: name -> (params, results, generator) ------------------------------------
HelperGen = Callable[[Emitter, int], FnBuilder]
HELPERS: dict[str, tuple[list[str], list[str], HelperGen]] = {}


def _helper(name: str, params: list[str], results: list[str], text: str,
            locals_: tuple[str, ...] = ()) -> None:
    HELPERS[name] = (params, results, lambda cg, n: fn_from_text(cg, n, text, locals_))


_helper("ensure", ["i32"], [], f"""
    local.get 0
    memory.size
    i32.const 16
    i32.shl
    i32.gt_u
    if
      local.get 0
      i32.const 65535
      i32.add
      i32.const 16
      i32.shr_u
      memory.size
      i32.sub
      memory.grow
      i32.const -1
      i32.eq
      if
        {panic_text(ir.PANIC_MEMORY)}
      end
    end""")

# (b, off) -> len: copy a byte array into linear memory at off
_helper("mem_write", ["bytes", "i32"], ["i32"], """
    local.get 0
    array.len
    local.set 2
    local.get 1
    local.get 2
    i32.add
    call $ensure
    block
      loop
        local.get 3
        local.get 2
        i32.ge_u
        br_if 1
        local.get 1
        local.get 3
        i32.add
        local.get 0
        local.get 3
        array.get_u bytes
        i32.store8
        local.get 3
        i32.const 1
        i32.add
        local.set 3
        br 0
      end
    end
    local.get 2""", ("i32", "i32"))

# (off, len) -> bytes
_helper("mem_read", ["i32", "i32"], ["bytes"], """
    local.get 0
    local.get 1
    i32.add
    call $ensure
    local.get 1
    array.new_default bytes
    local.set 2
    block
      loop
        local.get 3
        local.get 1
        i32.ge_u
        br_if 1
        local.get 2
        local.get 3
        local.get 0
        local.get 3
        i32.add
        i32.load8_u
        array.set bytes
        local.get 3
        i32.const 1
        i32.add
        local.set 3
        br 0
      end
    end
    local.get 2""", ("bytes", "i32"))

# (len) -> bytes: a host result (hosts write results at offset 0)
_helper("host_bytes", ["i32"], ["bytes"], """
    i32.const 0
    local.get 0
    call $mem_read""")

# (len) -> cursor: a reader over a host result in place
_helper("host_reader", ["i32"], ["cursor"], """
    local.get 0
    call $r_mem""")

_helper("w_new", [], ["cursor"], """
    i32.const 32
    array.new_default bytes
    i32.const 0
    i32.const 0
    struct.new cursor""")

# (w, n): make room for n more bytes
_helper("w_reserve", ["cursor", "i32"], [], """
    local.get 0
    struct.get cursor 0
    local.tee 2
    array.len
    local.get 0
    struct.get cursor 1
    local.get 1
    i32.add
    local.tee 3
    i32.lt_u
    if
      local.get 2
      array.len
      i32.const 1
      i32.shl
      local.tee 4
      local.get 3
      local.get 4
      local.get 3
      i32.gt_u
      select
      array.new_default bytes
      local.tee 5
      i32.const 0
      local.get 2
      i32.const 0
      local.get 0
      struct.get cursor 1
      array.copy bytes bytes
      local.get 0
      local.get 5
      struct.set cursor 0
    end""", ("bytes", "i32", "i32", "bytes"))

_helper("w_byte", ["cursor", "i32"], [], """
    local.get 0
    i32.const 1
    call $w_reserve
    local.get 0
    struct.get cursor 0
    local.get 0
    struct.get cursor 1
    local.get 1
    array.set bytes
    local.get 0
    local.get 0
    struct.get cursor 1
    i32.const 1
    i32.add
    struct.set cursor 1""")

# (w, value, nbytes): little-endian
_helper("w_int", ["cursor", "i64", "i32"], [], """
    local.get 0
    local.get 2
    call $w_reserve
    local.get 0
    struct.get cursor 0
    local.set 3
    local.get 0
    struct.get cursor 1
    local.set 4
    block
      loop
        local.get 2
        i32.eqz
        br_if 1
        local.get 3
        local.get 4
        local.get 1
        i32.wrap_i64
        array.set bytes
        local.get 1
        i64.const 8
        i64.shr_u
        local.set 1
        local.get 4
        i32.const 1
        i32.add
        local.set 4
        local.get 2
        i32.const 1
        i32.sub
        local.set 2
        br 0
      end
    end
    local.get 0
    local.get 4
    struct.set cursor 1""", ("bytes", "i32"))

_helper("w_raw", ["cursor", "bytes"], [], """
    local.get 1
    array.len
    local.set 2
    local.get 0
    local.get 2
    call $w_reserve
    local.get 0
    struct.get cursor 0
    local.get 0
    struct.get cursor 1
    local.get 1
    i32.const 0
    local.get 2
    array.copy bytes bytes
    local.get 0
    local.get 0
    struct.get cursor 1
    local.get 2
    i32.add
    struct.set cursor 1""", ("i32",))

_helper("w_finish", ["cursor"], ["bytes"], """
    local.get 0
    struct.get cursor 1
    array.new_default bytes
    local.tee 1
    i32.const 0
    local.get 0
    struct.get cursor 0
    i32.const 0
    local.get 0
    struct.get cursor 1
    array.copy bytes bytes
    local.get 1""", ("bytes",))

# readers: over a byte array, or (buffer null) over linear memory from offset 0
_helper("r_new", ["bytes"], ["cursor"], """
    local.get 0
    i32.const 0
    local.get 0
    array.len
    struct.new cursor""")

_helper("r_mem", ["i32"], ["cursor"], """
    ref.null bytes
    i32.const 0
    local.get 0
    struct.new cursor""")

_REMAINING_CHECK = f"""
    local.get 0
    struct.get cursor 2
    local.get 0
    struct.get cursor 1
    i32.sub
    local.get 1
    i32.lt_u
    if
      {panic_text(ir.PANIC_ENCODING)}
    end"""

# (r, n) -> bytes: take n bytes, panicking (bad encoding) if fewer remain
_helper("r_take", ["cursor", "i32"], ["bytes"], _REMAINING_CHECK + """
    local.get 0
    struct.get cursor 0
    ref.is_null
    if ref_bytes
      local.get 0
      struct.get cursor 1
      local.get 1
      call $mem_read
    else
      local.get 1
      array.new_default bytes
      local.tee 2
      i32.const 0
      local.get 0
      struct.get cursor 0
      local.get 0
      struct.get cursor 1
      local.get 1
      array.copy bytes bytes
      local.get 2
    end
    local.get 0
    local.get 0
    struct.get cursor 1
    local.get 1
    i32.add
    struct.set cursor 1""", ("bytes",))

_SHIFT_IN = """
        i64.extend_i32_u
        local.get 5
        i32.const 3
        i32.shl
        i64.extend_i32_u
        i64.shl
        local.get 2
        i64.or
        local.set 2
        local.get 5
        i32.const 1
        i32.add
        local.set 5
        br 0
      end
    end"""

# (r, n) -> i64: n bytes little-endian, zero-extended
_helper("r_int", ["cursor", "i32"], ["i64"], _REMAINING_CHECK + """
    local.get 0
    struct.get cursor 1
    local.set 3
    local.get 0
    struct.get cursor 0
    local.tee 4
    ref.is_null
    if
    block
      loop
        local.get 5
        local.get 1
        i32.ge_u
        br_if 1
        local.get 3
        local.get 5
        i32.add
        i32.load8_u""" + _SHIFT_IN + """
    else
    block
      loop
        local.get 5
        local.get 1
        i32.ge_u
        br_if 1
        local.get 4
        local.get 3
        local.get 5
        i32.add
        array.get_u bytes""" + _SHIFT_IN + """
    end
    local.get 0
    local.get 3
    local.get 1
    i32.add
    struct.set cursor 1
    local.get 2""", ("i64", "i32", "bytes", "i32"))

_helper("bytes_eq", ["bytes", "bytes"], ["i32"], """
    local.get 0
    array.len
    local.tee 2
    local.get 1
    array.len
    i32.ne
    if
      i32.const 0
      return
    end
    block
      loop
        local.get 3
        local.get 2
        i32.ge_u
        br_if 1
        local.get 0
        local.get 3
        array.get_u bytes
        local.get 1
        local.get 3
        array.get_u bytes
        i32.ne
        if
          i32.const 0
          return
        end
        local.get 3
        i32.const 1
        i32.add
        local.set 3
        br 0
      end
    end
    i32.const 1""", ("i32", "i32"))

_helper("concat", ["bytes", "bytes"], ["bytes"], """
    local.get 0
    array.len
    local.tee 2
    local.get 1
    array.len
    i32.add
    array.new_default bytes
    local.tee 3
    i32.const 0
    local.get 0
    i32.const 0
    local.get 2
    array.copy bytes bytes
    local.get 3
    local.get 2
    local.get 1
    i32.const 0
    local.get 1
    array.len
    array.copy bytes bytes
    local.get 3""", ("i32", "bytes"))

# (b, start, end) -> bytes: b[start..end], panicking unless start <= end <= len
_helper("slice", ["bytes", "i32", "i32"], ["bytes"], f"""
    local.get 1
    local.get 2
    i32.gt_u
    local.get 2
    local.get 0
    array.len
    i32.gt_u
    i32.or
    if
      {panic_text(ir.PANIC_BOUNDS)}
    end
    local.get 2
    local.get 1
    i32.sub
    array.new_default bytes
    local.tee 3
    i32.const 0
    local.get 0
    local.get 1
    local.get 2
    local.get 1
    i32.sub
    array.copy bytes bytes
    local.get 3""", ("bytes",))

# (value, signed) -> decimal string. Digits are produced from the value's magnitude as an
# unsigned 64-bit number (so i64's minimum needs no special case).
_helper("int_to_string", ["i64", "i32"], ["bytes"], """
    local.get 1
    local.get 0
    i64.const 0
    i64.lt_s
    i32.and
    local.tee 2
    if
      i64.const 0
      local.get 0
      i64.sub
      local.set 0
    end
    i32.const 20
    array.new_default bytes
    local.set 3
    i32.const 20
    local.set 4
    loop
      local.get 4
      i32.const 1
      i32.sub
      local.set 4
      local.get 3
      local.get 4
      local.get 0
      i64.const 10
      i64.rem_u
      i32.wrap_i64
      i32.const 48
      i32.add
      array.set bytes
      local.get 0
      i64.const 10
      i64.div_u
      local.tee 0
      i64.const 0
      i64.ne
      br_if 0
    end
    local.get 2
    if
      local.get 4
      i32.const 1
      i32.sub
      local.set 4
      local.get 3
      local.get 4
      i32.const 45
      array.set bytes
    end
    i32.const 20
    local.get 4
    i32.sub
    array.new_default bytes
    local.tee 5
    i32.const 0
    local.get 3
    local.get 4
    i32.const 20
    local.get 4
    i32.sub
    array.copy bytes bytes
    local.get 5""", ("i32", "bytes", "i32", "bytes"))

_helper("byte_at", ["bytes", "i32"], ["i32"], f"""
    local.get 1
    local.get 0
    array.len
    i32.ge_u
    if
      {panic_text(ir.PANIC_BOUNDS)}
    end
    local.get 0
    local.get 1
    array.get_u bytes""")

# (op, a, b) -> big: checked wide arithmetic through the host
_BIG_CALL = """
    local.get 0
    local.get 1
    struct.get big 0
    local.get 1
    struct.get big 1
    local.get 1
    struct.get big 2
    local.get 1
    struct.get big 3
    local.get 2
    struct.get big 0
    local.get 2
    struct.get big 1
    local.get 2
    struct.get big 2
    local.get 2
    struct.get big 3
    call @big
    local.tee 3
    i32.const 1
    i32.eq
    if
      {overflow}
    end
    local.get 3
    i32.const 2
    i32.eq
    if
      {divzero}
    end
    local.get 3
    i32.const 3
    i32.eq
    if
      {cast}
    end"""
_helper("big_op", ["i32", "big", "big"], ["big"], _BIG_CALL.format(
    overflow=panic_text(ir.PANIC_OVERFLOW), divzero=panic_text(ir.PANIC_DIVZERO),
    cast=panic_text(ir.PANIC_CAST)) + "\n    struct.new big", ("i32",))
_helper("big_low", ["i32", "big", "big"], ["i64"], _BIG_CALL.format(
    overflow=panic_text(ir.PANIC_OVERFLOW), divzero=panic_text(ir.PANIC_DIVZERO),
    cast=panic_text(ir.PANIC_CAST)) + "\n    drop\n    drop\n    drop", ("i32",))


# --- unsigned wide addition and subtraction, comparisons: four 64-bit limbs in Wasm -----
def _wide_addsub(add: bool, bits: int) -> str:
    """(a, b) -> a +/- b, panicking on overflow. Locals: 2 carry, 3 t, 4-7 limbs, 8 c1."""
    out = []
    for i in range(4):
        if add:
            out.append(f"""
    local.get 0
    struct.get big {i}
    local.get 1
    struct.get big {i}
    i64.add
    local.tee 3
    local.get 0
    struct.get big {i}
    i64.lt_u
    i64.extend_i32_u
    local.set 8
    local.get 3
    local.get 2
    i64.add
    local.tee {4 + i}
    local.get 3
    i64.lt_u
    i64.extend_i32_u
    local.get 8
    i64.or
    local.set 2""")
        else:
            out.append(f"""
    local.get 0
    struct.get big {i}
    local.get 1
    struct.get big {i}
    i64.sub
    local.set 3
    local.get 0
    struct.get big {i}
    local.get 1
    struct.get big {i}
    i64.lt_u
    i64.extend_i32_u
    local.set 8
    local.get 3
    local.get 2
    i64.sub
    local.set {4 + i}
    local.get 3
    local.get 2
    i64.lt_u
    i64.extend_i32_u
    local.get 8
    i64.or
    local.set 2""")
    high = "\n    local.get 6\n    i64.const 0\n    i64.ne\n    i32.or" if bits == 128 else ""
    out.append(f"""
    local.get 2
    i64.const 0
    i64.ne{high}
    if
      {panic_text(ir.PANIC_OVERFLOW)}
    end
    local.get 4
    local.get 5
    local.get 6
    local.get 7
    struct.new big""")
    return "".join(out)


def _wide_cmp(kind: str, signed: bool) -> str:
    """(a, b) -> i32: a < b, a <= b or a == b, from the low limb up. Local 2: result."""
    start = "1" if kind in ("le", "eq") else "0"
    out = [f"    i32.const {start}\n    local.set 2"]
    for i in range(4):
        lt = "i64.lt_s" if signed and i == 3 else "i64.lt_u"
        if kind == "eq":
            out.append(f"""
    local.get 0
    struct.get big {i}
    local.get 1
    struct.get big {i}
    i64.eq
    local.get 2
    i32.and
    local.set 2""")
        else:
            out.append(f"""
    local.get 0
    struct.get big {i}
    local.get 1
    struct.get big {i}
    {lt}
    local.get 0
    struct.get big {i}
    local.get 1
    struct.get big {i}
    i64.eq
    local.get 2
    i32.and
    i32.or
    local.set 2""")
    out.append("\n    local.get 2")
    return "".join(out)


for _bits in (128, 256):
    _helper(f"big_add{_bits}", ["big", "big"], ["big"], _wide_addsub(True, _bits),
            ("i64",) * 7)
    _helper(f"big_sub{_bits}", ["big", "big"], ["big"], _wide_addsub(False, _bits),
            ("i64",) * 7)
for _kind in ("lt", "le", "eq"):
    _helper(f"big_{_kind}", ["big", "big"], ["i32"], _wide_cmp(_kind, False), ("i32",))
    if _kind != "eq":
        _helper(f"big_{_kind}_s", ["big", "big"], ["i32"], _wide_cmp(_kind, True), ("i32",))


_FNV = """
    i32.const -2128831035
    local.set 1
    block
      loop
        local.get 2
        local.get 0
        array.len
        i32.ge_u
        br_if 1
        local.get 1
        local.get 0
        local.get 2
        array.get_u bytes
        i32.xor
        i32.const 16777619
        i32.mul
        local.set 1
        local.get 2
        i32.const 1
        i32.add
        local.set 2
        br 0
      end
    end
    local.get 1"""
_helper("fnv1a", ["bytes"], ["i32"], _FNV, ("i32", "i32"))


# --- per-type helpers ---------------------------------------------------------------------
def typed_helper(cg: Emitter, kind: str, t: Ty, extra: ir.StateVar | None) -> TypedHelper:
    cur = W.ref_null(cg.cursor_t)
    vt = cg.vt(t) if extra is None else b""
    if kind == "enc":
        return [cur, vt], [], lambda n: encoder(cg, t, n)
    if kind == "dec":
        return [cur], [vt], lambda n: decoder(cg, t, n)
    if kind == "zero":
        return [], [vt], lambda n: zero_value(cg, t, n)
    if kind == "eq":
        return [vt, vt], [W.I32], lambda n: equality(cg, t, n)
    if kind.startswith("map_") or kind == "key_hash":
        return map_helper(cg, kind, t)
    if kind == "decode_all":  # (bytes) -> value; the whole input must be consumed
        text = f"""local.get 0
            call $r_new
            local.tee 1
            call {cg.codec('dec', t)}
            local.get 1
            struct.get cursor 1
            local.get 0
            array.len
            i32.ne
            if
              {panic_text(ir.PANIC_ENCODING)}
            end"""
        return [W.ref_null(cg.bytes_t)], [vt], lambda n: fn_from_text(cg, n, text, ("cursor",))
    if kind == "decode_at":  # (bytes, offset) -> (value, offset after it)
        text = f"""local.get 0
            call $r_new
            local.tee 2
            local.get 1
            struct.set cursor 1
            local.get 2
            call {cg.codec('dec', t)}
            local.get 2
            struct.get cursor 1"""
        return ([W.ref_null(cg.bytes_t), W.I32], [vt, W.I32],
                lambda n: fn_from_text(cg, n, text, ("cursor",)))
    if kind in ("get", "set", "push", "pop", "len"):
        return list_helper(cg, kind, t)
    if kind in ("load", "load_raw", "store"):
        assert extra is not None
        return storage_helper(cg, kind, t, extra)
    raise AssertionError(kind)


# --- wide bitwise and, or, xor: limb by limb (values are held sign-extended to 256 bits,
# so the result is the right one for every width and signedness) ----------------------------
for _op in ("and", "or", "xor"):
    _helper(f"big_{_op}", ["big", "big"], ["big"], "".join(f"""
    local.get 0
    struct.get big {i}
    local.get 1
    struct.get big {i}
    i64.{_op}""" for i in range(4)) + "\n    struct.new big")
