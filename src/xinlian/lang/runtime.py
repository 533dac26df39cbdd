"""The generated runtime: memory I/O, byte buffers, codecs, list and storage helpers.

Helpers are emitted into a module only when code uses them. Fixed helpers are written in
WAT mnemonics through `asm`; per-type helpers (codec, list access, storage) are generated
from the type's structure. The value encoding (the Qi ABI, also used for storage) is:

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
from typing import TYPE_CHECKING

from xinlian.lang import ir
from xinlian.lang import wasm as W
from xinlian.lang.asm import assemble
from xinlian.lang.types import (
    ADDRESS,
    ADDRESS_LEN,
    BOOL,
    BYTES,
    STRING,
    ArrayTy,
    EnumTy,
    IntTy,
    ListTy,
    MapTy,
    OptionalTy,
    StructTy,
    Ty,
)

if TYPE_CHECKING:
    from xinlian.lang.codegen import CodeGen, _Fn

PANIC_MEMORY = 8
PANIC_DIVZERO = 9


class _Env(dict[str, object]):
    """Resolves `$helper`, `@import` and `%panic` names on first use."""

    def __init__(self, cg: CodeGen, **kw: object) -> None:
        super().__init__(bytes=cg.bytes_t, big=cg.big_t, cursor=cg.cursor_t,
                         ref_bytes=W.ref_null(cg.bytes_t), **kw)
        self.cg = cg

    def __missing__(self, key: str) -> object:
        if key.startswith("$"):
            return self.cg.helper(key[1:])
        if key.startswith("@"):
            return self.cg.imports[key[1:]]
        if key == "%panic":
            return self.cg.panic_g
        raise KeyError(key)


def _fn(cg: CodeGen, nparams: int, text: str, locals_: tuple[str, ...] = (),
        **env: object) -> _Fn:
    from xinlian.lang.codegen import _Fn

    f = _Fn(W.Function(0, ""), nparams)
    for lt in locals_:
        f.local(cg.resolve_vt(lt), lt)
    assemble(f.code, text, _Env(cg, **env))
    return f


def _panic(code: int) -> str:
    return f"i32.const {code}\nglobal.set %panic\nunreachable"


# --- fixed helpers: name -> (params, results, generator) ------------------------------------
HelperGen = Callable[["CodeGen", int], "_Fn"]
HELPERS: dict[str, tuple[list[str], list[str], HelperGen]] = {}


def _helper(name: str, params: list[str], results: list[str], text: str,
            locals_: tuple[str, ...] = ()) -> None:
    HELPERS[name] = (params, results, lambda cg, n: _fn(cg, n, text, locals_))


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
        {_panic(PANIC_MEMORY)}
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
      {_panic(ir.PANIC_ENCODING)}
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

_helper("byte_at", ["bytes", "i32"], ["i32"], f"""
    local.get 1
    local.get 0
    array.len
    i32.ge_u
    if
      {_panic(ir.PANIC_BOUNDS)}
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
    overflow=_panic(ir.PANIC_OVERFLOW), divzero=_panic(PANIC_DIVZERO),
    cast=_panic(ir.PANIC_CAST)) + "\n    struct.new big", ("i32",))
_helper("big_low", ["i32", "big", "big"], ["i64"], _BIG_CALL.format(
    overflow=_panic(ir.PANIC_OVERFLOW), divzero=_panic(PANIC_DIVZERO),
    cast=_panic(ir.PANIC_CAST)) + "\n    drop\n    drop\n    drop", ("i32",))


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
      {_panic(ir.PANIC_OVERFLOW)}
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


