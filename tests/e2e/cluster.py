"""Chains of deterministic keys and data directories for end-to-end tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from xinlian import codec
from xinlian.cli.main import main as cli
from xinlian.crypto.signing import SigningKey
from xinlian.crypto.suites import get_suite
from xinlian.execution.payloads import Transfer
from xinlian.ledger.account import address_of
from xinlian.ledger.transaction import TxBody, TxKind, sign_body


@dataclass
class Chain:
    """A chain config of deterministic keys, with helpers to make signed transfers."""

    suite_name: str
    keys: list[SigningKey]
    chain_id: str = "e2e"

    @classmethod
    def make(cls, suite_name: str, accounts: int) -> Chain:
        suite = get_suite(suite_name)
        return cls(suite_name, [suite.generate_signing_key(i.to_bytes(32, "big"))
                                for i in range(1, accounts + 1)])

    def address(self, i: int) -> bytes:
        return address_of(self.keys[i].public_key, get_suite(self.suite_name).hash_bytes)

    def write_config(self, path: Path, balance: int, **params: int) -> Path:
        admin = self.keys[0].public_key.data.hex()
        lines = [f'chain_id = "{self.chain_id}"', f'suite = "{self.suite_name}"',
                 "[params]", *[f"{k} = {v}" for k, v in params.items()],
                 "[[organisations]]", 'name = "org0"', f'admins = ["{admin}"]']
        for key in self.keys:
            lines += ["[[accounts]]", f'key = "{key.public_key.data.hex()}"',
                      f"balance = {balance}"]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def transfer(self, i: int, nonce: int, to: int, amount: int) -> bytes:
        body = TxBody(self.chain_id, self.keys[i].public_key, nonce, TxKind.TRANSFER,
                      codec.encode(Transfer(self.address(to), amount)), 5, 1_000_000)
        return sign_body(body, self.keys[i])


def init_data_dir(chain: Chain, tmp: Path, balance: int = 1_000_000, **params: int) -> Path:
    data = tmp / "data"
    config = chain.write_config(tmp / "genesis.toml", balance, **params)
    assert cli(["init", "--config", str(config), "--data", str(data), "--rpc-port", "0"]) == 0
    return data
