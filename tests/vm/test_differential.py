"""Differential testing of checked integer arithmetic: random expressions compiled at -O0
and -O2 agree with a Python model of Qi semantics (value, or a fault)."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.execution.vm.engine import Engine
from xinlian.execution.vm.local import LocalChain
from xinlian.lang.compiler import compile_source
from xinlian.lang.errors import CompileError, TrapError
from xinlian.lang.types import INT_TYPES, IntTy

ENGINE = Engine()
OPS = ["+", "-", "*", "/", "%", "&", "|", "^"]
TYPES = ["u8", "i8", "u16", "i32", "u64", "i64", "u128", "i128", "u256", "i256"]


class Fault(Exception):
    pass


@dataclass
class Node:
    op: str | None  # None: a leaf (variable name or literal)
    left: Node | str | int
    right: Node | str | int | None = None

    def source(self) -> str:
        if self.op is None:
            return str(self.left)
        return f"({_src(self.left)} {self.op} {_src(self.right)})"


def _src(x: Node | str | int | None) -> str:
    return x.source() if isinstance(x, Node) else str(x)


def evaluate(x: Node | str | int | None, env: dict[str, int], t: IntTy) -> int:
    if isinstance(x, str):
        return env[x]
    if isinstance(x, int):
        return x
    assert isinstance(x, Node)
    if x.op is None:
        return evaluate(x.left, env, t)
    a, b = evaluate(x.left, env, t), evaluate(x.right, env, t)
    if x.op in "/%" and b == 0:
        raise Fault
    if x.op == "/":
        r = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)
    elif x.op == "%":
        r = a - abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1) * b
    else:
        r = {"+": a + b, "-": a - b, "*": a * b, "&": a & b, "|": a | b, "^": a ^ b}[x.op]
    if not t.min <= r <= t.max:
        raise Fault
    return r


def trees(t: IntTy) -> st.SearchStrategy[Node]:
    ops = OPS  # wide integers too: `& | ^` work limb by limb
    leaf = st.one_of(st.sampled_from(["a", "b", "c"]),
                     st.integers(0, min(t.max, 300))).map(lambda v: Node(None, v))
    return st.recursive(leaf, lambda sub: st.builds(Node, st.sampled_from(ops), sub, sub),
                        max_leaves=6)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(TYPES).flatmap(
    lambda name: st.tuples(st.just(name), trees(INT_TYPES[name]),
                           st.lists(st.integers(INT_TYPES[name].min, INT_TYPES[name].max),
                                    min_size=3, max_size=3))))
def test_random_expressions(case: tuple[str, Node, list[int]]) -> None:
    name, tree, values = case
    t = INT_TYPES[name]
    src = (f"contract C {{ pub view fn f(a: {name}, b: {name}, c: {name}) -> {name} "
           f"{{ return {tree.source()}; }} }}")
    try:
        want: int | None = evaluate(tree, dict(zip("abc", values, strict=True)), t)
    except Fault:
        want = None
    for level in (0, 2):
        ch = LocalChain(engine=ENGINE)
        try:
            art = compile_source(src, "d.qi", opt_level=level)
        except CompileError as exc:
            # a constant subexpression that faults is refused at compile time (E7216);
            # every operand is evaluated, so the expression faults for all inputs
            assert [d.code for d in exc.diagnostics] == [7216] and want is None, src
            return
        addr = ch.deploy(art)
        r = ch.call(addr, "f", *values)
        if want is None:
            assert isinstance(r.error, TrapError), (src, values, r.value)
        else:
            assert r.error is None and r.value == want, (src, values, r.error)


CAST_SRC = "contract C {\n" + "\n".join(
    [f"    pub view fn {s}_{d}(x: {s}) -> {d} {{ return x as {d}; }}"
     for s in TYPES for d in TYPES]
    + [f"    pub view fn cmp_{s}(x: {s}, y: {s}) -> list<bool> "
       f"{{ return [x < y, x <= y, x > y, x >= y, x == y, x != y]; }}" for s in TYPES]) + "\n}\n"
_cast_chain = LocalChain(engine=ENGINE)
CAST_ADDR = _cast_chain.deploy(compile_source(CAST_SRC, "casts.qi", opt_level=2))


def _value(name: str) -> st.SearchStrategy[int]:
    t = INT_TYPES[name]
    edges = [t.min, t.max, 0, 1, -1 if t.signed else 2, t.min + 1, t.max - 1]
    return st.integers(t.min, t.max) | st.sampled_from(edges)


@settings(max_examples=150)
@given(st.sampled_from(TYPES).flatmap(lambda s: st.tuples(
    st.just(s), st.sampled_from(TYPES), _value(s), _value(s))))
def test_casts_and_comparisons(case: tuple[str, str, int, int]) -> None:
    s, d, x, y = case
    r = _cast_chain.call(CAST_ADDR, f"{s}_{d}", x)
    t = INT_TYPES[d]
    if t.min <= x <= t.max:
        assert r.error is None and r.value == x, (s, d, x, r.error)
    else:
        assert isinstance(r.error, TrapError) and "range" in r.error.message
    got = _cast_chain.call(CAST_ADDR, f"cmp_{s}", x, y).value
    assert got == [x < y, x <= y, x > y, x >= y, x == y, x != y]


SHIFT_SRC = "contract S {\n" + "\n".join(
    f"    pub view fn sh_{n}(x: {n}, k: u32) -> list<{n}> {{ return [x << k, x >> k, !x]; }}"
    for n in TYPES) + "\n}\n"
SHIFT_ADDR = _cast_chain.deploy(compile_source(SHIFT_SRC, "shifts.qi", opt_level=2))


def shift_model(t: IntTy, x: int, k: int) -> list[int]:
    left = 0 if k >= t.bits else (x << k) % (1 << t.bits)
    if t.signed and left >= 1 << (t.bits - 1):
        left -= 1 << t.bits
    right = x >> min(k, t.bits) if t.signed else (0 if k >= t.bits else x >> k)
    return [left, right, -x - 1 if t.signed else t.max - x]


@settings(max_examples=150)
@given(st.sampled_from(TYPES).flatmap(lambda n: st.tuples(
    st.just(n), _value(n), st.integers(0, 70) | st.integers(0, 2**32 - 1))))
def test_shifts(case: tuple[str, int, int]) -> None:
    n, x, k = case
    got = _cast_chain.call(SHIFT_ADDR, f"sh_{n}", x, k).value
    assert got == shift_model(INT_TYPES[n], x, k), (n, x, k)
