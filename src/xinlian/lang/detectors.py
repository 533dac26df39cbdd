"""The built-in vulnerability detectors of `xinlian qi check`, one function each.

Every detector reads the checked IR through `detect_flow.Context` and returns findings;
none looks at the source text or the file name. `DETECTORS` lists them in the order the
documentation (docs/qi/detectors.md) describes them.
"""

from __future__ import annotations

from collections.abc import Callable

from xinlian.lang import ir
from xinlian.lang.detect_flow import (
    CHAIN_STATE,
    Context,
    Detector,
    Finding,
    all_exprs,
    conditions,
    exprs_in,
    in_order,
    is_host,
    same,
    stmts_in,
    sync_calls,
)
from xinlian.lang.errors import Span
from xinlian.lang.types import UNIT, IntTy, MapTy
from xinlian.lang.upgrade_rule import UpgradeRule

DETECTORS: list[Detector] = []


def detector(id: str, severity: str, title: str, description: str) -> Callable[
        [Callable[[Context], list[Finding]]], Callable[[Context], list[Finding]]]:
    def register(run: Callable[[Context], list[Finding]]) -> Callable[[Context], list[Finding]]:
        DETECTORS.append(Detector(id, severity, title, description, run))
        return run
    return register


def _from_caller(ctx: Context, e: ir.Expr) -> bool:
    return ctx.derives(e, lambda n: is_host(n, "caller"))


# --- calls to other contracts ----------------------------------------------------------
@detector("reentrancy-sync-call", "medium", "state written after a synchronous call",
          "A public function, callback or scheduled function writes contract state after a "
          "synchronous call to another contract (checks-effects-interactions broken). The "
          "engine refuses re-entry (error 7512), so the callee cannot call back in, but it "
          "acts while this contract's state is not yet updated, and any attempt to call back "
          "fails the whole call. Write state first, then call.")
def reentrancy_sync_call(ctx: Context) -> list[Finding]:
    out = []
    writers = {g.name for g in ctx.functions() if g.writes}
    callers_out = {g.name for g in ctx.functions() if any(sync_calls(g.body))}
    for fn in ctx.entries():
        called: ir.Expr | None = None
        for node in in_order(fn.body):
            if isinstance(node, ir.Async):
                continue
            if isinstance(node, ir.ExtCall) or (
                    isinstance(node, ir.Call) and _reaches_any(ctx, node.fn, callers_out)):
                called = called or node
            elif called is not None and (isinstance(node, ir.SStore) or (
                    isinstance(node, ir.Call) and _reaches_any(ctx, node.fn, writers))):
                what = node.state.name if isinstance(node, ir.SStore) else f"via `{node.fn}`"
                out.append(ctx.finding(
                    "reentrancy-sync-call", "medium",
                    f"`{fn.name}` writes state ({what}) after a synchronous call to another "
                    f"contract (line {called.span.line if called.span else fn.span.line})",
                    node.span, fn))
                break
    return out


def _reaches_any(ctx: Context, name: str, targets: set[str]) -> bool:
    fn = ctx.prog.functions.get(name)
    return fn is not None and any(g.name in targets for g in ctx.reach(fn))


def _does_something(body: list[ir.Stmt]) -> bool:
    return any(not isinstance(s, ir.Let | ir.Set) for s in stmts_in(body))


@detector("try-error-swallowed", "medium", "a failed call is silently ignored",
          "A `try` whose error handler does nothing (no revert, no state change, no event, "
          "no return): the failure of the called contract, or of the block, leaves no trace "
          "and the caller goes on as if it had succeeded.")
def try_error_swallowed(ctx: Context) -> list[Finding]:
    out = []
    for fn in ctx.functions():
        for s in stmts_in(fn.body):
            empty = (isinstance(s, ir.Try) and not _does_something(s.orelse)) or (
                isinstance(s, ir.TryBlock) and any(
                    c.error == ir.CATCH_ANY and not _does_something(c.body) for c in s.catches))
            if empty:
                out.append(ctx.finding("try-error-swallowed", "medium",
                                       f"`{fn.name}`: the `catch` of this `try` ignores the "
                                       "error", s.span, fn))
    return out


