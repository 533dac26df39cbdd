"""`xinlian qi verify`: the example contracts' specifications are proved, seeded bugs give
counterexamples at the right line with the inputs that trigger them, an emitted test
replays a counterexample in the engine and fails, a timeout is a timeout, and what the
prover does not model is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xinlian.cli.main import main
from xinlian.lang.errors import ProverUnsupported
from xinlian.lang.verify import COUNTEREXAMPLE, PROVED, TIMEOUT, verify_source

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "qi"


def source(name: str) -> str:
    return (EXAMPLES / name).read_text()


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize("name", ["token.qi", "escrow.qi", "ballot.qi"])
def test_examples_are_proved(name: str) -> None:
    report = verify_source(source(name), name)
    assert report.goals and report.status == PROVED
    assert {g.status for g in report.goals} == {PROVED}
    kinds = {g.what for g in report.goals}
    assert {"invariant", "ensures"} <= kinds


def test_token_proves_supply_conservation_in_every_function() -> None:
    report = verify_source(source("token.qi"), "token.qi")
    inv_line = line_of(source("token.qi"), "invariant sum(balances) == total")
    proved = {g.function for g in report.goals if g.what == "invariant" and g.line == inv_line}
    assert proved == {"init", "transfer", "approve", "transfer_from", "mint", "balance_of",
                      "allowance", "total_supply", "token_name"}


def test_seeded_bug_gives_counterexample_at_the_spec_line() -> None:
    buggy = source("token.qi").replace("        total += amount;\n", "")
    report = verify_source(buggy, "token.qi", only="mint")
    assert report.status == COUNTEREXAMPLE
    bad = {(g.what, g.line) for g in report.goals if g.status == COUNTEREXAMPLE}
    assert ("invariant", line_of(buggy, "invariant sum(balances) == total")) in bad
    assert ("ensures", line_of(buggy, "ensures total == old(total) + amount")) in bad
    cex = next(g.counterexample for g in report.goals if g.what == "invariant"
               and g.status == COUNTEREXAMPLE)
    assert cex is not None and set(cex["inputs"]) == {"to", "amount"}
    assert cex["inputs"]["amount"] > 0 and cex["aborts"] is None


def test_missing_abort_condition_points_at_the_faulting_line() -> None:
    src = """contract C {
    state bal: map<address, u64>;
    pub fn burn(from: address, amount: u64)
        aborts_if false
    {
        bal[from] -= amount;
    }
}
"""
    report = verify_source(src, "c.qi")
    goal = next(g for g in report.goals if g.status == COUNTEREXAMPLE)
    assert goal.what.startswith("aborts_if (aborts although")
    cex = goal.counterexample
    assert cex is not None and cex["aborts"] == {"why": "arithmetic overflow", "line": 6}
    have = cex["state_before"][f"bal[{cex['inputs']['from']}]"]
    assert have < cex["inputs"]["amount"]


@pytest.mark.parametrize(("op", "why"), [("a / b", "division by zero"),
                                         ("a * b", "arithmetic overflow"),
                                         ("a - b", "arithmetic overflow")])
def test_checked_ops_fault_per_width(op: str, why: str) -> None:
    src = f"""contract C {{
    state r: u8;
    pub fn f(a: u8, b: u8) aborts_if false {{ r = {op}; }}
}}
"""
    goal = next(g for g in verify_source(src, "c.qi").goals if g.status == COUNTEREXAMPLE)
    assert goal.counterexample is not None and goal.counterexample["aborts"]["why"] == why


def test_exact_abort_conditions_of_signed_division() -> None:
    src = """contract C {
    state r: i8;
    pub fn f(a: i8, b: i8)
        ensures r == a / b
        aborts_if b == 0 || (a == -128 && b == -1)
    { r = a / b; }
}
"""
    assert verify_source(src, "c.qi").status == PROVED


def test_loop_invariant_not_inductive_is_a_counterexample() -> None:
    src = """contract C {
    state n: u64;
    pub fn f() {
        let mut i: u64 = 0;
        while i < 10 invariant i < 5 { i += 1; }
        n = i;
    }
}
"""
    report = verify_source(src, "c.qi")
    bad = [g for g in report.goals if g.status == COUNTEREXAMPLE]
    assert [(g.what, g.line) for g in bad] == [("loop invariant after an iteration", 5)]


def test_emitted_test_fails_in_the_engine(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    buggy = tmp_path / "token.qi"
    buggy.write_text(source("token.qi").replace("        total += amount;\n", ""))
    out = tmp_path / "replay.qi"
    assert main(["qi", "verify", str(buggy), "--function", "mint",
                 "--emit-test", str(out)]) == 1
    assert "test fn counterexample_mint()" in out.read_text()
    capsys.readouterr()
    assert main(["qi", "test", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "FAIL" in printed and "counterexample_mint" in printed
    assert "PASS" in printed  # the file's own test still passes


def test_emitted_test_passes_once_the_bug_is_fixed(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The replay is the counterexample, not a test that cannot pass: the same test added
    to the correct contract passes."""
    buggy = tmp_path / "token.qi"
    buggy.write_text(source("token.qi").replace("        total += amount;\n", ""))
    out = tmp_path / "replay.qi"
    main(["qi", "verify", str(buggy), "--function", "mint", "--emit-test", str(out)])
    test = out.read_text()[len(buggy.read_text().rstrip()) - 1:]
    fixed = tmp_path / "fixed.qi"
    original = source("token.qi").rstrip()
    fixed.write_text(original[:-1] + test)
    assert "test fn counterexample_mint()" in fixed.read_text()
    capsys.readouterr()
    assert main(["qi", "test", str(fixed)]) == 0
    assert "PASS" in capsys.readouterr().out


