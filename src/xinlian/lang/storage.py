"""Generated accessors for state variables: key = u32 slot + encoded map keys; values in
the canonical encoding."""

from __future__ import annotations

from xinlian.lang import ir
from xinlian.lang import wasm as W
from xinlian.lang.asm import assemble
from xinlian.lang.emitter import Emitter, Env, FnBuilder, TypedHelper, new_fn
from xinlian.lang.types import (
    MapTy,
    Ty,
)


def storage_helper(cg: Emitter, kind: str, t: Ty, st: ir.StateVar) -> TypedHelper:
    """`load`: (keys...) -> value; `load_raw`: (keys...) -> the value's encoding (that of
    the zero value if absent); `store`: (keys..., value). Key = u32 slot + keys."""

    key_types: list[Ty] = []
    vty: Ty = st.ty
    while isinstance(vty, MapTy):
        key_types.append(vty.key)
        vty = vty.value
    params = [cg.vt(k) for k in key_types]
    if kind == "store":
        params.append(cg.vt(vty))

    def gen(n: int) -> FnBuilder:
        f = new_fn(n)
        w = f.local(W.ref_null(cg.cursor_t), "w")
        klen = f.local(W.I32, "klen")
        vlen = f.local(W.I32, "vlen")
        c = f.code

        def a(text: str) -> None:
            assemble(c, text, Env(cg))

        a(f"call $w_new\nlocal.tee {w}\ni64.const {st.slot}\ni32.const 4\ncall $w_int")
        for i, k in enumerate(key_types):
            a(f"local.get {w}\nlocal.get {i}\ncall {cg.codec('enc', k)}")
        a(f"local.get {w}\ncall $w_finish\ni32.const 0\ncall $mem_write\nlocal.set {klen}")
        if kind == "load_raw":
            a(f"""i32.const 0
                  local.get {klen}
                  call @storage_read
                  local.tee {vlen}
                  i32.const 0
                  i32.lt_s
                  if ref_bytes
                    call $w_new
                    local.tee {w}
                    call {cg.codec('zero', vty)}
                    call {cg.codec('enc', vty)}
                    local.get {w}
                    call $w_finish
                  else
                    local.get {vlen}
                    call $host_bytes
                  end""")
        elif kind == "load":
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
                  end""", Env(cg, VT=cg.vt(vty)))
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
    results = {"load": [cg.vt(vty)], "load_raw": [W.ref_null(cg.bytes_t)], "store": []}
    return params, results[kind], gen