@detector("try-result-unused", "low", "the result of a `try let` call is never used",
          "`try let v = Iface(a).m(...)` binds the call's result, but the success branch never "
          "reads `v`: the result (often a success flag or an amount) goes unchecked.")
def try_result_unused(ctx: Context) -> list[Finding]:
    out = []
    for fn in ctx.functions():
        for s in stmts_in(fn.body):
            if isinstance(s, ir.Try) and s.var is not None and not any(
                    isinstance(e, ir.Local) and e.var is s.var for e in all_exprs(s.body)):
                out.append(ctx.finding("try-result-unused", "low",
                                       f"`{fn.name}`: the result `{s.var.name}` of this call "
                                       "is never used", s.span, fn))
    return out


@detector("unchecked-return", "medium", "a call's result is discarded",
          "A call to another contract or to an internal function that returns a value is "
          "used as a statement, so its result (a success flag, an amount) is thrown away.")
def unchecked_return(ctx: Context) -> list[Finding]:
    out = []
    for fn in ctx.functions():
        for s in stmts_in(fn.body):
            e = s.args[0] if isinstance(s, ir.ExprStmt) else None
            if isinstance(e, ir.Call | ir.ExtCall) and e.ty != UNIT:
                name = e.fn if isinstance(e, ir.Call) else f"{e.iface}.{e.method}"
                out.append(ctx.finding("unchecked-return", "medium",
                                       f"`{fn.name}` discards the `{e.ty}` returned by "
                                       f"`{name}`", s.span or e.span, fn))
    return out


@detector("async-failure-ignored", "medium", "an async callback does not check for failure",
          "An async callback receives `none` (or `false`) when the call failed for any "
          "reason; this one never tests its parameter (`is_some`, `is_none`, `if ok`), so it "
          "treats a failed call like a successful one (`unwrap_or` hides it, `unwrap` turns "
          "it into a fault that loses the callback's work).")
def async_failure_ignored(ctx: Context) -> list[Finding]:
    out = []
    for fn in ctx.functions():
        if fn.kind != "callback" or not fn.params:
            continue
        p = fn.params[0]
        if not any(isinstance(n, ir.Local) and n.var is p for g in ctx.reach(fn)
                   for c in conditions(g.body) for n in ctx.sources(c)):
            out.append(ctx.finding("async-failure-ignored", "medium",
                                   f"callback `{fn.name}` never checks whether the call "
                                   f"succeeded (`{p.name}`)", None, fn))
    return out


# --- who may change what -----------------------------------------------------------------
@detector("missing-access-control", "high", "anyone can change shared state",
          "A public function writes state that is not the caller's own (a plain variable, "
          "or a map entry whose key and value do not come from `caller()`; counters stepped "
          "by a constant are not counted), and no condition in it or in the functions it "
          "calls depends on `caller()`: any account can call it.")
def missing_access_control(ctx: Context) -> list[Finding]:
    out = []
    for fn in ctx.entries():
        if fn.kind != "fn" or fn.view:
            continue
        reached = ctx.reach(fn)
        shared = [s for g in reached for s in stmts_in(g.body)
                  if isinstance(s, ir.SStore) and not _own_or_tally(ctx, s)]
        if shared and not any(_from_caller(ctx, c) or ctx.derives(
                c, lambda n: is_host(n, "origin")) for g in reached for c in conditions(g.body)):
            out.append(ctx.finding("missing-access-control", "high",
                                   f"anyone may call `{fn.name}`, which writes "
                                   f"`{shared[0].state.name}` without checking `caller()`",
                                   shared[0].span, fn))
    return out


def _own_or_tally(ctx: Context, s: ir.SStore) -> bool:
    """A write any account may make: to a map entry keyed by the caller or holding the
    caller (a claim: `owner_of[k] = caller()`), or a counter stepped by a constant."""
    if isinstance(s.state.ty, MapTy) and (_from_caller(ctx, s.args[0])
                                          or _from_caller(ctx, s.args[-1])):
        return True
    value = s.args[-1]
    return isinstance(value, ir.Bin) and value.op in ("+", "-") and any(
        isinstance(a, ir.Const) for a in value.args) and any(
        isinstance(a, ir.SLoad) and a.state is s.state for a in value.args)


