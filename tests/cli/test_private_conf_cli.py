"""`xinlian private keygen` and `private regulator keygen` write key files (mode 0600) that
the other commands read back; bad key and share files, bad hashes and addresses, a bad
threshold and an unreachable node get their typed errors and exit statuses (2, 3) before
anything is sent. The commands against a node run in tests/docs (the walk-through) and the
node end-to-end tests."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from xinlian.cli.main import main
from xinlian.cli.private_conf_cmd import read_share, regulator_change
from xinlian.crypto.primitives.groups import lagrange_coefficient
from xinlian.crypto.privacy.confidential import GROUPS, elgamal
from xinlian.crypto.privacy.confidential.errors import MalformedProofError
from xinlian.execution.confidential import check_regulator
from xinlian.sdk.confidential import load_secret

NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing serves JSON-RPC there


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["private", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("group", ["ristretto255", "sm2"])
def test_keygen_writes_a_key_that_reads_back(group: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bank.conf.json"
    code, out, _ = run(capsys, "keygen", "--group", group, "--out", str(path))
    assert code == 0 and out == f"confidential key ({group}) written to {path}\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    sk = load_secret(str(path))
    assert sk.group is GROUPS[group]
    assert elgamal.public_key(sk).encode().hex() == json.loads(path.read_text())["public_key"]


def test_regulator_keygen_shares_one_key(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "reg"
    code, out, _ = run(capsys, "regulator", "keygen", "--members", "4", "--threshold", "3",
                       "--out-dir", str(out_dir))
    assert code == 0 and "(ristretto255, 3 of 4) by DKG" in out
    public = json.loads((out_dir / "regulator.json").read_text())
    group = GROUPS[public["group"]]
    shares = dict(read_share(str(out_dir / f"member-{i}.json")) for i in (1, 2, 4))
    assert all(stat.S_IMODE((out_dir / f"member-{i}.json").stat().st_mode) == 0o600
               for i in range(1, 5))
    ids = sorted(shares)
    secret = sum(lagrange_coefficient(group, ids, i).value * shares[i].value
                 for i in ids) % group.order
    assert group.base_mul(group.scalar(secret)).encode().hex() == public["public_key"]
    assert "secret" not in public


def test_invalid_files_and_arguments_exit_2(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.json"
    assert run(capsys, "keygen", "--out", str(good))[0] == 0
    doc = json.loads(good.read_text())
    other = tmp_path / "other.json"
    assert run(capsys, "keygen", "--out", str(other))[0] == 0
    signing = tmp_path / "signing.json"
    assert main(["keygen", "--suite", "intl", "--out", str(signing)]) == 0
    capsys.readouterr()
    bad = tmp_path / "bad.json"
    cases = [
        ({**doc, "public_key": json.loads(other.read_text())["public_key"]},
         "8801 confidential_malformed_proof"),
        ({**doc, "secret": "ff" * 32}, "8801 confidential_malformed_proof"),  # not reduced
        ({**doc, "group": "p256"}, "8801 confidential_malformed_proof"),
        ({"group": "ristretto255"}, "8801 confidential_malformed_proof"),
    ]
    for content, error in cases:
        bad.write_text(json.dumps(content))
        code, _, err = run(capsys, "balance", "--key", str(signing), "--conf-key", str(bad),
                           "--rpc", NOWHERE)
        assert (code, error in err) == (2, True), err
    for argv, error in [
        (["open", "0xzz", "--rpc", NOWHERE], "6010 bad_format"),
        (["open", "0x" + "00" * 31, "--rpc", NOWHERE], "6010 bad_format"),
        (["transfer", "0x1234", "5", "--key", str(signing), "--conf-key", str(good),
          "--rpc", NOWHERE], "6010 bad_format"),
        (["share", "0x" + "00" * 32, "--share", str(good), "--key", str(signing),
          "--rpc", NOWHERE], "8801 confidential_malformed_proof"),
        (["request", "0x" + "00" * 32, "--share", str(good), "--key", str(signing),
          "--blinding-out", str(tmp_path / "rho.json"), "--rpc", NOWHERE],
         "8801 confidential_malformed_proof"),
        (["open", "0x" + "00" * 32, "--blinding", str(good), "--rpc", NOWHERE],
         "8801 confidential_malformed_proof"),  # a key file is no blinding file
        (["regulator", "keygen", "--members", "2", "--threshold", "3", "--out-dir",
          str(tmp_path / "r")], "8801 confidential_malformed_proof"),
    ]:
        code, _, err = run(capsys, *argv)
        assert (code, error in err) == (2, True), (argv, err)


def test_an_unreachable_node_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    signing = tmp_path / "signing.json"
    assert main(["keygen", "--suite", "intl", "--out", str(signing)]) == 0
    capsys.readouterr()
    code, _, err = run(capsys, "deposit", "5", "--key", str(signing), "--rpc", NOWHERE)
    assert code == 3 and "transport_error" in err


def test_the_ceremonys_key_files_make_a_regulator(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The files of the DKG ceremony (`private agg keygen`, and `agg dkg-step` where each
    member runs its own party, write the same) give the SetRegulator and the shares."""
    out_dir = tmp_path / "agg"
    assert main(["private", "agg", "keygen", "--members", "3", "--threshold", "2",
                 "--out-dir", str(out_dir)]) == 0
    capsys.readouterr()
    accounts = [bytes([i]) * 20 for i in (1, 2, 3)]
    change = regulator_change(json.loads((out_dir / "key.json").read_text()), accounts)
    assert (change.group, change.threshold) == ("sm2", 2)
    check_regulator(lambda key: None, change)  # what governance checks before enacting
    group = GROUPS["sm2"]
    for member in change.members:
        index, secret = read_share(str(out_dir / f"member-{member.index}.json"))
        assert index == member.index
        assert group.base_mul(secret).encode() == member.verifying_share
    with pytest.raises(MalformedProofError):
        regulator_change(json.loads((out_dir / "key.json").read_text()), accounts[:2])
