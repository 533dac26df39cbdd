"""What the vulnerability detectors see of a checked program: findings, and the few
facts about the IR they share (every node in program order, where a local's value can
come from, what a function reaches through internal calls).

The analysis is over the checker's unoptimised IR (`xinlian.lang.ir`), the same tree the
prover reads. It is flow-insensitive where that is enough: a local's value "derives from"
an expression if any assignment to it (`let`, `set`, a `try let`, or, for a parameter of
an internal function, any call site's argument) contains one. That over-approximates, so
a detector asking "may this come from `caller()`?" errs on the side of yes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from xinlian.lang import ir
from xinlian.lang.errors import Span
from xinlian.lang.upgrade_rule import UpgradeRule

SEVERITIES = ("high", "medium", "low", "info")
CHAIN_STATE = frozenset({"block_time", "block_number", "block_hash", "tx_hash", "tx_index"})


@dataclass(frozen=True)
class Finding:
    """One problem a detector found: where, and in which function (None: the contract)."""

    detector: str
    severity: str
    message: str
    file: str
    line: int
    col: int
    function: str | None

    def to_json(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Detector:
    """A check with a stable id, a severity (one of SEVERITIES), a one-line title, a
    description of what it flags and why, and the function that runs it on a program."""

    id: str
    severity: str
    title: str
    description: str
    run: Callable[[Context], list[Finding]]


@dataclass
class Context:
    """A checked program with what detectors need beyond its IR: the declaration line of
    each state variable and, for a contract that `upgrades` another in the same file, the
    state variables and upgrade rule of that older version."""

    prog: ir.Program
    state_spans: dict[str, Span] = field(default_factory=dict)
    contract_span: Span | None = None
    old_states: frozenset[str] | None = None
    old_rule: UpgradeRule | None = None
    defs: dict[ir.Var, list[ir.Expr]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.defs = _definitions(self.prog)

    def functions(self) -> list[ir.Function]:
        """Every function the contract runs (tests excluded)."""
        return [f for f in self.prog.functions.values() if f.kind != "test"]

    def entries(self) -> list[ir.Function]:
        """Functions a transaction or the engine starts: public `fn`s, callbacks and
        scheduled functions (the constructor and `migrate` run once, by their deployer)."""
        return [f for f in self.functions()
                if (f.public and f.kind == "fn") or f.kind in ("callback", "scheduled")]

    def reach(self, fn: ir.Function) -> list[ir.Function]:
        """`fn` and every function it calls internally, transitively."""
        seen = {fn.name}
        order = [fn]
        for f in order:
            for callee in sorted(f.calls):
                g = self.prog.functions.get(callee)
                if g is not None and callee not in seen:
                    seen.add(callee)
                    order.append(g)
        return order

    def sources(self, e: ir.Expr) -> Iterator[ir.Expr]:
        """Every node of `e` and of the values any local in it may hold."""
        seen: set[ir.Var] = set()
        todo = [e]
        while todo:
            for node in exprs_in(todo.pop()):
                yield node
                var = node.var if isinstance(node, ir.Local) else \
                    node.pos if isinstance(node, ir.DecodeAt) else None
                if var is not None and var not in seen:
                    seen.add(var)
                    todo += self.defs.get(var, [])

    def derives(self, e: ir.Expr, pred: Callable[[ir.Expr], bool]) -> bool:
        """Whether `e`, or a value any local in it may hold, has a node where `pred` holds."""
        return any(pred(node) for node in self.sources(e))

    def finding(self, detector: str, severity: str, message: str, span: Span | None,
                fn: ir.Function | None) -> Finding:
        at = span or (fn.span if fn else None) or self.contract_span
        return Finding(detector, severity, message, self.prog.file, at.line if at else 1,
                       at.col if at else 1, fn.name if fn else None)


def exprs_in(e: ir.Expr) -> Iterator[ir.Expr]:
    """`e` and every expression below it, including those of a `Seq`'s statements."""
    yield e
    if isinstance(e, ir.Seq):
        for s in e.stmts:
            for a in s.args:
                yield from exprs_in(a)
    for a in e.args:
        yield from exprs_in(a)