def test_timeout_is_reported_as_timeout(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    hard = tmp_path / "hard.qi"
    hard.write_text("""contract Hard {
    state x: u64;
    pub fn cube(a: u64, b: u64, c: u64)
        requires a > 0 && b > 0 && c > 0
        ensures a * a * a + b * b * b != c * c * c
    { x = a; }
}
""")
    assert main(["qi", "verify", str(hard), "--timeout", "0.5", "--json"]) == 4
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == TIMEOUT and report["goals"][0]["status"] == TIMEOUT


def test_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["qi", "verify", str(EXAMPLES / "escrow.qi")]) == 0
    assert main(["qi", "verify", str(EXAMPLES / "voting.qi")]) == 2
    assert "not_supported_by_prover" in capsys.readouterr().err
    bad = tmp_path / "bad.qi"
    bad.write_text("contract C {\n state n: u64;\n pub fn f() ensures n { }\n}\n")
    assert main(["qi", "verify", str(bad)]) == 2
    assert "bad.qi:3" in capsys.readouterr().err


@pytest.mark.parametrize("body", ["r = a & b;", "let l: list<u8> = [1]; r = l[0];",
                                  "try { r = 1; } catch { r = 2; }"])
def test_unsupported_constructs_are_refused(body: str) -> None:
    src = f"contract C {{\n state r: u8;\n pub fn f(a: u8, b: u8) ensures true {{ {body} }}\n}}\n"
    with pytest.raises(ProverUnsupported, match="not supported by the prover"):
        verify_source(src, "c.qi")


@pytest.mark.parametrize("ty", ["u8", "u16", "u32", "u64", "u128", "u256",
                                "i8", "i16", "i32", "i64", "i128", "i256"])
def test_overflow_bounds_of_every_width(ty: str) -> None:
    """`a * b` aborts exactly outside the type's range; a bound off by one is refuted."""
    bits, signed = int(ty[1:]), ty[0] == "i"
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)

    def src(top: int) -> str:
        return f"""contract C {{
    state r: {ty};
    pub fn f(a: {ty}, b: {ty})
        ensures r == a * b
        aborts_if a * b > {top} || a * b < {low}
    {{ r = a * b; }}
}}
"""
    assert verify_source(src(high), "c.qi").status == PROVED
    report = verify_source(src(high - 1), "c.qi")
    bad = next(g for g in report.goals if g.status == COUNTEREXAMPLE)
    cex = bad.counterexample
    assert cex is not None and cex["inputs"]["a"] * cex["inputs"]["b"] == high