@detector("tx-origin-auth", "medium", "authorisation by `origin()`",
          "A condition depends on `origin()`, the account that signed the transaction. A "
          "contract that the signer calls can then act with the signer's authority; check "
          "`caller()` instead.")
def tx_origin_auth(ctx: Context) -> list[Finding]:
    return [ctx.finding("tx-origin-auth", "medium",
                        f"`{fn.name}` decides on `origin()` instead of `caller()`", c.span, fn)
            for fn in ctx.functions() for c in conditions(fn.body)
            if ctx.derives(c, lambda n: is_host(n, "origin"))]


# --- fuel, time and randomness -------------------------------------------------------------
def _growable(ctx: Context) -> set[str]:
    """State lists some function pushes onto, and state integers some function adds to."""
    grown: set[str] = set()
    for fn in ctx.functions():
        for s in stmts_in(fn.body):
            if isinstance(s, ir.Push):
                grown |= {e.state.name for e in _loads(ctx, s.args[0])}
            elif isinstance(s, ir.SStore) and isinstance(s.args[-1], ir.Bin) \
                    and s.args[-1].op == "+" and isinstance(s.args[-1].ty, IntTy) \
                    and any(e.state is s.state for e in _loads(ctx, s.args[-1])):
                grown.add(s.state.name)
    return grown


def _loads(ctx: Context, e: ir.Expr) -> list[ir.SLoad]:
    return [n for n in ctx.sources(e) if isinstance(n, ir.SLoad)]


@detector("unbounded-loop", "medium", "a loop over state that grows (fuel denial of service)",
          "A loop's trip count comes from a stored list or counter that public functions "
          "keep growing. Once it is long enough the loop runs out of fuel (2e9 per call, 1e8 "
          "for scheduled runs and callbacks) and the function can never succeed again.")
def unbounded_loop(ctx: Context) -> list[Finding]:
    grown = _growable(ctx)
    out = []
    for fn in ctx.functions():
        for s in stmts_in(fn.body):
            if isinstance(s, ir.Loop):
                names = sorted({e.state.name for e in _loads(ctx, s.args[0])} & grown)
                if names:
                    out.append(ctx.finding("unbounded-loop", "medium",
                                           f"`{fn.name}` loops over `{names[0]}`, which grows "
                                           "without bound", s.span, fn))
    return out


@detector("block-time-dependence", "low", "a decision depends on the block time",
          "A condition depends on `block_time()`, the timestamp the block's proposer wrote "
          "into its header. Proposers can shift it within the consensus tolerance, so "
          "deadlines and windows near the boundary can be moved.")
def block_time_dependence(ctx: Context) -> list[Finding]:
    return [ctx.finding("block-time-dependence", "low",
                        f"`{fn.name}` decides on `block_time()`", c.span, fn)
            for fn in ctx.functions() for c in conditions(fn.body)
            if ctx.derives(c, lambda n: is_host(n, "block_time"))]


@detector("weak-randomness", "high", "randomness from chain data",
          "A `%` takes its operand from block time, height, block hash or transaction hash "
          "(or a hash of them). Every validator and the proposer know these values before the "
          "transaction runs, so the outcome can be predicted or chosen.")
def weak_randomness(ctx: Context) -> list[Finding]:
    out = []
    for fn in ctx.functions():
        for e in all_exprs(fn.body):
            if isinstance(e, ir.Bin) and e.op == "%" and ctx.derives(
                    e.args[0], lambda n: is_host(n, *CHAIN_STATE)):
                out.append(ctx.finding("weak-randomness", "high",
                                       f"`{fn.name}` draws a number from chain data with `%`",
                                       e.span, fn))
    return out


