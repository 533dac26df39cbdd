"""`xinlian cluster plan`: what each host's directory holds, and refused input.

The planned validators run as separate hosts in tests/e2e/test_cluster_plan_netns.py.
"""

from __future__ import annotations

import json
import socket
import tomllib
from pathlib import Path

import pytest

from xinlian.cli.cluster import LOWEST_PORT, _ephemeral_start, free_ports
from xinlian.cli.cluster_plan import ADMIN_FILE, DATA_DIR, PLAN_FILE, UNIT_FILE
from xinlian.cli.main import main
from xinlian.ledger.genesis import load_genesis
from xinlian.node.keyfile import read_key


def _plan(tmp: Path, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["cluster", "plan", "--dir", str(tmp / "plan"), *args]) == 0
    return dict(json.loads(capsys.readouterr().out))


def _refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["cluster", "plan", *args]) == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("suite", ["intl", "sm"])
def test_each_host_gets_its_own_validator_of_one_genesis(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], suite: str) -> None:
    hosts_file = tmp_path / "hosts"
    hosts_file.write_text("# the consortium\n10.0.0.3\n\nnode4.example.org  # org 3\n")
    out = _plan(tmp_path, capsys, "--host", "10.0.0.1", "--host", "10.0.0.2",
                "--hosts-file", str(hosts_file), "--suite", suite, "--accounts", "2",
                "--port", "7300", "--rpc-port", "8700")
    root = tmp_path / "plan"
    assert out == {"dir": str(root), **json.loads((root / PLAN_FILE).read_text())}
    genesis = load_genesis(root / "genesis.toml")
    hosts = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "node4.example.org"]
    assert [v.endpoint for v in genesis.validators] == [f"{h}:7300" for h in hosts]
    assert out["faults_tolerated"] == 1 and out["genesis_hash"] == genesis.hash().hex()
    for i, (host, validator) in enumerate(zip(hosts, genesis.validators, strict=True)):
        data = root / host / DATA_DIR
        assert (data / "genesis.toml").read_bytes() == (root / "genesis.toml").read_bytes()
        assert read_key(data / "node_key.json")[1].public_key.data == validator.node_key.data
        vote = json.loads((data / "consensus_key.json").read_text())
        assert bytes.fromhex(vote["public_key"]) == validator.consensus_key
        admin = read_key(root / host / ADMIN_FILE)[1].public_key
        assert genesis.organisations[i].admins == [admin]
        assert tomllib.loads((data / "node.toml").read_text())["rpc_host"] == host
        for key_file in (data / "node_key.json", data / "consensus_key.json",
                         root / host / ADMIN_FILE):
            assert key_file.stat().st_mode & 0o777 == 0o600
        unit = (root / host / UNIT_FILE).read_text()
        assert "ExecStart=/usr/local/bin/xinlian node start --data /var/lib/xinlian/data" in unit
    assert sorted(p.name for p in (root / "accounts").iterdir()) == ["account0.json",
                                                                    "account1.json"]


def test_a_node_living_under_home_is_not_hidden_from_itself(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _plan(tmp_path, capsys, "--host", "10.0.0.1", "--remote-dir", "/home/ops/xinlian")
    unit = (tmp_path / "plan" / "10.0.0.1" / UNIT_FILE).read_text()
    assert "ProtectHome=false" in unit and "ReadWritePaths=/home/ops/xinlian" in unit
    _plan(tmp_path / "other", capsys, "--host", "10.0.0.1")
    assert "ProtectHome=true" in (tmp_path / "other" / "plan" / "10.0.0.1" / UNIT_FILE
                                  ).read_text()


def test_invalid_hosts_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = str(tmp_path / "plan")
    assert "6502 bad_config" in _refused(capsys, "--dir", target)
    for bad in ("10.0.0.1:7100", "not a host", "-x.example", "300.1.2.3", ""):
        assert "6502 bad_config" in _refused(capsys, "--dir", target, f"--host={bad}"), bad
    assert "6502 bad_config" in _refused(capsys, "--dir", target, "--host", "10.0.0.01")
    err = _refused(capsys, "--dir", target, "--host", "10.0.0.1", "--host", "10.0.0.1")
    assert "hosts named twice" in err
    err = _refused(capsys, "--dir", target, "--hosts-file", str(tmp_path / "missing"))
    assert "6502 bad_config" in err
    assert "absolute" in _refused(capsys, "--dir", target, "--host", "10.0.0.1",
                                  "--xinlian", "xinlian")
    assert not (tmp_path / "plan").exists()


def test_invalid_plan_into_a_non_empty_directory(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "plan").mkdir()
    (tmp_path / "plan" / "keep").write_text("x")
    err = _refused(capsys, "--dir", str(tmp_path / "plan"), "--host", "10.0.0.1")
    assert "6511 target_not_empty" in err
    assert [p.name for p in (tmp_path / "plan").iterdir()] == ["keep"]


def test_a_plan_sets_the_epoch_length_and_refuses_a_short_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _plan(tmp_path, capsys, "--host", "10.0.0.1", "--epoch-blocks", "16")
    assert load_genesis(tmp_path / "plan" / "genesis.toml").params.epoch_blocks == 16
    err = _refused(capsys, "--dir", str(tmp_path / "short"), "--host", "10.0.0.1",
                   "--epoch-blocks", "3")
    assert "epoch_blocks must be 0" in err, err
    assert not (tmp_path / "short").exists()  # refused before anything is written


def test_free_ports_are_distinct_bindable_and_below_the_ephemeral_range() -> None:
    """A local network's ports come from below the range outgoing connections take theirs
    from, so another process cannot take one before its node binds it."""
    ports = free_ports(64)
    assert len(set(ports)) == 64
    assert all(LOWEST_PORT <= p < _ephemeral_start() for p in ports)
    for port in ports[:8]:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))
