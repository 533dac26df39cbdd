"""`xinlian crypto ...`: every command's JSON report, the human summary and exit codes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from xinlian.cli.main import main

pytestmark = pytest.mark.timeout(120)


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["crypto", *argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("argv", [
    ["dkg", "-n", "4", "--curve", "sm2"],
    ["dkg", "-n", "4", "--refresh", "--reshare-to", "5"],
    ["dkg", "-n", "7", "--faulty", "2", "--fault", "equivocate"],
    ["frost", "-n", "4", "--curve", "secp256k1"],
    ["frost", "-n", "4", "--keys", "dkg"],
    ["roast", "-n", "7", "--faulty", "2", "--fault", "invalid"],
    ["tbls", "-n", "5", "--faulty", "1", "--fault", "invalid"],
    ["tsm2", "-n", "3", "-t", "2"],
    ["tsm2", "-n", "3", "-t", "2", "--refresh"],
    ["tsm2", "-n", "5", "-t", "2", "--faulty", "2", "--fault", "equivocate"],
    ["ring", "-n", "4", "--faulty", "2", "--fault", "double", "--curve", "sm2"],
    ["ring", "-n", "4", "--faulty", "2", "--fault", "double", "--variant", "traceable"],
    ["pre", "-n", "4", "-t", "2", "--faulty", "2", "--fault", "invalid"],
])
def test_each_command_reports_a_verified_result(capsys: pytest.CaptureFixture[str],
                                                argv: list[str]) -> None:
    code, report = _json(capsys, *argv)
    assert code == 0 and report["ok"] and report["finished"]
    assert report["protocol"] == argv[0] and report["mode"] == "sim"
    assert isinstance(report["messages"], int) and report["messages"] > 0
    assert set(report["dropped"]) >= {"malformed", "replayed", "wrong_session"}
    if "--faulty" in argv:
        assert report["identified"] == ([1] if argv[0] == "tbls" else [1, 2])
    if argv[0] == "pre":
        assert report["plaintext"] == "xinlian threshold demo"


def test_a_failed_signing_exits_1_and_names_the_cheater(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _json(capsys, "frost", "-n", "3", "--faulty", "1", "--fault", "invalid")
    assert code == 1 and not report["ok"] and report["identified"] == [1]


def test_the_summary_is_readable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["crypto", "roast", "-n", "6", "--faulty", "1", "--fault", "invalid"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("roast: 7 parties (sim) -> ok")
    assert "verified: True" in out and "identified: 1" in out and "transcript:" in out


def test_an_equivocating_dealer_is_named_in_the_summary(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["crypto", "dkg", "-n", "4", "--faulty", "1", "--fault", "equivocate"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("dkg: 4 parties (sim) -> ok") and "identified: 1" in out
    assert "keygen: t=3, 4 members, 3 qualified dealers, excluded 1" in out


def test_same_seed_same_transcript(capsys: pytest.CaptureFixture[str]) -> None:
    runs = [_json(capsys, "tbls", "-n", "4", "--seed", "9")[1] for _ in range(2)]
    assert runs[0]["transcript"] == runs[1]["transcript"]


@pytest.mark.parametrize("argv", [
    ["roast", "-n", "4", "--faulty", "3"],
    ["dkg", "-n", "4", "--threshold", "5"],
    ["tbls", "--fault", "loud"],
    ["tsm2", "-n", "4", "-t", "2", "--faulty", "2", "--fault", "equivocate"],
    ["frost", "--faulty", "1", "--fault", "equivocate"],
])
def test_bad_parameters_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert main(["crypto", *argv]) == 2
    assert "error[6861 mpc_config]" in capsys.readouterr().err


def test_processes_mode(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _json(capsys, "dkg", "-n", "3", "--mode", "processes")
    assert code == 0 and report["mode"] == "processes" and report["ok"]
    assert "transcript" not in report
