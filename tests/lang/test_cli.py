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
