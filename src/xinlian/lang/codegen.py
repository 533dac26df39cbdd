"""IR to WebAssembly (core + GC proposal).

Value representation: integers up to 64 bits are `i64` (signed types sign-extended, results
checked against the type's range after every operation); wider integers are immutable
`$big` structs of four 64-bit limbs whose arithmetic is a host call; bool and enums are
`i32`; bytes, string and address are `(array (mut i8))`; lists are a struct of length and
backing array; structs and optionals are GC structs. All data lives on the engine's
garbage-collected heap, so programs never free memory. Linear memory is only an I/O window
for host calls (offset 0 upward, reused by every call).

Each IR node class has its generator here: `s_<Class>` for statements, `e_<Class>` for
expressions, found through a table keyed by the node's class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from xinlian.lang import abi, arith, ir, wasm_helpers
from xinlian.lang import wasm as W
from xinlian.lang.emitter import (
    BLOCK_VOID,
    I32,
    TEXT_OPS,
    TRY_ARGS,
    TRY_CATCH,
    TRY_ENTER,
    TRY_LEAVE,
    TRY_NAME,
    TRY_RETHROW,
    Emitter,
    FnBuilder,
)
from xinlian.lang.errors import Span
from xinlian.lang.services import SERVICE_OPS
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
    OptionalTy,
    Ty,
    is_storable,
)

HASH_ALGS = {"sm3": 0, "sha256": 1, "keccak256": 2}
VERIFY_ALGS = {"sm2_verify": 0, "ed25519_verify": 1, "mldsa_verify": 2}
# test-only context setters: the `which` argument of the `test_set` host function
TEST_SETTERS = {"set_caller": 0, "set_block": 1, "set_time": 2}
ENTRY_PREFIX = "q:"
DEBUG_MODULE = "qi_debug"  # the import module of debug builds' step hook


@dataclass
class Output:
    wasm: bytes
    # source map: sorted (module offset, function name, span) triples
    source_map: list[tuple[int, str, Span]] = field(default_factory=list)
    entries: dict[str, str] = field(default_factory=dict)  # Qi name -> export name
    # debug builds: per step id, its function, line, column and the locals it reports
    steps: list[dict[str, Any]] | None = None


class CodeGen(Emitter):
    def __init__(self, prog: ir.Program, debug: bool = False) -> None:
        Emitter.__init__(self)
        self.prog = prog
        self.fn_index: dict[str, int] = {}
        # debug builds call `qi_debug.step(step id, call depth, locals length)` before each
        # statement with the statement's visible locals ABI-encoded at memory offset 0;
        # the chain's host has no `qi_debug` module, so such a build never instantiates there
        self.steps: list[dict[str, Any]] | None = [] if debug else None
        self.scope: list[ir.Var] = []
        if debug:
            self.step_import = self.m.add_import(DEBUG_MODULE, "step", [I32, I32, I32], [])
            self.depth_g = self.m.add_global(I32, True, b"\x41\x00", "debug_depth")

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
        return Output(wasm, smap, entries, self.steps)

    def function(self, fn: ir.Function) -> None:
        idx = self.fn_index[fn.name]
        wf = self.m.function(idx)
        f = FnBuilder(wf, len(fn.params))
        for i, p in enumerate(fn.params):
            f.vars[p] = i
        names = [p.name for p in fn.params]
        self.cur = f
        self.scope = list(fn.params)
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
        params, results, gen = wasm_helpers.HELPERS[name]
        p = [self.resolve_vt(x) for x in params]
        r = [self.resolve_vt(x) for x in results]
        idx = self.helpers[name] = self.m.add_function("rt." + name, p, r)
        self.pending.append((idx, lambda i: self.finish(i, gen(self, len(p)))))
        return idx

    def typed_helper(self, kind: str, t: Ty, extra: ir.StateVar | None = None) -> int:
        key = f"{kind}:{t}:{extra}"
        if key in self.helpers:
            return self.helpers[key]
        params, results, gen = wasm_helpers.typed_helper(self, kind, t, extra)
        idx = self.helpers[key] = self.m.add_function(key, params, results)
        self.pending.append((idx, lambda i: self.finish(i, gen(len(params)))))
        return idx

    # --- statements ---------------------------------------------------------------------------
    def stmts(self, body: list[ir.Stmt]) -> None:
        visible = len(self.scope)
        for s in body:
            self.stmt(s)
        del self.scope[visible:]

    def var_index(self, v: ir.Var) -> int:
        idx = self.cur.vars.get(v)
        if idx is None:
            idx = self.cur.vars[v] = self.cur.local(self.vt(v.ty), v.name)
        return idx

    def stmt(self, s: ir.Stmt) -> None:
        if s.span is not None:
            self.cur.code.mark(s.span)
            if self.steps is not None:
                self.debug_step(s.span)
        _STMT[type(s)](self, s)
        if isinstance(s, ir.Let):
            self.scope.append(s.var)

    def debug_step(self, span: Span) -> None:
        """The hook of a debug build before a statement: encode the visible locals (one
        ABI tuple) into the I/O window, then call `qi_debug.step`. Nothing is pending in
        linear memory between statements, so the program's own data is untouched."""
        assert self.steps is not None
        shown = [v for v in self.scope if is_storable(v.ty) and not v.name.startswith("$")]
        self.steps.append({"id": len(self.steps), "function": self.cur.wfn.name, "line": span.line,
                           "col": span.col, "locals": [
                               {"name": v.name, "type": abi.type_json(v.ty),
                                "index": self.cur.vars[v]} for v in shown]})
        c = self.cur.code
        w = self.cur.scratch(W.ref_null(self.cursor_t))
        c.op(0x10, W.uleb(self.helper("w_new")), 0x21, W.uleb(w))
        for v in shown:
            c.op(0x20, W.uleb(w), 0x20, W.uleb(self.cur.vars[v]))
            self.call(self.codec("enc", v.ty))
        c.i32(len(self.steps) - 1)
        c.op(0x23, W.uleb(self.depth_g))
        c.op(0x20, W.uleb(w))
        self.cur.release(W.ref_null(self.cursor_t), w)
        self.put_writer_at0()
        self.call(self.step_import)

    def s_Let(self, s: ir.Let | ir.Set) -> None:
        self.expr(s.args[0])
        self.cur.code.op(0x21, W.uleb(self.var_index(s.var)))

    s_Set = s_Let

    def s_SStore(self, s: ir.SStore) -> None:
        for a in s.args:
            self.expr(a)
        self.call(self.typed_helper("store", s.state.ty, s.state))

    def s_FieldSet(self, s: ir.FieldSet) -> None:
        obj, val = s.args
        self.expr(obj)
        self.expr(val)
        self.cur.code.gc(0x05, self.gc_type(obj.ty), s.index)

    def s_IndexSet(self, s: ir.IndexSet) -> None:
        base, idx, val = s.args
        self.expr(base)
        self.expr(idx)
        self.cur.code.op(0xA7)
        self.expr(val)
        self.call(self.typed_helper("set", base.ty))

    def s_MapSet(self, s: ir.MapSet) -> None:
        for a in s.args:
            self.expr(a)
        self.call(self.typed_helper("map_set", s.args[0].ty))

    def s_Push(self, s: ir.Push) -> None:
        lst, val = s.args
        self.expr(lst)
        self.expr(val)
        self.call(self.typed_helper("push", lst.ty))

    def s_ExprStmt(self, s: ir.ExprStmt) -> None:
        e = s.args[0]
        self.expr(e)
        if e.ty != UNIT:
            self.cur.code.op(0x1A)

    def s_If(self, s: ir.If) -> None:
        c = self.cur.code
        self.expr(s.args[0])
        c.op(0x04, BLOCK_VOID)
        self.cur.labels.append("if")
        self.stmts(s.body)
        if s.orelse:
            c.op(0x05)
            self.stmts(s.orelse)
        c.op(0x0B)
        self.cur.labels.pop()

    def s_Loop(self, s: ir.Loop) -> None:
        c = self.cur.code
        c.op(0x02, BLOCK_VOID)
        self.cur.labels.append("break")
        c.op(0x03, BLOCK_VOID)
        self.cur.labels.append("top")
        cond = s.args[0]
        if not (isinstance(cond, ir.Const) and cond.value is True):
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

    def s_Break(self, s: ir.Break) -> None:
        self.cur.code.op(0x0C, W.uleb(self.cur.depth("break")))

    def s_Continue(self, s: ir.Continue) -> None:
        self.cur.code.op(0x0C, W.uleb(self.cur.depth("continue")))

    def s_Return(self, s: ir.Return) -> None:
        if s.args:
            self.expr(s.args[0])
        self.cur.code.op(0x0F)

    def s_Emit(self, s: ir.Emit) -> None:
        self.log_call(s.args, s.event, "emit")

    def s_Revert(self, s: ir.Revert) -> None:
        self.log_call(s.args, s.error, "revert")
        self.throw()

    def throw(self) -> None:
        """Raise the error the host has just recorded."""
        self.cur.code.op(0x08, W.uleb(self.error_tag))

    def try_op(self, op: int, token: int | None = None) -> None:
        """Call the `try` host import (pushes its i32 result)."""
        c = self.cur.code
        c.i32(op)
        if token is None:
            c.i32(0)
        else:
            c.op(0x20, W.uleb(token))
        self.call(self.imports["try"])

    def s_TryBlock(self, s: ir.TryBlock) -> None:
        """block $done { block $caught { try_table (catch $error $caught) { body }
        leave; br $done } handlers }: the host rolls back to the token's savepoint."""
        c = self.cur.code
        labels = self.cur.labels
        token = self.cur.scratch(I32)
        self.try_op(TRY_ENTER)
        c.op(0x21, W.uleb(token))
        c.op(0x02, BLOCK_VOID)
        labels.append("try")
        c.op(0x02, BLOCK_VOID)
        labels.append("try")
        c.op(0x1F, BLOCK_VOID, W.uleb(1), 0x00, W.uleb(self.error_tag), W.uleb(0))
        labels.append("try")
        self.stmts(s.body)
        c.op(0x0B)
        labels.pop()
        self.try_op(TRY_LEAVE, token)
        c.op(0x1A, 0x0C, W.uleb(1))  # drop; br $done
        c.op(0x0B)
        labels.pop()
        code = self.cur.scratch(I32)
        self.try_op(TRY_CATCH, token)
        c.op(0x21, W.uleb(code))
        self.cur.release(I32, token)
        for clause in s.catches:
            if clause.error != ir.CATCH_ANY:
                c.op(0x20, W.uleb(code))
                c.i32(clause.error)
                c.op(0x46, 0x04, BLOCK_VOID)  # i32.eq; if
                labels.append("if")
                self.bind_error_args(clause)
            elif clause.name_var is not None:
                self.try_op(TRY_NAME)
                self.call(self.helper("host_bytes"))
                c.op(0x21, W.uleb(self.var_index(clause.name_var)))
            self.stmts(clause.body)
            c.op(0x0C, W.uleb(self.cur.depth("try")))  # br $done
            if clause.error != ir.CATCH_ANY:
                c.op(0x0B)
                labels.pop()
        self.cur.release(I32, code)
        if not any(cl.error == ir.CATCH_ANY for cl in s.catches):
            self.try_op(TRY_RETHROW)
            c.op(0x1A)
            self.throw()
        c.op(0x0B)
        labels.pop()

    def bind_error_args(self, clause: ir.Catch) -> None:
        """Decode the caught error's arguments into the clause's variables."""
        if not clause.binds:
            return
        c = self.cur.code
        cursor = self.cur.scratch(W.ref_null(self.cursor_t))
        self.try_op(TRY_ARGS)
        self.call(self.helper("host_reader"))
        c.op(0x21, W.uleb(cursor))
        for v in clause.binds:
            c.op(0x20, W.uleb(cursor))
            self.call(self.codec("dec", v.ty))
            c.op(0x21, W.uleb(self.var_index(v)))
        self.cur.release(W.ref_null(self.cursor_t), cursor)

    def log_call(self, values: list[ir.Expr], index: int, host: str) -> None:
        """Call the `emit` or `revert` host import with `index` and the encoded values."""
        self.buffer_args(self.encode_values(values), index)
        self.call(self.imports[host])

    def buffer_args(self, w: int, *lead: int) -> None:
        """Copy writer `w`'s bytes to memory at 0 (releasing its scratch local) and push
        the host-call arguments `*lead, 0, length`."""
        c = self.cur.code
        c.op(0x20, W.uleb(w))
        self.cur.release(W.ref_null(self.cursor_t), w)
        self.put_writer_at0()
        ln = self.cur.scratch(I32)
        c.op(0x21, W.uleb(ln))
        for x in lead:
            c.i32(x)
        c.i32(0)
        c.op(0x20, W.uleb(ln))
        self.cur.release(I32, ln)

    def s_Panic(self, s: ir.Panic) -> None:
        self.panic(s.code)

    def s_Async(self, s: ir.Async) -> None:
        call = s.args[0]
        assert isinstance(call, ir.ExtCall)
        self.buffer_args(self.ext_call_buffer(call, extra=s.callback.encode()))
        self.call(self.imports["async_call"])

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

    def ext_call_buffer(self, call: ir.ExtCall, extra: bytes | None = None) -> int:
        """Writer with: address, method name, encoded args (as bytes), [callback name]."""
        c = self.cur.code
        addr, *args = call.args
        inner = self.encode_values(args)
        c.op(0x20, W.uleb(inner))
        self.call(self.helper("w_finish"))
        self.cur.release(W.ref_null(self.cursor_t), inner)
        argbytes = self.cur.scratch(W.ref_null(self.bytes_t))
        c.op(0x21, W.uleb(argbytes))
        w = self.cur.scratch(W.ref_null(self.cursor_t))
        self.call(self.helper("w_new"))
        c.op(0x21, W.uleb(w))
        for p in (addr, ir.Const(STRING, call.method.encode())):
            c.op(0x20, W.uleb(w))
            self.expr(p)
            self.call(self.codec("enc", p.ty))
        c.op(0x20, W.uleb(w))
        c.op(0x20, W.uleb(argbytes))  # the encoded arguments
        self.call(self.codec("enc", BYTES))
        self.cur.release(W.ref_null(self.bytes_t), argbytes)
        if extra is not None:
            c.op(0x20, W.uleb(w))
            self.expr(ir.Const(STRING, extra))
            self.call(self.codec("enc", STRING))
        return w

    def raw_ext_call(self, call: ir.ExtCall) -> None:
        """Pushes the host status: >= 0 is the result length, < 0 encodes -(error len + 1)."""
        c = self.cur.code
        self.buffer_args(self.ext_call_buffer(call))
        if call.span is not None:
            c.mark(call.span)
        self.call(self.imports["call"])

    def ext_call_status(self, call: ir.ExtCall) -> int:
        """Makes the call; keeps its status in a scratch I32 local (returned, for the caller
        to release) and pushes `status, 0` for the comparison that follows."""
        st = self.cur.scratch(I32)
        self.raw_ext_call(call)
        self.cur.code.op(0x22, W.uleb(st))
        self.cur.code.i32(0)
        return st

    def decode_ret(self, ty: Ty) -> None:
        """Pops a length; pushes the host return buffer decoded as `ty` (straight from
        linear memory: the encoded bytes never reach the GC heap)."""
        self.call(self.helper("host_reader"))
        self.call(self.codec("dec", ty))

    def s_Try(self, s: ir.Try) -> None:
        c = self.cur.code
        call = s.args[0]
        assert isinstance(call, ir.ExtCall)
        st = self.ext_call_status(call)
        c.op(0x4E)  # i32.ge_s
        c.op(0x04, BLOCK_VOID)
        self.cur.labels.append("if")
        if s.var is not None:
            c.op(0x20, W.uleb(st))
            self.decode_ret(call.ty)
            c.op(0x21, W.uleb(self.var_index(s.var)))
        self.stmts(s.body)
        c.op(0x05)
        if s.err_var is not None:
            c.i32(-1)
            c.op(0x20, W.uleb(st))
            c.op(0x6B)  # -1 - st = error length
            self.call(self.helper("host_bytes"))
            c.op(0x21, W.uleb(self.var_index(s.err_var)))
        self.cur.release(I32, st)
        self.stmts(s.orelse)
        c.op(0x0B)
        self.cur.labels.pop()

    # --- expressions ----------------------------------------------------------------------------
    def expr(self, e: ir.Expr) -> None:
        _EXPR[type(e)](self, e)

    def mark(self, e: ir.Expr) -> None:
        """Map the next instruction to `e`'s source position (for fault locations)."""
        if e.span is not None:
            self.cur.code.mark(e.span)

    def e_Const(self, e: ir.Const) -> None:
        self.const(e.ty, e.value)

    def e_Local(self, e: ir.Local) -> None:
        self.cur.code.op(0x20, W.uleb(self.var_index(e.var)))

    def e_Bin(self, e: ir.Bin) -> None:
        self.mark(e)
        arith.binary(self, e)

    def e_Not(self, e: ir.Not) -> None:
        self.expr(e.args[0])
        self.cur.code.op(0x45)

    def e_And(self, e: ir.And) -> None:
        c = self.cur.code
        self.expr(e.args[0])
        c.op(0x04, I32)
        self.expr(e.args[1])
        c.op(0x05)
        c.i32(0)
        c.op(0x0B)

    def e_Or(self, e: ir.Or) -> None:
        c = self.cur.code
        self.expr(e.args[0])
        c.op(0x04, I32)
        c.i32(1)
        c.op(0x05)
        self.expr(e.args[1])
        c.op(0x0B)

    def e_Call(self, e: ir.Call) -> None:
        for a in e.args:
            self.expr(a)
        self.mark(e)
        if self.steps is None:
            self.call(self.fn_index[e.fn])
            return
        c = self.cur.code  # debug builds count the call depth around internal calls
        c.op(0x23, W.uleb(self.depth_g), 0x41, 0x01, 0x6A, 0x24, W.uleb(self.depth_g))
        self.call(self.fn_index[e.fn])
        c.op(0x23, W.uleb(self.depth_g), 0x41, 0x01, 0x6B, 0x24, W.uleb(self.depth_g))

    def e_SLoad(self, e: ir.SLoad) -> None:
        for a in e.args:
            self.expr(a)
        self.call(self.typed_helper("load_raw" if e.raw else "load", e.state.ty, e.state))

    def e_Field(self, e: ir.Field) -> None:
        self.expr(e.args[0])
        self.cur.code.gc(0x02, self.gc_type(e.args[0].ty), e.index)

    def e_Index(self, e: ir.Index) -> None:
        c = self.cur.code
        base, idx = e.args
        self.expr(base)
        self.expr(idx)
        c.op(0xA7)  # i32.wrap_i64
        self.mark(e)
        if base.ty in (BYTES, STRING):
            self.call(self.helper("byte_at"))
            c.op(0xAD)  # i64.extend_i32_u
        else:
            self.call(self.typed_helper("get", base.ty))

    def e_Len(self, e: ir.Len) -> None:
        c = self.cur.code
        self.expr(e.args[0])
        t = e.args[0].ty
        if isinstance(t, ListTy):
            c.gc(0x02, self.gc_type(t), 0)
        else:
            c.gc(0x0F)
        c.op(0xAD)

    def e_NewStruct(self, e: ir.NewStruct) -> None:
        for a in e.args:
            self.expr(a)
        self.cur.code.gc(0x00, self.gc_type(e.ty))

    def e_NewList(self, e: ir.NewList | ir.NewArray) -> None:
        c = self.cur.code
        is_list = isinstance(e, ir.NewList)
        assert isinstance(e.ty, ListTy | ArrayTy)
        arr = self.gc_type(ArrayTy(e.ty.elem, 0))
        if is_list:
            c.i32(len(e.args))
        for a in e.args:
            self.expr(a)
        c.gc(0x08, arr, len(e.args))
        if is_list:
            c.gc(0x00, self.gc_type(e.ty))

    e_NewArray = e_NewList

    def e_Cast(self, e: ir.Cast) -> None:
        self.mark(e)
        arith.cast(self, e.args[0], e.ty)

    def e_OptWrap(self, e: ir.OptWrap) -> None:
        self.expr(e.args[0])
        self.cur.code.gc(0x00, self.gc_type(e.ty))

    def e_OptNone(self, e: ir.OptNone) -> None:
        self.cur.code.op(0xD0, W.sleb(self.gc_type(e.ty)))

    def e_IsSome(self, e: ir.IsSome) -> None:
        self.expr(e.args[0])
        self.cur.code.op(0xD1, 0x45)

    def e_Unwrap(self, e: ir.Unwrap | ir.UnwrapOr) -> None:
        c = self.cur.code
        opt = e.args[0]
        ot = self.gc_type(opt.ty)
        tmp = self.cur.scratch(W.ref_null(ot))
        self.expr(opt)
        c.op(0x22, W.uleb(tmp), 0xD1)
        if isinstance(e, ir.Unwrap):
            self.mark(e)
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

    e_UnwrapOr = e_Unwrap

    def e_ExtCall(self, e: ir.ExtCall) -> None:
        c = self.cur.code
        st = self.ext_call_status(e)
        c.op(0x48)  # i32.lt_s
        c.op(0x04, BLOCK_VOID)
        self.call(self.imports["bubble"])
        self.throw()
        c.op(0x0B)
        if e.ty != UNIT:
            c.op(0x20, W.uleb(st))
            self.decode_ret(e.ty)
        self.cur.release(I32, st)

    def e_NewMap(self, e: ir.NewMap) -> None:
        self.call(self.typed_helper("map_new", e.ty))

    def e_MapGet(self, e: ir.MapGet | ir.MapHas | ir.MapEntry) -> None:
        for a in e.args:
            self.expr(a)
        self.call(self.typed_helper(_MAP_ACCESS[type(e)], e.args[0].ty))

    e_MapHas = e_MapEntry = e_MapGet

    def e_MapItems(self, e: ir.MapItems) -> None:
        self.expr(e.args[0])
        self.call(self.typed_helper("map_values" if e.values else "map_keys", e.args[0].ty))

    def e_MapLen(self, e: ir.MapLen) -> None:
        self.expr(e.args[0])
        self.cur.code.gc(0x02, self.gc_type(e.args[0].ty), 0)
        self.cur.code.op(0xAD)

    def e_Slice(self, e: ir.Slice) -> None:
        c = self.cur.code
        base, lo, hi = e.args
        self.expr(base)
        self.expr(lo)
        c.op(0xA7)
        self.expr(hi)
        c.op(0xA7)
        self.mark(e)
        self.call(self.helper("slice"))

    def e_ToString(self, e: ir.ToString) -> None:
        self.expr(e.args[0])
        t = e.args[0].ty
        assert isinstance(t, IntTy)
        self.cur.code.i32(1 if t.signed else 0)
        self.call(self.helper("int_to_string"))

    def e_Text(self, e: ir.Text) -> None:
        c = self.cur.code
        op = TEXT_OPS[e.op]
        subject = e.args[0].ty
        if isinstance(subject, IntTy):  # to_string: the type of the integer
            op |= arith.desc(subject) << 8
        elif isinstance(e.ty, OptionalTy) and isinstance(e.ty.inner, IntTy) and e.op == "parse":
            op |= arith.desc(e.ty.inner) << 8
        if e.op == "utf8":  # check on the host, keep the value: strings are their bytes
            keep, vt = ir.Var("$utf8", BYTES), self.vt(BYTES)
            idx = self.cur.vars[keep] = self.cur.scratch(vt)
            self.expr(e.args[0])
            c.op(0x21, W.uleb(idx))
            self.buffer_args(self.encode_values([ir.Local(BYTES, keep)]), op)
            self.call(self.imports["text"])
            c.op(0x45)  # i32.eqz
            self.mark(e)
            self.panic_if(ir.PANIC_UTF8)
            c.op(0x20, W.uleb(idx))
            del self.cur.vars[keep]
            self.cur.release(vt, idx)
            return
        self.buffer_args(self.encode_values(e.args), op)
        self.call(self.imports["text"])
        if e.op == "cmp":
            c.op(0xAC)  # i64.extend_i32_s
        else:
            self.decode_ret(e.ty)

    def e_Encode(self, e: ir.Encode) -> None:
        w = self.encode_values(e.args)
        self.cur.code.op(0x20, W.uleb(w))
        self.cur.release(W.ref_null(self.cursor_t), w)
        self.call(self.helper("w_finish"))

    def e_Decode(self, e: ir.Decode) -> None:
        self.expr(e.args[0])
        self.mark(e)
        self.call(self.typed_helper("decode_all", e.ty))

    def e_DecodeAt(self, e: ir.DecodeAt) -> None:
        c = self.cur.code
        pos = self.var_index(e.pos)
        self.expr(e.args[0])
        c.op(0x20, W.uleb(pos), 0xA7)  # local.get pos; i32.wrap_i64
        self.mark(e)
        self.call(self.typed_helper("decode_at", e.ty))
        c.op(0xAD, 0x21, W.uleb(pos))  # i64.extend_i32_u; local.set pos

    def e_Pop(self, e: ir.Pop) -> None:
        self.expr(e.args[0])
        self.mark(e)
        self.call(self.typed_helper("pop", e.args[0].ty))

    def e_Seq(self, e: ir.Seq) -> None:
        self.stmts(e.stmts)
        for a in e.args:
            self.expr(a)

    def const(self, t: Ty, v: int | bytes) -> None:
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
            assert isinstance(v, int)
            c.i32(v)
        elif t in (BYTES, STRING, ADDRESS):
            assert isinstance(v, bytes)
            c.i32(0)
            c.i32(len(v))
            c.gc(0x09, self.bytes_t, self.string_data(v))
        else:
            raise AssertionError(f"no constant of type {t}")

    def e_Host(self, e: ir.Host) -> None:
        c = self.cur.code
        name = e.name
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
        elif name == "deploy":
            self.buffer_args(self.encode_values(e.args))
            self.call(self.imports["test_deploy"])
            self.call(self.helper("host_bytes"))
        elif name in VERIFY_ALGS or name in TEST_SETTERS:
            which = VERIFY_ALGS[name] if name in VERIFY_ALGS else TEST_SETTERS[name]
            self.buffer_args(self.encode_values(e.args), which)
            self.call(self.imports["verify" if name in VERIFY_ALGS else "test_set"])
            if name == "set_caller":  # forget the cached caller
                c.op(0xD0, W.sleb(self.bytes_t), 0x24, W.uleb(self.context_g[0]))
        elif name in SERVICE_OPS:
            self.buffer_args(self.encode_values(e.args), SERVICE_OPS[name])
            self.call(self.imports["service"])
            st = self.cur.scratch(I32)
            c.op(0x22, W.uleb(st))  # local.tee
            c.i32(0)
            c.op(0x48, 0x04, BLOCK_VOID, 0x00, 0x0B)  # i32.lt_s; if unreachable end: refused
            c.op(0x20, W.uleb(st))
            self.cur.release(I32, st)
            self.decode_ret(e.ty)
        else:
            raise AssertionError(f"unknown builtin {name}")


_MAP_ACCESS: dict[type[ir.Expr], str] = {ir.MapGet: "map_get", ir.MapHas: "map_has",
                                         ir.MapEntry: "map_entry"}
# every IR node class has its generator (but the specification-only ones, never compiled):
# a class without one fails here, at import
_STMT: dict[type[ir.Stmt], Callable[[CodeGen, Any], None]] = {
    cls: getattr(CodeGen, "s_" + cls.__name__) for cls in ir.Stmt.__subclasses__()}
_EXPR: dict[type[ir.Expr], Callable[[CodeGen, Any], None]] = {
    cls: getattr(CodeGen, "e_" + cls.__name__) for cls in ir.Expr.__subclasses__()
    if cls.__name__ not in ir.SPEC_ONLY}  # by name: `slots=True` leaves a stale twin class


def generate(prog: ir.Program, debug: bool = False) -> Output:
    return CodeGen(prog, debug).generate()
