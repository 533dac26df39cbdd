"""Qi type checker: resolves names and types and lowers the syntax tree to IR.

Checking and lowering are one walk: each expression is checked against the type its context
expects (so integer literals take the type they are used at) and comes out as a typed IR
node. Errors are collected, not raised one by one; a bad expression yields an `error`-typed
placeholder so that checking continues and reports the independent mistakes too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from xinlian.lang import ast as A
from xinlian.lang import ir, spec_check
from xinlian.lang.errors import (
    E_ACCESS,
    E_ARITY,
    E_BAD_CONTEXT,
    E_CALLBACK,
    E_CONST_FAULT,
    E_DUPLICATE,
    E_FREE_STATE,
    E_IMMUTABLE,
    E_LITERAL_RANGE,
    E_MISSING_RETURN,
    E_NOT_ASSIGNABLE,
    E_NOT_CALLABLE,
    E_RECURSIVE_TYPE,
    E_SCHEDULE,
    E_TYPE_MISMATCH,
    E_UNKNOWN_MEMBER,
    E_UNKNOWN_NAME,
    E_UNKNOWN_TYPE,
    E_UNREACHABLE,
    E_UPGRADE_RULE,
    E_VIEW_WRITES,
    CompileError,
    Diagnostic,
    Span,
)
from xinlian.lang.services import SERVICES, STATE_CHANGING
from xinlian.lang.types import (
    ADDRESS,
    ADDRESS_LEN,
    BOOL,
    BYTES,
    INT_TYPES,
    PRIMS,
    STRING,
    U32,
    U64,
    UNIT,
    ArrayTy,
    EnumTy,
    IntTy,
    ListTy,
    MapTy,
    OptionalTy,
    PrimTy,
    StructTy,
    Ty,
    is_storable,
)
from xinlian.lang.upgrade_rule import UpgradeRule

ERROR = PrimTy("<error>")

# builtin functions: name -> (parameter types, result type)
BUILTINS: dict[str, tuple[list[Ty], Ty]] = {
    "caller": ([], ADDRESS),
    "self_address": ([], ADDRESS),
    "block_number": ([], U64),
    "block_time": ([], U64),
    "sm3": ([BYTES], BYTES),
    "sha256": ([BYTES], BYTES),
    "keccak256": ([BYTES], BYTES),
    "sm2_verify": ([BYTES, BYTES, BYTES], BOOL),
    "ed25519_verify": ([BYTES, BYTES, BYTES], BOOL),
    "mldsa_verify": ([BYTES, BYTES, BYTES], BOOL),
    **SERVICES,
}
TEST_BUILTINS: dict[str, tuple[list[Ty], Ty]] = {
    "set_caller": ([ADDRESS], UNIT),
    "set_block": ([U64], UNIT),
    "set_time": ([U64], UNIT),
    "deploy": ([STRING, BYTES], ADDRESS),
}


I32 = INT_TYPES["i32"]


def _first(spans: list[Span]) -> Span | None:
    """The earliest of some source positions."""
    return min(spans, key=lambda sp: (sp.line, sp.col), default=None)


def _fold(op: str, a: int, b: int) -> int | None:
    """`a op b` on integers as Qi computes it (division truncates toward zero, `%` has the
    sign of the dividend); None for division by zero or an operator not folded here."""
    if op in "/%" and b == 0:
        return None
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op in "/%":
        q = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)
        return q if op == "/" else a - b * q
    return None


def _leaves(body: list[ir.Stmt]) -> bool:
    """The block always leaves at its last statement (loops are not looked into: code
    after `while true {}` is accepted as written)."""
    if not body:
        return False
    last = body[-1]
    if isinstance(last, ir.Return | ir.Revert | ir.Panic | ir.Break | ir.Continue):
        return True
    return isinstance(last, ir.If) and _leaves(last.body) and _leaves(last.orelse)


def untyped(e: A.Expr) -> bool:
    """An expression of integer literals only (`1`, `-2`, `(3 + 4) * 5`): it takes its
    type from the context rather than defaulting to u64."""
    if isinstance(e, A.IntLit):
        return True
    if isinstance(e, A.Unary):
        return e.op == "-" and untyped(e.operand)
    if isinstance(e, A.Binary):
        return e.op in ("+", "-", "*", "/", "%", "&", "|", "^") and untyped(e.left) \
            and untyped(e.right)
    return False


@dataclass
class _Scope:
    vars: dict[str, ir.Var]


class Checker:
    def __init__(self, prog: A.Program, source: str, test_mode: bool = False) -> None:
        self.prog = prog
        self.source = source
        self.test_mode = test_mode
        self.diags: list[Diagnostic] = []
        self.types: dict[str, Ty] = {}
        self.fn_sigs: dict[str, A.FnDecl] = {}
        self.states: dict[str, ir.StateVar] = {}
        self.events: dict[str, tuple[int, ir.Signature]] = {}
        self.errors: dict[str, tuple[int, ir.Signature]] = {}
        self.interfaces: dict[str, dict[str, tuple[list[Ty], Ty]]] = {}
        self.contract: A.ContractDecl | None = None
        # per-function state
        self.fn: ir.Function | None = None
        self.scopes: list[_Scope] = []
        self.loop_depth = 0
        self.tmp_counter = 0
        self.spec_kind: str | None = None  # checking a specification of this kind

    def err(self, code: int, message: str, span: Span) -> None:
        self.diags.append(Diagnostic(code, message, span))

    # --- declarations -----------------------------------------------------------------------
    def run(self, contract_name: str | None) -> ir.Program:
        contract = self.pick_contract(contract_name)
        self.contract = contract
        self.declare_types()
        for iface in self.prog.interfaces:
            methods: dict[str, tuple[list[Ty], Ty]] = {}
            for m in iface.methods:
                methods[m.name] = ([self.resolve(p.type) for p in m.params],
                                   self.resolve(m.ret) if m.ret else UNIT)
            self.interfaces[iface.name] = methods
        decls: list[A.FnDecl] = list(self.prog.functions)
        if contract:
            for i, s in enumerate(contract.states):
                ty = self.resolve(s.type)
                if s.name in self.states:
                    self.err(E_DUPLICATE, f"state variable `{s.name}` is defined twice", s.span)
                if not isinstance(ty, MapTy) and not is_storable(ty) and ty != ERROR:
                    self.err(E_TYPE_MISMATCH, f"type `{ty}` cannot be stored", s.span)
                self.states[s.name] = ir.StateVar(s.name, ty, i, s.indexed)
            for i, e in enumerate(contract.events):
                self.events[e.name] = (i, ir.Signature(e.name, [
                    (p.name, self.resolve(p.type), p.indexed) for p in e.params]))
            for i, er in enumerate(contract.errors):
                self.errors[er.name] = (i, ir.Signature(er.name, [
                    (p.name, self.resolve(p.type), False) for p in er.params]))
            decls += contract.functions
        functions: dict[str, ir.Function] = {}
        for d in decls:
            if d.is_test and not self.test_mode:
                continue
            if d.name in self.fn_sigs or d.name in BUILTINS:
                self.err(E_DUPLICATE, f"function `{d.name}` is defined twice", d.span)
                continue
            self.fn_sigs[d.name] = d
        for name, d in self.fn_sigs.items():
            functions[name] = self.function(d)
        self.check_callbacks_and_schedules(functions)
        self.close_access(functions)
        self.scopes = [_Scope({})]
        invariants = spec_check.invariants(self, contract.invariants if contract else [])
        upgrade_rule = self.upgrade_rule(contract)
        if self.diags:
            self.diags.sort(key=lambda d: (d.span.line, d.span.col))
            raise CompileError(self.diags, self.source)
        return ir.Program(
            file=self.prog.file, contract=contract.name if contract else None,
            structs=[t for t in self.types.values() if isinstance(t, StructTy)],
            enums=[t for t in self.types.values() if isinstance(t, EnumTy)],
            states=list(self.states.values()),
            events=[s for _, s in self.events.values()],
            errors=[s for _, s in self.errors.values()],
            functions=functions, interfaces=self.interfaces,
            upgrades=contract.upgrades if contract else None,
            upgrade_rule=upgrade_rule, invariants=invariants)

    def upgrade_rule(self, contract: A.ContractDecl | None) -> UpgradeRule:
        """The contract's `upgrade` clause as the ABI's rule (default: by its admin)."""
        clause = None if contract is None else contract.upgrade_rule
        if clause is None:
            return UpgradeRule()
        rule = UpgradeRule(clause.kind, clause.threshold, tuple(clause.approvers))
        problem = rule.problem()
        if problem is not None:
            self.err(E_UPGRADE_RULE, problem, clause.span)
        return rule

    def pick_contract(self, name: str | None) -> A.ContractDecl | None:
        if not self.prog.contracts:
            return None
        seen: set[str] = set()
        for c in self.prog.contracts:
            if c.name in seen:
                self.err(E_DUPLICATE, f"contract `{c.name}` is defined twice", c.span)
            seen.add(c.name)
        if name is None:
            return self.prog.contracts[-1]
        for c in self.prog.contracts:
            if c.name == name:
                return c
        self.err(E_UNKNOWN_NAME, f"no contract named `{name}` in this file",
                 self.prog.contracts[0].span)
        return None

    def declare_types(self) -> None:
        for s in self.prog.structs:
            if s.name in self.types or s.name in INT_TYPES or s.name in PRIMS:
                self.err(E_DUPLICATE, f"type `{s.name}` is defined twice", s.span)
            self.types[s.name] = StructTy(s.name)
        for e in self.prog.enums:
            if e.name in self.types:
                self.err(E_DUPLICATE, f"type `{e.name}` is defined twice", e.span)
            self.types[e.name] = EnumTy(e.name, list(e.variants))
        for s in self.prog.structs:
            st = self.types[s.name]
            assert isinstance(st, StructTy)
            seen: set[str] = set()
            for f in s.fields:
                if f.name in seen:
                    self.err(E_DUPLICATE, f"field `{f.name}` is defined twice", f.span)
                seen.add(f.name)
                st.fields.append((f.name, self.resolve(f.type)))
        for s in self.prog.structs:
            if self.contains(self.types[s.name], s.name, set()):
                self.err(E_RECURSIVE_TYPE, f"struct `{s.name}` contains itself", s.span)

    def contains(self, t: Ty, target: str, seen: set[str]) -> bool:
        if isinstance(t, StructTy):
            if t.label in seen:
                return t.label == target
            seen = seen | {t.label}
            return any(ft == StructTy(target) or self.contains(ft, target, seen)
                       for _, ft in t.fields)
        if isinstance(t, ListTy | ArrayTy):
            return t.elem == StructTy(target) or self.contains(t.elem, target, seen)
        if isinstance(t, OptionalTy):
            return t.inner == StructTy(target) or self.contains(t.inner, target, seen)
        if isinstance(t, MapTy):
            return any(x == StructTy(target) or self.contains(x, target, seen)
                       for x in (t.key, t.value))
        return False

    def resolve(self, t: A.TypeRef) -> Ty:
        if t.name in INT_TYPES:
            return INT_TYPES[t.name]
        if t.name in PRIMS:
            return PRIMS[t.name]
        if t.name == "list" and len(t.args) == 1:
            return ListTy(self.resolve(t.args[0]))
        if t.name == "map" and len(t.args) == 2:
            k, v = self.resolve(t.args[0]), self.resolve(t.args[1])
            if not (isinstance(k, IntTy) or k in (BOOL, BYTES, STRING, ADDRESS)
                    or isinstance(k, EnumTy)) and k != ERROR:
                self.err(E_TYPE_MISMATCH, f"map keys must be integers, bool, bytes, string, "
                         f"address or enums, not `{k}`", t.span)
            return MapTy(k, v)
        if t.name == "array":
            return ArrayTy(self.resolve(t.args[0]), t.size)
        if t.name == "optional":
            inner = self.resolve(t.args[0])
            return inner if isinstance(inner, OptionalTy) else OptionalTy(inner)
        if t.name in self.types and not t.args:
            return self.types[t.name]
        self.err(E_UNKNOWN_TYPE, f"unknown type `{t.name}`", t.span)
        return ERROR

    # --- functions ------------------------------------------------------------------------
    def function(self, d: A.FnDecl) -> ir.Function:
        params = [ir.Var(p.name, self.resolve(p.type), mutable=False) for p in d.params]
        ret = self.resolve(d.ret) if d.ret else UNIT
        kind = ("init" if d.is_init else "test" if d.is_test else
                "migrate" if d.name == "migrate" and self.contract else
                "scheduled" if d.every is not None else "fn")
        fn = ir.Function(d.name, params, ret, [], d.span, public=d.public or d.is_init,
                         view=d.view, kind=kind, every=d.every, expect_revert=d.expect_revert,
                         declared_reads=d.reads, declared_writes=d.writes)
        if d.expect_revert not in (None, "*", "Error") and d.expect_revert not in self.errors:
            self.err(E_UNKNOWN_NAME, f"unknown error `{d.expect_revert}`", d.span)
        if d.public and not self.contract:
            self.err(E_BAD_CONTEXT, "`pub` functions belong in a contract", d.span)
        exported = d.public or d.is_init or d.is_test or d.every is not None
        for p, v in zip(d.params, params, strict=True):
            if exported and not is_storable(v.ty) and v.ty != ERROR:
                self.err(E_TYPE_MISMATCH, f"`{v.ty}` cannot be passed to a contract call",
                         p.span)
        if exported and ret != UNIT and not is_storable(ret) and ret != ERROR:
            self.err(E_TYPE_MISMATCH, f"`{ret}` cannot be returned from a contract call",
                     d.span)
        for names in (d.reads or [], d.writes or []):
            for n in names:
                if n not in self.states:
                    self.err(E_UNKNOWN_NAME, f"`{n}` is not a state variable", d.span)
        self.fn = fn
        self.scopes = [_Scope({v.name: v for v in params})]
        self.loop_depth = 0
        spec_check.function_specs(self, d, fn)
        fn.body = self.block(d.body or [])
        if self.contract is None or d not in self.contract.functions:
            self.free_function_state(fn)
        if ret != UNIT and not self.terminates(fn.body):
            self.err(E_MISSING_RETURN, f"function `{d.name}` must return a `{ret}` on every "
                     "path", d.span)
        self.fn = None
        return fn

    def terminates(self, body: list[ir.Stmt]) -> bool:
        if not body:
            return False
        last = body[-1]
        if isinstance(last, ir.Return | ir.Revert | ir.Panic):
            return True
        if isinstance(last, ir.If | ir.Try):
            return self.terminates(last.body) and self.terminates(last.orelse)
        if isinstance(last, ir.TryBlock):  # an error no clause takes goes on up
            return all(self.terminates(b) for b in last.blocks())
        if isinstance(last, ir.Loop):  # `while true` without break
            cond = last.args[0]
            return (isinstance(cond, ir.Const) and cond.value is True
                    and not any(isinstance(s, ir.Break) for s in ir.walk_stmts(last.body)))
        return False

    def free_function_state(self, fn: ir.Function) -> None:
        """A function outside the contract has no storage of its own: reading or writing
        contract state there is an error at the first use (E7218)."""
        uses = [s.span for s in ir.walk_stmts(fn.body) if isinstance(s, ir.SStore)]
        uses += [e.span for s in ir.walk_stmts(fn.body) for a in s.args
                 for e in ir.walk_exprs(a) if isinstance(e, ir.SLoad)]
        first = _first([u for u in uses if u is not None])
        if first is not None:
            self.err(E_FREE_STATE, f"free function `{fn.name}` uses contract state; "
                     "declare it inside the contract", first)

    def check_callbacks_and_schedules(self, functions: dict[str, ir.Function]) -> None:
        for fn in functions.values():
            for s in ir.walk_stmts(fn.body):
                if isinstance(s, ir.Async) and s.callback in functions:
                    functions[s.callback].kind = "callback"
        for fn in functions.values():
            if fn.kind == "callback" and fn.public:
                self.err(E_CALLBACK, f"callback `{fn.name}` is started by the engine alone "
                         "and cannot be `pub`", fn.span)
            if fn.kind == "scheduled" and fn.public:
                self.err(E_SCHEDULE, f"scheduled function `{fn.name}` is started by the engine "
                         "alone and cannot be `pub`", fn.span)
            if fn.kind == "scheduled" and (fn.params or (fn.every or 0) < 1):
                self.err(E_SCHEDULE, "a scheduled function takes no parameters and runs every "
                         "1 or more blocks", fn.span)

    def close_access(self, functions: dict[str, ir.Function]) -> None:
        """Make read/write sets transitive over internal calls, then check declarations."""
        changed = True
        while changed:
            changed = False
            for fn in functions.values():
                for callee in fn.calls:
                    c = functions.get(callee)
                    if c is None:
                        continue
                    before = (len(fn.reads), len(fn.writes), fn.external)
                    fn.reads |= c.reads
                    fn.writes |= c.writes
                    fn.external = fn.external or c.external
                    changed = changed or before != (len(fn.reads), len(fn.writes), fn.external)
        effectful = {n for n, fn in functions.items() if fn.writes or any(
            isinstance(s, ir.Emit | ir.Async) for s in ir.walk_stmts(fn.body))
            or _state_changing_hosts(fn)}
        while True:
            more = {n for n, fn in functions.items() if fn.calls & effectful} - effectful
            if not more:
                break
            effectful |= more
        for fn in functions.values():
            if fn.view and fn.name in effectful:
                self.err(E_VIEW_WRITES, f"view function `{fn.name}` changes state "
                         f"({', '.join(sorted(fn.writes)) or 'emits or calls'})",
                         self.first_effect(fn, effectful) or fn.span)
            if fn.declared_reads is not None or fn.declared_writes is not None:
                dw = set(fn.declared_writes or [])
                dr = set(fn.declared_reads or []) | dw
                extra_r, extra_w = fn.reads - dr, fn.writes - dw
                if extra_r or extra_w:
                    what = ", ".join(sorted(extra_r | extra_w))
                    self.err(E_ACCESS, f"function `{fn.name}` uses state it did not declare: "
                             f"{what}", fn.span)
                if fn.external:
                    self.err(E_ACCESS, f"function `{fn.name}` declares its state access but "
                             "calls another contract", fn.span)

    @staticmethod
    def first_effect(fn: ir.Function, effectful: set[str]) -> Span | None:
        """Where `fn` first writes state, emits, makes an async call or calls a function
        that does: the place E7211 points at."""
        spans = [s.span for s in ir.walk_stmts(fn.body)
                 if isinstance(s, ir.SStore | ir.Emit | ir.Async)]
        spans += [e.span for s in ir.walk_stmts(fn.body) for a in s.args
                  for e in ir.walk_exprs(a) if isinstance(e, ir.Call) and e.fn in effectful]
        spans += [e.span for e in _state_changing_hosts(fn)]
        return _first([sp for sp in spans if sp is not None])

    # --- scopes ---------------------------------------------------------------------------
    def lookup(self, name: str) -> ir.Var | None:
        for s in reversed(self.scopes):
            if name in s.vars:
                return s.vars[name]
        return None

    def declare(self, name: str, ty: Ty, mutable: bool) -> ir.Var:
        v = ir.Var(name, ty, mutable)
        self.scopes[-1].vars[name] = v
        return v

    def push_scope(self, names: dict[str, ir.Var]) -> None:
        self.scopes.append(_Scope(dict(names)))

    def pop_scope(self) -> None:
        self.scopes.pop()

    def temp(self, ty: Ty) -> ir.Var:
        self.tmp_counter += 1
        return ir.Var(f"$t{self.tmp_counter}", ty)

    def block(self, stmts: list[A.Stmt]) -> list[ir.Stmt]:
        """The statements of a block; one after a statement that always leaves the block
        (`return`, `revert`, `break`, `continue`, an `if` whose branches all leave) is
        E7217 and is checked but not compiled."""
        self.scopes.append(_Scope({}))
        out: list[ir.Stmt] = []
        done = False
        for s in stmts:
            if done:
                self.err(E_UNREACHABLE, "unreachable statement", s.span)
                self.stmt(s)
                break
            out.extend(self.stmt(s))
            done = _leaves(out)
        self.scopes.pop()
        return out

    # --- statements -----------------------------------------------------------------------
    def stmt(self, s: A.Stmt) -> list[ir.Stmt]:
        method: Callable[[A.Stmt], list[ir.Stmt]] = getattr(self, "s_" + type(s).__name__)
        return method(s)

    def s_Let(self, s: A.Let) -> list[ir.Stmt]:
        want = self.resolve(s.type) if s.type else None
        value = self.expr(s.value, want)
        ty = want or value.ty
        if ty == UNIT:
            self.err(E_TYPE_MISMATCH, f"cannot bind a value of type `{ty}`", s.span)
        var = self.declare(s.name, ty, s.mutable)
        return [ir.Let(var, args=[value], span=s.span)]

    def s_ExprStmt(self, s: A.ExprStmt) -> list[ir.Stmt]:
        return [ir.ExprStmt(args=[self.expr(s.expr, None, allow_unit=True)], span=s.span)]

    def s_If(self, s: A.If) -> list[ir.Stmt]:
        cond = self.expr(s.cond, BOOL)
        return [ir.If(self.block(s.then), self.block(s.orelse), args=[cond], span=s.span)]

    def s_While(self, s: A.While) -> list[ir.Stmt]:
        cond = self.expr(s.cond, BOOL)
        invs = spec_check.loop_invariants(self, s.invariants)
        self.loop_depth += 1
        body = self.block(s.body)
        self.loop_depth -= 1
        return [ir.Loop(body, args=[cond], span=s.span, invariants=invs)]

    def s_ForRange(self, s: A.ForRange) -> list[ir.Stmt]:
        if untyped(s.start) and not untyped(s.end):
            end_first = self.expr(s.end, None)
            start = self.expr(s.start, end_first.ty if isinstance(end_first.ty, IntTy) else None)
        else:
            start = self.expr(s.start, None)
        if not isinstance(start.ty, IntTy) and start.ty != ERROR:
            self.err(E_TYPE_MISMATCH, f"range bounds must be integers, not `{start.ty}`",
                     s.start.span)
        end = self.expr(s.end, start.ty if isinstance(start.ty, IntTy) else U64)
        ity = start.ty if isinstance(start.ty, IntTy) else U64
        end_var = self.temp(ity)
        self.scopes.append(_Scope({}))
        var = self.declare(s.var, ity, mutable=False)
        invs = spec_check.loop_invariants(self, s.invariants)
        self.loop_depth += 1
        body = self.block(s.body)
        self.loop_depth -= 1
        self.scopes.pop()
        cur = ir.Local(ity, var)
        cond = ir.Bin(BOOL, "<", args=[cur, ir.Local(ity, end_var)])
        # the increment cannot overflow: it only runs while var < end <= max
        step = ir.Set(var, args=[ir.Bin(ity, "+wrap", args=[cur, ir.Const(ity, 1)])])
        return [ir.Let(var, args=[start], span=s.span),
                ir.Let(end_var, args=[end], span=s.span),
                ir.Loop(body, [step], args=[cond], span=s.span, invariants=invs)]

    def s_ForEach(self, s: A.ForEach) -> list[ir.Stmt]:
        seq = self.expr(s.iterable, None)
        if not isinstance(seq.ty, ListTy | ArrayTy):
            if seq.ty != ERROR:
                self.err(E_TYPE_MISMATCH, f"cannot iterate over `{seq.ty}`", s.iterable.span)
            return []
        idx, n = self.temp(U32), self.temp(U32)
        self.scopes.append(_Scope({}))
        var = self.declare(s.var, seq.ty.elem, mutable=False)
        invs = spec_check.loop_invariants(self, s.invariants)
        self.loop_depth += 1
        body = self.block(s.body)
        self.loop_depth -= 1
        self.scopes.pop()
        idx_e = ir.Local(U32, idx)
        cond = ir.Bin(BOOL, "<", args=[idx_e, ir.Local(U32, n)])
        step = ir.Set(idx, args=[ir.Bin(U32, "+wrap", args=[idx_e, ir.Const(U32, 1)])])
        if isinstance(seq, ir.SLoad) and isinstance(seq.ty, ListTy):
            # a stored list is streamed: its encoding is read once and each element
            # decoded when the loop reaches it, so the whole list is never in memory
            # decoded (the loop sees the list as it was when the loop started, as before)
            raw, pos = self.temp(BYTES), self.temp(U32)
            raw_e = ir.Local(BYTES, raw)
            start: list[ir.Stmt] = [
                ir.Let(raw, args=[ir.SLoad(BYTES, seq.state, raw=True, args=seq.args)],
                       span=s.span),
                ir.Let(pos, args=[ir.Const(U32, 0)]),
                ir.Let(n, args=[ir.DecodeAt(U32, pos, args=[raw_e])])]
            get = ir.Let(var, args=[ir.DecodeAt(seq.ty.elem, pos, args=[raw_e])])
        else:
            seq_var = self.temp(seq.ty)
            seq_e = ir.Local(seq.ty, seq_var)
            start = [ir.Let(seq_var, args=[seq], span=s.span),
                     ir.Let(n, args=[ir.Len(U32, args=[seq_e])])]
            get = ir.Let(var, args=[ir.Index(seq.ty.elem, args=[seq_e, idx_e], span=s.span)])
        return [*start, ir.Let(idx, args=[ir.Const(U32, 0)]),
                ir.Loop([get, *body], [step], args=[cond], span=s.span, invariants=invs)]

    def s_Break(self, s: A.Break) -> list[ir.Stmt]:
        if not self.loop_depth:
            self.err(E_BAD_CONTEXT, "`break` outside a loop", s.span)
        return [ir.Break(span=s.span)]

    def s_Continue(self, s: A.Continue) -> list[ir.Stmt]:
        if not self.loop_depth:
            self.err(E_BAD_CONTEXT, "`continue` outside a loop", s.span)
        return [ir.Continue(span=s.span)]

    def s_Return(self, s: A.Return) -> list[ir.Stmt]:
        assert self.fn is not None
        ret = self.fn.ret
        if s.value is None:
            if ret != UNIT:
                self.err(E_TYPE_MISMATCH, f"`return` needs a value of type `{ret}`", s.span)
            return [ir.Return(span=s.span)]
        if ret == UNIT:
            self.err(E_TYPE_MISMATCH, "this function returns nothing", s.value.span)
            return [ir.Return(span=s.span)]
        return [ir.Return(args=[self.expr(s.value, ret)], span=s.span)]

    def s_Emit(self, s: A.Emit) -> list[ir.Stmt]:
        if s.event not in self.events:
            self.err(E_UNKNOWN_NAME, f"unknown event `{s.event}`", s.span)
            return []
        idx, sig = self.events[s.event]
        args = self.args_against(s.args, [t for _, t, _ in sig.params], s.span, s.event)
        return [ir.Emit(idx, args=args, span=s.span)]

    def s_Revert(self, s: A.Revert) -> list[ir.Stmt]:
        if s.error not in self.errors:
            self.err(E_UNKNOWN_NAME, f"unknown error `{s.error}`", s.span)
            return []
        idx, sig = self.errors[s.error]
        args = self.args_against(s.args, [t for _, t, _ in sig.params], s.span, s.error)
        return [ir.Revert(idx, args=args, span=s.span)]

    def s_Require(self, s: A.Require) -> list[ir.Stmt]:
        cond = self.expr(s.cond, BOOL)
        if s.error is None:
            fail: ir.Stmt = ir.Revert(-1, args=[ir.Const(STRING, s.message.encode())], span=s.span)
        else:
            fail = self.s_Revert(A.Revert(s.span, s.error, s.args))[0] if self.errors.get(
                s.error) else ir.Panic(ir.PANIC_ASSERT)
            if s.error not in self.errors:
                self.err(E_UNKNOWN_NAME, f"unknown error `{s.error}`", s.span)
        neg = ir.Not(BOOL, args=[cond], span=s.span)
        return [ir.If([fail], args=[neg], span=s.span)]

    def s_Assert(self, s: A.Assert) -> list[ir.Stmt]:
        cond = self.expr(s.cond, BOOL)
        neg = ir.Not(BOOL, args=[cond], span=s.span)
        return [ir.If([ir.Panic(ir.PANIC_ASSERT, span=s.span)], args=[neg], span=s.span)]

    def s_Try(self, s: A.Try) -> list[ir.Stmt]:
        call = self.expr(s.call, None, allow_unit=True)
        if not isinstance(call, ir.ExtCall):
            if call.ty != ERROR:
                self.err(E_TYPE_MISMATCH, "`try` needs a call to another contract",
                         s.call.span)
            return []
        self.fn_external()
        self.scopes.append(_Scope({}))
        var = self.declare(s.var, call.ty, False) if s.var else None
        if var is not None and call.ty == UNIT:
            self.err(E_TYPE_MISMATCH, "the called method returns nothing", s.call.span)
        body = self.block(s.body)
        self.scopes.pop()
        self.scopes.append(_Scope({}))
        err_var = self.declare(s.err_var, STRING, False) if s.err_var else None
        handler = self.block(s.handler)
        self.scopes.pop()
        return [ir.Try(var, err_var, body, handler, args=[call], span=s.span)]

    def s_TryBlock(self, s: A.TryBlock) -> list[ir.Stmt]:
        body = self.block(s.body)
        catches: list[ir.Catch] = []
        for c in s.catches:
            if catches and catches[-1].error == ir.CATCH_ANY:
                self.err(E_UNREACHABLE, "unreachable `catch`: the one before takes every "
                         "error", c.span)
            self.scopes.append(_Scope({}))
            catches.append(self.catch_clause(c))
            self.scopes.pop()
        return [ir.TryBlock(body, catches, span=s.span)]

    def catch_clause(self, c: A.Catch) -> ir.Catch:
        """`catch E(a, b)` binds E's arguments by position with E's declared types;
        `catch Error(reason)` is `require`'s error; any other name catches every error."""
        entry = self.errors.get(c.name) if c.name else None
        if entry is None and c.name == "Error":
            entry = (-1, ir.Signature("Error", [("reason", STRING, False)]))
        if entry is None:
            if c.binds is not None:
                self.err(E_UNKNOWN_NAME, f"unknown error `{c.name}`", c.span)
            var = self.declare(c.name, STRING, False) if c.name else None
            return ir.Catch(ir.CATCH_ANY, [], var, self.block(c.body))
        idx, sig = entry
        binds: list[ir.Var] = []
        if c.binds is not None:
            if len(c.binds) != len(sig.params):
                self.err(E_ARITY, f"error `{sig.name}` has {len(sig.params)} argument(s), "
                         f"the `catch` binds {len(c.binds)}", c.span)
            for (_, ty, _), b in zip(sig.params, c.binds, strict=False):
                binds.append(self.temp(ty) if b == "_" else self.declare(b, ty, False))
            if len(binds) != len(sig.params):
                binds = []
        return ir.Catch(idx, binds, None, self.block(c.body))

    def s_AsyncCall(self, s: A.AsyncCall) -> list[ir.Stmt]:
        call = self.expr(s.call, None, allow_unit=True)
        if not isinstance(call, ir.ExtCall):
            if call.ty != ERROR:
                self.err(E_TYPE_MISMATCH, "`async` needs a call to another contract",
                         s.call.span)
            return []
        self.fn_external()
        cb = self.fn_sigs.get(s.callback)
        want = OptionalTy(call.ty) if call.ty != UNIT else BOOL
        if cb is None or len(cb.params) != 1 or self.resolve(cb.params[0].type) != want:
            self.err(E_CALLBACK, f"callback `{s.callback}` must be a function taking one "
                     f"parameter of type `{want}`", s.span)
        return [ir.Async(s.callback, args=[call], span=s.span)]

    def fn_external(self) -> None:
        assert self.fn is not None
        self.fn.external = True

    def s_Assign(self, s: A.Assign) -> list[ir.Stmt]:
        out: list[ir.Stmt] = []
        if s.op != "=":
            # `t op= v` reads and writes t: index expressions are evaluated once, first
            target = self.pin_indices(s.target, out)
            current = self.expr(target, None)
            literal = untyped(s.value)
            rhs = self.expr(s.value, current.ty if literal else None)
            value = self.binop(s.op[0], current, rhs, s.span)
            return self.store(target, value, s.span, out)
        target_ty = self.expr_type_only(s.target)
        value = self.expr(s.value, target_ty)
        return self.store(s.target, value, s.span, out)

    def pin_indices(self, e: A.Expr, out: list[ir.Stmt]) -> A.Expr:
        """A copy of an assignment target whose computed indices are bound to temps."""
        if isinstance(e, A.Field):
            return A.Field(e.span, self.pin_indices(e.base, out), e.name)
        if not isinstance(e, A.Index):
            return e
        base = self.pin_indices(e.base, out)
        if isinstance(e.index, A.IntLit | A.Name):
            return A.Index(e.span, base, e.index)
        key = self.expr(e.index, self.index_type(base))
        self.tmp_counter += 1
        name = f"$k{self.tmp_counter}"
        var = self.declare(name, key.ty, mutable=False)
        out.append(ir.Let(var, args=[key], span=e.span))
        return A.Index(e.span, base, A.Name(e.index.span, name))

    def index_type(self, base: A.Expr) -> Ty | None:
        """The key type expected by `base[...]`: a state map's key, else a list index."""
        keys = 0
        cur = base
        while isinstance(cur, A.Index):
            keys += 1
            cur = cur.base
        if isinstance(cur, A.Name) and self.lookup(cur.ident) is None:
            st = self.states.get(cur.ident)
            if st is not None and isinstance(st.ty, MapTy):
                ty: Ty = st.ty
                for _ in range(keys):
                    if not isinstance(ty, MapTy):
                        return None
                    ty = ty.value
                return ty.key if isinstance(ty, MapTy) else U32
        t = self.expr_type_only(base)
        return t.key if isinstance(t, MapTy) else U32

    def expr_type_only(self, e: A.Expr) -> Ty | None:
        saved = len(self.diags)
        ty = self.expr(e, None).ty
        del self.diags[saved:]
        return None if ty == ERROR else ty

    def store(self, target: A.Expr, value: ir.Expr, span: Span,
              out: list[ir.Stmt]) -> list[ir.Stmt]:
        if isinstance(target, A.Name):
            var = self.lookup(target.ident)
            if var is not None:
                if not var.mutable:
                    self.err(E_IMMUTABLE, f"`{target.ident}` is not mutable (declare it with "
                             "`let mut`)", target.span)
                self.expect(value, var.ty, target.span)
                return [*out, ir.Set(var, args=[value], span=span)]
            st = self.states.get(target.ident)
            if st is not None:
                if isinstance(st.ty, MapTy):
                    self.err(E_NOT_ASSIGNABLE, "a map cannot be assigned as a whole", span)
                self.expect(value, st.ty, target.span)
                self.note_write(st)
                return [*out, ir.SStore(st, args=[value], span=span)]
            self.err(E_UNKNOWN_NAME, f"unknown name `{target.ident}`", target.span)
            return out
        keys = self.map_path(target)
        if keys is not None:
            st, key_exprs = keys
            vty = self.map_value_type(st.ty, len(key_exprs))
            self.expect(value, vty, target.span)
            self.note_write(st)
            return [*out, ir.SStore(st, args=[*key_exprs, value], span=span)]
        if isinstance(target, A.Field | A.Index):
            root, write_back = self.mutable_root(target.base, out)
            base = root
            if isinstance(target, A.Field):
                if not isinstance(base.ty, StructTy):
                    if base.ty != ERROR:
                        self.err(E_UNKNOWN_MEMBER, f"`{base.ty}` has no field `{target.name}`",
                                 target.span)
                    return out
                fi = base.ty.field_index(target.name)
                if fi is None:
                    self.err(E_UNKNOWN_MEMBER, f"`{base.ty}` has no field `{target.name}`",
                             target.span)
                    return out
                self.expect(value, base.ty.fields[fi][1], target.span)
                out.append(ir.FieldSet(fi, args=[base, value], span=span))
            elif isinstance(base.ty, MapTy):  # an in-memory map
                key = self.expr(target.index, base.ty.key)
                self.expect(value, base.ty.value, target.span)
                out.append(ir.MapSet(args=[base, key, value], span=span))
            else:
                if not isinstance(base.ty, ListTy | ArrayTy):
                    if base.ty != ERROR:
                        self.err(E_NOT_ASSIGNABLE, f"cannot assign into `{base.ty}`",
                                 target.span)
                    return out
                idx = self.expr(target.index, U32)
                self.expect(value, base.ty.elem, target.span)
                out.append(ir.IndexSet(args=[base, idx, value], span=span))
            return out + write_back
        self.err(E_NOT_ASSIGNABLE, "this expression cannot be assigned to", target.span)
        return out

    def mutable_root(self, e: A.Expr, out: list[ir.Stmt]) -> tuple[ir.Expr, list[ir.Stmt]]:
        """The object to mutate in place; state values are loaded into a temp and written
        back after the mutation (values in storage are not references)."""
        keys = self.map_path(e)
        if isinstance(e, A.Name) and self.lookup(e.ident) is None and e.ident in self.states:
            st = self.states[e.ident]
            tmp = self.temp(st.ty)
            self.note_read(st)
            self.note_write(st)
            out.append(ir.Let(tmp, args=[ir.SLoad(st.ty, st, span=e.span)]))
            t = ir.Local(st.ty, tmp)
            return t, [ir.SStore(st, args=[t], span=e.span)]
        if keys is not None:
            st, key_exprs = keys
            vty = self.map_value_type(st.ty, len(key_exprs))
            key_vars = [self.temp(k.ty) for k in key_exprs]
            for kv, k in zip(key_vars, key_exprs, strict=True):
                out.append(ir.Let(kv, args=[k]))
            kl: list[ir.Expr] = [ir.Local(kv.ty, kv) for kv in key_vars]
            tmp = self.temp(vty)
            self.note_read(st)
            self.note_write(st)
            out.append(ir.Let(tmp, args=[ir.SLoad(vty, st, args=kl, span=e.span)]))
            t = ir.Local(vty, tmp)
            return t, [ir.SStore(st, args=[*kl, t], span=e.span)]
        if isinstance(e, A.Field | A.Index):
            inner, wb = self.mutable_root(e.base, out)
            if isinstance(e, A.Field):
                return self.field_of(inner, e.name, e.span), wb
            if isinstance(inner.ty, MapTy):  # mutate the entry in place, creating it
                key = self.expr(e.index, inner.ty.key)
                return ir.MapEntry(inner.ty.value, args=[inner, key], span=e.span), wb
            return self.index_of(inner, e.index, e.span), wb
        return self.expr(e, None), []

    def map_path(self, e: A.Expr) -> tuple[ir.StateVar, list[ir.Expr]] | None:
        """`m[a][b]` where m is a state map: the variable and the key expressions."""
        keys: list[A.Expr] = []
        cur = e
        while isinstance(cur, A.Index):
            keys.append(cur.index)
            cur = cur.base
        if not keys or not isinstance(cur, A.Name) or self.lookup(cur.ident) is not None:
            return None
        st = self.states.get(cur.ident)
        if st is None or not isinstance(st.ty, MapTy):
            return None
        keys.reverse()
        ty: Ty = st.ty
        out: list[ir.Expr] = []
        for k in keys:
            if not isinstance(ty, MapTy):
                return None
            out.append(self.expr(k, ty.key))
            ty = ty.value
        return st, out

    def map_value_type(self, ty: Ty, depth: int) -> Ty:
        for _ in range(depth):
            assert isinstance(ty, MapTy)
            ty = ty.value
        return ty

    def note_read(self, st: ir.StateVar) -> None:
        if self.fn is not None:
            self.fn.reads.add(st.name)

    def note_write(self, st: ir.StateVar) -> None:
        if self.fn is not None:
            self.fn.writes.add(st.name)

    # --- expressions ------------------------------------------------------------------------
    def expect(self, e: ir.Expr, want: Ty | None, span: Span) -> ir.Expr:
        if want is None or e.ty == ERROR or want == ERROR or e.ty == want:
            return e
        self.err(E_TYPE_MISMATCH, f"expected `{want}`, found `{e.ty}`", e.span or span)
        return e

    def expr(self, e: A.Expr, want: Ty | None, allow_unit: bool = False) -> ir.Expr:
        method = getattr(self, "e_" + type(e).__name__)
        out: ir.Expr = method(e, want)
        if out.span is None:
            out.span = e.span
        if isinstance(want, OptionalTy) and out.ty == want.inner:
            out = ir.OptWrap(want, args=[out], span=e.span)
        if out.ty == UNIT and not allow_unit:
            self.err(E_TYPE_MISMATCH, "this expression has no value", e.span)
            return ir.Const(ERROR, 0, span=e.span)
        return self.expect(out, want, e.span)

    def e_IntLit(self, e: A.IntLit, want: Ty | None) -> ir.Expr:
        ty = want.inner if isinstance(want, OptionalTy) else want
        if not isinstance(ty, IntTy):
            ty = U64
        if not ty.min <= e.value <= ty.max:
            self.err(E_LITERAL_RANGE, f"{e.value} does not fit in `{ty}` "
                     f"({ty.min}..{ty.max})", e.span)
        return ir.Const(ty, e.value)

    def e_BoolLit(self, e: A.BoolLit, want: Ty | None) -> ir.Expr:
        return ir.Const(BOOL, e.value)

    def e_StrLit(self, e: A.StrLit, want: Ty | None) -> ir.Expr:
        return ir.Const(STRING, e.value.encode())

    def e_BytesLit(self, e: A.BytesLit, want: Ty | None) -> ir.Expr:
        return ir.Const(BYTES, e.value)

    def e_NoneLit(self, e: A.NoneLit, want: Ty | None) -> ir.Expr:
        if not isinstance(want, OptionalTy):
            self.err(E_TYPE_MISMATCH, "`none` needs an optional type here (`T?`)", e.span)
            return ir.Const(ERROR, 0)
        return ir.OptNone(want)

    def e_ListLit(self, e: A.ListLit, want: Ty | None) -> ir.Expr:
        base = want.inner if isinstance(want, OptionalTy) else want
        if isinstance(base, ArrayTy):
            if len(e.items) != base.size:
                self.err(E_ARITY, f"expected {base.size} elements, found {len(e.items)}",
                         e.span)
            return ir.NewArray(base, args=[self.expr(i, base.elem) for i in e.items])
        elem = base.elem if isinstance(base, ListTy) else None
        items = [self.expr(i, elem) for i in e.items]
        if elem is None:
            if not items:
                self.err(E_TYPE_MISMATCH, "the element type of `[]` is unknown here; "
                         "annotate it (`let x: list<u64> = [];`)", e.span)
                return ir.Const(ERROR, 0)
            elem = items[0].ty
            for i, it in zip(e.items, items[1:], strict=False):
                self.expect(it, elem, i.span)
        return ir.NewList(ListTy(elem), args=items)

    def e_MapLit(self, e: A.MapLit, want: Ty | None) -> ir.Expr:
        if not isinstance(want, MapTy):
            self.err(E_TYPE_MISMATCH, "the type of `{}` is unknown here; annotate it "
                     "(`let m: map<string, u64> = {};`)", e.span)
            return ir.Const(ERROR, 0)
        return ir.NewMap(want)

    def e_StructLit(self, e: A.StructLit, want: Ty | None) -> ir.Expr:
        st = self.types.get(e.type_name)
        if not isinstance(st, StructTy):
            self.err(E_UNKNOWN_TYPE, f"unknown struct `{e.type_name}`", e.span)
            return ir.Const(ERROR, 0)
        given = {n: (v, sp) for n, v, sp in e.fields}
        for n, _, sp in e.fields:
            if st.field_index(n) is None:
                self.err(E_UNKNOWN_MEMBER, f"`{st.label}` has no field `{n}`", sp)
        args: list[ir.Expr] = []
        for fname, fty in st.fields:
            if fname not in given:
                self.err(E_ARITY, f"missing field `{fname}` in `{st.label}`", e.span)
                args.append(ir.Const(ERROR, 0))
            else:
                args.append(self.expr(given[fname][0], fty))
        return ir.NewStruct(st, args=args)

    def e_Name(self, e: A.Name, want: Ty | None) -> ir.Expr:
        var = self.lookup(e.ident)
        if var is not None:
            return ir.Local(var.ty, var)
        st = self.states.get(e.ident)
        if st is not None:
            if isinstance(st.ty, MapTy):
                self.err(E_TYPE_MISMATCH, f"map `{e.ident}` can only be indexed", e.span)
                return ir.Const(ERROR, 0)
            self.note_read(st)
            return ir.SLoad(st.ty, st)
        self.err(E_UNKNOWN_NAME, f"unknown name `{e.ident}`", e.span)
        return ir.Const(ERROR, 0)

    def e_Path(self, e: A.Path, want: Ty | None) -> ir.Expr:
        et = self.types.get(e.owner)
        if not isinstance(et, EnumTy):
            self.err(E_UNKNOWN_TYPE, f"unknown enum `{e.owner}`", e.span)
            return ir.Const(ERROR, 0)
        if e.member not in et.variants:
            self.err(E_UNKNOWN_MEMBER, f"enum `{e.owner}` has no variant `{e.member}`", e.span)
            return ir.Const(ERROR, 0)
        return ir.Const(et, et.variants.index(e.member))

    def e_Unary(self, e: A.Unary, want: Ty | None) -> ir.Expr:
        if e.op == "!":
            v = self.expr(e.operand, want if isinstance(want, IntTy) else None)
            if isinstance(v.ty, IntTy):  # bitwise not: xor with all ones
                ones = ir.Const(v.ty, -1 if v.ty.signed else v.ty.max)
                return ir.Bin(v.ty, "^", args=[v, ones], span=e.span)
            return ir.Not(BOOL, args=[self.expect(v, BOOL, e.operand.span)])
        if isinstance(e.operand, A.IntLit):
            return self.e_IntLit(A.IntLit(e.span, -e.operand.value), want)
        v = self.expr(e.operand, want)
        if not (isinstance(v.ty, IntTy) and v.ty.signed):
            if v.ty != ERROR:
                self.err(E_TYPE_MISMATCH, f"cannot negate `{v.ty}`", e.span)
            return v
        return ir.Bin(v.ty, "-", args=[ir.Const(v.ty, 0), v])

    def e_Binary(self, e: A.Binary, want: Ty | None) -> ir.Expr:
        if e.op in ("&&", "||"):
            a, b = self.expr(e.left, BOOL), self.expr(e.right, BOOL)
            return (ir.And if e.op == "&&" else ir.Or)(BOOL, args=[a, b])
        arith_want = want if e.op in "+-*/%&|^" and e.op not in ("<<", ">>") else None
        if untyped(e.left) and not untyped(e.right):
            b = self.expr(e.right, arith_want)
            a = self.expr(e.left, b.ty if isinstance(b.ty, IntTy) else None)
        else:
            a = self.expr(e.left, arith_want if isinstance(arith_want, IntTy) else None)
            if e.op in ("<<", ">>"):
                b = self.expr(e.right, U32)
            else:  # only literals take their type from the other side
                literal = untyped(e.right) or isinstance(e.right, A.ListLit | A.NoneLit)
                b = self.expr(e.right, a.ty if a.ty != ERROR and literal else None)
        return self.binop(e.op, a, b, e.span)

    def binop(self, op: str, a: ir.Expr, b: ir.Expr, span: Span) -> ir.Expr:
        if ERROR in (a.ty, b.ty):
            return ir.Const(ERROR, 0, span=span)
        if op in ("<<", ">>"):
            if not isinstance(a.ty, IntTy):
                self.err(E_TYPE_MISMATCH, f"cannot shift `{a.ty}`", span)
            return ir.Bin(a.ty, op, args=[a, b], span=span)
        if a.ty != b.ty:
            self.err(E_TYPE_MISMATCH, f"`{op}` needs operands of one type, found `{a.ty}` and "
                     f"`{b.ty}` (convert with `as`)", span)
            return ir.Const(ERROR, 0, span=span)
        t = a.ty
        if op in ("==", "!="):
            if not is_storable(t):
                self.err(E_TYPE_MISMATCH, f"cannot compare `{t}` with `{op}`", span)
            return ir.Bin(BOOL, op, args=[a, b], span=span)
        if op in ("<", "<=", ">", ">="):
            if t in (BYTES, STRING):  # byte-wise lexicographic: compare(a, b) op 0
                cmp = ir.Text(I32, "cmp", args=[a, b], span=span)
                return ir.Bin(BOOL, op, args=[cmp, ir.Const(I32, 0)], span=span)
            if not isinstance(t, IntTy):
                self.err(E_TYPE_MISMATCH, f"cannot order `{t}`", span)
            return ir.Bin(BOOL, op, args=[a, b], span=span)
        if op == "+" and t in (BYTES, STRING):
            return ir.Bin(t, "concat", args=[a, b], span=span)
        if not isinstance(t, IntTy):
            self.err(E_TYPE_MISMATCH, f"`{op}` is not defined for `{t}`", span)
            return ir.Const(ERROR, 0, span=span)
        if (op in ("+", "-", "*", "/", "%") and isinstance(a, ir.Const)
                and isinstance(b, ir.Const) and isinstance(a.value, int)
                and isinstance(b.value, int)):
            return self.fold(op, t, a.value, b.value, span)
        return ir.Bin(t, op, args=[a, b], span=span)

    def fold(self, op: str, t: IntTy, a: int, b: int, span: Span) -> ir.Expr:
        """A constant expression is computed here, so a fault it would have at run time
        (overflow, division by zero) is a compile error instead (E7216)."""
        v = _fold(op, a, b)
        if v is None:
            self.err(E_CONST_FAULT, f"constant expression `{a} {op} {b}` divides by zero", span)
            return ir.Const(ERROR, 0, span=span)
        if not t.min <= v <= t.max:
            self.err(E_CONST_FAULT, f"constant expression `{a} {op} {b}` = {v} overflows "
                     f"`{t}` ({t.min}..{t.max})", span)
            return ir.Const(ERROR, 0, span=span)
        return ir.Const(t, v, span=span)

    def e_Cast(self, e: A.Cast, want: Ty | None) -> ir.Expr:
        to = self.resolve(e.to)
        return self.convert(self.expr(e.value, None), to, e.span)

    def convert(self, v: ir.Expr, to: Ty, span: Span) -> ir.Expr:
        if v.ty == ERROR or to == ERROR:
            return ir.Const(ERROR, 0)
        ok = ((isinstance(v.ty, IntTy) and isinstance(to, IntTy))
              or (v.ty in (STRING, ADDRESS) and to == BYTES)
              or (v.ty == BYTES and to in (ADDRESS, STRING))
              or (isinstance(v.ty, EnumTy) and isinstance(to, IntTy)))
        if not ok and v.ty != to:
            self.err(E_TYPE_MISMATCH, f"cannot convert `{v.ty}` to `{to}`", span)
            return ir.Const(ERROR, 0)
        if v.ty == to:
            return v
        if v.ty == BYTES and to == STRING:  # checked: invalid UTF-8 is a fault
            return ir.Text(STRING, "utf8", args=[v], span=span)
        if (to == ADDRESS and isinstance(v, ir.Const) and isinstance(v.value, bytes)
                and len(v.value) != ADDRESS_LEN):
            self.err(E_LITERAL_RANGE, f"an address is {ADDRESS_LEN} bytes; this literal has "
                     f"{len(v.value)}", v.span or span)
            return ir.Const(ERROR, 0)
        if isinstance(v, ir.Const) and isinstance(to, IntTy) and isinstance(v.value, int):
            if not to.min <= v.value <= to.max:
                self.err(E_LITERAL_RANGE, f"{v.value} does not fit in `{to}`", span)
            return ir.Const(to, v.value, span=span)
        return ir.Cast(to, args=[v], span=span)

    def e_Index(self, e: A.Index, want: Ty | None) -> ir.Expr:
        mp = self.map_path(e)
        if mp is not None:
            st, keys = mp
            self.note_read(st)
            vty = self.map_value_type(st.ty, len(keys))
            if isinstance(vty, MapTy):
                self.err(E_TYPE_MISMATCH, "index this map further to reach a value", e.span)
                return ir.Const(ERROR, 0)
            return ir.SLoad(vty, st, args=keys)
        return self.index_of(self.expr(e.base, None), e.index, e.span)

    def index_of(self, base: ir.Expr, index: A.Expr, span: Span) -> ir.Expr:
        if isinstance(base.ty, MapTy):
            key = self.expr(index, base.ty.key)
            return ir.MapGet(base.ty.value, args=[base, key], span=span)
        idx = self.expr(index, U32)
        if isinstance(base.ty, ListTy | ArrayTy):
            return ir.Index(base.ty.elem, args=[base, idx], span=span)
        if base.ty in (BYTES, STRING):  # a string's bytes
            return ir.Index(INT_TYPES["u8"], args=[base, idx], span=span)
        if base.ty != ERROR:
            self.err(E_TYPE_MISMATCH, f"cannot index `{base.ty}`", span)
        return ir.Const(ERROR, 0)

    def e_Field(self, e: A.Field, want: Ty | None) -> ir.Expr:
        return self.field_of(self.expr(e.base, None), e.name, e.span)

    def field_of(self, base: ir.Expr, fname: str, span: Span) -> ir.Expr:
        if isinstance(base.ty, StructTy):
            fi = base.ty.field_index(fname)
            if fi is not None:
                return ir.Field(base.ty.fields[fi][1], fi, args=[base], span=span)
        if base.ty != ERROR:
            self.err(E_UNKNOWN_MEMBER, f"`{base.ty}` has no field `{fname}`", span)
        return ir.Const(ERROR, 0)

    def args_against(self, args: list[A.Expr], types: list[Ty], span: Span,
                     what: str) -> list[ir.Expr]:
        if len(args) != len(types):
            self.err(E_ARITY, f"`{what}` takes {len(types)} argument(s), found {len(args)}",
                     span)
            return [self.expr(a, None) for a in args]
        return [self.expr(a, t) for a, t in zip(args, types, strict=True)]

    def e_Call(self, e: A.Call, want: Ty | None) -> ir.Expr:
        f = e.func
        if isinstance(f, A.Field):
            return self.method_call(f, e.args, e.span)
        if not isinstance(f, A.Name):
            self.err(E_NOT_CALLABLE, "this expression cannot be called", e.span)
            return ir.Const(ERROR, 0)
        name = f.ident
        if name in INT_TYPES or name in ("bytes", "address", "string"):
            if len(e.args) != 1:
                self.err(E_ARITY, f"`{name}(...)` takes one argument", e.span)
                return ir.Const(ERROR, 0)
            to = INT_TYPES.get(name) or PRIMS[name]
            if isinstance(to, IntTy) and isinstance(e.args[0], A.IntLit):
                return self.e_IntLit(e.args[0], to)
            return self.convert(self.expr(e.args[0], None), to, e.span)
        if spec_check.is_spec_call(self, name):
            return spec_check.spec_call(self, name, e)
        if name in ("encode", "decode") and name not in self.fn_sigs:
            return self.codec_call(name, e, want)
        if name in self.fn_sigs:
            d = self.fn_sigs[name]
            if d.is_init and not (self.fn and self.fn.kind == "test"):
                self.err(E_BAD_CONTEXT, "`init` runs once at deployment and cannot be called",
                         e.span)
            types = [self.resolve(p.type) for p in d.params]
            args = self.args_against(e.args, types, e.span, name)
            if self.fn is not None:
                self.fn.calls.add(name)
            ret = self.resolve(d.ret) if d.ret else UNIT
            return ir.Call(ret, name, args=args)
        table = dict(BUILTINS)
        if self.fn is not None and self.fn.kind == "test":
            table.update(TEST_BUILTINS)
        if name in table:
            ptypes, ret = table[name]
            args = self.args_against(e.args, ptypes, e.span, name)
            return ir.Host(ret, name, args=args)
        self.err(E_UNKNOWN_NAME, f"unknown function `{name}`", e.span)
        for a in e.args:
            self.expr(a, None)
        return ir.Const(ERROR, 0)

    def codec_call(self, name: str, e: A.Call, want: Ty | None) -> ir.Expr:
        """`encode(v) -> bytes` and `decode(b)` (typed by where its result goes): the
        canonical encoding of any value type, as in calls and storage."""
        if len(e.args) != 1:
            self.err(E_ARITY, f"`{name}` takes one argument", e.span)
            return ir.Const(ERROR, 0)
        if name == "encode":
            v = self.expr(e.args[0], None)
            if not is_storable(v.ty) and v.ty != ERROR:
                self.err(E_TYPE_MISMATCH, f"`{v.ty}` cannot be encoded", e.span)
            return ir.Encode(BYTES, args=[v])
        b = self.expr(e.args[0], BYTES)
        if want is None or not is_storable(want):
            self.err(E_TYPE_MISMATCH, "`decode` needs a known result type here "
                     "(`let p: Point = decode(b);`)", e.span)
            return ir.Const(ERROR, 0)
        return ir.Decode(want, args=[b], span=e.span)

    def method_call(self, f: A.Field, args: list[A.Expr], span: Span) -> ir.Expr:
        # u64.parse(s): decimal text to an integer type, none if malformed or out of range
        if (isinstance(f.base, A.Name) and f.base.ident in INT_TYPES and f.name == "parse"
                and self.lookup(f.base.ident) is None):
            t = INT_TYPES[f.base.ident]
            if len(args) != 1:
                self.err(E_ARITY, f"`{t}.parse` takes one string", span)
                return ir.Const(ERROR, 0)
            text = self.expr(args[0], STRING)
            return ir.Text(OptionalTy(t), "parse", args=[text], span=span)
        # Iface(addr).method(args): a synchronous cross-contract call
        if (isinstance(f.base, A.Call) and isinstance(f.base.func, A.Name)
                and f.base.func.ident in self.interfaces):
            iface = f.base.func.ident
            if len(f.base.args) != 1:
                self.err(E_ARITY, f"`{iface}(...)` takes the contract's address", span)
                return ir.Const(ERROR, 0)
            addr = self.expr(f.base.args[0], ADDRESS)
            methods = self.interfaces[iface]
            if f.name not in methods:
                self.err(E_UNKNOWN_MEMBER, f"interface `{iface}` has no method `{f.name}`",
                         f.span)
                return ir.Const(ERROR, 0)
            ptypes, ret = methods[f.name]
            call_args = self.args_against(args, ptypes, span, f.name)
            if self.fn is not None:
                self.fn.external = True
            return ir.ExtCall(ret, iface, f.name, args=[addr, *call_args], span=span)
        m = f.name
        if m in ("push", "pop"):
            out: list[ir.Stmt] = []
            root, wb = self.mutable_root(f.base, out)
            if not isinstance(root.ty, ListTy):
                if root.ty != ERROR:
                    self.err(E_UNKNOWN_MEMBER, f"`{root.ty}` has no method `{m}`", f.span)
                return ir.Const(ERROR, 0)
            if m == "push":
                if len(args) != 1:
                    self.err(E_ARITY, "`push` takes one argument", span)
                    return ir.Const(ERROR, 0)
                value = self.expr(args[0], root.ty.elem)
                stmts = [*out, ir.Push(args=[root, value], span=span), *wb]
                return ir.Seq(UNIT, stmts, span=span)
            tmp = self.temp(root.ty.elem)
            stmts = [*out, ir.Let(tmp, args=[ir.Pop(root.ty.elem, args=[root], span=span)]), *wb]
            return ir.Seq(root.ty.elem, stmts, args=[ir.Local(root.ty.elem, tmp)], span=span)
        base = self.expr(f.base, None)
        bt = base.ty
        simple: dict[str, Callable[[], ir.Expr]] = {}
        if isinstance(bt, ListTy | ArrayTy) or bt in (BYTES, STRING):
            simple["len"] = lambda: ir.Len(U32, args=[base])
        if isinstance(bt, MapTy):
            simple["len"] = lambda: ir.MapLen(U32, args=[base])
            simple["keys"] = lambda: ir.MapItems(ListTy(bt.key), False, args=[base])
            simple["values"] = lambda: ir.MapItems(ListTy(bt.value), True, args=[base])
            if m == "contains":
                if len(args) != 1:
                    self.err(E_ARITY, "`contains` takes one argument", span)
                    return ir.Const(ERROR, 0)
                return ir.MapHas(BOOL, args=[base, self.expr(args[0], bt.key)])
        if isinstance(bt, OptionalTy):
            simple["is_some"] = lambda: ir.IsSome(BOOL, args=[base])
            simple["is_none"] = lambda: ir.Not(BOOL, args=[ir.IsSome(BOOL, args=[base])])
            simple["unwrap"] = lambda: ir.Unwrap(bt.inner, args=[base], span=span)
        if isinstance(bt, IntTy) and not bt.big:
            simple["to_string"] = lambda: ir.ToString(STRING, args=[base])
        if isinstance(bt, IntTy) and bt.big:
            simple["to_string"] = lambda: ir.Text(STRING, "to_string", args=[base], span=span)
        if bt in (BYTES, STRING) and m == "slice":
            if len(args) != 2:
                self.err(E_ARITY, "`slice` takes a start and an end", span)
                return ir.Const(ERROR, 0)
            lo, hi = (self.expr(x, U32) for x in args)
            sliced = ir.Slice(bt, args=[base, lo, hi], span=span)
            if bt == STRING:  # cutting a character in two is invalid UTF-8
                return ir.Text(STRING, "utf8", args=[sliced], span=span)
            return sliced
        if bt in (BYTES, STRING) and m == "find":
            if len(args) != 1:
                self.err(E_ARITY, "`find` takes what to look for", span)
                return ir.Const(ERROR, 0)
            needle = self.expr(args[0], bt)
            return ir.Text(OptionalTy(U32), "find", args=[base, needle], span=span)
        if isinstance(bt, OptionalTy) and m == "unwrap_or":
            if len(args) != 1:
                self.err(E_ARITY, "`unwrap_or` takes one argument", span)
                return ir.Const(ERROR, 0)
            return ir.UnwrapOr(bt.inner, args=[base, self.expr(args[0], bt.inner)])
        if m in simple:
            if args:
                self.err(E_ARITY, f"`{m}` takes no arguments", span)
            return simple[m]()
        if bt != ERROR:
            self.err(E_UNKNOWN_MEMBER, f"`{bt}` has no method `{m}`", f.span)
        return ir.Const(ERROR, 0)


def check(prog: A.Program, source: str, contract: str | None = None,
          test_mode: bool = False) -> ir.Program:
    return Checker(prog, source, test_mode).run(contract)


def _state_changing_hosts(fn: ir.Function) -> list[ir.Host]:
    """The calls of builtins that change the chain's state (`conf_pay`) in `fn`."""
    return [e for s in ir.walk_stmts(fn.body) for a in s.args for e in ir.walk_exprs(a)
            if isinstance(e, ir.Host) and e.name in STATE_CHANGING]
