"""`xinlian qi debug` end to end: the text trace, breakpoints, JSON, exit statuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xinlian.cli.main import main

TOKEN = str(Path(__file__).resolve().parents[2] / "examples" / "qi" / "token.qi")
B0 = "0x" + "00" * 19 + "b0"
A1 = "0x" + "00" * 19 + "01"


def test_text_trace_shows_lines_locals_writes_events_and_result(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["qi", "debug", TOKEN, "--init", '"T"', "1000",
                 "--call", f'transfer("{B0}", 5)']) == 0
    lines = capsys.readouterr().out.splitlines()
    steps = [ln for ln in lines if ln.startswith("#")]
    assert [s.split()[1].rsplit(":", 2)[1] for s in steps] == [
        "41", "27", "28", "29", "30", "31", "42"]
    assert steps[2].endswith("have=1000") and "  move_funds" in steps[2]
    assert lines[lines.index(steps[3]) + 1] == f'    write balances["{A1}"] = 995'
    assert lines[lines.index(steps[5]) + 1].startswith('    event Transfer {"from"')
    assert lines[-1] == "result true"


def test_breakpoints_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["qi", "debug", TOKEN, "--init", '"T"', "1000", "--json", "--break", "30",
                 "--break", "42", "--call", f'transfer("{B0}", 5)']) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(s["index"], s["line"], s["writes"]) for s in doc["steps"]] == [(4, 30, 1),
                                                                             (6, 42, 2)]
    assert doc["result"] is True and doc["events"][0]["name"] == "Transfer"


def test_a_failing_call_and_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["qi", "debug", TOKEN, "--init", '"T"', "1", "--call", f'transfer("{B0}", 5)']) == 1
    assert capsys.readouterr().out.splitlines()[-1].startswith("error[7506 revert]:")
    assert main(["qi", "debug", TOKEN, "--init", '"T"', "1", "--call", "nope()"]) == 2
    assert "error[7502 bad_arguments]: no function `nope`" in capsys.readouterr().err
    assert main(["qi", "debug", TOKEN, "--call", "transfer"]) == 2
    assert "is not `method(arg, ...)`" in capsys.readouterr().err
    assert main(["qi", "debug", TOKEN, "--test", "transfer_moves_balance"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "result null"
    bad = tmp_path / "bad.qi"
    bad.write_text("fn f() -> u64 { return nope; }\n")
    assert main(["qi", "debug", str(bad), "--call", "f()"]) == 2
    assert "error[E7201]" in capsys.readouterr().err
