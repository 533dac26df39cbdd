"""`xinlian private bbs ...`: issue, verify, prove and verify a proof through JSON files; bad
files and tampering exit with status 2 and a typed error."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from xinlian.cli.main import main

MESSAGES = ["name=Li Wei", "birth=1990-04-01", "bank=Bank A", "kyc=level-2"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["private", "bbs", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def credential(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    key, msgs, cred = tmp_path / "issuer.json", tmp_path / "msgs.json", tmp_path / "cred.json"
    code, out, _ = run(capsys, "keygen", "--suite", "BLS12-381-SHAKE-256", "--out", str(key))
    assert code == 0 and "secret_key" not in out
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert json.loads(out)["public_key"] == json.loads(key.read_text())["public_key"]
    msgs.write_text(json.dumps({"header": "bank-customer", "messages": MESSAGES}))
    code, out, _ = run(
        capsys, "sign", "--key", str(key), "--messages", str(msgs), "--out", str(cred)
    )
    assert code == 0 and json.loads(out) == {"signature_bytes": 80, "messages": 4}
    return cred


def test_issue_verify_prove_verify_proof(
    credential: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "verify", str(credential))
    assert code == 0 and json.loads(out) == {"valid": True, "messages": 4}
    proof = tmp_path / "proof.json"
    code, out, _ = run(
        capsys,
        "prove",
        str(credential),
        "--disclose",
        "2,3",
        "--presentation-header",
        "nonce 7f3a",
        "--out",
        str(proof),
    )
    assert code == 0 and json.loads(out) == {"proof_bytes": 272 + 64, "disclosed": [2, 3]}
    doc = json.loads(proof.read_text())
    assert doc["disclosed_messages"] == MESSAGES[2:] and "Li Wei" not in proof.read_text()
    code, out, _ = run(capsys, "verify-proof", str(proof))
    assert code == 0
    assert json.loads(out) == {"valid": True, "disclosed": {"2": MESSAGES[2], "3": MESSAGES[3]}}


def test_invalid_files_and_tampering_exit_2(
    credential: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proof = tmp_path / "proof.json"
    assert run(capsys, "prove", str(credential), "--disclose", "1", "--out", str(proof))[0] == 0
    doc = json.loads(proof.read_text())
    cred = json.loads(credential.read_text())
    cases = [
        (proof, {**doc, "disclosed_messages": ["birth=1991-04-01"]}, "8905 bbs_invalid_proof"),
        (proof, {**doc, "presentation_header": "other"}, "8905 bbs_invalid_proof"),
        (proof, {**doc, "disclosed_indexes": [5]}, "8903 bbs_bad_index"),
        (proof, {**doc, "proof": doc["proof"][:-2]}, "8901 bbs_malformed_input"),
        (proof, {**doc, "suite": "nope"}, "8901 bbs_malformed_input"),
        (credential, {**cred, "messages": MESSAGES[::-1]}, "8904 bbs_invalid_signature"),
        (credential, {**cred, "public_key": "00" * 96}, "8902 bbs_bad_point"),
        (credential, {**cred, "signature": "zz"}, "8901 bbs_malformed_input"),
    ]
    for path, bad, error in cases:
        path.write_text(json.dumps(bad))
        command = "verify-proof" if path == proof else "verify"
        code, _, err = run(capsys, command, str(path))
        assert (code, err.split("]")[0]) == (2, f"error[{error}"), (bad, err)
    credential.write_text("not json")
    assert run(capsys, "verify", str(credential))[0] == 2
    assert run(capsys, "prove", str(tmp_path / "missing.json"), "--out", str(proof))[0] == 2
