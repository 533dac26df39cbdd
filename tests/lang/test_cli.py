"""`xinlian qi compile|run|test` end to end, through the `xinlian` entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xinlian.cli.main import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "qi"


def test_compile_writes_module_abi_and_map(tmp_path: Path) -> None:
    out = tmp_path / "token.wasm"
    assert main(["qi", "compile", str(EXAMPLES / "token.qi"), "-O", "2", "--abi", "--debug",
                 "-o", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\0asm"
    abi = json.loads(out.with_suffix(".abi.json").read_text())
    assert abi["contract"] == "Token"
    smap = json.loads(out.with_suffix(".map.json").read_text())
    assert smap["map"] and all(len(m) == 4 for m in smap["map"])


def test_run_prints_result_and_error(capsys: pytest.CaptureFixture[str]) -> None:
    tok = str(EXAMPLES / "token.qi")
    b0 = "0x" + "00" * 19 + "b0"
    assert main(["qi", "run", tok, "--init", "Qi", "1000", "--call", "transfer", b0, "5"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["result"] is True and out["events"][0]["args"]["to"] == b0
    assert main(["qi", "run", tok, "--init", "Qi", "1", "--call", "transfer", b0, "5"]) == 1
    err = json.loads(capsys.readouterr().out)["error"]
    assert err["code"] == 7506 and err["trace"][0].startswith("move_funds (")


def test_compile_error_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.qi"
    bad.write_text("fn f() -> u64 { return nope; }\n")
    assert main(["qi", "compile", str(bad)]) == 2
    assert "error[E7201]" in capsys.readouterr().err


def test_qi_test_runs_test_functions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["qi", "test", str(EXAMPLES / "token.qi")]) == 0
    f = tmp_path / "t.qi"
    f.write_text("test fn good() { assert(1 + 1 == 2); }\ntest fn bad() { assert(false); }\n"
                 "test fn as_other() {\n"
                 "    let me = caller();\n"
                 "    set_caller(address(hex\"00000000000000000000000000000000000000b0\"));\n"
                 "    assert(caller() != me && bytes(caller())[19] == 176);\n}\n")
    assert main(["qi", "test", str(f)]) == 1
    out = capsys.readouterr().out
    assert "PASS" in out and "FAIL" in out and "2 passed, 1 failed" in out


def test_qi_test_runs_python_tests(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "test_counter.py"
    f.write_text(
        "from xinlian.execution.vm.local import LocalChain\n"
        "from xinlian.lang.compiler import compile_source\n"
        "def test_counter():\n"
        "    ch = LocalChain()\n"
        "    c = ch.deploy(compile_source('contract C { state n: u64; "
        "pub fn inc() -> u64 { n += 1; return n; } }'))\n"
        "    assert ch.call(c, 'inc').value == 1\n")
    assert main(["qi", "test", str(f)]) == 0
    assert "pytest: passed" in capsys.readouterr().out


def test_upgrade_from_abi(tmp_path: Path) -> None:
    v1 = tmp_path / "v1.qi"
    v1.write_text("contract V1 { state a: u64; state b: u64; }\n")
    assert main(["qi", "compile", str(v1), "--abi"]) == 0
    v2 = tmp_path / "v2.qi"
    v2.write_text("contract V2 upgrades V1 { state a: u64; state b: u64; state c: u8; }\n")
    abi = str(tmp_path / "v1.abi.json")
    assert main(["qi", "compile", str(v2), "--upgrade-from", abi]) == 0
    v2.write_text("contract V2 upgrades V1 { state a: u64; state b: u32; }\n")
    assert main(["qi", "compile", str(v2), "--upgrade-from", abi]) == 2


def test_invalid_upgrade_from_is_checked_without_an_upgrades_clause(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    v1 = tmp_path / "v1.qi"
    v1.write_text("contract V1 { state a: u64; state b: u64; }\n")
    assert main(["qi", "compile", str(v1), "--abi"]) == 0
    v2 = tmp_path / "v2.qi"
    v2.write_text("contract V2 { state b: u64; state a: u64; }\n")  # swapped, no clause
    out = tmp_path / "v2.wasm"
    assert main(["qi", "compile", str(v2), "-o", str(out),
                 "--upgrade-from", str(tmp_path / "v1.abi.json")]) == 2
    assert "error[E7301]" in capsys.readouterr().err
    assert not out.exists()


MULTI = """
contract First {
    error TooBig(limit: u64);
    state n: u64;
    pub fn bump(by: u64) { if by > 100 { revert TooBig(100); } n += by; }
    test fn first_fails() { assert(false); }
    test fn reverts_as_expected() expect_revert(TooBig) { bump(200); }
    test fn any_revert() expect_revert { require(false, "no"); }
}
contract Last { test fn last_passes() { assert(true); } }
"""


def test_qi_test_runs_every_contracts_tests(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "multi.qi"
    f.write_text(MULTI)
    assert main(["qi", "test", str(f)]) == 1  # a failing test in a non-last contract
    out = capsys.readouterr().out
    assert "FAIL" in out and "First::first_fails" in out
    assert "PASS" in out and "Last::last_passes" in out
    assert "3 passed, 1 failed" in out


def test_qi_test_expect_revert(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "rev.qi"
    f.write_text("""contract C {
    error TooBig(limit: u64);
    error Other();
    fn check(x: u64) { if x > 1 { revert TooBig(1); } }
    test fn wrong_error() expect_revert(Other) { check(5); }
    test fn no_revert() expect_revert { check(0); }
    test fn trap_is_not_a_revert() expect_revert { let z: u64 = 0; let q = 1 / z; }
    test fn right() expect_revert(TooBig) { check(5); }
}
""")
    assert main(["qi", "test", str(f)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "wrong_error: expected a revert with Other, got TooBig" in out
    assert "no_revert: expected a revert, but the test finished" in out
    assert "trap_is_not_a_revert: expected a revert, got" in out
    assert "PASS" in out and "::right" in out and "1 passed, 3 failed" in out
    f.write_text("contract C { test fn t() expect_revert(Nope) { } }\n")
    assert main(["qi", "test", str(f)]) == 2
    assert "unknown error `Nope`" in capsys.readouterr().err


def test_qi_test_deploys_and_sets_block_context(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "deploy.qi"
    f.write_text("""interface ICounter { fn bump(by: u64); fn get() -> u64; }
