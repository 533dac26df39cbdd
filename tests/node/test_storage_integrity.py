"""A damaged data directory: the node refuses to serve or execute what fails its checksum,
with a typed storage error, and `xinlian node check` finds the damage."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from xinlian import codec
from xinlian.cli.main import main
from xinlian.cli.node_cmd import GENESIS_FILE, KEY_FILE
from xinlian.execution.contracts.runner import BlockContext
from xinlian.execution.payloads import Transfer
from xinlian.ledger.account import Account, address_of
from xinlian.ledger.genesis import load_genesis
from xinlian.ledger.transaction import TxBody, TxKind, decode_transaction, sign_body
from xinlian.node.keyfile import read_key
from xinlian.node.service import Node
from xinlian.storage.errors import CorruptDataError
from xinlian.testing.disk import flip_byte_everywhere

from .conftest import BALANCE


def _check(data: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object]]:
    code = main(["node", "check", "--data", str(data)])
    return code, json.loads(capsys.readouterr().out)


def test_node_check_passes_a_good_directory(data: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _check(data, capsys)
    assert code == 0 and report["ok"] is True and report["blocks"] == 1
    assert isinstance(report["records"], int) and report["records"] > 0


def test_a_flipped_balance_is_refused_and_found(data: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """Regression: one flipped byte in a stored balance was served and spent."""
    stored = codec.encode(Account(BALANCE, 0))
    assert flip_byte_everywhere(data / "chain" / "data.mdb", stored, len(stored) // 2) >= 1
    code, report = _check(data, capsys)
    assert code == 1 and report["ok"] is False
    problems = report["problems"]
    assert isinstance(problems, list) and problems[0]["code"] == CorruptDataError.code

    genesis = load_genesis(data / GENESIS_FILE)
    account_key = read_key(data.parent / "account.json")[1]
    address = address_of(account_key.public_key, genesis.crypto_suite().hash_bytes)
    node = Node(data, genesis, read_key(data / KEY_FILE)[1])
    try:
        with pytest.raises(CorruptDataError):
            node.account(address)
        body = TxBody("chk", account_key.public_key, 0, TxKind.TRANSFER,
                      codec.encode(Transfer(bytes(20), 5)), 1, 100)
        raw = sign_body(body, account_key)
        [refused] = asyncio.run(node.submit([raw]))
        assert not refused.accepted and refused.code == CorruptDataError.code
        tx = decode_transaction(raw, "chk", genesis.crypto_suite().hash_bytes)
        with pytest.raises(CorruptDataError):
            node.ledger.executor.execute_block([tx], BlockContext(1, 0), node.chain.read)
    finally:
        asyncio.run(node.stop())


def test_a_truncated_store_is_reported_not_raised(data: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    with open(data / "chain" / "data.mdb", "r+b") as f:
        f.truncate(8192)
    code, report = _check(data, capsys)
    assert code == 1 and report["ok"] is False
    # Starting a node on it is a typed error and exit code 2, not a traceback.
    assert main(["node", "start", "--data", str(data), "--rpc-port", "0"]) == 2
    assert "error[3006 corrupt_data]" in capsys.readouterr().err
