"""`xinlian private anon keygen` writes a key file (mode 0600) that the other commands read
back; a bad key file, a relayer without an output file, a prepared transfer for another
account, bad addresses and an unreachable node get their typed errors and exit statuses
(2, 3) before anything is sent. The commands against a node run in tests/docs (the
walk-through) and the node end-to-end tests."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from xinlian.cli.main import main
from xinlian.crypto.privacy.confidential import GROUPS
from xinlian.crypto.privacy.confidential.errors import MalformedProofError
from xinlian.crypto.suites import get_suite
from xinlian.node.keyfile import write_key
from xinlian.sdk.anonymous import load_keys

NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing serves JSON-RPC there


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["private", "anon", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("group", ["ristretto255", "sm2"])
def test_keygen_writes_keys_that_read_back(group: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bank.anon.json"
    code, out, _ = run(capsys, "keygen", "--group", group, "--out", str(path))
    assert code == 0 and out == f"anonymous keys ({group}) written to {path}\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys = load_keys(str(path))
    assert keys.view.group is GROUPS[group]
    assert keys.address().spend.hex() == json.loads(path.read_text())["spend_key"]


def test_invalid_key_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "k.json"
    run(capsys, "keygen", "--out", str(path))
    doc = json.loads(path.read_text())
    doc["spend_key"] = doc["view_key"]
    path.write_text(json.dumps(doc))
    with pytest.raises(MalformedProofError, match="do not match"):
        load_keys(str(path))
    path.write_text("{}")
    with pytest.raises(MalformedProofError, match="anonymous key file"):
        load_keys(str(path))


@pytest.fixture()
def account(tmp_path: Path) -> Path:
    key = tmp_path / "bank.json"
    suite = get_suite("intl")
    write_key(key, suite, suite.generate_signing_key(bytes(32)))
    return key


def test_invalid_arguments_exit_2_before_anything_is_sent(
        tmp_path: Path, account: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keys = tmp_path / "bank.anon.json"
    run(capsys, "keygen", "--out", str(keys))
    common = ["--key", str(account), "--anon-key", str(keys), "--rpc", NOWHERE]
    code, _, err = run(capsys, "transfer", "0x" + "11" * 20, "5", "--relayer",
                       "0x" + "22" * 20, *common)
    assert code == 2 and "8821 anonymous_malformed" in err and "--relayer needs --out" in err
    code, _, err = run(capsys, "transfer", "0x1234", "5", *common)
    assert code == 2 and "receiver" in err
    code, _, err = run(capsys, "open", "0xabc", "--rpc", NOWHERE)
    assert code == 2
    prepared = tmp_path / "pay.json"
    prepared.write_text(json.dumps({"kind": "anonymous-transfer", "submitter": "0x" + "22" * 20,
                                    "payload": "00"}))
    code, _, err = run(capsys, "relay", str(prepared), "--key", str(account), "--rpc", NOWHERE)
    assert code == 2 and "payload" in err


def test_an_unreachable_node_exits_3(tmp_path: Path, account: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    keys = tmp_path / "bank.anon.json"
    run(capsys, "keygen", "--out", str(keys))
    code, _, _ = run(capsys, "balance", "--key", str(account), "--anon-key", str(keys),
                     "--rpc", NOWHERE, "--timeout", "1")
    assert code == 3
