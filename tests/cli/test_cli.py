"""The `xinlian` command: keygen, init and its errors (process-level tests are in e2e)."""

from __future__ import annotations

import argparse
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from xinlian.cli.main import COMMANDS, build_parser, main
from xinlian.node.keyfile import read_key


def _genesis(tmp: Path, public_hex: str) -> Path:
    path = tmp / "genesis.toml"
    path.write_text(f'chain_id = "cli"\nsuite = "intl"\n[[organisations]]\nname = "o"\n'
                    f'admins = ["{public_hex}"]\n[[accounts]]\nkey = "{public_hex}"\n'
                    f'balance = 100\n', encoding="utf-8")
    return path


@pytest.mark.parametrize("suite", ["sm", "intl", "pq", "hybrid-sm", "hybrid-intl"])
def test_keygen_writes_a_private_file_and_prints_the_public_part(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], suite: str) -> None:
    out = tmp_path / "k.json"
    assert main(["keygen", "--suite", suite, "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert "secret" not in printed and printed["suite"] == suite
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    _, key = read_key(out)
    assert key.public_key.data.hex() == printed["public_key"]


def test_init_creates_a_data_directory_once(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    main(["keygen", "--suite", "intl", "--out", str(tmp_path / "a.json")])
    public = json.loads(capsys.readouterr().out)["public_key"]
    config = _genesis(tmp_path, public)
    data = tmp_path / "data"
    assert main(["init", "--config", str(config), "--data", str(data)]) == 0
    assert {p.name for p in data.iterdir()} >= {"genesis.toml", "node.toml", "node_key.json",
                                               "chain"}
    capsys.readouterr()
    assert main(["init", "--config", str(config), "--data", str(data)]) == 2
    assert "already initialised" in capsys.readouterr().err


@pytest.mark.parametrize("content", ["not toml [", 'chain_id = "x"\nsuite = "nope"',
                                     'chain_id = "x"\nsuite = "intl"'])
def test_init_rejects_bad_config_with_typed_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str) -> None:
    config = tmp_path / "g.toml"
    config.write_text(content, encoding="utf-8")
    assert main(["init", "--config", str(config), "--data", str(tmp_path / "d")]) == 2
    assert "error[4020 invalid_genesis]" in capsys.readouterr().err


def test_node_start_on_missing_directory_is_a_typed_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["node", "start", "--data", str(tmp_path / "none")]) == 2
    assert "bad_config" in capsys.readouterr().err


def test_invalid_light_node_settings_are_typed_errors(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    light = ["node", "start", "--light", "--data", str(tmp_path / "light")]
    assert main(light) == 2  # no genesis, no peer
    assert "bad_config" in capsys.readouterr().err
    assert main(["keygen", "--suite", "intl", "--out", str(tmp_path / "k.json")]) == 0
    solo = _genesis(tmp_path, json.loads(capsys.readouterr().out)["public_key"])
    assert main([*light, "--genesis", str(solo), "--peer", "http://127.0.0.1:1"]) == 2
    assert "solo chain" in capsys.readouterr().err


def test_bad_key_file_is_a_typed_error(tmp_path: Path) -> None:
    from xinlian.node.errors import NodeConfigError
    bad = tmp_path / "bad.json"
    bad.write_text('{"suite": "intl", "secret": "zz"}', encoding="utf-8")
    with pytest.raises(NodeConfigError):
        read_key(bad)


def test_egress_mbit_in_node_toml_caps_a_validators_egress() -> None:
    from xinlian.cli.node_cmd import egress_cap
    from xinlian.node.errors import NodeConfigError

    assert egress_cap({}) is None
    shape = egress_cap({"egress_mbit": 100})
    assert shape is not None
    link = shape(b"peer")
    assert link is not None and link.rate_bytes_per_s == 100e6 / 8 and link.egress is not None
    for bad in (0, -5, "100", True):
        with pytest.raises(NodeConfigError):
            egress_cap({"egress_mbit": bad})


def test_rpc_table_in_node_toml_sets_the_servers_limits(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from xinlian.api.errors import LimitsError
    from xinlian.cli.node_cmd import rpc_limits
    from xinlian.node.errors import NodeConfigError

    assert rpc_limits({}).max_body_size == 4 * 1024 * 1024
    assert rpc_limits({"rpc": {"ws_max_per_ip": 4}}).ws_max_per_ip == 4
    with pytest.raises(NodeConfigError):
        rpc_limits({"rpc": 4})
    with pytest.raises(LimitsError):
        rpc_limits({"rpc": {"ws_max_per_ip": -1}})
    # `node start` refuses a bad [rpc] table before it opens the chain
    main(["keygen", "--suite", "intl", "--out", str(tmp_path / "a.json")])
    config = _genesis(tmp_path, json.loads(capsys.readouterr().out)["public_key"])
    data = tmp_path / "data"
    assert main(["init", "--config", str(config), "--data", str(data)]) == 0
    with (data / "node.toml").open("a", encoding="utf-8") as toml:
        toml.write("\n[rpc]\nmax_body_size = 0\n")
    capsys.readouterr()
    assert main(["node", "start", "--data", str(data)]) == 2
    assert "error[6020 bad_rpc_limits]" in capsys.readouterr().err


def start_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], table: str) -> str:
    """Initialise a data directory, append `table` to its node.toml and start it: the
    start must fail with exit status 2; its standard error is returned."""
    main(["keygen", "--suite", "intl", "--out", str(tmp_path / "a.json")])
    config = _genesis(tmp_path, json.loads(capsys.readouterr().out)["public_key"])
    data = tmp_path / "data"
    assert main(["init", "--config", str(config), "--data", str(data)]) == 0
    with (data / "node.toml").open("a", encoding="utf-8") as toml:
        toml.write(f"\n{table}\n")
    capsys.readouterr()
    assert main(["node", "start", "--data", str(data)]) == 2
    return capsys.readouterr().err


def test_execution_table_in_node_toml_sets_the_workers(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from xinlian.cli.node_cmd import execution_workers
    from xinlian.execution.parallel import default_workers
    from xinlian.node.errors import NodeConfigError

    assert execution_workers({}) == default_workers()
    assert execution_workers({"execution": {"workers": 0}}) == 0
    assert execution_workers({"execution": {"workers": 3}}) == 3
    bad_tables: list[dict[str, object]] = [
        {"execution": 2}, {"execution": {"workers": -1}}, {"execution": {"workers": True}},
        {"execution": {"workers": 1.5}}, {"execution": {"threads": 2}}]
    for bad in bad_tables:
        with pytest.raises(NodeConfigError):
            execution_workers(bad)
    # `node start` refuses a bad [execution] table before it opens the chain
    assert "error[6502 bad_config]" in start_refused(tmp_path, capsys, "[execution]\nworkers = -1")


def test_node_start_refuses_a_bad_retention_setting(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = start_refused(tmp_path, capsys, "prune_keep_blocks = 3")
    assert "error[6502 bad_config]" in err and "prune_keep_blocks must be" in err


def test_consensus_table_in_node_toml_sets_the_validators_timing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from xinlian.cli.node_cmd import consensus_settings
    from xinlian.node.errors import NodeConfigError
    from xinlian.node.validator import BATCH_DELAY_MS, ConsensusSettings

    assert consensus_settings({}) == ConsensusSettings()
    assert consensus_settings({}).batch_delay_ms == BATCH_DELAY_MS
    large = consensus_settings({"consensus": {"batch_delay_ms": 2000, "round_timeout_ms": 20000,
                                              "idle_ms": 3000}})
    config = large.config()
    assert (config.batch_delay_ms, config.pacemaker.base_ms, config.idle_ms) == (2000, 20000,
                                                                                 3000)
    assert config.check_batches and config.drop_epochs
    bad_tables: list[dict[str, object]] = [
        {"consensus": 5}, {"consensus": {"batch_delay_ms": 0}},
        {"consensus": {"batch_delay_ms": 10001}}, {"consensus": {"batch_delay_ms": True}},
        {"consensus": {"batch_delay_ms": 2.5}}, {"consensus": {"batch_ms": 50}},
        {"consensus": {"round_timeout_ms": 99}}, {"consensus": {"idle_ms": "1s"}}]
    for bad in bad_tables:
        with pytest.raises(NodeConfigError):
            consensus_settings(bad)
    assert "error[6502 bad_config]" in start_refused(tmp_path, capsys,
                                                     "[consensus]\nbatch_delay_ms = 0")


def test_verification_table_in_node_toml_sets_the_verifier_processes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from xinlian.cli.node_cmd import verification_workers
    from xinlian.crypto import batch
    from xinlian.node.errors import NodeConfigError

    assert verification_workers({}) == batch.workers()
    assert verification_workers({"verification": {"workers": 1}}) == 1
    bad_tables: list[dict[str, object]] = [
        {"verification": 1}, {"verification": {"workers": 0}},
        {"verification": {"workers": True}}, {"verification": {"procs": 2}}]
    for bad in bad_tables:
        with pytest.raises(NodeConfigError):
            verification_workers(bad)
    assert "error[6502 bad_config]" in start_refused(tmp_path, capsys,
                                                     "[verification]\nworkers = 0")


def test_pool_table_in_node_toml_sets_the_pools_limits(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from xinlian.cli.node_cmd import pool_limits
    from xinlian.ledger.mempool import PoolLimits
    from xinlian.node.errors import NodeConfigError

    assert pool_limits({}) == PoolLimits()
    assert pool_limits({"pool": {"per_sender": 256}}).per_sender == 256
    bad_tables: list[dict[str, object]] = [
        {"pool": 4}, {"pool": {"per_sender": 0}}, {"pool": {"per_sender": 1.5}},
        {"pool": {"depth": 3}}]
    for bad in bad_tables:
        with pytest.raises(NodeConfigError):
            pool_limits(bad)
    # `node start` refuses a bad [pool] table before it opens the chain
    assert "per_sender must be a positive integer" in start_refused(
        tmp_path, capsys, "[pool]\nper_sender = -1")


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _tree(parser: argparse.ArgumentParser) -> object:
    """Every option and subcommand under `parser`, nested."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return ([a.option_strings or a.dest for a in parser._actions if a not in subs],
            {name: _tree(p) for s in subs for name, p in s.choices.items()})


def test_each_command_line_builds_its_command_as_the_whole_cli_does() -> None:
    """`COMMANDS` names every command its modules register, and the parser built for one
    command (importing only its module) is the same as the whole CLI's for that command."""
    whole = _commands(build_parser())
    assert set(whole) == {"keygen"} | {n for names in COMMANDS.values() for n in names}
    for names in COMMANDS.values():
        for name in names:
            alone = _commands(build_parser(name))
            assert set(alone) == {"keygen", *names}
            assert _tree(alone[name]) == _tree(whole[name]), name
    assert set(_commands(build_parser("keygen"))) == {"keygen"}
    assert set(_commands(build_parser("no-such-command"))) == set(whole)


def test_a_command_imports_only_its_own_module() -> None:
    """In a fresh interpreter, `xinlian keygen` loads neither the node, the SDK's clients,
    the Qi toolchain nor the workbench (what makes the whole CLI slow to start)."""
    code = ("import sys; from xinlian.cli.main import main; main(['keygen', '--suite', 'intl']);"
            "print(sorted(m for m in sys.modules if m.startswith('xinlian.cli.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()[-1]
    assert out == "['xinlian.cli.main']", out
