"""Generated per-type value code: canonical encoders and decoders (the encoding is
described in `wasm_helpers`), zero values and structural equality."""

from __future__ import annotations

from xinlian.lang import ir
from xinlian.lang import wasm as W
from xinlian.lang.arith import equal
from xinlian.lang.asm import assemble
from xinlian.lang.emitter import Emitter, Env, FnBuilder, new_fn, panic_text
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


def int_width(t: IntTy) -> int:
    return t.bits // 8


def encoder(cg: Emitter, t: Ty, n: int) -> FnBuilder:
    f = new_fn(n)
    c = f.code

    def a(text: str) -> None:
        assemble(c, text, Env(cg))

    if isinstance(t, IntTy) and not t.big:
        a(f"local.get 0\nlocal.get 1\ni32.const {int_width(t)}\ncall $w_int")
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


def decoder(cg: Emitter, t: Ty, n: int) -> FnBuilder:
    f = new_fn(n)
    c = f.code

    def a(text: str) -> None:
        assemble(c, text, Env(cg))

    if isinstance(t, IntTy) and not t.big:
        w = int_width(t)
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
                {panic_text(ir.PANIC_ENCODING)}
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
                {panic_text(ir.PANIC_ENCODING)}
              end
              local.get 1
              if RT
                local.get 0
                call {cg.codec('dec', t.inner)}
                struct.new {ot}
              else
                ref.null {ot}
              end"""
        assemble(c, a_text, Env(cg, RT=W.ref_null(ot)))
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
                    {panic_text(ir.PANIC_ENCODING)}
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


def equality(cg: Emitter, t: Ty, n: int) -> FnBuilder:
    """Structural equality of two structs, lists, arrays or optionals."""
    f = new_fn(n)
    cg.cur = f

    def a(text: str) -> None:
        assemble(f.code, text, Env(cg))

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


def zero_value(cg: Emitter, t: Ty, n: int) -> FnBuilder:
    """The value a missing storage entry reads as."""
    f = new_fn(n)
    c = f.code

    def a(text: str) -> None:
        assemble(c, text, Env(cg))

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
