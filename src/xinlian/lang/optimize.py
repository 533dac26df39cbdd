"""IR optimiser. Levels: -O0 none; -O1 constant folding and dead-code elimination;
-O2 adds inlining of small private functions and caching of state reads.

Every pass keeps behaviour identical, including which faults happen: folding never removes
an operation that would panic (an overflowing constant expression is left to fault at run
time), and caching of state reads is only done where nothing can write the variable in
between (no store to it, no call that might).
"""

from __future__ import annotations

from collections.abc import Iterator

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
def _const(e: ir.Expr) -> bool:
    return e.kind == "const"


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
    if e.kind == "seq":
        e.data = _fold_block(e.data)  # type: ignore[arg-type]
    a = e.args
    if e.kind == "bin" and len(a) == 2 and _const(a[0]) and _const(a[1]):
        x, y, op = a[0].data, a[1].data, str(e.data)
        if (op in _CMP and type(x) is type(y) and isinstance(x, int | bool | bytes)
                and (op in ("==", "!=") or isinstance(x, int))):
            return ir.Expr("const", BOOL, data=_CMP[op](x, y), span=e.span)
        t: Ty = a[0].ty
        if isinstance(t, IntTy) and isinstance(x, int) and isinstance(y, int):
            r = _fold_int(op, x, y, t)
            if r is not None:
                return ir.Expr("const", e.ty, data=r, span=e.span)
    if e.kind == "un" and _const(a[0]):
        return ir.Expr("const", BOOL, data=not a[0].data, span=e.span)
    if e.kind in ("and", "or") and _const(a[0]):
        first = bool(a[0].data)
        if e.kind == "and":
            return a[1] if first else a[0]
        return a[0] if first else a[1]
    if e.kind == "cast" and _const(a[0]) and isinstance(e.ty, IntTy) \
            and isinstance(a[0].data, int) and e.ty.min <= a[0].data <= e.ty.max:
        return ir.Expr("const", e.ty, data=a[0].data, span=e.span)
    return e


def _fold_block(body: list[ir.Stmt]) -> list[ir.Stmt]:
    out: list[ir.Stmt] = []
    for s in body:
        s.args = [fold(a) for a in s.args]
        s.body, s.orelse, s.step = _fold_block(s.body), _fold_block(s.orelse), \
            _fold_block(s.step)
        if s.kind == "if" and _const(s.args[0]):
            out.extend(s.body if s.args[0].data else s.orelse)
        elif s.kind == "loop" and _const(s.args[0]) and s.args[0].data is False:
            pass
        else:
            out.append(s)
        if s.kind in ("return", "break", "continue", "revert", "panic"):
            break  # the rest of the block cannot run
    return out


def _drop_unused(prog: ir.Program) -> None:
    """Remove private functions nothing reaches."""
    roots = [n for n, f in prog.functions.items() if f.public or f.kind != "fn"]
    for f in prog.functions.values():
        for s in ir.walk_stmts(f.body):
            if s.kind == "async":
                roots.append(str(s.data))
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
                if e.kind == "seq":
                    yield from all_exprs(e.data)  # type: ignore[arg-type]


def _callees(fn: ir.Function) -> set[str]:
    return {str(e.data) for e in all_exprs(fn.body) if e.kind == "call"}


# --- inlining -----------------------------------------------------------------------------
_INLINE_MAX_NODES = 12


def _inline(prog: ir.Program) -> None:
    """Replace calls to small private single-`return` functions by their expression."""
    candidates: dict[str, ir.Function] = {}
    for name, f in prog.functions.items():
        if f.public or f.kind != "fn" or len(f.body) != 1 or f.body[0].kind != "return":
            continue
        if not f.body[0].args:
            continue
        e = f.body[0].args[0]
        nodes = list(ir.walk_exprs(e))
        if len(nodes) <= _INLINE_MAX_NODES and not any(
                n.kind in ("call", "seq", "host", "ext_call", "sload", "pop") for n in nodes):
            candidates[name] = f

    def subst(e: ir.Expr, mapping: dict[ir.Var, ir.Expr]) -> ir.Expr:
        if e.kind == "local" and e.data in mapping:
            return mapping[e.data]
        return ir.Expr(e.kind, e.ty, [subst(a, mapping) for a in e.args], e.data, e.span)

    def rewrite(e: ir.Expr) -> ir.Expr:
        e.args = [rewrite(a) for a in e.args]
        if e.kind == "call" and e.data in candidates:
            f = candidates[str(e.data)]
            body = f.body[0].args[0]
            if all(a.kind in ("const", "local") for a in e.args):  # substitute directly
                return subst(body, dict(zip(f.params, e.args, strict=True)))
            # otherwise bind each argument once, in order, to a fresh local
            binds = [ir.Var(f"{f.name}.{p.name}", p.ty) for p in f.params]
            lets = [ir.Stmt("let", [a], data=v, span=a.span)
                    for v, a in zip(binds, e.args, strict=True)]
            mapping = {p: ir.Expr("local", p.ty, data=v)
                       for p, v in zip(f.params, binds, strict=True)}
            return ir.Expr("seq", e.ty, [subst(body, mapping)], lets, e.span)
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
            s.body, s.orelse, s.step = block(s.body), block(s.orelse), block(s.step)
            if s.kind in ("if", "loop", "try") or _may_write(s):
                cache.clear()
            else:
                hoisted: list[ir.Stmt] = []
                s.args = [_replace_loads(a, cache, hoisted, counter) for a in s.args]
                out.extend(hoisted)
            if s.kind == "sstore" and isinstance(s.data, ir.StateVar):
                cache.pop(s.data.name, None)
            out.append(s)
        return out

    fn.body = block(fn.body)


def _may_write(s: ir.Stmt) -> bool:
    """Whether evaluating the statement's expressions might change state: a call, or a
    `seq` that stores (list `push`/`pop` on state)."""
    for e in all_exprs([s]):
        if e.kind in ("call", "ext_call"):
            return True
        if e.kind == "seq" and any(x.kind == "sstore" for x in ir.walk_stmts(e.data)):  # type: ignore[arg-type]
            return True
    return False


def _replace_loads(e: ir.Expr, cache: dict[str, ir.Var], hoisted: list[ir.Stmt],
                   counter: list[int]) -> ir.Expr:
    """Reading earlier is safe: the caller checked nothing in the statement writes."""
    e.args = [_replace_loads(a, cache, hoisted, counter) for a in e.args]
    if e.kind == "seq":  # inlined arguments
        for inner in ir.walk_stmts(e.data):  # type: ignore[arg-type]
            inner.args = [_replace_loads(a, cache, hoisted, counter) for a in inner.args]
    if e.kind == "sload" and not e.args and isinstance(e.data, ir.StateVar) \
            and isinstance(e.ty, IntTy | type(BOOL)):
        st = e.data
        var = cache.get(st.name)
        if var is None:
            counter[0] += 1
            var = cache[st.name] = ir.Var(f"$cache{counter[0]}.{st.name}", e.ty)
            hoisted.append(ir.Stmt("let", [ir.Expr("sload", e.ty, data=st, span=e.span)],
                                   data=var, span=e.span))
        return ir.Expr("local", e.ty, data=var, span=e.span)
    return e
