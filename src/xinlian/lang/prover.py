"""The Qi prover: each public function with its specification, translated to SMT (z3).

The translation reads the checker's typed IR before optimisation, the one tree whose
semantics code generation implements. Integers are unbounded SMT integers and every
checked operation of code records its fault (a result outside its type's range,
division by zero, a conversion out of range) as an abort, as do `revert`, `require` and
`assert`; an aborted call rolls back, so only non-aborting executions must establish
`ensures`, invariants and `modifies`. Statements run under a path guard and update state
and locals with `If(guard, new, old)`, so branches need no merging. Loops are cut with
their `invariant`s: checked on entry and after the body, the variables the loop assigns
havocked, the invariants assumed (no `break`, `continue` or `return` inside). Private
functions are inlined. Specification arithmetic is mathematical (no overflow), as in the
Move prover; `sum(m)` is a ghost integer kept equal to the sum of the map's values.
Anything else is refused with `ProverUnsupported`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import z3

from xinlian.lang import ir
from xinlian.lang.errors import ProverUnsupported, Span
from xinlian.lang.types import ADDRESS, BOOL, BYTES, STRING, EnumTy, IntTy, MapTy, Ty

_MAX_INLINE = 8
_U64 = IntTy(64, False)


def sort_of(ty: Ty) -> z3.SortRef:
    if isinstance(ty, IntTy | EnumTy):
        return z3.IntSort()
    if ty == BOOL:
        return z3.BoolSort()
    if ty == ADDRESS:
        return z3.BitVecSort(160)
    if ty in (STRING, BYTES):
        return z3.StringSort()
    if isinstance(ty, MapTy):
        return z3.ArraySort(sort_of(ty.key), sort_of(ty.value))
    raise ProverUnsupported(f"values of type `{ty}` are not supported by the prover")


def zero_of(ty: Ty) -> Any:
    if isinstance(ty, IntTy | EnumTy):
        return z3.IntVal(0)
    if ty == BOOL:
        return z3.BoolVal(False)
    if ty == ADDRESS:
        return z3.BitVecVal(0, 160)
    if ty in (STRING, BYTES):
        return z3.StringVal("")
    if isinstance(ty, MapTy):
        return z3.K(sort_of(ty.key), zero_of(ty.value))
    raise ProverUnsupported(f"values of type `{ty}` are not supported by the prover")


def in_range(t: Any, ty: Ty) -> Any:
    """What every value of `ty` satisfies (for maps: checked on each read instead)."""
    if isinstance(ty, IntTy):
        return z3.And(t >= ty.min, t <= ty.max)
    if isinstance(ty, EnumTy):
        return z3.And(t >= 0, t < len(ty.variants))
    return z3.BoolVal(True)


@dataclass
class Abort:
    cond: Any  # z3 Bool: the call aborts here
    span: Span | None
    why: str


@dataclass
class Obligation:
    cond: Any  # must hold (z3 Bool), unless an earlier abort happened
    before: int  # number of aborts recorded before it
    span: Span | None
    what: str


@dataclass
class Frame:
    returns: list[tuple[Any, Any]] = field(default_factory=list)


class Executor:
    """Symbolic execution of one entry point over a program's IR."""

    def __init__(self, prog: ir.Program, state: dict[str, Any]) -> None:
        self.prog = prog
        self.state = dict(state)
        self.pre = dict(state)
        self.env: dict[ir.Var, Any] = {}
        self.aborts: list[Abort] = []
        self.assumes: list[Any] = []
        self.obligations: list[Obligation] = []
        self.reads: list[tuple[str, list[Any]]] = []  # state map reads, for counterexamples
        self.writes: list[tuple[str, list[Any]]] = []  # state map writes
        self.spec = False  # evaluating a specification: no faults, no overflow
        self.depth = 0
        self.fresh_count = 0
        self.caller = z3.BitVec("caller()", 160)
        self.hosts = {"caller": self.caller,
                      "self_address": z3.BitVec("self_address()", 160),
                      "block_number": z3.Int("block_number()"),
                      "block_time": z3.Int("block_time()")}
        for name in ("block_number", "block_time"):
            self.assumes.append(in_range(self.hosts[name], _U64))

    def fresh(self, name: str, ty: Ty) -> Any:
        self.fresh_count += 1
        t = z3.Const(f"{name}!{self.fresh_count}", sort_of(ty))
        self.assumes.append(in_range(t, ty))
        return t

    # --- statements ------------------------------------------------------------------------
    def block(self, stmts: list[ir.Stmt], g: Any, frame: Frame) -> Any:
        for s in stmts:
            g = self.stmt(s, g, frame)
        return g

    def stmt(self, s: ir.Stmt, g: Any, frame: Frame) -> Any:
        if isinstance(s, ir.Let):
            self.env[s.var] = self.expr(s.args[0], g)
        elif isinstance(s, ir.Set):
            self.env[s.var] = z3.If(g, self.expr(s.args[0], g), self.env[s.var])
        elif isinstance(s, ir.SStore):
            self.store(s, g)
        elif isinstance(s, ir.ExprStmt | ir.Emit):
            for a in s.args:
                self.expr(a, g)
        elif isinstance(s, ir.If):
            c = self.expr(s.args[0], g)
            g1 = self.block(s.body, z3.And(g, c), frame)
            g2 = self.block(s.orelse, z3.And(g, z3.Not(c)), frame)
            return z3.Or(g1, g2)
        elif isinstance(s, ir.Loop):
            return self.loop(s, g, frame)
        elif isinstance(s, ir.Return):
            frame.returns.append((g, self.expr(s.args[0], g) if s.args else None))
            return z3.BoolVal(False)
        elif isinstance(s, ir.Revert):
            for a in s.args:
                self.expr(a, g)
            name = "Error" if s.error < 0 else self.prog.errors[s.error].name
            self.aborts.append(Abort(g, s.span, f"revert {name}"))
            return z3.BoolVal(False)
        elif isinstance(s, ir.Panic):
            self.aborts.append(Abort(g, s.span, ir.PANIC_NAMES.get(s.code, "fault")))
            return z3.BoolVal(False)
        else:
            raise ProverUnsupported(f"`{type(s).__name__}` statements are not supported by "
                                    f"the prover ({s.span})")
        return g

    def store(self, s: ir.SStore, g: Any) -> None:
        st = s.state
        *keys, value = [self.expr(a, g) for a in s.args]
        if not keys:
            self.state[st.name] = z3.If(g, value, self.state[st.name])
            return
        m = self.state[st.name]
        self.writes.append((st.name, keys))
        if f"$sum:{st.name}" in self.state:
            old = self.select(st, m, keys)
            total = self.state[f"$sum:{st.name}"]
            self.state[f"$sum:{st.name}"] = z3.If(g, total - old + value, total)
        self.state[st.name] = z3.If(g, _store_path(m, keys, value), m)

    def loop(self, s: ir.Loop, g: Any, frame: Frame) -> Any:
        for inner in ir.walk_stmts([*s.body, *s.step]):
            if isinstance(inner, ir.Break | ir.Continue | ir.Return):
                raise ProverUnsupported(f"`break`, `continue` and `return` inside a loop are "
                                        f"not supported by the prover ({s.span})")
        self.check_invariants(s, g, "loop invariant on entry")
        for inner in ir.walk_stmts([*s.body, *s.step]):  # havoc what the loop assigns
            if isinstance(inner, ir.Set) and inner.var in self.env:
                self.env[inner.var] = self.fresh(inner.var.name, inner.var.ty)
            elif isinstance(inner, ir.SStore):
                st = inner.state
                self.state[st.name] = z3.Const(f"{st.name}!{self.fresh_count}", sort_of(st.ty))
                self.fresh_count += 1
                if f"$sum:{st.name}" in self.state:
                    self.state[f"$sum:{st.name}"] = z3.Int(f"sum({st.name})!{self.fresh_count}")
                elif not isinstance(st.ty, MapTy):
                    self.assumes.append(in_range(self.state[st.name], st.ty))
        head = z3.And(g, *[self.spec_value(e) for e in s.invariants])
        c = self.expr(s.args[0], head)
        # one arbitrary iteration; the loop then leaves from the havocked state
        exit_env, exit_state = dict(self.env), dict(self.state)
        g_body = self.block(s.body, z3.And(head, c), frame)
        g_body = self.block(s.step, g_body, frame)
        self.check_invariants(s, g_body, "loop invariant after an iteration")
        self.env, self.state = exit_env, exit_state
        return z3.And(head, z3.Not(c))

    def check_invariants(self, s: ir.Loop, g: Any, what: str) -> None:
        for e in s.invariants:
            self.obligations.append(Obligation(z3.Implies(g, self.spec_value(e)),
                                               len(self.aborts), e.span or s.span, what))

    # --- expressions -----------------------------------------------------------------------
    def spec_value(self, e: ir.Expr) -> Any:
        saved, self.spec = self.spec, True
        try:
            return self.expr(e, z3.BoolVal(True))
        finally:
            self.spec = saved

    def fault(self, g: Any, cond: Any, span: Span | None, why: str) -> None:
        if not self.spec:
            self.aborts.append(Abort(z3.And(g, cond), span, why))

    def select(self, st: ir.StateVar, m: Any, keys: list[Any]) -> Any:
        ty: Ty = st.ty
        for k in keys:
            assert isinstance(ty, MapTy)
            m, ty = z3.Select(m, k), ty.value
        self.assumes.append(in_range(m, ty))
        total = self.state.get(f"$sum:{st.name}")
        if total is not None and isinstance(ty, IntTy) and not ty.signed:
            self.assumes.append(m <= total)  # one of the non-negative values summed
        self.reads.append((st.name, keys))
        return m

    def expr(self, e: ir.Expr, g: Any) -> Any:
        if isinstance(e, ir.Const):
            return _const(e)
        if isinstance(e, ir.Local):
            return self.env[e.var]
        if isinstance(e, ir.Bin):
            return self.binary(e, g)
        if isinstance(e, ir.Not) and e.ty == BOOL:
            return z3.Not(self.expr(e.args[0], g))
        if isinstance(e, ir.And | ir.Or):
            a = self.expr(e.args[0], g)
            if isinstance(e, ir.And):
                return z3.And(a, self.expr(e.args[1], z3.And(g, a)))
            return z3.Or(a, self.expr(e.args[1], z3.And(g, z3.Not(a))))
        if isinstance(e, ir.Host) and e.name in self.hosts:
            return self.hosts[e.name]
        if isinstance(e, ir.SLoad) and not e.raw:
            keys = [self.expr(a, g) for a in e.args]
            m = self.state[e.state.name]
            return self.select(e.state, m, keys) if keys else m
        if isinstance(e, ir.Cast):
            return self.cast(e, g)
        if isinstance(e, ir.Call):
            return self.call(e, g)
        if isinstance(e, ir.Old):
            now, self.state = self.state, self.pre
            try:
                return self.expr(e.args[0], g)
            finally:
                self.state = now
        if isinstance(e, ir.MapSum):
            return self.state[f"$sum:{e.state.name}"]
        raise ProverUnsupported(f"`{type(e).__name__}` expressions are not supported by the "
                                f"prover ({e.span or 'here'})")

    def binary(self, e: ir.Bin, g: Any) -> Any:
        a, b = self.expr(e.args[0], g), self.expr(e.args[1], g)
        op = e.op
        if op in ("==", "!="):
            return a == b if op == "==" else a != b
        if op in ("<", "<=", ">", ">=") and isinstance(e.args[0].ty, IntTy):
            return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        ty = e.ty
        if not isinstance(ty, IntTy) or op not in ("+", "-", "*", "/", "%", "+wrap"):
            raise ProverUnsupported(f"the operator `{op}` on `{e.args[0].ty}` is not "
                                    f"supported by the prover ({e.span or 'here'})")
        if op == "+wrap":  # a loop counter's step, which cannot overflow
            r = a + b
            return z3.If(r > ty.max, r - (1 << ty.bits), r)
        if op in ("/", "%"):
            self.fault(g, b == 0, e.span, "division by zero")
            q_abs = z3.If(a >= 0, a, -a) / z3.If(b > 0, b, z3.If(b == 0, 1, -b))
            q = z3.If((a >= 0) == (b >= 0), q_abs, -q_abs)
            r = q if op == "/" else a - b * q
        else:
            r = {"+": a + b, "-": a - b, "*": a * b}[op]
        if not self.spec:
            self.fault(g, z3.Not(in_range(r, ty)), e.span, "arithmetic overflow")
        return r

    def cast(self, e: ir.Cast, g: Any) -> Any:
        src = e.args[0].ty
        arg = e.args[0]
        if e.ty == ADDRESS and isinstance(arg, ir.Const) and isinstance(arg.value, bytes) \
                and len(arg.value) == 20:  # `address(hex"...")`
            return z3.BitVecVal(int.from_bytes(arg.value, "big"), 160)
        v = self.expr(arg, g)
        if isinstance(e.ty, IntTy) and isinstance(src, IntTy | EnumTy):
            if not self.spec:
                self.fault(g, z3.Not(in_range(v, e.ty)), e.span,
                           "value out of range for conversion")
            return v
        raise ProverUnsupported(f"conversion from `{src}` to `{e.ty}` is not supported by the "
                                f"prover ({e.span or 'here'})")

    def call(self, e: ir.Call, g: Any) -> Any:
        fn = self.prog.functions[e.fn]
        if self.depth >= _MAX_INLINE:
            raise ProverUnsupported(f"calls nested deeper than {_MAX_INLINE} (recursion) are "
                                    f"not supported by the prover (`{e.fn}`)")
        args = [self.expr(a, g) for a in e.args]
        saved = self.env
        self.env = dict(zip(fn.params, args, strict=True))
        self.depth += 1
        frame = Frame()
        try:
            self.block(fn.body, g, frame)
        finally:
            self.depth -= 1
            self.env = saved
        if not frame.returns or frame.returns[0][1] is None:
            return z3.BoolVal(True)
        out = frame.returns[-1][1]
        for cond, value in reversed(frame.returns[:-1]):
            out = z3.If(cond, value, out)
        return out


def _store_path(m: Any, keys: list[Any], value: Any) -> Any:
    if len(keys) == 1:
        return z3.Store(m, keys[0], value)
    return z3.Store(m, keys[0], _store_path(z3.Select(m, keys[0]), keys[1:], value))


def _const(e: ir.Const) -> Any:
    v = e.value
    if isinstance(e.ty, IntTy | EnumTy):
        return z3.IntVal(int(v) if isinstance(v, int) else 0)
    if e.ty == BOOL:
        return z3.BoolVal(bool(v))
    if e.ty == ADDRESS and isinstance(v, bytes):
        return z3.BitVecVal(int.from_bytes(v, "big"), 160)
    if e.ty in (STRING, BYTES) and isinstance(v, bytes):
        return z3.StringVal(v.decode("latin-1"))
    raise ProverUnsupported(f"constants of type `{e.ty}` are not supported by the prover")
