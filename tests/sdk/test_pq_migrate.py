"""`xinlian pq migrate|bind|status` against a real node behind a real server, and the SDK's
reach: the schedule over RPC (xl_pqStatus), a bound key's wallet spending for its account."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from xinlian.cli.main import main
from xinlian.crypto.suites import get_suite
from xinlian.execution.errors import Unauthorised
from xinlian.node.keyfile import read_key, write_key
from xinlian.sdk.client import Client

WINDOW = 1000


def _status(rpc: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["pq", "status", "--rpc", rpc]) == 0
    status: dict[str, Any] = json.loads(capsys.readouterr().out)
    return status


def test_migrate_bind_and_spend_with_the_bound_key(
        served_fresh: tuple[Any, Any], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    keys, background = served_fresh
    rpc = background.server.url
    files = {}
    for name in ("admin", "alice"):
        files[name] = str(tmp_path / f"{name}.key")
        write_key(Path(files[name]), keys.suite, keys.by_name[name])
    assert _status(rpc, capsys)["phase"] == "none"
    at = _status(rpc, capsys)["height"] + 20
    # a non-admin's proposal fails with its typed error, and schedules nothing
    assert main(["pq", "migrate", "--key", files["alice"], "--to", "pq", "--at", str(at),
                 "--window", str(WINDOW), "--rpc", rpc]) == 1
    assert json.loads(capsys.readouterr().out)["receipt"]["status"] == Unauthorised.code
    assert _status(rpc, capsys)["schedule"] is None
    assert main(["pq", "migrate", "--key", files["admin"], "--to", "pq", "--at", str(at),
                 "--window", str(WINDOW), "--rpc", rpc]) == 0  # one organisation: enacted
    capsys.readouterr()
    status = _status(rpc, capsys)
    assert status["phase"] == "scheduled"
    assert (status["schedule"]["to_suite"], status["schedule"]["height"]) == ("pq", at)
    new_file = tmp_path / "alice-pq.key"
    assert main(["keygen", "--suite", "pq", "--out", str(new_file)]) == 0
    capsys.readouterr()
    assert main(["pq", "bind", "--key", files["alice"], "--new-key", str(new_file),
                 "--rpc", rpc]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert json.loads(lines[0])["account"] == "0x" + keys.address["alice"].hex()
    assert _status(rpc, capsys)["bound_accounts"] == 1
    _, new = read_key(new_file)
    assert new.public_key.alg == get_suite("pq").signature
    with Client(rpc) as client:
        admin = client.wallet(keys.admin)
        while client.pq_status().phase != "overlap":  # each commit moves the head on
            assert client.send(admin.transfer(keys.address["bob"], 1)).status == 0
        before = client.account(keys.address["alice"]).account
        wallet = client.wallet(new, keys.address["alice"])
        assert client.send(wallet.transfer(keys.address["bob"], 5)).status == 0
        after = client.account(keys.address["alice"]).account
    assert after.nonce == before.nonce + 1
    assert after.balance < before.balance - 5 + 1