contract Counter {
    state n: u64;
    init(start: u64) { n = start; }
    pub fn bump(by: u64) { n += by; }
    pub fn get() -> u64 { return n; }
}
contract User {
    test fn deploys_another_contract() {
        let c = deploy("Counter", encode(7 as u64));
        ICounter(c).bump(5);
        assert(ICounter(c).get() == 12);
        let d = deploy("Counter", encode(1 as u64));
        assert(d != c && ICounter(d).get() == 1);
    }
    test fn unknown_contract() { let c = deploy("Nope", b""); }
    test fn block_time_and_height() {
        set_time(1700000000);
        set_block(42);
        assert(block_time() == 1700000000 && block_number() == 42);
    }
}
""")
    assert main(["qi", "test", str(f)]) == 1
    out = capsys.readouterr().out
    assert "PASS" in out and "User::deploys_another_contract" in out
    assert "User::block_time_and_height" in out
    assert "FAIL" in out and "unknown_contract: no contract `Nope`" in out
    assert "2 passed, 1 failed" in out


def test_qi_test_fails_when_no_test_ran(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "none.qi"
    f.write_text("contract C { pub fn f() {} }\n")
    assert main(["qi", "test", str(f)]) == 1
    captured = capsys.readouterr()
    assert "0 passed, 0 failed" in captured.out and "no tests ran" in captured.err


LIMITED = """contract Limited {
    state limit: u64;
    error TooBig(limit: u64, asked: u64);
    init(l: u64) { if l > 1000 { revert TooBig(1000, l); } limit = l; }
    pub fn take(x: u64, to: address) -> u64 { if x > limit { revert TooBig(limit, x); } return x; }
}
"""
TO = "0x" + "00" * 19 + "01"


@pytest.fixture
def limited(tmp_path: Path) -> str:
    f = tmp_path / "limited.qi"
    f.write_text(LIMITED)
    return str(f)


def test_revert_is_shown_as_a_qi_value(limited: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["qi", "run", limited, "--init", "100", "--call", "take", "500", TO]) == 1
    err = json.loads(capsys.readouterr().out)["error"]
    assert err["name"] == "revert" and err["error"] == "TooBig"
    assert err["message"].startswith("TooBig(limit: 100, asked: 500)")


@pytest.mark.parametrize(("argv", "code", "text"), [
    (["--call", "take", "abc", TO], 7502, "argument `x` of `take`: 'abc' is not a `u64`"),
    (["--call", "take", "5", "zz"], 7502, "argument `to` of `take`"),
    (["--call", "take", "5", "0x01"], 7502, "an address is 20 bytes, this is 1"),
    (["--call", "take", "5"], 7502, "`take` takes 2 argument(s), got 1"),
    (["--call", "nothing"], 7502, "no function `nothing`"),
    (["--sender", "xyz", "--call", "take", "5", TO], 7502, "--sender 'xyz' is not an address"),
    (["--sender", "0x0102", "--call", "take", "5", TO], 7502, "is not an address"),
    (["--fuel", "0", "--call", "take", "5", TO], 7509, "--fuel 0 is outside"),
    (["--fuel", "-5", "--call", "take", "5", TO], 7509, "--fuel -5 is outside"),
])
def test_bad_command_line_values_are_typed_errors(
        limited: str, capsys: pytest.CaptureFixture[str], argv: list[str], code: int,
        text: str) -> None:
    assert main(["qi", "run", limited, "--init", "100", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error[{code} ") and text in err and "Traceback" not in err


def test_sender_accepts_0x(limited: str, capsys: pytest.CaptureFixture[str]) -> None:
    for sender in ("0x" + "ab" * 20, "ab" * 20):
        assert main(["qi", "run", limited, "--init", "100", "--sender", sender,
                     "--call", "take", "5", TO]) == 0
        assert json.loads(capsys.readouterr().out)["result"] == 5


def test_constructor_revert_has_its_own_exit_code(
        limited: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["qi", "run", limited, "--init", "5000", "--call", "take", "5", TO]) == 3
    out = json.loads(capsys.readouterr().out)
    assert out["stage"] == "init" and out["error"]["code"] == 7506
    assert out["error"]["message"].startswith("TooBig(limit: 1000, asked: 5000)")


def test_missing_file_is_a_typed_error(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["qi", "run", str(tmp_path / "none.qi"), "--call", "f"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot read") and "Traceback" not in err


def test_bad_upgrade_from_is_a_typed_error(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    v = tmp_path / "v.qi"
    v.write_text("contract V { state a: u64; }\n")
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    assert main(["qi", "compile", str(v), "--upgrade-from", str(junk)]) == 2
    assert capsys.readouterr().err.startswith("error[7502 bad_arguments]: --upgrade-from")


def test_run_reports_resources_consumed(capsys: pytest.CaptureFixture[str]) -> None:
    tok = str(EXAMPLES / "token.qi")
    b0 = "0x" + "00" * 19 + "b0"
    assert main(["qi", "run", tok, "--init", "Qi", "1000", "--call", "transfer", b0, "5"]) == 0
    out = json.loads(capsys.readouterr().out)
    res = out["resources"]
    assert res["fuel"] == out["fuel_used"] > 0
    assert res["storage_reads"] >= 2 and res["storage_writes"] >= 2
    assert res["storage_read_bytes"] > 0 and res["storage_written_bytes"] > 0
    assert res["peak_memory"] >= 65536  # at least the one page of linear memory
    assert out["events"][0]["indexed"] == ["from", "to"]
    assert main(["qi", "run", tok, "--init", "Qi", "1", "--call", "transfer", b0, "5"]) == 1
    failed = json.loads(capsys.readouterr().out)
    assert failed["resources"]["peak_memory"] is None and failed["resources"]["fuel"] > 0
