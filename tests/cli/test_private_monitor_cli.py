"""`xinlian private monitor`: a bad rules file exits 2 with its typed error before the node
is asked; the blinding folder yields the blinding files' rhos and skips other files, and a
damaged blinding file is refused; an unreachable node exits 3. The command against a node
runs in tests/docs (both privacy walk-throughs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xinlian.cli.main import main
from xinlian.cli.private_files import write
from xinlian.cli.private_monitor_cmd import read_blindings
from xinlian.crypto.privacy.confidential import GROUPS
from xinlian.crypto.privacy.confidential.errors import MalformedProofError

NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing serves JSON-RPC there
RULES = "[[amount]]\nname = 'large'\nabove = 10000\n"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["private", "monitor", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_invalid_rules_file_exits_2_with_its_typed_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text("[[amount]]\nname = 'large'\n")
    code, out, err = run(capsys, "--rules", str(rules), "--rpc", NOWHERE)
    assert code == 2
    assert "error[5311 monitor_bad_rules]: [[amount]] large: above is missing" in err
    assert json.loads(out)["error"]["code"] == 5311
    code, _, err = run(capsys, "--rules", str(tmp_path / "none.toml"), "--rpc", NOWHERE)
    assert code == 2 and "cannot read" in err


def test_an_unreachable_node_exits_3(tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    code, _, _ = run(capsys, "--rules", str(rules), "--rpc", NOWHERE)
    assert code == 3


def blinding(path: Path, transfer: bytes, rho: bytes) -> None:
    write(str(path), {"kind": "open-blinding", "group": "ristretto255",
                      "transfer": transfer.hex(), "requester": 1, "rho": rho.hex()},
          secret=True)


def test_the_blinding_folder_gives_its_blinding_files_only(tmp_path: Path) -> None:
    group = GROUPS["ristretto255"]
    rho = group.scalar(12345)
    blinding(tmp_path / "reg1.blinding.json", b"\x01" * 32, rho.encode())
    (tmp_path / "bank-a.json").write_text(json.dumps({"kind": "signing-key"}))
    (tmp_path / "notes.json").write_text("not json")
    (tmp_path / "rules.toml").write_text(RULES)
    assert read_blindings(str(tmp_path)) == {b"\x01" * 32: [rho]}


def test_invalid_blinding_file_in_the_folder_is_refused(tmp_path: Path) -> None:
    blinding(tmp_path / "reg1.blinding.json", b"\x01" * 32, b"\xff" * 32)
    with pytest.raises(MalformedProofError):
        read_blindings(str(tmp_path))
