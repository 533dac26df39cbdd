"""A real node on a temporary data directory, with funded accounts of real keys."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from xinlian import codec
from xinlian.cli.main import main
from xinlian.crypto.signing import SigningKey
from xinlian.crypto.suites import get_suite
from xinlian.execution.payloads import Transfer
from xinlian.ledger.account import address_of
from xinlian.ledger.genesis import Genesis, genesis_from_dict
from xinlian.ledger.transaction import TxBody, TxKind, sign_body
from xinlian.node.service import Node


def make_genesis(suite_name: str, keys: list[SigningKey], **params: object) -> Genesis:
    return genesis_from_dict({
        "chain_id": "node-test", "suite": suite_name,
        "organisations": [{"name": "org0", "admins": [keys[0].public_key.data.hex()]}],
        "accounts": [{"key": k.public_key.data.hex(), "balance": 10_000} for k in keys],
        "params": {"block_interval_ms": 20, **params},
    })


class Fixture:
    def __init__(self, tmp: Path, suite_name: str = "intl") -> None:
        self.suite = get_suite(suite_name)
        self.keys = [self.suite.generate_signing_key(bytes([i + 1]) * 32) for i in range(4)]
        self.node_key = self.suite.generate_signing_key(b"\x99" * 32)
        self.genesis = make_genesis(suite_name, self.keys)
        self.dir = tmp

    def open(self) -> Node:
        return Node(self.dir, self.genesis, self.node_key)

    def addr(self, i: int) -> bytes:
        return address_of(self.keys[i].public_key, self.suite.hash_bytes)

    def transfer(self, i: int, nonce: int, to: int, amount: int, **over: object) -> bytes:
        fields: dict[str, object] = dict(
            chain_id="node-test", sender=self.keys[i].public_key, nonce=nonce,
            kind=TxKind.TRANSFER, payload=codec.encode(Transfer(self.addr(to), amount)),
            fee_limit=5, expiry=10_000)
        fields.update(over)
        return sign_body(TxBody(**fields), self.keys[i])  # type: ignore[arg-type]


@pytest.fixture
def fx(tmp_path: Path) -> Fixture:
    return Fixture(tmp_path)


MakeFixture = Callable[[str], Fixture]


BALANCE = 0x7A5B3C2D1E  # distinctive bytes to find in data.mdb


@pytest.fixture
def data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A data directory made by `xinlian keygen` and `xinlian init`: one funded account
    holding `BALANCE`."""
    key_path = tmp_path / "account.json"
    assert main(["keygen", "--suite", "intl", "--out", str(key_path)]) == 0
    public = json.loads(capsys.readouterr().out)["public_key"]
    config = tmp_path / "genesis.toml"
    config.write_text(f'chain_id = "chk"\nsuite = "intl"\n[[organisations]]\nname = "o"\n'
                      f'admins = ["{public}"]\n[[accounts]]\nkey = "{public}"\n'
                      f'balance = {BALANCE}\n', encoding="utf-8")
    assert main(["init", "--config", str(config), "--data", str(tmp_path / "d")]) == 0
    capsys.readouterr()
    return tmp_path / "d"
