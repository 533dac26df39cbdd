"""Generated per-type list and array access and in-memory hash maps."""

from __future__ import annotations

from xinlian.lang import ir
from xinlian.lang import wasm as W
from xinlian.lang.arith import equal
from xinlian.lang.asm import assemble
from xinlian.lang.emitter import (
    Emitter,
    Env,
    FnBuilder,
    TypedHelper,
    fn_from_text,
    new_fn,
    panic_text,
)
from xinlian.lang.types import (
    ArrayTy,
    ListTy,
    MapTy,
    Ty,
)


def list_helper(cg: Emitter, kind: str, t: Ty) -> TypedHelper:
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
                   {panic_text(ir.PANIC_BOUNDS)}
                 end"""
    if kind == "len":
        return [me], [W.I32], lambda n: fn_from_text(cg, n, length)
    if kind == "get":
        text = f"{bounds}\n{data}\nlocal.get 1\narray.get {arr}"
        return [me, W.I32], [et], lambda n: fn_from_text(cg, n, text)
    if kind == "set":
        text = f"{bounds}\n{data}\nlocal.get 1\nlocal.get 2\narray.set {arr}"
        return [me, W.I32, et], [], lambda n: fn_from_text(cg, n, text)
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

        def gen_push(n: int) -> FnBuilder:
            f = new_fn(n)
            f.local(W.I32, "len")
            f.local(W.ref_null(arr), "data")
            f.local(W.ref_null(arr), "grown")
            assemble(f.code, text, Env(cg))
            return f
        return [me, et], [], gen_push
    text = f"""local.get 0
        struct.get {lt} 0
        i32.eqz
        if
          {panic_text(ir.PANIC_EMPTY)}
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

    def gen_pop(n: int) -> FnBuilder:
        f = new_fn(n)
        f.local(W.I32, "len")
        assemble(f.code, text, Env(cg))
        return f
    return [me], [et], gen_pop


def map_helper(cg: Emitter, kind: str, t: Ty) -> TypedHelper:
    """In-memory `map<K, V>`: an open-addressing hash table with linear probing. Slots
    hold a tag (0 = empty, else the key's hash with the low bit set), the key and the
    value; the table doubles when three quarters full. Hashes are FNV-1a over the key's
    canonical encoding, so layout and iteration are deterministic."""
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
        return [me], [W.I32], lambda n: fn_from_text(cg, n, text, ("cursor",))
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
        return [], [me], lambda n: fn_from_text(cg, n, text)
    if kind == "map_find":  # (m, k, tag) -> slot: where k is, or the empty slot for it
        def gen_find(n: int) -> FnBuilder:
            f = new_fn(n)
            cg.cur = f
            mask, i, cur, tg = (f.local(W.I32, "mask"), f.local(W.I32, "i"),
                                f.local(W.I32, "t"), f.local(W.ref_null(tags), "tags"))
            def a(text: str) -> None:
                assemble(f.code, text, Env(cg))
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

        def gen_grow(n: int) -> FnBuilder:
            f = new_fn(n)
            for lt in (W.ref_null(tags), W.ref_null(ka), W.ref_null(va), W.I32, W.I32,
                       W.I32):
                f.local(lt, "x")
            assemble(f.code, text, Env(cg))
            return f
        return [me], [], gen_grow
    slot = f"""local.get 0
            local.get 1
            local.get 1
            call {h('key_hash', t.key)}
            call {h('map_find', t)}"""
    if kind == "map_has":
        text = f"local.get 0\nstruct.get {mt} 3\n{slot}\narray.get {tags}\ni32.const 0\ni32.ne"
        return [me, kt], [W.I32], lambda n: fn_from_text(cg, n, text)
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
        return [me, kt], [vt_], lambda n: fn_from_text(cg, n, text, ("i32",), RT=vt_)
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
        return [me, kt, vt_], [], lambda n: fn_from_text(cg, n, text, ("i32", "i32"))
    if kind in ("map_keys", "map_values"):  # (m) -> list, in table order (deterministic)
        field_idx, arr, elem = (1, ka, t.key) if kind == "map_keys" else (2, va, t.value)
        lt = cg.gc_type(ListTy(elem))
        text = f"""local.get 0
            struct.get {mt} 0
            array.new_default {arr}
            local.set 1
            block
              loop
                local.get 2
                local.get 0
                struct.get {mt} 3
                array.len
                i32.ge_u
                br_if 1
                local.get 0
                struct.get {mt} 3
                local.get 2
                array.get {tags}
                if
                  local.get 1
                  local.get 3
                  local.get 0
                  struct.get {mt} {field_idx}
                  local.get 2
                  array.get {arr}
                  array.set {arr}
                  local.get 3
                  i32.const 1
                  i32.add
                  local.set 3
                end
                local.get 2
                i32.const 1
                i32.add
                local.set 2
                br 0
              end
            end
            local.get 3
            local.get 1
            struct.new {lt}"""

        def gen_items(n: int) -> FnBuilder:
            f = new_fn(n)
            f.local(W.ref_null(arr), "out")
            f.local(W.I32, "i")
            f.local(W.I32, "n")
            assemble(f.code, text, Env(cg))
            return f
        return [me], [cg.vt(ListTy(elem))], gen_items
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
    return [me, kt], [vt_], lambda n: fn_from_text(cg, n, text)