# --- per-type helpers ---------------------------------------------------------------------
def typed_helper(cg: CodeGen, kind: str, t: Ty, extra: object
                 ) -> tuple[list[bytes], list[bytes], Callable[[int], _Fn]]:
    cur = W.ref_null(cg.cursor_t)
    vt = cg.vt(t) if not isinstance(extra, ir.StateVar) else b""
    if kind == "enc":
        return [cur, vt], [], lambda n: _enc(cg, t, n)
    if kind == "dec":
        return [cur], [vt], lambda n: _dec(cg, t, n)
    if kind == "zero":
        return [], [vt], lambda n: _zero(cg, t, n)
    if kind == "eq":
        return [vt, vt], [W.I32], lambda n: _eq(cg, t, n)
    if kind.startswith("map_") or kind == "key_hash":
        return _map_helper(cg, kind, t)
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
              {_panic(ir.PANIC_ENCODING)}
            end"""
        return [W.ref_null(cg.bytes_t)], [vt], lambda n: _fn(cg, n, text, ("cursor",))
    if kind in ("get", "set", "push", "pop", "len"):
        return _list_helper(cg, kind, t)
    if kind in ("load", "store"):
        assert isinstance(extra, ir.StateVar)
        return _storage_helper(cg, kind, t, extra)
    raise AssertionError(kind)


def _new(cg: CodeGen, nparams: int) -> _Fn:
    from xinlian.lang.codegen import _Fn

    return _Fn(W.Function(0, ""), nparams)


def _int_width(t: IntTy) -> int:
    return t.bits // 8


def _enc(cg: CodeGen, t: Ty, n: int) -> _Fn:
    f = _new(cg, n)
    c = f.code
    env = _Env(cg)
    cg.cur = f

    def a(text: str, **kw: object) -> None:
        assemble(c, text, _Env(cg, **kw) if kw else env)

    if isinstance(t, IntTy) and not t.big:
        a(f"local.get 0\nlocal.get 1\ni32.const {_int_width(t)}\ncall $w_int")
    elif isinstance(t, IntTy):
        for limb in range(t.bits // 64):
            a(f"local.get 0\nlocal.get 1\nstruct.get big {limb}\ni32.const 8\ncall $w_int")
    elif t == BOOL or isinstance(t, EnumTy):
        a("local.get 0\nlocal.get 1\ncall $w_byte")
    elif t == ADDRESS:
        a("local.get 0\nlocal.get 1\ncall $w_raw")
    elif t in (BYTES, STRING):
        a("local.get 0\nlocal.get 1\narray.len\ni64.extend_i32_u\ni32.const 4\ncall $w_int\n"
          "local.get 0\nlocal.get 1\ncall $w_raw")
    elif isinstance(t, StructTy):
        st = cg.gc_type(t)
        for i, (_, ft) in enumerate(t.fields):
            a(f"local.get 0\nlocal.get 1\nstruct.get {st} {i}\ncall {cg.codec('enc', ft)}")
    elif isinstance(t, OptionalTy):
        ot = cg.gc_type(t)
        a(f"""local.get 1
              ref.is_null
              if
                local.get 0
                i32.const 0
                call $w_byte
              else
                local.get 0
                i32.const 1
                call $w_byte
                local.get 0
                local.get 1
                struct.get {ot} 0
                call {cg.codec('enc', t.inner)}
              end""")
    elif isinstance(t, ListTy | ArrayTy):
        arr = cg.gc_type(ArrayTy(t.elem, 0))
        if isinstance(t, ListTy):
            lt = cg.gc_type(t)
            a(f"local.get 1\nstruct.get {lt} 0\nlocal.set 2\nlocal.get 1\nstruct.get {lt} 1\n"
              f"local.set 3")
        else:
            a("local.get 1\narray.len\nlocal.set 2\nlocal.get 1\nlocal.set 3")
        f.local(W.I32, "n")
        f.local(W.ref_null(arr), "data")
        f.local(W.I32, "i")
        if isinstance(t, ListTy):
            a("local.get 0\nlocal.get 2\ni64.extend_i32_u\ni32.const 4\ncall $w_int")
        a(f"""block
                loop
                  local.get 4
                  local.get 2
                  i32.ge_u
                  br_if 1
                  local.get 0
                  local.get 3
                  local.get 4
                  array.get {arr}
                  call {cg.codec('enc', t.elem)}
                  local.get 4
                  i32.const 1
                  i32.add
                  local.set 4
                  br 0
                end
              end""")
    else:
        raise AssertionError(f"cannot encode {t}")
    return f


def _dec(cg: CodeGen, t: Ty, n: int) -> _Fn:
    f = _new(cg, n)
    c = f.code

    def a(text: str) -> None:
        assemble(c, text, _Env(cg))

    if isinstance(t, IntTy) and not t.big:
        w = _int_width(t)
        a(f"local.get 0\ni32.const {w}\ncall $r_int")
        if t.signed and w < 8:
            sh = 64 - 8 * w
            a(f"i64.const {sh}\ni64.shl\ni64.const {sh}\ni64.shr_s")
    elif isinstance(t, IntTy):
        limbs = t.bits // 64
        for _ in range(limbs):
            a("local.get 0\ni32.const 8\ncall $r_int")
        if limbs == 2 and t.signed:  # sign-extend 128-bit values to 256
            f.local(W.I64, "hi")
            a("local.tee 1\nlocal.get 1\ni64.const 63\ni64.shr_s\nlocal.tee 1\nlocal.get 1")
        elif limbs == 2:
            a("i64.const 0\ni64.const 0")
        a("struct.new big")
    elif t == BOOL or isinstance(t, EnumTy):
        limit = 2 if t == BOOL else len(t.variants)  # type: ignore[union-attr]
        f.local(W.I32, "v")
        a(f"""local.get 0
              i32.const 1
              call $r_int
              i32.wrap_i64
              local.tee 1
              i32.const {limit}
              i32.ge_u
              if
                {_panic(ir.PANIC_ENCODING)}
              end
              local.get 1""")
    elif t == ADDRESS:
        a(f"local.get 0\ni32.const {ADDRESS_LEN}\ncall $r_take")
    elif t in (BYTES, STRING):
        a("local.get 0\nlocal.get 0\ni32.const 4\ncall $r_int\ni32.wrap_i64\ncall $r_take")
    elif isinstance(t, StructTy):
        for _, ft in t.fields:
            a(f"local.get 0\ncall {cg.codec('dec', ft)}")
        a(f"struct.new {cg.gc_type(t)}")
    elif isinstance(t, OptionalTy):
        ot = cg.gc_type(t)
        f.local(W.I32, "tag")
        a_text = f"""local.get 0
              i32.const 1
              call $r_int
              i32.wrap_i64
              local.tee 1
              i32.const 1
              i32.gt_u
              if
                {_panic(ir.PANIC_ENCODING)}
              end
              local.get 1
              if RT
                local.get 0
                call {cg.codec('dec', t.inner)}
                struct.new {ot}
              else
                ref.null {ot}
              end"""
        assemble(c, a_text, _Env(cg, RT=W.ref_null(ot)))
    elif isinstance(t, ListTy | ArrayTy):
        arr = cg.gc_type(ArrayTy(t.elem, 0))
        f.local(W.I32, "n")
        f.local(W.ref_null(arr), "data")
        f.local(W.I32, "i")
        if isinstance(t, ListTy):
            # each element takes at least one byte: a count larger than the input is bad
            a(f"""local.get 0
                  i32.const 4
                  call $r_int
                  i32.wrap_i64
                  local.tee 1
                  local.get 0
                  struct.get cursor 2
                  i32.gt_u
                  if
                    {_panic(ir.PANIC_ENCODING)}
                  end""")
        else:
            a(f"i32.const {t.size}\nlocal.set 1")
        a(f"""local.get 1
              array.new_default {arr}
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
                  call {cg.codec('dec', t.elem)}
                  array.set {arr}
                  local.get 3
                  i32.const 1
                  i32.add
                  local.set 3
                  br 0
                end
              end""")
        if isinstance(t, ListTy):
            a(f"local.get 1\nlocal.get 2\nstruct.new {cg.gc_type(t)}")
        else:
            a("local.get 2")
    else:
        raise AssertionError(f"cannot decode {t}")
    return f


def _eq(cg: CodeGen, t: Ty, n: int) -> _Fn:
    """Structural equality of two structs, lists, arrays or optionals."""
    from xinlian.lang.arith import equal

    f = _new(cg, n)
    cg.cur = f

    def a(text: str) -> None:
        assemble(f.code, text, _Env(cg))

    if isinstance(t, StructTy):
        st = cg.gc_type(t)
        for i, (_, ft) in enumerate(t.fields):
            a(f"local.get 0\nstruct.get {st} {i}\nlocal.get 1\nstruct.get {st} {i}")
            equal(cg, ft)
            a("i32.eqz\nif\ni32.const 0\nreturn\nend")
        a("i32.const 1")
    elif isinstance(t, OptionalTy):
        ot = cg.gc_type(t)
        a(f"""local.get 0
              ref.is_null
              local.get 1
              ref.is_null
              i32.or
              if
                local.get 0
                ref.is_null
                local.get 1
                ref.is_null
                i32.and
                return
              end
              local.get 0
              struct.get {ot} 0
              local.get 1
              struct.get {ot} 0""")
        equal(cg, t.inner)
    else:
        assert isinstance(t, ListTy | ArrayTy)
        n_local = f.local(W.I32, "n")
        i_local = f.local(W.I32, "i")
        a(f"local.get 0\ncall {cg.typed_helper('len', t)}\nlocal.tee {n_local}\n"
          f"local.get 1\ncall {cg.typed_helper('len', t)}\ni32.ne\nif\ni32.const 0\n"
          f"return\nend")
        a(f"""block
                loop
                  local.get {i_local}
                  local.get {n_local}
                  i32.ge_u
                  br_if 1
                  local.get 0
                  local.get {i_local}
                  call {cg.typed_helper('get', t)}
                  local.get 1
                  local.get {i_local}
                  call {cg.typed_helper('get', t)}""")
        equal(cg, t.elem)
        a(f"""            i32.eqz
                  if
                    i32.const 0
                    return
                  end
                  local.get {i_local}
                  i32.const 1
                  i32.add
                  local.set {i_local}
                  br 0
                end
              end
              i32.const 1""")
    return f


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


def _map_helper(cg: CodeGen, kind: str, t: Ty
                ) -> tuple[list[bytes], list[bytes], Callable[[int], _Fn]]:
    """In-memory `map<K, V>`: an open-addressing hash table with linear probing. Slots
    hold a tag (0 = empty, else the key's hash with the low bit set), the key and the
    value; the table doubles when three quarters full. Hashes are FNV-1a over the key's
    canonical encoding, so layout and iteration are deterministic."""
    from xinlian.lang.arith import equal

    assert isinstance(t, MapTy) or kind == "key_hash"
    me = cg.vt(t)
    if kind == "key_hash":  # (key) -> i32, never 0
        text = f"""call $w_new
            local.tee 1
            local.get 0
            call {cg.codec('enc', t)}
            local.get 1
            call $w_finish
            call $fnv1a
            i32.const 1
            i32.or"""
        return [me], [W.I32], lambda n: _fn(cg, n, text, ("cursor",))
    assert isinstance(t, MapTy)
    mt = cg.gc_type(t)
    ka, va = cg.gc_type(ArrayTy(t.key, 0)), cg.gc_type(ArrayTy(t.value, 0))
    kt, vt_ = cg.vt(t.key), cg.vt(t.value)
    tags = cg.tags_t
    h = cg.typed_helper
    if kind == "map_new":
        text = f"""i32.const 0
            i32.const 8
            array.new_default {ka}
            i32.const 8
            array.new_default {va}
            i32.const 8
            array.new_default {tags}
            struct.new {mt}"""
        return [], [me], lambda n: _fn(cg, n, text)
    if kind == "map_find":  # (m, k, tag) -> slot: where k is, or the empty slot for it
        def gen_find(n: int) -> _Fn:
            f = _new(cg, n)
            cg.cur = f
            mask, i, cur, tg = (f.local(W.I32, "mask"), f.local(W.I32, "i"),
                                f.local(W.I32, "t"), f.local(W.ref_null(tags), "tags"))
            a = lambda text: assemble(f.code, text, _Env(cg))  # noqa: E731
            a(f"""local.get 0
                  struct.get {mt} 3
                  local.tee {tg}
                  array.len
                  i32.const 1
                  i32.sub
                  local.tee {mask}
                  local.get 2
                  i32.and
                  local.set {i}
                  loop
                    local.get {tg}
                    local.get {i}
                    array.get {tags}
                    local.tee {cur}
                    i32.eqz
                    if
                      local.get {i}
                      return
                    end
                    local.get {cur}
                    local.get 2
                    i32.eq
                    if
                      local.get 0
                      struct.get {mt} 1
                      local.get {i}
                      array.get {ka}
                      local.get 1""")
            equal(cg, t.key)
            a(f"""        if
                        local.get {i}
                        return
                      end
                    end
                    local.get {i}
                    i32.const 1
                    i32.add
                    local.get {mask}
                    i32.and
                    local.set {i}
                    br 0
                  end
                  unreachable""")
            return f
        return [me, kt, W.I32], [W.I32], gen_find
    if kind == "map_grow":  # (m): double the table and re-insert every entry
        text = f"""local.get 0
            struct.get {mt} 3
            local.set 1
            local.get 0
            struct.get {mt} 1
            local.set 2
            local.get 0
            struct.get {mt} 2
            local.set 3
            local.get 0
            local.get 1
            array.len
            i32.const 1
            i32.shl
            local.tee 4
            array.new_default {ka}
            struct.set {mt} 1
            local.get 0
            local.get 4
            array.new_default {va}
            struct.set {mt} 2
            local.get 0
            local.get 4
            array.new_default {tags}
            struct.set {mt} 3
            i32.const 0
            local.set 4
            block
              loop
                local.get 4
                local.get 1
                array.len
                i32.ge_u
                br_if 1
                local.get 1
                local.get 4
                array.get {tags}
                local.tee 5
                if
                  local.get 0
                  local.get 2
                  local.get 4
                  array.get {ka}
                  local.get 5
                  call {h('map_find', t)}
                  local.set 6
                  local.get 0
                  struct.get {mt} 3
                  local.get 6
                  local.get 5
                  array.set {tags}
                  local.get 0
                  struct.get {mt} 1
                  local.get 6
                  local.get 2
                  local.get 4
                  array.get {ka}
                  array.set {ka}
                  local.get 0
                  struct.get {mt} 2
                  local.get 6
                  local.get 3
                  local.get 4
                  array.get {va}
                  array.set {va}
                end
                local.get 4
                i32.const 1
                i32.add
                local.set 4
                br 0
              end
            end"""

        def gen_grow(n: int) -> _Fn:
            f = _new(cg, n)
            for lt in (W.ref_null(tags), W.ref_null(ka), W.ref_null(va), W.I32, W.I32,
                       W.I32):
                f.local(lt, "x")
            assemble(f.code, text, _Env(cg))
            return f
        return [me], [], gen_grow
    slot = f"""local.get 0
            local.get 1
            local.get 1
            call {h('key_hash', t.key)}
            call {h('map_find', t)}"""
    if kind == "map_has":
        text = f"local.get 0\nstruct.get {mt} 3\n{slot}\narray.get {tags}\ni32.const 0\ni32.ne"
        return [me, kt], [W.I32], lambda n: _fn(cg, n, text)
    if kind == "map_get":
        text = f"""{slot}
            local.set 2
            local.get 0
            struct.get {mt} 3
            local.get 2
            array.get {tags}
            if RT
              local.get 0
              struct.get {mt} 2
              local.get 2
              array.get {va}
            else
              call {cg.codec('zero', t.value)}
            end"""
        return [me, kt], [vt_], lambda n: _fn(cg, n, text, ("i32",), RT=vt_)
    if kind == "map_set":  # (m, k, v)
        text = f"""local.get 0
            struct.get {mt} 0
            i32.const 1
            i32.add
            i32.const 2
            i32.shl
            local.get 0
            struct.get {mt} 3
            array.len
            i32.const 3
            i32.mul
            i32.gt_u
            if
              local.get 0
              call {h('map_grow', t)}
            end
            local.get 1
            call {h('key_hash', t.key)}
            local.set 3
            local.get 0
            local.get 1
            local.get 3
            call {h('map_find', t)}
            local.set 4
            local.get 0
            struct.get {mt} 3
            local.get 4
            array.get {tags}
            i32.eqz
            if
              local.get 0
              struct.get {mt} 3
              local.get 4
              local.get 3
              array.set {tags}
              local.get 0
              struct.get {mt} 1
              local.get 4
              local.get 1
              array.set {ka}
              local.get 0
              local.get 0
              struct.get {mt} 0
              i32.const 1
              i32.add
              struct.set {mt} 0
            end
            local.get 0
            struct.get {mt} 2
            local.get 4
            local.get 2
            array.set {va}"""
        return [me, kt, vt_], [], lambda n: _fn(cg, n, text, ("i32", "i32"))
    assert kind == "map_entry"  # (m, k) -> v, inserting the zero value if absent
    text = f"""local.get 0
        local.get 1
        call {h('map_has', t)}
        i32.eqz
        if
          local.get 0
          local.get 1
          call {cg.codec('zero', t.value)}
          call {h('map_set', t)}
        end
        local.get 0
        local.get 1
        call {h('map_get', t)}"""
    return [me, kt], [vt_], lambda n: _fn(cg, n, text)


def _zero(cg: CodeGen, t: Ty, n: int) -> _Fn:
    """The value a missing storage entry reads as."""
    f = _new(cg, n)
    c = f.code

    def a(text: str) -> None:
        assemble(c, text, _Env(cg))

    if isinstance(t, IntTy) and not t.big:
        a("i64.const 0")
    elif isinstance(t, IntTy):
        a("i64.const 0\ni64.const 0\ni64.const 0\ni64.const 0\nstruct.new big")
    elif t == BOOL or isinstance(t, EnumTy):
        a("i32.const 0")
    elif t == ADDRESS:
        a(f"i32.const {ADDRESS_LEN}\narray.new_default bytes")
    elif t in (BYTES, STRING):
        a("i32.const 0\narray.new_default bytes")
    elif isinstance(t, StructTy):
        for _, ft in t.fields:
            a(f"call {cg.codec('zero', ft)}")
        a(f"struct.new {cg.gc_type(t)}")
    elif isinstance(t, OptionalTy):
        a(f"ref.null {cg.gc_type(t)}")
    elif isinstance(t, MapTy):
        a(f"call {cg.typed_helper('map_new', t)}")
    elif isinstance(t, ListTy):
        a(f"i32.const 0\ni32.const 0\narray.new_default {cg.gc_type(ArrayTy(t.elem, 0))}\n"
          f"struct.new {cg.gc_type(t)}")
    elif isinstance(t, ArrayTy):
        arr = cg.gc_type(ArrayTy(t.elem, 0))
        f.local(W.ref_null(arr), "data")
        f.local(W.I32, "i")
        a(f"""i32.const {t.size}
              array.new_default {arr}
              local.set 0
              block
                loop
                  local.get 1
                  i32.const {t.size}
                  i32.ge_u
                  br_if 1
                  local.get 0
                  local.get 1
                  call {cg.codec('zero', t.elem)}
                  array.set {arr}
                  local.get 1
                  i32.const 1
                  i32.add
                  local.set 1
                  br 0
                end
              end
              local.get 0""")
    else:
        raise AssertionError(f"no zero value for {t}")
    return f


def _list_helper(cg: CodeGen, kind: str, t: Ty
                 ) -> tuple[list[bytes], list[bytes], Callable[[int], _Fn]]:
    assert isinstance(t, ListTy | ArrayTy)
    arr = cg.gc_type(ArrayTy(t.elem, 0))
    et = cg.vt(t.elem)
    me = cg.vt(t)
    is_list = isinstance(t, ListTy)
    lt = cg.gc_type(t) if is_list else arr
    length = f"local.get 0\nstruct.get {lt} 0" if is_list else "local.get 0\narray.len"
    data = f"local.get 0\nstruct.get {lt} 1" if is_list else "local.get 0"
    bounds = f"""local.get 1
                 {length}
                 i32.ge_u
                 if
                   {_panic(ir.PANIC_BOUNDS)}
                 end"""
    if kind == "len":
        return [me], [W.I32], lambda n: _fn(cg, n, length)
    if kind == "get":
        text = f"{bounds}\n{data}\nlocal.get 1\narray.get {arr}"
        return [me, W.I32], [et], lambda n: _fn(cg, n, text)
    if kind == "set":
        text = f"{bounds}\n{data}\nlocal.get 1\nlocal.get 2\narray.set {arr}"
        return [me, W.I32, et], [], lambda n: _fn(cg, n, text)
    if kind == "push":
        text = f"""local.get 0
            struct.get {lt} 0
            local.tee 2
            local.get 0
            struct.get {lt} 1
            local.tee 3
            array.len
            i32.ge_u
            if
              local.get 2
              i32.const 1
              i32.shl
              i32.const 4
              i32.add
              array.new_default {arr}
              local.tee 4
              i32.const 0
              local.get 3
              i32.const 0
              local.get 2
              array.copy {arr} {arr}
              local.get 0
              local.get 4
              struct.set {lt} 1
              local.get 4
              local.set 3
            end
            local.get 3
            local.get 2
            local.get 1
            array.set {arr}
            local.get 0
            local.get 2
            i32.const 1
            i32.add
            struct.set {lt} 0"""

        def gen_push(n: int) -> _Fn:
            from xinlian.lang.codegen import _Fn

            f = _Fn(W.Function(0, ""), n)
            f.local(W.I32, "len")
            f.local(W.ref_null(arr), "data")
            f.local(W.ref_null(arr), "grown")
            assemble(f.code, text, _Env(cg))
            return f
        return [me, et], [], gen_push
    text = f"""local.get 0
        struct.get {lt} 0
        i32.eqz
        if
          {_panic(ir.PANIC_EMPTY)}
        end
        local.get 0
        local.get 0
        struct.get {lt} 0
        i32.const 1
        i32.sub
        local.tee 1
        struct.set {lt} 0
        local.get 0
        struct.get {lt} 1
        local.get 1
        array.get {arr}"""

    def gen_pop(n: int) -> _Fn:
        from xinlian.lang.codegen import _Fn

        f = _Fn(W.Function(0, ""), n)
        f.local(W.I32, "len")
        assemble(f.code, text, _Env(cg))
        return f
    return [me], [et], gen_pop


def _storage_helper(cg: CodeGen, kind: str, t: Ty, st: ir.StateVar
                    ) -> tuple[list[bytes], list[bytes], Callable[[int], _Fn]]:
    """`load`: (keys...) -> value; `store`: (keys..., value). Key = u32 slot + keys."""

    key_types: list[Ty] = []
    vty: Ty = st.ty
    while isinstance(vty, MapTy):
        key_types.append(vty.key)
        vty = vty.value
    params = [cg.vt(k) for k in key_types]
    if kind == "store":
        params.append(cg.vt(vty))

    def gen(n: int) -> _Fn:
        from xinlian.lang.codegen import _Fn

        f = _Fn(W.Function(0, ""), n)
        w = f.local(W.ref_null(cg.cursor_t), "w")
        klen = f.local(W.I32, "klen")
        vlen = f.local(W.I32, "vlen")
        c = f.code

        def a(text: str) -> None:
            assemble(c, text, _Env(cg))

        a(f"call $w_new\nlocal.tee {w}\ni64.const {st.slot}\ni32.const 4\ncall $w_int")
        for i, k in enumerate(key_types):
            a(f"local.get {w}\nlocal.get {i}\ncall {cg.codec('enc', k)}")
        a(f"local.get {w}\ncall $w_finish\ni32.const 0\ncall $mem_write\nlocal.set {klen}")
        if kind == "load":
            assemble(c, f"""i32.const 0
                  local.get {klen}
                  call @storage_read
                  local.tee {vlen}
                  i32.const 0
                  i32.lt_s
                  if VT
                    call {cg.codec('zero', vty)}
                  else
                    local.get {vlen}
                    call $host_reader
                    call {cg.codec('dec', vty)}
                  end""", _Env(cg, VT=cg.vt(vty)))
        else:
            a(f"""call $w_new
                  local.tee {w}
                  local.get {len(key_types)}
                  call {cg.codec('enc', vty)}
                  local.get {w}
                  call $w_finish
                  local.get {klen}
                  call $mem_write
                  local.set {vlen}
                  i32.const 0
                  local.get {klen}
                  local.get {klen}
                  local.get {vlen}
                  call @storage_write""")
        return f
    return params, ([cg.vt(vty)] if kind == "load" else []), gen