# --- upgrades --------------------------------------------------------------------------------
@detector("migrate-uninitialised", "high", "an upgrade leaves new state uninitialised",
          "The contract upgrades an older one and adds state that its constructor sets, but "
          "`migrate` (run once when the upgrade is applied) does not set it, or there is no "
          "`migrate`: upgraded instances keep the zero value where fresh ones have the "
          "constructor's.")
def migrate_uninitialised(ctx: Context) -> list[Finding]:
    if ctx.old_states is None:
        return []
    fns = ctx.prog.functions
    init = next((f for f in fns.values() if f.kind == "init"), None)
    migrate = next((f for f in fns.values() if f.kind == "migrate"), None)
    set_by_init = {w for g in ctx.reach(init) for w in g.writes} if init else set()
    set_by_migrate = {w for g in ctx.reach(migrate) for w in g.writes} if migrate else set()
    return [ctx.finding("migrate-uninitialised", "high",
                        f"new state `{st.name}` is set by `init` but not by `migrate`",
                        ctx.state_spans.get(st.name), migrate)
            for st in ctx.prog.states if st.name not in ctx.old_states
            and st.name in set_by_init and st.name not in set_by_migrate]


def _strength(rule: UpgradeRule) -> int:
    return {"never": 3, "governance": 2}.get(rule.kind, 1 if rule.threshold > 1 else 0)


@detector("upgrade-rule-weakened", "medium", "an upgrade weakens who may upgrade next",
          "The contract upgrades an older version whose `upgrade` clause was stricter "
          "(`never`, `governance`, or approvals by several keys), and this version hands the "
          "next upgrade to fewer hands (its admin, or a single approver): once applied, one "
          "key can replace the code and everything it guards.")
def upgrade_rule_weakened(ctx: Context) -> list[Finding]:
    old, new = ctx.old_rule, ctx.prog.upgrade_rule
    if old is None or _strength(new) >= _strength(old):
        return []
    return [ctx.finding("upgrade-rule-weakened", "medium",
                        f"`{ctx.prog.contract}` lets {new.kind} upgrade it; the version it "
                        f"upgrades required {old.kind}", ctx.contract_span, None)]


# --- events, arithmetic and conditions -----------------------------------------------------
@detector("missing-event", "low", "state changes without an event",
          "A public function changes state, but neither it nor anything it calls emits an "
          "event, although the contract declares events: off-chain indexers and users do "
          "not see the change.")
def missing_event(ctx: Context) -> list[Finding]:
    if not ctx.prog.events:
        return []
    out = []
    for fn in ctx.entries():
        if fn.kind == "fn" and fn.writes and not any(
                isinstance(s, ir.Emit) for g in ctx.reach(fn) for s in stmts_in(g.body)):
            out.append(ctx.finding("missing-event", "low",
                                   f"`{fn.name}` changes {', '.join(sorted(fn.writes))} "
                                   "without emitting an event", None, fn))
    return out


def _quotient(ctx: Context, e: ir.Expr, depth: int = 0) -> bool:
    """Whether `e` is a division, possibly through locals and conversions."""
    if isinstance(e, ir.Bin) and e.op == "/":
        return True
    if isinstance(e, ir.Cast) and depth < 8:
        return _quotient(ctx, e.args[0], depth + 1)
    if isinstance(e, ir.Local) and depth < 8:
        return any(_quotient(ctx, d, depth + 1) for d in ctx.defs.get(e.var, []))
    return False


@detector("divide-before-multiply", "medium", "division before multiplication",
          "A product has a quotient as a factor: integer division truncates first, and the "
          "multiplication scales the lost remainder (`a / b * c` instead of `a * c / b`).")
def divide_before_multiply(ctx: Context) -> list[Finding]:
    return [ctx.finding("divide-before-multiply", "medium",
                        f"`{fn.name}` multiplies the result of a division", e.span, fn)
            for fn in ctx.functions() for e in all_exprs(fn.body)
            if isinstance(e, ir.Bin) and e.op == "*" and any(_quotient(ctx, a) for a in e.args)]


_FLIP = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}


