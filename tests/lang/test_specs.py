"""Specifications in Qi: every form parses and type-checks, bad ones are compile errors at
their line, and code generation ignores them (the same module with and without)."""

from __future__ import annotations

from pathlib import Path

import pytest

from xinlian.lang import ir, parser
from xinlian.lang.checker import check
from xinlian.lang.compiler import compile_source
from xinlian.lang.errors import CompileError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "qi"

SPECIFIED = """
contract C {
    state total: u64;
    state bal: map<address, u64>;
    state items: list<u64>;
    invariant sum(bal) == total;
    init() { total = 0; }
    pub fn mint(to: address, amount: u64) -> u64
        requires amount > 0
        ensures result == old(total) + amount
        ensures bal[to] == old(bal[to]) + amount
        aborts_if total + amount > 0xffffffffffffffff
        modifies total, bal
    {
        total += amount;
        bal[to] += amount;
        let mut i: u64 = 0;
        while i < 3 invariant i <= 3 { i += 1; }
        for j in 0..4 invariant j < 4 invariant i == 3 { }
        for x in items invariant total >= amount { }
        return total;
    }
}
"""
SPEC_LINES = ("requires", "ensures", "aborts_if", "modifies", "invariant")


def without_specs(source: str) -> str:
    """`source` with its specification clauses taken out (each on its own line, or a
    loop's `invariant` clauses before its `{`)."""
    out = []
    for line in source.splitlines():
        if line.strip().split(" ")[0] in SPEC_LINES:
            continue
        if " invariant " in line:
            line = line[:line.index(" invariant ")] + " {" + line.split("{", 1)[1]
        out.append(line)
    return "\n".join(out) + "\n"


def checked(source: str) -> ir.Program:
    return check(parser.parse(source, "c.qi"), source)


def test_every_spec_form_is_parsed_and_checked() -> None:
    tree = parser.parse(SPECIFIED, "c.qi")
    mint = next(f for f in tree.contracts[0].functions if f.name == "mint")
    assert [s.kind for s in mint.specs] == ["requires", "ensures", "ensures", "aborts_if",
                                             "modifies"]
    assert [s.kind for s in tree.contracts[0].invariants] == ["invariant"]
    prog = checked(SPECIFIED)
    fn = prog.functions["mint"]
    assert [s.kind for s in fn.specs] == ["requires", "ensures", "ensures", "aborts_if"]
    assert fn.modifies == ["total", "bal"] and fn.result is not None
    assert all(s.expr.ty.name() == "bool" for s in fn.specs)
    olds = [e for s in fn.specs for e in ir.walk_exprs(s.expr) if isinstance(e, ir.Old)]
    assert len(olds) == 2
    inv = prog.invariants[0].expr
    assert any(isinstance(e, ir.MapSum) for e in ir.walk_exprs(inv))
    loops = [s for s in ir.walk_stmts(fn.body) if isinstance(s, ir.Loop)]
    assert [len(loop.invariants) for loop in loops] == [1, 2, 1]


def test_specs_do_not_change_recorded_state_access() -> None:
    fn = checked(SPECIFIED).functions["mint"]
    plain = checked(without_specs(SPECIFIED)).functions["mint"]
    assert (fn.reads, fn.writes, fn.calls) == (plain.reads, plain.writes, plain.calls)


@pytest.mark.parametrize("level", [0, 1, 2])
def test_module_is_byte_identical_without_specs(level: int) -> None:
    plain = without_specs(SPECIFIED)
    assert "invariant" not in plain and "ensures" not in plain
    a = compile_source(SPECIFIED, "c.qi", level)
    b = compile_source(plain, "c.qi", level)
    assert a.wasm == b.wasm and a.abi == b.abi


@pytest.mark.parametrize("name", ["token.qi", "escrow.qi", "ballot.qi"])
def test_specified_examples_compile_as_without_specs(name: str) -> None:
    source = (EXAMPLES / name).read_text()
    plain = without_specs(source)
    assert plain != source
    assert compile_source(source, name).wasm == compile_source(plain, name).wasm


BAD = [
    # (clause, expected code, expected line offset in the function)
    ("requires amount", 7203),  # not a bool
    ("ensures result > 0", 7201),  # no `result` in a unit function
    ("aborts_if old(total) > 0", 7219),  # `old` only in ensures
    ("ensures helper() > 0", 7219),  # a call is not pure
    ("ensures sum(total) > 0", 7203),  # `sum` of a non-map
    ("modifies nothing_here", 7201),
    ("requires amount > \"x\"", 7203),
]


@pytest.mark.parametrize(("clause", "code"), BAD)
def test_bad_spec_is_a_compile_error_at_its_line(clause: str, code: int) -> None:
    source = f"""contract C {{
    state total: u64;
    fn helper() -> u64 {{ return 1; }}
    pub fn f(amount: u64)
        {clause}
    {{
        total = amount;
    }}
}}
"""
    with pytest.raises(CompileError) as exc:
        compile_source(source, "c.qi")
    diag = exc.value.diagnostics[0]
    assert diag.code == code and diag.span.line == 5


def test_bad_contract_and_loop_invariants() -> None:
    src = "contract C {\n state n: u64;\n invariant n;\n init() { }\n}\n"
    with pytest.raises(CompileError) as exc:
        compile_source(src, "c.qi")
    assert exc.value.diagnostics[0].code == 7203 and exc.value.diagnostics[0].span.line == 3
    src = ("contract C {\n state n: u64;\n pub fn f() {\n  let mut i: u64 = 0;\n"
           "  while i < 3 invariant missing > 0 { i += 1; }\n }\n}\n")
    with pytest.raises(CompileError) as exc:
        compile_source(src, "c.qi")
    assert exc.value.diagnostics[0].code == 7201 and exc.value.diagnostics[0].span.line == 5


def test_spec_words_stay_usable_as_names() -> None:
    src = ("contract C {\n state requires: u64;\n pub fn f(ensures: u64, invariant: u64) -> u64 "
           "{\n  let modifies = ensures + invariant;\n  requires = modifies;\n"
           "  return requires;\n }\n}\n")
    assert compile_source(src, "c.qi").wasm[:4] == b"\0asm"
