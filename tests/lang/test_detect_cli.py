"""`xinlian qi check` end to end: the three output formats, SARIF's required shape, the
project's rules, and the exit statuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xinlian.cli.main import main

VULNERABLE = """
contract C {
    state owner: address;
    state fee: u64;
    pub fn set_fee(f: u64) { fee = f; }
    pub view fn get() -> u64 { return fee + 0; }
    pub view fn boss() -> address { return owner; }
}
"""
SAFE = VULNERABLE.replace("{ fee = f; }", '{ require(caller() == owner, "owner"); fee = f; }')


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "vuln.qi").write_text(VULNERABLE)
    (tmp_path / "safe.qi").write_text(SAFE)
    return tmp_path


def test_text_report_and_exit_status(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["qi", "check", str(project / "vuln.qi")]) == 1
    out = capsys.readouterr().out
    assert f"{project / 'vuln.qi'}:5:" in out and "high[missing-access-control]" in out
    assert main(["qi", "check", str(project / "safe.qi")]) == 0
    assert capsys.readouterr().out.strip().endswith("0 finding(s)")
    # only the chosen detectors run: none of them finds anything here
    assert main(["qi", "check", str(project / "vuln.qi"), "--only", "unused-state"]) == 0


def test_json_report(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["qi", "check", str(project / "vuln.qi"), "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert {d["id"] for d in doc["detectors"]} >= {"missing-access-control", "tautology"}
    hit = next(f for f in doc["findings"] if f["detector"] == "missing-access-control")
    assert hit["line"] == 5 and hit["function"] == "set_fee" and hit["severity"] == "high"


def test_sarif_report(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["qi", "check", str(project / "vuln.qi"), "--format", "sarif"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["version"] == "2.1.0" and len(doc["runs"]) == 1
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert run["tool"]["driver"]["name"] and all(r["id"] and r["shortDescription"]["text"]
                                                 for r in rules)
    assert run["results"]
    for res in run["results"]:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        assert res["level"] in ("error", "warning", "note") and res["message"]["text"]
        loc = res["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"].endswith("vuln.qi")
        assert loc["region"]["startLine"] >= 1


def test_project_rules_and_bad_rules(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = project / ".qi-rules"
    rules.mkdir()
    (rules / "fee.toml").write_text("""
[[rule]]
id = "fee-write"
severity = "info"
description = "every write of the fee"
[rule.match]
node = "state_write"
name = "fee"
""")
    assert main(["qi", "check", str(project / "safe.qi"), "--fail-on", "info"]) == 1
    assert "info[fee-write]" in capsys.readouterr().out
    assert main(["qi", "check", str(project / "safe.qi"), "--no-rules", "--fail-on",
                 "info"]) == 0
    capsys.readouterr()
    (rules / "zz.toml").write_text("[[rule]]\nid = 'x'\n")
    assert main(["qi", "check", str(project / "safe.qi")]) == 2
    assert "error[7230 bad_detector_rule]" in capsys.readouterr().err


def test_invalid_input_exits_2(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "broken.qi").write_text("contract C { pub fn f( }\n")
    assert main(["qi", "check", str(project / "broken.qi")]) == 2
    assert "error[E7110]" in capsys.readouterr().err
    assert main(["qi", "check", str(project / "missing.qi")]) == 2
    assert main(["qi", "check", str(project / "safe.qi"), "--only", "nope"]) == 2
    assert "no detector with id nope" in capsys.readouterr().err


def test_list_detectors(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["qi", "check", str(project / "safe.qi"), "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= 15 and any(line.startswith("reentrancy-sync-call") for line in lines)


def test_upgrade_from_abi_gives_the_old_layout(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "v1.qi").write_text("contract V1 { state count: u64; init() { count = 1; }\n"
                                    "    pub view fn get() -> u64 { return count; } }\n")
    assert main(["qi", "compile", str(tmp_path / "v1.qi"), "--abi"]) == 0
    (tmp_path / "v2.qi").write_text(
        "contract V2 upgrades V1 { state count: u64; state step: u64;\n"
        "    init() { count = 1; step = 10; }\n"
        "    pub view fn get() -> u64 { return count + step; } }\n")
    capsys.readouterr()
    args = ["qi", "check", str(tmp_path / "v2.qi"), "--only", "migrate-uninitialised"]
    assert main(args) == 0  # without the old layout nothing is known to be new
    assert main([*args, "--upgrade-from", str(tmp_path / "v1.abi.json")]) == 1
    assert "new state `step` is set by `init` but not by `migrate`" in capsys.readouterr().out
