"""What Wasm generators share: the module being built, per-function state and the helper
registry. `CodeGen` (in `codegen`) implements it for IR; the helper generators (`arith`,
`codecs`, `containers`, `storage`, `wasm_helpers`) see only this interface, so they sit
below the code generator instead of importing it back.

Runtime faults set the `$panic` global to a code from `ir.PANIC_*` and execute
`unreachable`; the engine reads the global to name the fault. Reverts (and failures of
contracts called synchronously) are recorded by the host, then thrown as the `error_tag`
exception, which `try` blocks catch (`TRY_*` host operations).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from xinlian.lang import ir
from xinlian.lang import wasm as W
from xinlian.lang.asm import assemble
from xinlian.lang.errors import Span
from xinlian.lang.types import (
    ADDRESS,
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

BLOCK_VOID = 0x40
# operations of the `try` host import: (op, token) -> i32
TRY_ENTER, TRY_LEAVE, TRY_CATCH, TRY_ARGS, TRY_NAME, TRY_RETHROW = range(6)
# operations of the `text` host import (low byte; an integer type's bits | signed << 16
# above it): (op, ptr, len) -> result length, or the result itself for cmp and utf8
TEXT_OPS = {"to_string": 1, "parse": 2, "find": 3, "cmp": 4, "utf8": 5}
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
    "try": ([I32, I32], [I32]),
    "text": ([I32, I32, I32], [I32]),
    "test_set": ([I32, I32, I32], []),
    "test_deploy": ([I32, I32], [I32]),
    "service": ([I32, I32, I32], [I32]),
}


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


# a per-type helper: (params, results, body generator taking the parameter count)
TypedHelper = tuple[list[bytes], list[bytes], Callable[[int], FnBuilder]]


class Emitter(ABC):
    """The module under construction and the services generators call back into."""

    def __init__(self) -> None:
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
        # thrown after the host recorded a revert: a `try` block catches it, else the
        # call ends with the recorded error
        self.error_tag = self.m.add_tag([])
        self.panic_g = self.m.add_global(I32, True, b"\x41\x00", "panic")
        self.m.global_exports.append(("panic", self.panic_g))
        # caller() and self_address() are fixed for an instance: fetched once, then cached
        null_bytes = b"\xd0" + W.sleb(self.bytes_t)
        self.context_g = [self.m.add_global(W.ref_null(self.bytes_t), True, null_bytes, n)
                          for n in ("caller", "self")]
        self.helpers: dict[str, int] = {}
        # bodies still to generate (entry stubs, helpers): function index, generator
        self.pending: list[tuple[int, Callable[[int], None]]] = []
        self.strings: dict[bytes, int] = {}
        self.marks: list[tuple[int, int, Span]] = []  # (func index, body offset, span)

    # --- what the code generator provides -----------------------------------------------------
    @abstractmethod
    def expr(self, e: ir.Expr) -> None:
        """Emit code pushing the value of `e`."""

    @abstractmethod
    def helper(self, name: str) -> int:
        """The function index of the fixed helper `name`, generated on first use."""

    @abstractmethod
    def typed_helper(self, kind: str, t: Ty, extra: ir.StateVar | None = None) -> int:
        """Per-type helpers (codecs, list operations, storage access), generated once."""

    def codec(self, kind: str, t: Ty) -> int:
        return self.typed_helper(kind, t)

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

    def resolve_vt(self, x: str) -> bytes:
        return {"i32": I32, "i64": I64, "bytes": W.ref_null(self.bytes_t),
                "big": W.ref_null(self.big_t), "cursor": W.ref_null(self.cursor_t)}[x]

    # --- functions and data ---------------------------------------------------------------------
    def finish(self, idx: int, f: FnBuilder) -> None:
        wf = self.m.function(idx)
        wf.body = bytes(f.code.buf)
        if f.wfn is not wf:
            wf.locals, wf.local_names = f.wfn.locals, f.wfn.local_names
        for off, span in f.code.marks:
            assert isinstance(span, Span)
            self.marks.append((idx, off, span))

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


# --- helpers written as WAT text -------------------------------------------------------------
class Env(dict[str, object]):
    """Resolves `$helper`, `@import` and `%panic` names on first use."""

    def __init__(self, cg: Emitter, **kw: object) -> None:
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


def new_fn(nparams: int) -> FnBuilder:
    """A detached function body; `Emitter.finish` moves it into its module slot."""
    return FnBuilder(W.Function(0, ""), nparams)


def fn_from_text(cg: Emitter, nparams: int, text: str, locals_: tuple[str, ...] = (),
                 **env: object) -> FnBuilder:
    f = new_fn(nparams)
    for lt in locals_:
        f.local(cg.resolve_vt(lt), lt)
    assemble(f.code, text, Env(cg, **env))
    return f


def panic_text(code: int) -> str:
    return f"i32.const {code}\nglobal.set %panic\nunreachable"
