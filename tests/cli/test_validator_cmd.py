"""`xinlian validator` and `init --listen`: a new validator's keys and refused input.

The governance commands against running nodes are exercised in tests/e2e/test_bft_join.py.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from xinlian.cli.main import main
from xinlian.crypto.primitives.bls import BlsKey


def _data_dir(tmp: Path, capsys: pytest.CaptureFixture[str], suite: str,
              *extra: str) -> Path:
    main(["keygen", "--suite", suite, "--out", str(tmp / "admin.json")])
    public = json.loads(capsys.readouterr().out)["public_key"]
    config = tmp / "genesis.toml"
    config.write_text(f'chain_id = "cli"\nsuite = "{suite}"\n[[organisations]]\nname = "o"\n'
                      f'admins = ["{public}"]\n', encoding="utf-8")
    data = tmp / "data"
    assert main(["init", "--config", str(config), "--data", str(data), *extra]) == 0
    capsys.readouterr()
    return data


@pytest.mark.parametrize("suite", ["intl", "sm"])
def test_keys_makes_the_vote_key_once_and_prints_the_proposal_fields(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], suite: str) -> None:
    data = _data_dir(tmp_path, capsys, suite, "--listen", "10.0.0.9:7104")
    assert tomllib.loads((data / "node.toml").read_text())["listen"] == "10.0.0.9:7104"
    assert main(["validator", "keys", "--data", str(data)]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["validator", "keys", "--data", str(data)]) == 0
    assert json.loads(capsys.readouterr().out) == first  # the key is made once
    assert first["endpoint"] == "10.0.0.9:7104"
    secret = json.loads((data / "consensus_key.json").read_text())["secret"]
    if suite == "intl":  # a BLS key with its proof of possession
        bls = BlsKey(bytes.fromhex(secret))
        assert first["consensus_key"] == "0x" + bls.public.hex()
        assert first["pop"] == "0x" + bls.pop.hex()
    else:
        assert first["pop"] == "0x"


def test_bad_listen_address_and_bad_arguments_are_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["keygen", "--suite", "intl", "--out", str(tmp_path / "admin.json")])
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["validator", "add", "--key", str(tmp_path / "admin.json")])  # missing fields
    assert main(["validator", "approve", "--key", str(tmp_path / "admin.json"),
                 "--proposal", "0x12"]) == 2
    assert main(["validator", "remove", "--key", str(tmp_path / "admin.json"),
                 "--node-key", "ed25519"]) == 2
    assert main(["validator", "keys", "--data", str(tmp_path / "nowhere")]) == 2
    errors = capsys.readouterr().err
    assert errors.count("error[") == 3
    public = json.loads((tmp_path / "admin.json").read_text())["public_key"]
    config = tmp_path / "genesis.toml"
    config.write_text(f'chain_id = "cli"\nsuite = "intl"\n[[organisations]]\nname = "o"\n'
                      f'admins = ["{public}"]\n', encoding="utf-8")
    assert main(["init", "--config", str(config), "--data", str(tmp_path / "d"),
                 "--listen", "7104"]) == 2
    assert "not host:port" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()  # refused before anything is written
