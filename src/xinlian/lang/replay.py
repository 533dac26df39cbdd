"""A counterexample as a Qi test (`xinlian qi verify --emit-test`).

The test sets the counterexample's state (the state variables, and the map entries the
call and its specification read), caller, block and arguments, calls the function and
checks the goal that failed, so `xinlian qi test` runs it in the engine and reports it
failed: an `ensures` or invariant is asserted after the call (with `old(...)` values
saved before it and `sum(m)` written out over the keys the call can have touched), a call
that aborts where no `aborts_if` holds fails as it aborts, and a call that does not abort
where an `aborts_if` holds fails an `expect_revert` test. Specification arithmetic is
unbounded while the test's is checked, so an assertion may fail by overflowing instead.
"""

from __future__ import annotations

from typing import Any

import z3

from xinlian.lang import ir
from xinlian.lang.prover import Executor
from xinlian.lang.types import ADDRESS, BOOL, BYTES, STRING, EnumTy, IntTy, MapTy, Ty


def qi_value(v: Any, ty: Ty) -> str:
    """A concrete z3 value as Qi source of type `ty`."""
    if ty == BOOL:
        return "true" if z3.is_true(v) else "false"
    if ty == ADDRESS:
        return f'address(hex"{v.as_long().to_bytes(20, "big").hex()}")'
    if isinstance(ty, EnumTy):
        return f"{ty.label}::{ty.variants[v.as_long() % len(ty.variants)]}"
    if isinstance(ty, IntTy):
        return str(v.as_long())
    if ty == BYTES:
        return f'hex"{v.as_string().encode("latin-1").hex()}"'
    if ty == STRING:
        text = v.as_string().encode("latin-1").decode("utf-8", "replace")
        escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    raise ValueError(f"no Qi literal for `{ty}`")


class TestWriter:
    """Renders one counterexample of `fn` as a `test fn`."""

    def __init__(self, ex: Executor, fn: ir.Function, args: dict[ir.Var, Any],
                 model: z3.ModelRef) -> None:
        self.ex, self.fn, self.args, self.model = ex, fn, args, model
        self.olds: list[tuple[str, ir.Expr]] = []

    def val(self, t: Any) -> Any:
        return self.model.eval(t, model_completion=True)

    def keys_of(self, name: str, writes: bool) -> list[list[Any]]:
        """The concrete key paths of `name` the execution read (and wrote)."""
        seen: dict[str, list[Any]] = {}
        for n, keys in self.ex.reads + (self.ex.writes if writes else []):
            if n == name:
                path = [self.val(k) for k in keys]
                seen.setdefault(repr(path), path)
        return list(seen.values())

    def key_src(self, st: ir.StateVar, path: list[Any]) -> str:
        out, ty = st.name, st.ty
        for k in path:
            assert isinstance(ty, MapTy)
            out += f"[{qi_value(k, ty.key)}]"
            ty = ty.value
        return out

    def setup(self) -> list[str]:
        lines = []
        for st in self.ex.prog.states:
            pre = self.ex.pre[st.name]
            if not isinstance(st.ty, MapTy):
                lines.append(f"{st.name} = {qi_value(self.val(pre), st.ty)};")
                continue
            for path in self.keys_of(st.name, writes=True):
                term, ty = pre, st.ty  # type: Any, Ty
                for k in path:
                    assert isinstance(ty, MapTy)
                    term, ty = z3.Select(term, k), ty.value
                lines.append(f"{self.key_src(st, path)} = {qi_value(self.val(term), ty)};")
        for name, setter in (("block_number", "set_block"), ("block_time", "set_time")):
            lines.append(f"{setter}({self.val(self.ex.hosts[name]).as_long()});")
        for p, t in self.args.items():
            lines.append(f"let arg_{p.name}: {p.ty} = {qi_value(self.val(t), p.ty)};")
        lines.append(f"set_caller({qi_value(self.val(self.ex.caller), ADDRESS)});")
        return lines

    def call(self) -> str:
        args = ", ".join(f"arg_{p.name}" for p in self.fn.params)
        return f"{self.fn.name}({args})"

    def expr(self, e: ir.Expr) -> str:
        if isinstance(e, ir.Const):
            if isinstance(e.ty, EnumTy) and isinstance(e.value, int):
                return f"{e.ty.label}::{e.ty.variants[e.value]}"
            if e.ty == BOOL:
                return "true" if e.value else "false"
            if isinstance(e.value, bytes):
                kind = "address(hex" if e.ty == ADDRESS else "hex"
                return f'{kind}"{e.value.hex()}"' + (")" if e.ty == ADDRESS else "")
            return str(e.value)
        if isinstance(e, ir.Local):
            return "result" if e.var is self.fn.result else f"arg_{e.var.name}"
        if isinstance(e, ir.Bin):
            return f"({self.expr(e.args[0])} {e.op} {self.expr(e.args[1])})"
        if isinstance(e, ir.Not):
            return f"!{self.expr(e.args[0])}"
        if isinstance(e, ir.And | ir.Or):
            op = "&&" if isinstance(e, ir.And) else "||"
            return f"({self.expr(e.args[0])} {op} {self.expr(e.args[1])})"
        if isinstance(e, ir.Host):
            return f"{e.name}()"
        if isinstance(e, ir.SLoad):
            return e.state.name + "".join(f"[{self.expr(a)}]" for a in e.args)
        if isinstance(e, ir.Cast):
            return f"({self.expr(e.args[0])} as {e.ty})"
        if isinstance(e, ir.Old):
            self.olds.append((f"old_{len(self.olds)}", e.args[0]))
            return self.olds[-1][0]
        if isinstance(e, ir.MapSum):
            terms = [self.key_src(e.state, p) for p in self.keys_of(e.state.name, True)]
            return "(" + " + ".join(terms) + ")" if terms else "0"
        raise ValueError(f"cannot write `{type(e).__name__}` in a test")

    def test(self, what: str, spec: ir.Expr | None) -> str:
        """The `test fn` source for the goal `what` (`spec`: the property that failed)."""
        body = self.setup()
        head = f"test fn counterexample_{self.fn.name}()"
        if what.startswith("aborts_if (an aborts_if holds"):
            head += " expect_revert"
            body.append(f"{self.call()};")
        elif spec is None:  # the call aborts although no aborts_if holds
            body.append(f"{self.call()};")
        else:
            check = self.expr(spec)
            body += [f"let {name} = {self.expr(e)};" for name, e in self.olds]
            has_result = self.fn.result is not None
            body.append(f"let result = {self.call()};" if has_result else f"{self.call()};")
            body.append(f"assert({check});")
        inner = "".join(f"        {line}\n" for line in body)
        return f"    // {what} of `{self.fn.name}`: replays a counterexample of `qi verify`\n" \
               f"    {head} {{\n{inner}    }}\n"


def concrete(ex: Executor) -> list[Any]:
    """Constraints making a model a state a test can build: each `sum(m)` equals the sum
    of the entries at the keys the call reads and writes (every other entry being 0)."""
    out = []
    for name, total in ex.pre.items():
        if not name.startswith("$sum:"):
            continue
        keys = [k[0] for n, k in ex.reads + ex.writes if n == name[5:]]
        terms = [z3.If(z3.And(*[k != j for j in keys[:i]]), z3.Select(ex.pre[name[5:]], k), 0)
                 for i, k in enumerate(keys)]
        out.append(total == z3.Sum(*terms) if terms else total == 0)
    return out


def with_test(source: str, test: str) -> str:
    """`source` with `test` added as the last member of its last contract."""
    end = source.rstrip().rfind("}")
    return source[:end] + "\n" + test + source[end:]
