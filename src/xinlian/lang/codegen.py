"""IR to WebAssembly (core + GC proposal).

Value representation: integers up to 64 bits are `i64` (signed types sign-extended, results
checked against the type's range after every operation); wider integers are immutable
`$big` structs of four 64-bit limbs whose arithmetic is a host call; bool and enums are
`i32`; bytes, string and address are `(array (mut i8))`; lists are a struct of length and
backing array; structs and optionals are GC structs. All data lives on the engine's
garbage-collected heap, so programs never free memory. Linear memory is only an I/O window
for host calls (offset 0 upward, reused by every call).

Runtime faults set the `$panic` global to a code from `ir.PANIC_*` and execute
`unreachable`; the engine reads the global to name the fault.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from xinlian.lang import ir
from xinlian.lang import wasm as W
from xinlian.lang.errors import Span
from xinlian.lang.types import (
    ADDRESS,
    BOOL,
    BYTES,
    STRING,
    UNIT,
    ArrayTy,
    EnumTy,
    IntTy,
    ListTy,
    MapTy,
    OptionalTy,
    StructTy,
    Ty,
)

BLOCK_VOID = 0x40
# host imports: name -> (params, results)
I32, I64 = W.I32, W.I64
HOST_IMPORTS: dict[str, tuple[list[bytes], list[bytes]]] = {
    "storage_read": ([I32, I32], [I32]),
    "storage_write": ([I32, I32, I32, I32], []),
    "emit": ([I32, I32, I32], []),
    "revert": ([I32, I32, I32], []),
    "context": ([I32], [I32]),
    "block": ([I32], [I64]),
    "hash": ([I32, I32, I32], [I32]),
    "verify": ([I32, I32, I32], [I32]),
    "big": ([I32] + [I64] * 8, [I64, I64, I64, I64, I32]),
    "call": ([I32, I32], [I32]),
    "async_call": ([I32, I32], []),
    "bubble": ([], []),
    "test_set": ([I32, I32, I32], []),
}
HASH_ALGS = {"sm3": 0, "sha256": 1, "keccak256": 2}
VERIFY_ALGS = {"sm2_verify": 0, "ed25519_verify": 1, "mldsa_verify": 2}
BIG_OPS = {"+": 1, "-": 2, "*": 3, "/": 4, "%": 5, "==": 6, "<": 7, "<=": 8, "cast": 9}
ENTRY_PREFIX = "q:"


@dataclass
class Output:
    wasm: bytes
    # source map: sorted (module offset, function name, span) triples
    source_map: list[tuple[int, str, Span]] = field(default_factory=list)
    entries: dict[str, str] = field(default_factory=dict)  # Qi name -> export name


class FnBuilder:
    """Per-function code generation state."""

    def __init__(self, wfn: W.Function, nparams: int) -> None:
        self.wfn = wfn
        self.code = W.Code()
        self.nparams = nparams
        self.labels: list[str] = []
        self.free: dict[bytes, list[int]] = {}
        self.vars: dict[ir.Var, int] = {}

    def local(self, vt: bytes, label: str) -> int:
        self.wfn.locals.append(vt)
        self.wfn.local_names.append(label)
        return self.nparams + len(self.wfn.locals) - 1

    def scratch(self, vt: bytes) -> int:
        pool = self.free.setdefault(vt, [])
        return pool.pop() if pool else self.local(vt, f"$s{len(self.wfn.locals)}")

    def release(self, vt: bytes, idx: int) -> None:
        self.free.setdefault(vt, []).append(idx)

    def depth(self, kind: str) -> int:
        for i in range(len(self.labels) - 1, -1, -1):
            if self.labels[i] == kind:
                return len(self.labels) - 1 - i
        raise AssertionError(f"no enclosing {kind}")


class CodeGen:
    def __init__(self, prog: ir.Program) -> None:
        self.prog = prog
        self.m = W.Module()
        self.m.memory_pages = 1
        self.cur = FnBuilder(W.Function(0, ""), 0)  # the function being generated
        self.bytes_t = self.m.add_gc_type(W.array_type(W.field_type(b"\x78", True)), "bytes")
        self.big_t = self.m.add_gc_type(W.struct_type([W.field_type(I64, False)] * 4), "big")
        # byte cursor for writers and readers: buffer (null: linear memory), position, end
        self.cursor_t = self.m.add_gc_type(W.struct_type(
            [W.field_type(W.ref_null(0), True), W.field_type(I32, True),
             W.field_type(I32, True)]), "cursor")
        self.type_ids: dict[tuple[str, object], int] = {}
        self.tags_t = self.m.add_gc_type(W.array_type(W.field_type(I32, True)), "tags")
        self.imports = {n: self.m.add_import("qi", n, p, r) for n, (p, r) in
                        HOST_IMPORTS.items()}
        self.panic_g = self.m.add_global(I32, True, b"\x41\x00", "panic")
        self.m.global_exports.append(("panic", self.panic_g))
        # caller() and self_address() are fixed for an instance: fetched once, then cached
        null_bytes = b"\xd0" + W.sleb(self.bytes_t)
        self.context_g = [self.m.add_global(W.ref_null(self.bytes_t), True, null_bytes, n)
                          for n in ("caller", "self")]
        self.helpers: dict[str, int] = {}
        # bodies still to generate (entry stubs, helpers): function index, generator
        self.pending: list[tuple[int, Callable[[int], None]]] = []
        self.fn_index: dict[str, int] = {}
        self.strings: dict[bytes, int] = {}
        self.marks: list[tuple[int, int, Span]] = []  # (func index, body offset, span)

    # --- types ----------------------------------------------------------------------------
    def vt(self, t: Ty) -> bytes:
        if isinstance(t, IntTy):
            return W.ref_null(self.big_t) if t.big else I64
        if t == BOOL or isinstance(t, EnumTy):
            return I32
        if t in (BYTES, STRING, ADDRESS):
            return W.ref_null(self.bytes_t)
        return W.ref_null(self.gc_type(t))

    def gc_type(self, t: Ty) -> int:
        key: tuple[str, object]
        if isinstance(t, ListTy):
            key = ("list", t.elem)
        elif isinstance(t, ArrayTy):
            key = ("arr", t.elem)
        elif isinstance(t, StructTy):
            key = ("struct", t.label)
        elif isinstance(t, OptionalTy):
            key = ("opt", t.inner)
        elif isinstance(t, MapTy):
            key = ("map", (t.key, t.value))
        else:
            raise AssertionError(f"no GC type for {t}")
        if key in self.type_ids:
            return self.type_ids[key]
        if isinstance(t, ListTy):
            arr = self.gc_type(ArrayTy(t.elem, 0))
            idx = self.m.add_gc_type(W.struct_type(
                [W.field_type(I32, True), W.field_type(W.ref_null(arr), True)]), str(t))
        elif isinstance(t, ArrayTy):
            idx = self.m.add_gc_type(W.array_type(W.field_type(self.vt(t.elem), True)),
                                     f"[{t.elem}]")
        elif isinstance(t, StructTy):
            idx = self.m.add_gc_type(W.struct_type(
                [W.field_type(self.vt(ft), True) for _, ft in t.fields]), t.label)
        elif isinstance(t, MapTy):
            # open-addressing hash table: count, keys, values, tags (0 empty, else hash|1)
            arrays = [self.gc_type(ArrayTy(x, 0)) for x in (t.key, t.value)]
            idx = self.m.add_gc_type(W.struct_type(
                [W.field_type(I32, True)]
                + [W.field_type(W.ref_null(a), True) for a in (*arrays, self.tags_t)]), str(t))
        else:
            assert isinstance(t, OptionalTy)
            idx = self.m.add_gc_type(W.struct_type([W.field_type(self.vt(t.inner), False)]),
                                     str(t))
        self.type_ids[key] = idx
        return idx

    # --- driver ---------------------------------------------------------------------------
    def generate(self) -> Output:
        funcs = self.prog.functions
        for name, fn in funcs.items():
            params = [self.vt(p.ty) for p in fn.params]
            results = [] if fn.ret == UNIT else [self.vt(fn.ret)]
            self.fn_index[name] = self.m.add_function(name, params, results)
        entries: dict[str, str] = {}
        for name, fn in funcs.items():
            if fn.public or fn.kind != "fn":
                entries[name] = self.entry(fn)
        for fn in funcs.values():
            self.function(fn)
        while self.pending:
            idx, gen = self.pending.pop()
            gen(idx)
        for s, _ in sorted(self.strings.items(), key=lambda kv: kv[1]):
            self.m.add_data(s)
        wasm, body_offsets = self.m.encode()
        base = len(self.m.imports)
        smap = sorted(((body_offsets[fi - base] + off, self.m.function(fi).name, span)
                       for fi, off, span in self.marks), key=lambda m: m[0])
        return Output(wasm, smap, entries)

    def finish(self, idx: int, f: FnBuilder) -> None:
        wf = self.m.function(idx)
        wf.body = bytes(f.code.buf)
        if f.wfn is not wf:
            wf.locals, wf.local_names = f.wfn.locals, f.wfn.local_names
        for off, span in f.code.marks:
            assert isinstance(span, Span)
            self.marks.append((idx, off, span))

    def function(self, fn: ir.Function) -> None:
        idx = self.fn_index[fn.name]
        wf = self.m.function(idx)
        f = FnBuilder(wf, len(fn.params))
        for i, p in enumerate(fn.params):
            f.vars[p] = i
        names = [p.name for p in fn.params]
        self.cur = f
        self.stmts(fn.body)
        if fn.ret != UNIT:
            f.code.op(0x00)  # falling off the end is impossible (checked); keep validator happy
        self.finish(idx, f)
        wf.local_names = names + wf.local_names

    def entry(self, fn: ir.Function) -> str:
        """Export `q:name`: (args_len) -> result_len. Args and result are ABI-encoded in
        linear memory at offset 0; arguments are decoded straight from memory, so the
        encoded input is never copied onto the GC heap."""
        export = ENTRY_PREFIX + fn.name
        idx = self.m.add_function(export, [I32], [I32])
        self.m.exports.append((export, idx))

        def gen(i: int, fn: ir.Function = fn) -> None:
            f = FnBuilder(self.m.function(i), 1)
            self.cur = f
            c = f.code
            c.op(0x20, W.uleb(0))
            c.op(0x10, W.uleb(self.helper("r_mem")))
            rd = f.local(W.ref_null(self.cursor_t), "reader")
            c.op(0x21, W.uleb(rd))
            for p in fn.params:
                c.op(0x20, W.uleb(rd))
                c.op(0x10, W.uleb(self.codec("dec", p.ty)))
            c.op(0x10, W.uleb(self.fn_index[fn.name]))
            if fn.ret == UNIT:
                c.i32(0)
                return self.finish(i, f)
            res = f.local(self.vt(fn.ret), "result")
            c.op(0x21, W.uleb(res))
            c.op(0x10, W.uleb(self.helper("w_new")))
            w = f.local(W.ref_null(self.cursor_t), "writer")
            c.op(0x22, W.uleb(w))
            c.op(0x20, W.uleb(res))
            c.op(0x10, W.uleb(self.codec("enc", fn.ret)))
            c.op(0x20, W.uleb(w))
            self.put_writer_at0()
            return self.finish(i, f)

        self.pending.append((idx, gen))
        return export

    # --- helpers registry -------------------------------------------------------------------
    def helper(self, name: str) -> int:
        if name in self.helpers:
            return self.helpers[name]
        from xinlian.lang import runtime

        params, results, gen = runtime.HELPERS[name]
        p = [self.resolve_vt(x) for x in params]
        r = [self.resolve_vt(x) for x in results]
        idx = self.helpers[name] = self.m.add_function("rt." + name, p, r)
        self.pending.append((idx, lambda i: self.finish(i, gen(self, len(p)))))
        return idx

    def resolve_vt(self, x: str) -> bytes:
        return {"i32": I32, "i64": I64, "bytes": W.ref_null(self.bytes_t),
                "big": W.ref_null(self.big_t), "cursor": W.ref_null(self.cursor_t)}[x]

    def typed_helper(self, kind: str, t: Ty, extra: object = None) -> int:
        """Per-type helpers (codecs, list operations, storage access), generated once."""
        key = f"{kind}:{t}:{extra}"
        if key in self.helpers:
            return self.helpers[key]
        from xinlian.lang import runtime

        params, results, gen = runtime.typed_helper(self, kind, t, extra)
        idx = self.helpers[key] = self.m.add_function(key, params, results)
        self.pending.append((idx, lambda i: self.finish(i, gen(len(params)))))
        return idx

    def codec(self, kind: str, t: Ty) -> int:
        return self.typed_helper(kind, t)

    def string_data(self, data: bytes) -> int:
        if data not in self.strings:
            self.strings[data] = len(self.strings)
        return self.strings[data]

    # --- small emitters -----------------------------------------------------------------------
    def call(self, idx: int) -> None:
        self.cur.code.op(0x10, W.uleb(idx))

    def panic(self, code: int) -> None:
        c = self.cur.code
        c.i32(code)
        c.op(0x24, W.uleb(self.panic_g))
        c.op(0x00)

    def panic_if(self, code: int) -> None:
        """Pops an i32 condition; panics when it is non-zero."""
        c = self.cur.code
        c.op(0x04, BLOCK_VOID)
        self.panic(code)
        c.op(0x0B)

    def put_writer_at0(self) -> None:
        """Pops a writer; copies its bytes to memory at 0; pushes the length."""
        self.call(self.helper("w_finish"))
        c = self.cur.code
        c.i32(0)
        self.call(self.helper("mem_write"))

    # --- statements ---------------------------------------------------------------------------
    def stmts(self, body: list[ir.Stmt]) -> None:
        for s in body:
            self.stmt(s)

    def var_index(self, v: ir.Var) -> int:
        idx = self.cur.vars.get(v)
        if idx is None:
            idx = self.cur.vars[v] = self.cur.local(self.vt(v.ty), v.name)
        return idx

    def stmt(self, s: ir.Stmt) -> None:
        c = self.cur.code
        if s.span is not None:
            c.mark(s.span)
        k = s.kind
        if k in ("let", "set"):
            self.expr(s.args[0])
            assert isinstance(s.data, ir.Var)
            c.op(0x21, W.uleb(self.var_index(s.data)))
        elif k == "sstore":
            st = s.data
            assert isinstance(st, ir.StateVar)
            for a in s.args:
                self.expr(a)
            self.call(self.typed_helper("store", st.ty, st))
        elif k == "field_set":
            obj, val = s.args
            self.expr(obj)
            self.expr(val)
            c.gc(0x05, self.gc_type(obj.ty), int(s.data))  # type: ignore[call-overload]
        elif k == "index_set":
            base, idx, val = s.args
            self.expr(base)
            self.expr(idx)
            c.op(0xA7)
            self.expr(val)
            self.call(self.typed_helper("set", base.ty))
        elif k == "map_set":
            for a in s.args:
                self.expr(a)
            self.call(self.typed_helper("map_set", s.args[0].ty))
        elif k == "push":
            lst, val = s.args
            self.expr(lst)
            self.expr(val)
            self.call(self.typed_helper("push", lst.ty))
        elif k == "expr":
            e = s.args[0]
            self.expr(e)
            if e.ty != UNIT:
                c.op(0x1A)
        elif k == "if":
            self.expr(s.args[0])
            c.op(0x04, BLOCK_VOID)
            self.cur.labels.append("if")
            self.stmts(s.body)
            if s.orelse:
                c.op(0x05)
                self.stmts(s.orelse)
            c.op(0x0B)
            self.cur.labels.pop()
        elif k == "loop":
            c.op(0x02, BLOCK_VOID)
            self.cur.labels.append("break")
            c.op(0x03, BLOCK_VOID)
            self.cur.labels.append("top")
            cond = s.args[0]
            if not (cond.kind == "const" and cond.data is True):
                self.expr(cond)
                c.op(0x45, 0x0D, W.uleb(1))  # i32.eqz; br_if break
            c.op(0x02, BLOCK_VOID)
            self.cur.labels.append("continue")
            self.stmts(s.body)
            c.op(0x0B)
            self.cur.labels.pop()
            self.stmts(s.step)
            c.op(0x0C, W.uleb(0))
            c.op(0x0B)
            self.cur.labels.pop()
            c.op(0x0B)
            self.cur.labels.pop()
        elif k == "break":
            c.op(0x0C, W.uleb(self.cur.depth("break")))
        elif k == "continue":
            c.op(0x0C, W.uleb(self.cur.depth("continue")))
        elif k == "return":
            if s.args:
                self.expr(s.args[0])
            c.op(0x0F)
        elif k in ("emit", "revert"):
            w = self.encode_values(s.args)
            c.op(0x20, W.uleb(w))
            self.cur.release(W.ref_null(self.cursor_t), w)
            self.put_writer_at0()
            ln = self.cur.scratch(I32)
            c.op(0x21, W.uleb(ln))
            c.i32(int(s.data))  # type: ignore[call-overload]
            c.i32(0)
            c.op(0x20, W.uleb(ln))
            self.cur.release(I32, ln)
            self.call(self.imports[k])
            if k == "revert":
                c.op(0x00)
        elif k == "panic":
            self.panic(int(s.data))  # type: ignore[call-overload]
        elif k == "try":
            self.try_stmt(s)
        elif k == "async":
            call = s.args[0]
            w = self.ext_call_buffer(call, extra=str(s.data).encode())
            c.op(0x20, W.uleb(w))
            self.cur.release(W.ref_null(self.cursor_t), w)
            self.put_writer_at0()
            ln = self.cur.scratch(I32)
            c.op(0x21, W.uleb(ln))
            c.i32(0)
            c.op(0x20, W.uleb(ln))
            self.cur.release(I32, ln)
            self.call(self.imports["async_call"])
        else:
            raise AssertionError(f"unknown statement {k}")

    def encode_values(self, values: list[ir.Expr]) -> int:
        """A fresh writer (in a scratch local) holding the encodings of `values`."""
        c = self.cur.code
        w = self.cur.scratch(W.ref_null(self.cursor_t))
        self.call(self.helper("w_new"))
        c.op(0x21, W.uleb(w))
        for v in values:
            c.op(0x20, W.uleb(w))
            self.expr(v)
            self.call(self.codec("enc", v.ty))
        return w

    def ext_call_buffer(self, call: ir.Expr, extra: bytes | None = None) -> int:
        """Writer with: address, method name, encoded args (as bytes), [callback name]."""
        c = self.cur.code
        addr, *args = call.args
        method = call.data[1]  # type: ignore[index]
        inner = self.encode_values(args)
        c.op(0x20, W.uleb(inner))
        self.call(self.helper("w_finish"))
        self.cur.release(W.ref_null(self.cursor_t), inner)
        argbytes = self.cur.scratch(W.ref_null(self.bytes_t))
        c.op(0x21, W.uleb(argbytes))
        placeholder = ir.Expr("local", BYTES, data=None)  # the encoded arguments
        parts = [addr, ir.Expr("const", STRING, data=str(method).encode()), placeholder]
        w = self.cur.scratch(W.ref_null(self.cursor_t))
        self.call(self.helper("w_new"))
        c.op(0x21, W.uleb(w))
        for p in parts:
            c.op(0x20, W.uleb(w))
            if p is placeholder:
                c.op(0x20, W.uleb(argbytes))
            else:
                self.expr(p)
            self.call(self.codec("enc", p.ty))
        self.cur.release(W.ref_null(self.bytes_t), argbytes)
        if extra is not None:
            c.op(0x20, W.uleb(w))
            self.expr(ir.Expr("const", STRING, data=extra))
            self.call(self.codec("enc", STRING))
        return w

    def raw_ext_call(self, call: ir.Expr) -> None:
        """Pushes the host status: >= 0 is the result length, < 0 encodes -(error len + 1)."""
        c = self.cur.code
        w = self.ext_call_buffer(call)
        c.op(0x20, W.uleb(w))
        self.cur.release(W.ref_null(self.cursor_t), w)
        self.put_writer_at0()
        ln = self.cur.scratch(I32)
        c.op(0x21, W.uleb(ln))
        c.i32(0)
        c.op(0x20, W.uleb(ln))
        self.cur.release(I32, ln)
        if call.span is not None:
            c.mark(call.span)
        self.call(self.imports["call"])

    def decode_ret(self, ty: Ty) -> None:
        """Pops a length; pushes the host return buffer decoded as `ty` (straight from
        linear memory: the encoded bytes never reach the GC heap)."""
        self.call(self.helper("host_reader"))
        self.call(self.codec("dec", ty))

    def try_stmt(self, s: ir.Stmt) -> None:
        c = self.cur.code
        call = s.args[0]
        var: ir.Var | None = s.data[0]  # type: ignore[index]
        err_var: ir.Var | None = s.data[1]  # type: ignore[index]
        st = self.cur.scratch(I32)
        self.raw_ext_call(call)
        c.op(0x22, W.uleb(st))
        c.i32(0)
        c.op(0x4E)  # i32.ge_s
        c.op(0x04, BLOCK_VOID)
        self.cur.labels.append("if")
        if var is not None:
            c.op(0x20, W.uleb(st))
            self.decode_ret(call.ty)
            c.op(0x21, W.uleb(self.var_index(var)))
        self.stmts(s.body)
        c.op(0x05)
        if err_var is not None:
            c.i32(-1)
            c.op(0x20, W.uleb(st))
            c.op(0x6B)  # -1 - st = error length
            self.call(self.helper("host_bytes"))
            c.op(0x21, W.uleb(self.var_index(err_var)))
        self.cur.release(I32, st)
        self.stmts(s.orelse)
        c.op(0x0B)
        self.cur.labels.pop()

    # --- expressions ----------------------------------------------------------------------------
    def expr(self, e: ir.Expr) -> None:
        c = self.cur.code
        k = e.kind
        if k == "const":
            self.const(e.ty, e.data)
        elif k == "local":
            assert isinstance(e.data, ir.Var)
            c.op(0x20, W.uleb(self.var_index(e.data)))
        elif k == "bin":
            if e.span is not None:
                c.mark(e.span)
            from xinlian.lang import arith

            arith.binary(self, e)
        elif k == "un":
            self.expr(e.args[0])
            c.op(0x45)
        elif k in ("and", "or"):
            self.expr(e.args[0])
            c.op(0x04, I32)
            if k == "and":
                self.expr(e.args[1])
                c.op(0x05)
                c.i32(0)
            else:
                c.i32(1)
                c.op(0x05)
                self.expr(e.args[1])
            c.op(0x0B)
        elif k == "call":
            for a in e.args:
                self.expr(a)
            if e.span is not None:
                c.mark(e.span)
            self.call(self.fn_index[str(e.data)])
        elif k == "host":
            self.host(e)
        elif k == "sload":
            st = e.data
            assert isinstance(st, ir.StateVar)
            for a in e.args:
                self.expr(a)
            self.call(self.typed_helper("load", st.ty, st))
        elif k == "field":
            self.expr(e.args[0])
            c.gc(0x02, self.gc_type(e.args[0].ty), int(e.data))  # type: ignore[call-overload]
        elif k == "index":
            base, idx = e.args
            self.expr(base)
            self.expr(idx)
            c.op(0xA7)  # i32.wrap_i64
            if e.span is not None:
                c.mark(e.span)
            if base.ty == BYTES:
                self.call(self.helper("byte_at"))
                c.op(0xAD)  # i64.extend_i32_u
            else:
                self.call(self.typed_helper("get", base.ty))
        elif k == "len":
            self.expr(e.args[0])
            t = e.args[0].ty
            if isinstance(t, ListTy):
                c.gc(0x02, self.gc_type(t), 0)
            else:
                c.gc(0x0F)
            c.op(0xAD)
        elif k == "new_struct":
            for a in e.args:
                self.expr(a)
            c.gc(0x00, self.gc_type(e.ty))
        elif k in ("new_list", "new_array"):
            elem = e.ty.elem  # type: ignore[attr-defined]
            arr = self.gc_type(ArrayTy(elem, 0))
            if k == "new_list":
                c.i32(len(e.args))
            for a in e.args:
                self.expr(a)
            c.gc(0x08, arr, len(e.args))
            if k == "new_list":
                c.gc(0x00, self.gc_type(e.ty))
        elif k == "cast":
            if e.span is not None:
                c.mark(e.span)
            from xinlian.lang import arith

            arith.cast(self, e.args[0], e.ty)
        elif k == "opt_wrap":
            self.expr(e.args[0])
            c.gc(0x00, self.gc_type(e.ty))
        elif k == "opt_none":
            c.op(0xD0, W.sleb(self.gc_type(e.ty)))
        elif k == "is_some":
            self.expr(e.args[0])
            c.op(0xD1, 0x45)
        elif k in ("unwrap", "unwrap_or"):
            opt = e.args[0]
            ot = self.gc_type(opt.ty)
            tmp = self.cur.scratch(W.ref_null(ot))
            self.expr(opt)
            c.op(0x22, W.uleb(tmp), 0xD1)
            if k == "unwrap":
                if e.span is not None:
                    c.mark(e.span)
                self.panic_if(ir.PANIC_UNWRAP)
                c.op(0x20, W.uleb(tmp))
                c.gc(0x02, ot, 0)
            else:
                c.op(0x04, self.vt(e.ty))
                self.expr(e.args[1])
                c.op(0x05, 0x20, W.uleb(tmp))
                c.gc(0x02, ot, 0)
                c.op(0x0B)
            self.cur.release(W.ref_null(ot), tmp)
        elif k == "ext_call":
            st = self.cur.scratch(I32)
            self.raw_ext_call(e)
            c.op(0x22, W.uleb(st))
            c.i32(0)
            c.op(0x48)  # i32.lt_s
            c.op(0x04, BLOCK_VOID)
            self.call(self.imports["bubble"])
            c.op(0x00, 0x0B)
            if e.ty != UNIT:
                c.op(0x20, W.uleb(st))
                self.decode_ret(e.ty)
            self.cur.release(I32, st)
        elif k == "new_map":
            self.call(self.typed_helper("map_new", e.ty))
        elif k in ("map_get", "map_has", "map_entry"):
            for a in e.args:
                self.expr(a)
            self.call(self.typed_helper(k, e.args[0].ty))
        elif k == "map_items":
            self.expr(e.args[0])
            kind = "map_keys" if e.data == 1 else "map_values"
            self.call(self.typed_helper(kind, e.args[0].ty))
        elif k == "map_len":
            self.expr(e.args[0])
            c.gc(0x02, self.gc_type(e.args[0].ty), 0)
            c.op(0xAD)
        elif k == "slice":
            base, lo, hi = e.args
            self.expr(base)
            self.expr(lo)
            c.op(0xA7)
            self.expr(hi)
            c.op(0xA7)
            if e.span is not None:
                c.mark(e.span)
            self.call(self.helper("slice"))
        elif k == "to_string":
            self.expr(e.args[0])
            t = e.args[0].ty
            assert isinstance(t, IntTy)
            c.i32(1 if t.signed else 0)
            self.call(self.helper("int_to_string"))
        elif k == "encode":
            w = self.encode_values(e.args)
            c.op(0x20, W.uleb(w))
            self.cur.release(W.ref_null(self.cursor_t), w)
            self.call(self.helper("w_finish"))
        elif k == "decode":
            self.expr(e.args[0])
            if e.span is not None:
                c.mark(e.span)
            self.call(self.typed_helper("decode_all", e.ty))
        elif k == "pop":
            self.expr(e.args[0])
            if e.span is not None:
                c.mark(e.span)
            self.call(self.typed_helper("pop", e.args[0].ty))
        elif k == "seq":
            self.stmts(e.data)  # type: ignore[arg-type]
            for a in e.args:
                self.expr(a)
        else:
            raise AssertionError(f"unknown expression {k}")

    def const(self, t: Ty, v: object) -> None:
        c = self.cur.code
        if isinstance(t, IntTy):
            assert isinstance(v, int)
            if t.big:
                u = v % (1 << 256)
                for i in range(4):
                    c.i64((u >> (64 * i)) & (2**64 - 1))
                c.gc(0x00, self.big_t)
            else:
                c.i64(v % (1 << 64))
        elif t == BOOL:
            c.i32(1 if v else 0)
        elif isinstance(t, EnumTy):
            c.i32(int(v))  # type: ignore[call-overload]
        elif t in (BYTES, STRING, ADDRESS):
            assert isinstance(v, bytes)
            c.i32(0)
            c.i32(len(v))
            c.gc(0x09, self.bytes_t, self.string_data(v))
        else:
            raise AssertionError(f"no constant of type {t}")

    def host(self, e: ir.Expr) -> None:
        c = self.cur.code
        name = str(e.data)
        if name in ("caller", "self_address"):
            which = 0 if name == "caller" else 1
            g = self.context_g[which]
            c.op(0x23, W.uleb(g), 0xD1, 0x04, BLOCK_VOID)  # global.get; ref.is_null; if
            c.i32(which)
            self.call(self.imports["context"])
            self.call(self.helper("host_bytes"))
            c.op(0x24, W.uleb(g), 0x0B, 0x23, W.uleb(g))  # global.set; end; global.get
        elif name in ("block_number", "block_time"):
            c.i32(0 if name == "block_number" else 1)
            self.call(self.imports["block"])
        elif name in HASH_ALGS:
            self.expr(e.args[0])
            c.i32(0)
            self.call(self.helper("mem_write"))
            ln = self.cur.scratch(I32)
            c.op(0x21, W.uleb(ln))
            c.i32(HASH_ALGS[name])
            c.i32(0)
            c.op(0x20, W.uleb(ln))
            self.cur.release(I32, ln)
            self.call(self.imports["hash"])
            self.call(self.helper("host_bytes"))
        elif name in VERIFY_ALGS or name in ("set_caller", "set_block"):
            w = self.encode_values(e.args)
            c.op(0x20, W.uleb(w))
            self.cur.release(W.ref_null(self.cursor_t), w)
            self.put_writer_at0()
            ln = self.cur.scratch(I32)
            c.op(0x21, W.uleb(ln))
            if name in VERIFY_ALGS:
                c.i32(VERIFY_ALGS[name])
            else:
                c.i32(0 if name == "set_caller" else 1)
            c.i32(0)
            c.op(0x20, W.uleb(ln))
            self.cur.release(I32, ln)
            self.call(self.imports["verify" if name in VERIFY_ALGS else "test_set"])
            if name == "set_caller":  # forget the cached caller
                c.op(0xD0, W.sleb(self.bytes_t), 0x24, W.uleb(self.context_g[0]))
        else:
            raise AssertionError(f"unknown builtin {name}")


def generate(prog: ir.Program) -> Output:
    return CodeGen(prog).generate()

