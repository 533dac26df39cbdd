"""Optimiser levels change code, never behaviour."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.execution.vm.engine import Engine
from xinlian.execution.vm.local import LocalChain
from xinlian.lang import checker, ir, optimize, parser
from xinlian.lang.compiler import compile_source
from xinlian.lang.errors import CompileError

SRC = """
fn sq(x: u64) -> u64 { return x * x; }
fn unused() -> u64 { return 1; }
contract C {
    state total: u64;
    state limit: u64;
    pub fn work(a: u64) -> u64 {
        let k: u64 = 3 * 4 + 2;
        if 2 > 3 { total = 99; }
        total += sq(a) + k;
        total += limit + limit + limit;
        return total;
    }
    fn bump() -> u64 { total += 1; return total; }
    pub fn once() -> list<u64> { let v = sq(bump() + 1); return [v, total]; }
    pub view fn folded() -> u8 { return 200 + 55; }
}
"""


ENGINE = Engine()


def lowered(level: int) -> ir.Program:
    prog = checker.check(parser.parse(SRC, "o.qi"), SRC)
    optimize.optimize(prog, level)
    return prog


def test_constant_folding_and_dead_code() -> None:
    work = lowered(1).functions["work"]
    assert not any(isinstance(s, ir.If) for s in work.body)  # `if 2 > 3` removed
    first = work.body[0].args[0]
    assert isinstance(first, ir.Const) and first.value == 14
    assert "unused" not in lowered(1).functions
    assert "unused" in lowered(0).functions


def test_overflowing_constants_are_compile_errors() -> None:
    ch = LocalChain()
    c = ch.deploy(compile_source(SRC, "o.qi", opt_level=2))
    assert ch.call(c, "folded").value == 255
    bad = SRC.replace("200 + 55", "200 + 56")
    with pytest.raises(CompileError) as info:
        compile_source(bad, "o.qi")
    assert [d.code for d in info.value.diagnostics] == [7216]


def calls_in(fn: str, level: int) -> list[str]:
    body = lowered(level).functions[fn].body
    return [e.fn for e in optimize.all_exprs(body) if isinstance(e, ir.Call)]


def test_inlining_removes_small_calls() -> None:
    assert calls_in("work", 1) == ["sq"]
    assert calls_in("work", 2) == []
    assert calls_in("once", 2) == ["bump"]  # sq inlined; its argument bound once


def test_inlined_arguments_are_evaluated_once() -> None:
    for level in (0, 2):
        ch = LocalChain()
        c = ch.deploy(compile_source(SRC, "o.qi", opt_level=level))
        assert ch.call(c, "once").value == [4, 1]


def storage_reads(level: int) -> int:
    ch = LocalChain()
    c = ch.deploy(compile_source(SRC, "o.qi", opt_level=level))
    res = ch.call(c, "work", 5)
    assert res.ok
    return res.usage.storage_reads


def test_storage_reads_are_cached_at_O2() -> None:
    assert storage_reads(2) < storage_reads(0)


@settings(max_examples=25)
@given(st.lists(st.integers(0, 2**20), min_size=1, max_size=5))
def test_levels_agree(values: list[int]) -> None:
    results = []
    for level in (0, 1, 2):
        ch = LocalChain(engine=ENGINE)
        c = ch.deploy(compile_source(SRC, "o.qi", opt_level=level))
        results.append([ch.call(c, "work", v).value for v in values])
    assert results[0] == results[1] == results[2]
