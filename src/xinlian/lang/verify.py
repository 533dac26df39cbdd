"""`xinlian qi verify`: prove each public function of a contract against its specification.

For every public function: the contract's invariants and its `requires` are assumed on an
arbitrary pre-state and arguments; each `ensures`, each invariant and `modifies` must hold
after every execution that does not abort, and, when it has `aborts_if` clauses, the call
must abort exactly when one of them holds. The constructor starts from the zero state and
must establish the invariants. Each goal is one solver query: unsat is a proof, sat a
counterexample (the model's arguments, caller and state, and the source line of the goal
and of the abort, if any), unknown a timeout or an undecided query, never a proof.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import z3

from xinlian.lang import checker, ir, parser, replay
from xinlian.lang.errors import ProverUnsupported, Span
from xinlian.lang.prover import Executor, Frame, in_range, sort_of, zero_of
from xinlian.lang.types import ADDRESS, BOOL, EnumTy, IntTy, MapTy

PROVED, COUNTEREXAMPLE, TIMEOUT = "proved", "counterexample", "timeout"


@dataclass
class Goal:
    function: str
    what: str  # "ensures", "invariant", "aborts_if", "modifies", "loop invariant ..."
    line: int
    status: str
    seconds: float
    counterexample: dict[str, Any] | None = None
    test: str | None = None  # the counterexample as a Qi `test fn`, when one can be written


@dataclass
class Report:
    file: str
    contract: str | None
    goals: list[Goal] = field(default_factory=list)

    @property
    def status(self) -> str:
        states = {g.status for g in self.goals}
        return (COUNTEREXAMPLE if COUNTEREXAMPLE in states else
                TIMEOUT if TIMEOUT in states else PROVED)

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "contract": self.contract, "status": self.status,
                "goals": [{k: v for k, v in g.__dict__.items() if k != "test"} for g in self.goals]}


def load(source: str, file: str, contract: str | None = None) -> ir.Program:
    """The checked, unoptimised IR: the semantics code generation implements."""
    return checker.check(parser.parse(source, file), source, contract)


def entry_points(prog: ir.Program) -> list[ir.Function]:
    """What can change the contract's state: the constructor, public functions, and the
    scheduled functions and async callbacks the engine runs. (`migrate` runs on the state
    of the previous version, whose invariants these are not, and is not verified.)"""
    return [fn for fn in prog.functions.values()
            if fn.kind in ("init", "scheduled", "callback") or (fn.public and fn.kind == "fn")]


def verify_source(source: str, file: str, contract: str | None = None,
                  timeout_ms: int = 10_000, only: str | None = None) -> Report:
    prog = load(source, file, contract)
    report = Report(file, prog.contract)
    for fn in entry_points(prog):
        if only in (None, fn.name):
            report.goals += verify_function(prog, fn, timeout_ms)
    return report


def _entry_state(prog: ir.Program, fresh: bool) -> tuple[dict[str, Any], list[Any]]:
    state: dict[str, Any] = {}
    assumes: list[Any] = []
    for st in prog.states:
        sums = isinstance(st.ty, MapTy) and isinstance(st.ty.value, IntTy)
        try:
            sort_of(st.ty)
        except ProverUnsupported as exc:
            raise ProverUnsupported(f"state `{st.name}`: {exc}") from exc
        if not fresh:
            state[st.name] = zero_of(st.ty)
            if sums:
                state[f"$sum:{st.name}"] = z3.IntVal(0)
            continue
        state[st.name] = z3.Const(st.name, sort_of(st.ty))
        assumes.append(in_range(state[st.name], st.ty))
        if sums:
            state[f"$sum:{st.name}"] = z3.Int(f"sum({st.name})")
            if isinstance(st.ty, MapTy) and isinstance(st.ty.value, IntTy) \
                    and not st.ty.value.signed:
                assumes.append(state[f"$sum:{st.name}"] >= 0)
    return state, assumes


def verify_function(prog: ir.Program, fn: ir.Function, timeout_ms: int) -> list[Goal]:
    init = fn.kind == "init"
    state, assumes = _entry_state(prog, fresh=not init)
    ex = Executor(prog, state)
    ex.assumes += assumes
    args = {p: ex.fresh(p.name, p.ty) for p in fn.params}
    ex.env = dict(args)
    pre: list[Any] = [] if init else [ex.spec_value(s.expr) for s in prog.invariants]
    pre += [ex.spec_value(s.expr) for s in fn.specs if s.kind == "requires"]
    aborts_if = [ex.spec_value(s.expr) for s in fn.specs if s.kind == "aborts_if"]
    frame = Frame()
    end = ex.block(fn.body, z3.BoolVal(True), frame)
    aborted = z3.Or(*[a.cond for a in ex.aborts]) if ex.aborts else z3.BoolVal(False)
    # finished normally: the guard of the end or of a `return` (with loops, a guard
    # includes the loop invariants assumed on the havocked state)
    done = z3.And(z3.Not(aborted), z3.Or(end, *[cond for cond, _ in frame.returns]))
    if fn.result is not None and frame.returns:
        out = frame.returns[-1][1]
        for cond, value in reversed(frame.returns[:-1]):
            out = z3.If(cond, value, out)
        ex.env[fn.result] = out
    base = [*ex.assumes, *pre]
    goals: list[tuple[str, Span, Any, ir.Expr | None]] = []
    for s in [*(s for s in fn.specs if s.kind == "ensures"), *prog.invariants]:
        goals.append((s.kind, s.span, z3.And(done, z3.Not(ex.spec_value(s.expr))), s.expr))
    if fn.modifies is not None:
        for st in prog.states:
            if st.name not in fn.modifies:
                goals.append((f"modifies (`{st.name}` unchanged)", fn.span,
                              z3.And(done, ex.state[st.name] != ex.pre[st.name]), None))
    for ob in ex.obligations:
        earlier = [a.cond for a in ex.aborts[:ob.before]]
        goals.append((ob.what, ob.span or fn.span,
                      z3.And(z3.Not(z3.Or(*earlier)) if earlier else z3.BoolVal(True),
                             z3.Not(ob.cond)), None))
    if aborts_if:
        expected = z3.Or(*aborts_if)
        line = next(s.span for s in fn.specs if s.kind == "aborts_if")
        goals.append(("aborts_if (aborts although no aborts_if holds)", line,
                      z3.And(aborted, z3.Not(expected)), None))
        goals.append(("aborts_if (an aborts_if holds but the call does not abort)", line,
                      z3.And(expected, z3.Not(aborted)), None))
    return [_solve(ex, fn, args, goal, base, timeout_ms) for goal in goals]


def _solve(ex: Executor, fn: ir.Function, args: dict[ir.Var, Any],
           goal: tuple[str, Span, Any, ir.Expr | None], base: list[Any],
           timeout_ms: int) -> Goal:
    what, span, negated, spec = goal
    solver = z3.Solver()
    solver.set("timeout", timeout_ms)
    solver.add(*base, negated)
    start = time.perf_counter()
    answer = solver.check()
    took = round(time.perf_counter() - start, 4)
    if answer == z3.unsat:
        return Goal(fn.name, what, span.line, PROVED, took)
    if answer == z3.unknown:
        return Goal(fn.name, what, span.line, TIMEOUT, took,
                    {"reason": solver.reason_unknown()})
    model = solver.model()
    solver.add(*replay.concrete(ex))  # prefer a state a test can build
    buildable = solver.check() == z3.sat
    if buildable:
        model = solver.model()
    cex = _counterexample(ex, fn, args, model)
    cex["buildable"] = buildable
    test = None
    if buildable and fn.kind == "fn" and (spec is not None or what.startswith("aborts_if")):
        test = replay.TestWriter(ex, fn, args, model).test(what, spec)
    return Goal(fn.name, what, span.line, COUNTEREXAMPLE, took, cex, test)


def _counterexample(ex: Executor, fn: ir.Function, args: dict[ir.Var, Any],
                    model: z3.ModelRef) -> dict[str, Any]:
    def val(t: Any, ty: Any) -> Any:
        v = model.eval(t, model_completion=True)
        if ty == BOOL:
            return z3.is_true(v)
        if ty == ADDRESS:
            return "0x" + v.as_long().to_bytes(20, "big").hex()
        if isinstance(ty, IntTy | EnumTy):
            n = v.as_long()
            return ty.variants[n] if isinstance(ty, EnumTy) and 0 <= n < len(ty.variants) \
                else n
        return v.as_string() if z3.is_string_value(v) else str(v)

    state: dict[str, Any] = {}
    for st in ex.prog.states:
        if not isinstance(st.ty, MapTy):
            state[st.name] = val(ex.pre[st.name], st.ty)
    for name, keys in ex.reads:
        st = next(s for s in ex.prog.states if s.name == name)
        ty: Any = st.ty
        term = ex.pre[name]
        for k in keys:
            term = z3.Select(term, k)
            ty = ty.value if isinstance(ty, MapTy) else ty
        key_tys = []
        kt: Any = st.ty
        for _ in keys:
            key_tys.append(kt.key)
            kt = kt.value
        label = name + "".join(f"[{val(k, t)}]" for k, t in zip(keys, key_tys, strict=True))
        state[label] = val(term, ty)
    for key in ex.pre:
        if key.startswith("$sum:"):
            state[f"sum({key[5:]})"] = val(ex.pre[key], IntTy(256, True))
    fired = next((a for a in ex.aborts if z3.is_true(model.eval(a.cond,
                                                                model_completion=True))), None)
    return {
        "inputs": {p.name: val(t, p.ty) for p, t in args.items()},
        "caller": val(ex.caller, ADDRESS),
        "state_before": state,
        "aborts": None if fired is None else {
            "why": fired.why, "line": fired.span.line if fired.span else None},
    }
