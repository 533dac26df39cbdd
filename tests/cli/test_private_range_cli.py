"""`xinlian private range ...`: commit, prove and verify (alone and as a batch) through JSON
files; bad files, out-of-range amounts and tampering exit with status 2 and a typed error."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from xinlian.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["private", "range", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def committed(capsys: pytest.CaptureFixture[str], path: Path, group: str, values: str) -> Path:
    code, out, _ = run(capsys, "commit", "--group", group, "--values", values, "--out", str(path))
    assert code == 0 and "blindings" not in out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(out)["commitments"] == json.loads(path.read_text())["commitments"]
    return path


@pytest.mark.parametrize("group", ["ristretto255", "sm2"])
def test_commit_prove_verify(group: str, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    openings = committed(capsys, tmp_path / "open.json", group, "1250000,37")
    proof = tmp_path / "proof.json"
    code, out, _ = run(capsys, "prove", str(openings), "--bits", "64", "--out", str(proof))
    size = 736 if group == "ristretto255" else 754
    assert code == 0 and json.loads(out) == {"proof_bytes": size, "values": 2, "bits": 64}
    doc = json.loads(proof.read_text())
    assert "1250000" not in proof.read_text() and set(doc) == {
        "group", "bits", "commitments", "proof"}
    code, out, _ = run(capsys, "verify", str(proof))
    assert code == 0 and json.loads(out) == {"valid": True, "proofs": 1, "values": 2}

    small = tmp_path / "small.json"
    one = committed(capsys, tmp_path / "one.json", group, "200")
    assert run(capsys, "prove", str(one), "--bits", "8", "--out", str(small))[0] == 0
    code, out, _ = run(capsys, "verify", str(proof), str(small))
    assert code == 0 and json.loads(out) == {"valid": True, "proofs": 2, "values": 3}


def test_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    openings = committed(capsys, tmp_path / "open.json", "ristretto255", "5,6")
    proof = tmp_path / "proof.json"
    assert run(capsys, "prove", str(openings), "--bits", "8", "--out", str(proof))[0] == 0
    doc = json.loads(proof.read_text())
    opened = json.loads(openings.read_text())
    flipped = doc["proof"][:-4] + ("00" if doc["proof"][-4:-2] != "00" else "01") + "00"
    cases = [
        (proof, {**doc, "commitments": doc["commitments"][::-1]},
         "8803 confidential_invalid_range_proof"),
        (proof, {**doc, "bits": 16}, "8801 confidential_malformed_proof"),
        (proof, {**doc, "proof": doc["proof"][:-2]}, "8801 confidential_malformed_proof"),
        (proof, {**doc, "proof": flipped}, "8803 confidential_invalid_range_proof"),
        (proof, {**doc, "commitments": ["00" * 32, doc["commitments"][1]]},
         "8801 confidential_malformed_proof"),
        (proof, {**doc, "group": "ed25519"}, "8802 confidential_bad_statement"),
        (openings, {**opened, "values": [5, 7]}, "8801 confidential_malformed_proof"),
        (openings, {**opened, "values": [5, 256]}, "8802 confidential_bad_statement"),
        (openings, {**opened, "blindings": ["ff" * 32] * 2}, "8801 confidential_malformed_proof"),
        (openings, {**opened, "values": ["5", "6"]}, "8801 confidential_malformed_proof"),
    ]
    for path, bad, error in cases:
        path.write_text(json.dumps(bad))
        if path == proof:
            argv = ["verify", str(proof)]
        else:
            argv = ["prove", str(openings), "--bits", "8", "--out", str(tmp_path / "p.json")]
        code, _, err = run(capsys, *argv)
        assert (code, err.split("]")[0]) == (2, f"error[{error}"), (bad, err)
    for values in (str(2**64), "-1,5", "1,2,3", "x"):
        code, _, err = run(capsys, "commit", f"--values={values}", "--out", str(tmp_path / "o"))
        assert (code, err.split("]")[0]) == (2, "error[8802 confidential_bad_statement"), values
    proof.write_text("not json")
    assert run(capsys, "verify", str(proof))[0] == 2
    assert run(capsys, "verify", str(tmp_path / "missing.json"))[0] == 2