def stmts_in(body: list[ir.Stmt]) -> Iterator[ir.Stmt]:
    """Every statement of `body`, nested ones and those inside `Seq` expressions too."""
    for s in body:
        yield s
        for a in s.args:
            for e in exprs_in(a):
                if isinstance(e, ir.Seq):
                    yield from stmts_in(e.stmts)
        for block in s.blocks():
            yield from stmts_in(block)


def all_exprs(body: list[ir.Stmt]) -> Iterator[ir.Expr]:
    for s in stmts_in(body):
        for a in s.args:
            yield from exprs_in(a)


def conditions(body: list[ir.Stmt]) -> Iterator[ir.Expr]:
    """The condition of every `if`, `require`, `assert` and loop in `body`."""
    for s in stmts_in(body):
        if isinstance(s, ir.If | ir.Loop):
            yield s.args[0]


def in_order(body: list[ir.Stmt]) -> Iterator[ir.Stmt | ir.Expr]:
    """The nodes of `body` in the order they run on a straight path: a statement's
    operands, then the statement, then its nested blocks. A loop's body and step are
    visited twice, so what the second iteration runs after the first is seen."""
    for s in body:
        for a in s.args:
            yield from _expr_order(a)
        yield s
        if isinstance(s, ir.Loop):
            for _ in range(2):
                yield from in_order(s.body)
                yield from in_order(s.step)
        else:
            for block in s.blocks():
                yield from in_order(block)


def _expr_order(e: ir.Expr) -> Iterator[ir.Stmt | ir.Expr]:
    if isinstance(e, ir.Seq):
        yield from in_order(e.stmts)
    for a in e.args:
        yield from _expr_order(a)
    yield e


def is_host(e: ir.Expr, *names: str) -> bool:
    return isinstance(e, ir.Host) and e.name in names


def same(a: ir.Expr, b: ir.Expr) -> bool:
    """Structural equality of two side-effect-free expressions (locals by identity)."""
    if type(a) is not type(b) or len(a.args) != len(b.args):
        return False
    if isinstance(a, ir.Local) and isinstance(b, ir.Local):
        return a.var is b.var
    if isinstance(a, ir.Const) and isinstance(b, ir.Const):
        return a.value == b.value and a.ty == b.ty
    keys = ("op", "name", "fn", "index", "state", "iface", "method")
    if any(getattr(a, k, None) != getattr(b, k, None) for k in keys):
        return False
    if isinstance(a, ir.ExtCall | ir.Call | ir.Seq) or (
            isinstance(a, ir.Host) and a.name not in ("caller", "origin", "self_address")):
        return False
    return all(same(x, y) for x, y in zip(a.args, b.args, strict=True))


def sync_calls(body: list[ir.Stmt]) -> Iterator[ir.ExtCall]:
    """The synchronous cross-contract calls of `body` (an `async` request's is not)."""
    for s in stmts_in(body):
        if isinstance(s, ir.Async):
            continue
        for a in s.args:
            yield from (e for e in exprs_in(a) if isinstance(e, ir.ExtCall))


def _definitions(prog: ir.Program) -> dict[ir.Var, list[ir.Expr]]:
    defs: dict[ir.Var, list[ir.Expr]] = {}
    for fn in prog.functions.values():
        for s in stmts_in(fn.body):
            var = s.var if isinstance(s, ir.Let | ir.Set | ir.Try) else None
            if var is not None:
                defs.setdefault(var, []).append(s.args[0])
        for e in all_exprs(fn.body):
            callee = prog.functions.get(e.fn) if isinstance(e, ir.Call) else None
            if callee is not None:
                for p, arg in zip(callee.params, e.args, strict=False):
                    defs.setdefault(p, []).append(arg)
    return defs
