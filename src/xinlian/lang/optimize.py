"""IR optimiser. Levels: -O0 none; -O1 constant folding and dead-code elimination;
-O2 adds inlining of small private functions and caching of state reads.

Every pass keeps behaviour identical, including which faults happen: folding never removes
an operation that would panic (an overflowing constant expression is left to fault at run
time), and caching of state reads is only done where nothing can write the variable in
between (no store to it, no call that might).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import TypeGuard

from xinlian.lang import ir
from xinlian.lang.types import BOOL, IntTy, Ty


def optimize(prog: ir.Program, level: int) -> None:
    if level <= 0:
        return
    for fn in prog.functions.values():
        fn.body = _fold_block(fn.body)
    if level >= 2:
        _inline(prog)
        for fn in prog.functions.values():
            fn.body = _fold_block(fn.body)
            _cache_state(fn)
    _drop_unused(prog)


# --- constant folding and dead code ---------------------------------------------------------
def _const(e: ir.Expr | None) -> TypeGuard[ir.Const]:
    return isinstance(e, ir.Const)


def _fold_int(op: str, a: int, b: int, t: IntTy) -> int | None:
    if op in ("+", "+wrap"):
        r = a + b
    elif op == "-":
        r = a - b
    elif op == "*":
        r = a * b
    elif op in ("/", "%"):
        if b == 0:
            return None
        q = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)
        r = q if op == "/" else a - q * b
    elif op == "&":
        r = a & b
    elif op == "|":
        r = a | b
    elif op == "^":
        r = a ^ b
    else:
        return None
    return r if t.min <= r <= t.max else None


_CMP = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def fold(e: ir.Expr) -> ir.Expr:
    e.args = [fold(a) for a in e.args]
    if isinstance(e, ir.Seq):
        e.stmts = _fold_block(e.stmts)
    a = e.args
    first = a[0] if a else None
    if isinstance(e, ir.Bin) and len(a) == 2 and _const(a[0]) and _const(a[1]):
        x, y, op = a[0].value, a[1].value, e.op
        if (op in _CMP and type(x) is type(y) and isinstance(x, int | bool | bytes)
                and (op in ("==", "!=") or isinstance(x, int))):
            return ir.Const(BOOL, _CMP[op](x, y), span=e.span)
        t: Ty = a[0].ty
        if isinstance(t, IntTy) and isinstance(x, int) and isinstance(y, int):
            r = _fold_int(op, x, y, t)
            if r is not None:
                return ir.Const(e.ty, r, span=e.span)
    if not _const(first):
        return e
    if isinstance(e, ir.Not):
        return ir.Const(BOOL, not first.value, span=e.span)
    if isinstance(e, ir.And):
        return a[1] if first.value else first
    if isinstance(e, ir.Or):
        return first if first.value else a[1]
    if isinstance(e, ir.Cast) and isinstance(e.ty, IntTy) and isinstance(first.value, int) \
            and e.ty.min <= first.value <= e.ty.max:
        return ir.Const(e.ty, first.value, span=e.span)
    return e


def _fold_block(body: list[ir.Stmt]) -> list[ir.Stmt]:
    out: list[ir.Stmt] = []
    for s in body:
        s.args = [fold(a) for a in s.args]
        s.map_blocks(_fold_block)
        cond = s.args[0] if s.args else None
        if isinstance(s, ir.If) and _const(cond):
            out.extend(s.body if cond.value else s.orelse)
        elif isinstance(s, ir.Loop) and _const(cond) and cond.value is False:
            pass
        else:
            out.append(s)
        if isinstance(s, ir.Return | ir.Break | ir.Continue | ir.Revert | ir.Panic):
            break  # the rest of the block cannot run
    return out


def _drop_unused(prog: ir.Program) -> None:
    """Remove private functions nothing reaches."""
    roots = [n for n, f in prog.functions.items() if f.public or f.kind != "fn"]
    for f in prog.functions.values():
        for s in ir.walk_stmts(f.body):
            if isinstance(s, ir.Async):
                roots.append(s.callback)
    seen: set[str] = set()
    while roots:
        n = roots.pop()
        if n in seen or n not in prog.functions:
            continue
        seen.add(n)
        roots.extend(_callees(prog.functions[n]))
    for n in list(prog.functions):
        if n not in seen:
            del prog.functions[n]


def all_exprs(body: list[ir.Stmt]) -> Iterator[ir.Expr]:
    """Every expression in `body`, including those inside `seq` expressions."""
    for s in ir.walk_stmts(body):
        for a in s.args:
            for e in ir.walk_exprs(a):
                yield e
                if isinstance(e, ir.Seq):
                    yield from all_exprs(e.stmts)


def _callees(fn: ir.Function) -> set[str]:
    return {e.fn for e in all_exprs(fn.body) if isinstance(e, ir.Call)}


# --- inlining -----------------------------------------------------------------------------
_INLINE_MAX_NODES = 12
# expressions that keep a function from being inlined (effects, or statements inside)
_NOT_INLINED = (ir.Call, ir.Seq, ir.Host, ir.ExtCall, ir.SLoad, ir.Pop)


def _inline(prog: ir.Program) -> None:
    """Replace calls to small private single-`return` functions by their expression."""
    candidates: dict[str, ir.Function] = {}
    for name, f in prog.functions.items():
        if f.public or f.kind != "fn" or len(f.body) != 1 \
                or not isinstance(f.body[0], ir.Return):
            continue
        if not f.body[0].args:
            continue
        e = f.body[0].args[0]
        nodes = list(ir.walk_exprs(e))
        if len(nodes) <= _INLINE_MAX_NODES and not any(
                isinstance(n, _NOT_INLINED) for n in nodes):
            candidates[name] = f

    def subst(e: ir.Expr, mapping: dict[ir.Var, ir.Expr]) -> ir.Expr:
        if isinstance(e, ir.Local) and e.var in mapping:
            return mapping[e.var]
        return replace(e, args=[subst(a, mapping) for a in e.args])

    def rewrite(e: ir.Expr) -> ir.Expr:
        e.args = [rewrite(a) for a in e.args]
        if isinstance(e, ir.Call) and e.fn in candidates:
            f = candidates[e.fn]
            body = f.body[0].args[0]
            if all(isinstance(a, ir.Const | ir.Local) for a in e.args):  # substitute directly
                return subst(body, dict(zip(f.params, e.args, strict=True)))
            # otherwise bind each argument once, in order, to a fresh local
            binds = [ir.Var(f"{f.name}.{p.name}", p.ty) for p in f.params]
            lets: list[ir.Stmt] = [ir.Let(v, args=[a], span=a.span)
                    for v, a in zip(binds, e.args, strict=True)]
            mapping: dict[ir.Var, ir.Expr] = {p: ir.Local(p.ty, v)
                       for p, v in zip(f.params, binds, strict=True)}
            return ir.Seq(e.ty, lets, args=[subst(body, mapping)], span=e.span)
        return e

    for f in prog.functions.values():
        for s in ir.walk_stmts(f.body):
            s.args = [rewrite(a) for a in s.args]


# --- storage-access caching ------------------------------------------------------------------
def _cache_state(fn: ir.Function) -> None:
    """Within straight-line statement lists, reuse a plain state variable's value after its
    first read until something might change it (a store to it, any call, a loop)."""
    counter = [0]

    def block(body: list[ir.Stmt]) -> list[ir.Stmt]:
        cache: dict[str, ir.Var] = {}
        out: list[ir.Stmt] = []
        for s in body:
            s.map_blocks(block)
            if isinstance(s, ir.If | ir.Loop | ir.Try | ir.TryBlock) or _may_write(s):
                cache.clear()
            else:
                hoisted: list[ir.Stmt] = []
                s.args = [_replace_loads(a, cache, hoisted, counter) for a in s.args]
                out.extend(hoisted)
            if isinstance(s, ir.SStore):
                cache.pop(s.state.name, None)
            out.append(s)
        return out

    fn.body = block(fn.body)


def _may_write(s: ir.Stmt) -> bool:
    """Whether evaluating the statement's expressions might change state: a call, or a
    `seq` that stores (list `push`/`pop` on state)."""
    for e in all_exprs([s]):
        if isinstance(e, ir.Call | ir.ExtCall):
            return True
        if isinstance(e, ir.Seq) and any(isinstance(x, ir.SStore) for x in ir.walk_stmts(e.stmts)):
            return True
    return False


def _replace_loads(e: ir.Expr, cache: dict[str, ir.Var], hoisted: list[ir.Stmt],
                   counter: list[int]) -> ir.Expr:
    """Reading earlier is safe: the caller checked nothing in the statement writes."""
    e.args = [_replace_loads(a, cache, hoisted, counter) for a in e.args]
    if isinstance(e, ir.Seq):  # inlined arguments
        for inner in ir.walk_stmts(e.stmts):
            inner.args = [_replace_loads(a, cache, hoisted, counter) for a in inner.args]
    if isinstance(e, ir.SLoad) and not e.args and not e.raw \
            and isinstance(e.ty, IntTy | type(BOOL)):
        st = e.state
        var = cache.get(st.name)
        if var is None:
            counter[0] += 1
            var = cache[st.name] = ir.Var(f"$cache{counter[0]}.{st.name}", e.ty)
            hoisted.append(ir.Let(var, args=[ir.SLoad(e.ty, st, span=e.span)], span=e.span))
        return ir.Local(e.ty, var, span=e.span)
    return e
