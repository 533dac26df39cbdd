"""Type checking of specifications: `requires`, `ensures` (with `old` and `result`),
`aborts_if`, `modifies`, contract and loop `invariant`s.

Specifications are boolean Qi expressions checked by the same expression checker as code,
in a spec mode that adds `old(e)` (in `ensures`), `result` (in `ensures` of a function
with a result) and `sum(m)` (a state map of integers), and refuses anything with an
effect. Checking them leaves the function's recorded state access and temporaries as they
were, so the compiled module is the same with and without specifications.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from xinlian.lang import ast as A
from xinlian.lang import ir
from xinlian.lang.errors import E_ARITY, E_SPEC, E_TYPE_MISMATCH, E_UNKNOWN_NAME, Span
from xinlian.lang.types import BOOL, UNIT, IntTy, MapTy, Ty


class Checker(Protocol):
    """What this module uses of `xinlian.lang.checker.Checker` (which imports it)."""

    fn: ir.Function | None
    tmp_counter: int
    spec_kind: str | None
    states: dict[str, ir.StateVar]
    fn_sigs: dict[str, A.FnDecl]

    def expr(self, e: A.Expr, want: Ty | None, allow_unit: bool = False) -> ir.Expr: ...

    def err(self, code: int, message: str, span: Span) -> None: ...

    def push_scope(self, names: dict[str, ir.Var]) -> None: ...

    def pop_scope(self) -> None: ...

# builtins a specification may read (they have no effect)
PURE_HOSTS = frozenset({"caller", "self_address", "block_number", "block_time"})
_IMPURE = (ir.Call, ir.ExtCall, ir.Seq, ir.MapEntry, ir.Pop, ir.Decode, ir.DecodeAt,
           ir.Text, ir.Encode, ir.NewMap, ir.MapItems, ir.ToString)


@contextmanager
def _spec_mode(c: Checker, kind: str) -> Iterator[None]:
    """Check in spec mode; undo what checking records on the function (its state access,
    callees and temporaries), which describes code, not specifications."""
    fn = c.fn
    saved = (set(fn.reads), set(fn.writes), set(fn.calls)) if fn else None
    counter, before = c.tmp_counter, c.spec_kind
    c.spec_kind = kind
    try:
        yield
    finally:
        c.spec_kind, c.tmp_counter = before, counter
        if fn is not None and saved is not None:
            fn.reads, fn.writes, fn.calls = saved


def spec_expr(c: Checker, kind: str, e: A.Expr) -> ir.Expr:
    """One specification expression: a pure `bool`."""
    with _spec_mode(c, kind):
        out = c.expr(e, BOOL)
    for sub in ir.walk_exprs(out):
        if isinstance(sub, _IMPURE) or (isinstance(sub, ir.Host)
                                        and sub.name not in PURE_HOSTS):
            c.err(E_SPEC, "a specification must be pure: no calls, no effects, no "
                  "allocation (allowed: state, parameters, operators, `old`, `sum`, "
                  "`result`, `caller()`, block number and time)", e.span)
            break
    return out


def function_specs(c: Checker, d: A.FnDecl, fn: ir.Function) -> None:
    """Check `d`'s clauses into `fn.specs` and `fn.modifies` (parameters in scope)."""
    if fn.ret != UNIT:
        fn.result = ir.Var("result", fn.ret, mutable=False)
    for clause in d.specs:
        if clause.kind == "modifies":
            for n in clause.names:
                if n not in c.states:
                    c.err(E_UNKNOWN_NAME, f"`{n}` is not a state variable", clause.span)
            fn.modifies = [*(fn.modifies or []), *clause.names]
            continue
        assert clause.expr is not None
        if clause.kind == "ensures" and fn.result is not None:
            c.push_scope({"result": fn.result})
            fn.specs.append(ir.Spec(clause.kind, spec_expr(c, clause.kind, clause.expr),
                                    clause.span))
            c.pop_scope()
        else:
            fn.specs.append(ir.Spec(clause.kind, spec_expr(c, clause.kind, clause.expr),
                                    clause.span))
    if d.specs and d.is_test:
        c.err(E_SPEC, "tests take no specifications", d.span)


def invariants(c: Checker, clauses: list[A.SpecClause]) -> list[ir.Spec]:
    """A contract's `invariant`s: over its state only."""
    return [ir.Spec("invariant", spec_expr(c, "invariant", cl.expr), cl.span)
            for cl in clauses if cl.expr is not None]


def loop_invariants(c: Checker, exprs: list[A.Expr]) -> list[ir.Expr]:
    return [spec_expr(c, "loop", e) for e in exprs]


def spec_call(c: Checker, name: str, e: A.Call) -> ir.Expr:
    """`old(e)` (in `ensures` only) and `sum(state_map)`."""
    if len(e.args) != 1:
        c.err(E_ARITY, f"`{name}` takes one argument", e.span)
        return ir.Const(UNIT, 0)
    arg = e.args[0]
    if name == "old":
        if c.spec_kind != "ensures":
            c.err(E_SPEC, "`old(...)` is only meaningful in `ensures`", e.span)
        inner = c.expr(arg, None)
        return ir.Old(inner.ty, args=[inner], span=e.span)
    st = c.states.get(arg.ident) if isinstance(arg, A.Name) else None
    if st is None or not isinstance(st.ty, MapTy) or not isinstance(st.ty.value, IntTy):
        c.err(E_TYPE_MISMATCH, "`sum` takes a state map whose values are integers", arg.span)
        return ir.Const(UNIT, 0)
    return ir.MapSum(st.ty.value, st, span=e.span)


def is_spec_call(c: Checker, name: str) -> bool:
    return c.spec_kind is not None and name in ("old", "sum") and name not in c.fn_sigs