def _constant_comparison(e: ir.Expr) -> bool | None:
    """The value a comparison always has, whatever its operands, or None."""
    if not isinstance(e, ir.Bin) or e.op not in ("==", "!=", *_FLIP):
        return None
    a, b = e.args
    if same(a, b):
        return e.op in ("==", "<=", ">=")
    op = e.op
    if isinstance(a, ir.Const) and not isinstance(b, ir.Const):
        a, b, op = b, a, _FLIP.get(op, op)
    ty = a.ty
    if not isinstance(ty, IntTy) or not isinstance(b, ir.Const) or isinstance(a, ir.Const):
        return None
    if b.value == ty.min and op in (">=", "<"):
        return op == ">="
    if b.value == ty.max and op in ("<=", ">"):
        return op == "<="
    return None


@detector("tautology", "low", "a condition that is always true or always false",
          "A condition, or a comparison inside one, has the same value on every run: a "
          "literal `true`/`false`, an unsigned value compared with 0 (`x >= 0`), a value "
          "compared with its type's limit, or with itself. Its branch is dead code or its "
          "check checks nothing.")
def tautology(ctx: Context) -> list[Finding]:
    out = []
    for fn in ctx.functions():
        for s in stmts_in(fn.body):
            if not isinstance(s, ir.If | ir.Loop):
                continue
            cond = s.args[0]
            if isinstance(s, ir.Loop) and isinstance(cond, ir.Const) and cond.value == 1:
                continue  # `while true { ... break; }`
            for e in exprs_in(cond):
                fixed = e.value if isinstance(e, ir.Const) and e is cond else \
                    _constant_comparison(e)
                if fixed is not None:
                    out.append(ctx.finding("tautology", "low",
                                           f"`{fn.name}`: this condition is always "
                                           f"{'true' if fixed else 'false'}",
                                           e.span or s.span, fn))
                    break
    return out


@detector("shadowed-state", "low", "a local hides a state variable",
          "A parameter or `let` has the name of a state variable. In that scope the name "
          "means the local, so a write meant for storage changes only the local.")
def shadowed_state(ctx: Context) -> list[Finding]:
    names = {st.name for st in ctx.prog.states}
    out = []
    for fn in ctx.functions():
        spans: list[tuple[str, Span | None]] = [(p.name, None) for p in fn.params
                                                if p.name in names]
        spans += [(s.var.name, s.span) for s in stmts_in(fn.body)
                  if isinstance(s, ir.Let) and s.var.name in names]
        out += [ctx.finding("shadowed-state", "low",
                            f"`{name}` in `{fn.name}` shadows the state variable `{name}`",
                            span, fn) for name, span in spans]
    return out


@detector("unused-state", "info", "state that nothing reads",
          "A state variable that no function reads (it may be written): storage and fuel "
          "spent for nothing, or a sign that a read was forgotten. Indexed state (read by "
          "the node's queries) and state kept for an upgraded layout are not reported.")
def unused_state(ctx: Context) -> list[Finding]:
    read = {e.state.name for fn in ctx.functions() for e in all_exprs(fn.body)
            if isinstance(e, ir.SLoad)}
    keep = ctx.old_states or frozenset()
    return [ctx.finding("unused-state", "info", f"state `{st.name}` is never read",
                        ctx.state_spans.get(st.name), None)
            for st in ctx.prog.states
            if st.name not in read and not st.indexed and st.name not in keep]


@detector("stale-map-write", "high", "a map entry written from a value read before another "
          "write (self-transfer)",
          "A function reads two entries of one state map into locals, writes the first, then "
          "writes the second from its stale local copy. When both keys are equal (a transfer "
          "to oneself) the second write undoes the first, minting or burning value. Re-read "
          "the entry after the first write, or require the keys to differ.")
