"""Generated accessors for state variables: key = u32 slot + encoded map keys; values in
the canonical encoding."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from xinlian.lang import ir
from xinlian.lang import wasm as W
from xinlian.lang.asm import assemble
from xinlian.lang.runtime import Env
from xinlian.lang.types import (
    MapTy,
    Ty,
)

if TYPE_CHECKING:
    from xinlian.lang.codegen import CodeGen, FnBuilder


def storage_helper(cg: CodeGen, kind: str, t: Ty, st: ir.StateVar
                    ) -> tuple[list[bytes], list[bytes], Callable[[int], FnBuilder]]:
    """`load`: (keys...) -> value; `store`: (keys..., value). Key = u32 slot + keys."""

    key_types: list[Ty] = []
    vty: Ty = st.ty
    while isinstance(vty, MapTy):
        key_types.append(vty.key)
        vty = vty.value
    params = [cg.vt(k) for k in key_types]
    if kind == "store":
        params.append(cg.vt(vty))

    def gen(n: int) -> FnBuilder:
        from xinlian.lang.codegen import FnBuilder

        f = FnBuilder(W.Function(0, ""), n)
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
    return params, ([cg.vt(vty)] if kind == "load" else []), gen