def stale_map_write(ctx: Context) -> list[Finding]:
    out = []
    for fn in ctx.functions():
        cached: dict[ir.Var, ir.SLoad] = {}
        written: list[ir.SStore] = []
        compared = list(conditions(fn.body))
        for node in in_order(fn.body):
            if isinstance(node, ir.Let) and isinstance(node.args[0], ir.SLoad) \
                    and node.args[0].args:
                cached[node.var] = node.args[0]
            elif isinstance(node, ir.SStore) and len(node.args) > 1:
                key = node.args[:-1]
                for prev in written:
                    if prev.state is not node.state or _same_keys(prev.args[:-1], key):
                        continue
                    stale = [v for v, load in cached.items() if load.state is node.state
                             and _same_keys(load.args, key) and _uses(node.args[-1], v)]
                    if stale and not _keys_compared(ctx, compared, prev.args[0], key[0]):
                        out.append(ctx.finding(
                            "stale-map-write", "high",
                            f"`{fn.name}` writes `{node.state.name}` from `{stale[0].name}`, "
                            "read before an earlier write to the same map (equal keys lose "
                            "that write)", node.span, fn))
                        break
                written.append(node)
    return out


def _same_keys(a: list[ir.Expr], b: list[ir.Expr]) -> bool:
    return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))


def _uses(e: ir.Expr, var: ir.Var) -> bool:
    return any(isinstance(n, ir.Local) and n.var is var for n in exprs_in(e))


def _keys_compared(ctx: Context, conds: list[ir.Expr], k1: ir.Expr, k2: ir.Expr) -> bool:
    return any(isinstance(e, ir.Bin) and e.op in ("==", "!=") and (
        (same(e.args[0], k1) and same(e.args[1], k2)) or
        (same(e.args[0], k2) and same(e.args[1], k1)))
        for c in conds for e in exprs_in(c))


@detector("narrowing-cast", "low", "a conversion that can fault on large values",
          "An integer conversion to a type that cannot hold every value of the source type, "
          "of a value no earlier condition bounds. Qi checks conversions, so an input out "
          "of range does not truncate: it faults and the whole call fails, which an "
          "attacker who controls the value can use to block the function.")
def narrowing_cast(ctx: Context) -> list[Finding]:
    out = []
    for fn in ctx.functions():
        bounded: list[ir.Expr] = []
        for node in in_order(fn.body):
            if isinstance(node, ir.If | ir.Loop):
                bounded += [a for e in exprs_in(node.args[0]) if isinstance(e, ir.Bin)
                            and e.op in _FLIP for a in e.args]
            if not isinstance(node, ir.Cast) or not isinstance(node.ty, IntTy):
                continue
            src = node.args[0].ty
            if isinstance(src, IntTy) and (src.min < node.ty.min or src.max > node.ty.max) \
                    and not any(same(node.args[0], b) for b in bounded):
                out.append(ctx.finding("narrowing-cast", "low",
                                       f"`{fn.name}` converts `{src}` to `{node.ty}` without "
                                       "a range check", node.span, fn))
    return out


@detector("unchecked-shift", "low", "a shift that silently drops bits",
          "`<<` is the one unchecked integer operation in Qi: bits shifted out are lost and a "
          "shift by the width or more gives 0. This one shifts by an amount that is not a "
          "constant, or by a constant of at least the width.")
def unchecked_shift(ctx: Context) -> list[Finding]:
    out = []
    for fn in ctx.functions():
        for e in all_exprs(fn.body):
            if isinstance(e, ir.Bin) and e.op == "<<" and isinstance(e.ty, IntTy):
                amount = e.args[1]
                if not isinstance(amount, ir.Const) or int(amount.value) >= e.ty.bits:
                    out.append(ctx.finding("unchecked-shift", "low",
                                           f"`{fn.name}` shifts left by an unchecked amount",
                                           e.span, fn))
    return out


@detector("self-call", "low", "a contract calls itself through its interface",
          "A synchronous call whose target is `self_address()`: the callee runs with this "
          "contract as `caller()`, so checks on `caller()` in the called method see the "
          "contract, not the account that started the call. Call the function internally.")
def self_call(ctx: Context) -> list[Finding]:
    return [ctx.finding("self-call", "low",
                        f"`{fn.name}` calls `{e.method}` on its own address", e.span, fn)
            for fn in ctx.functions() for e in sync_calls(fn.body)
            if ctx.derives(e.args[0], lambda n: is_host(n, "self_address"))]
