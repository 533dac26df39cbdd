"""Real node processes for end-to-end tests: data directories, start, RPC, kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


class NodeProcess:
    """`xinlian node start` in a child process; `rpc` talks JSON-RPC to it over HTTP."""

    def __init__(self, data: Path) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "xinlian.cli.main", "node", "start", "--data", str(data),
             "--rpc-port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
            text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # blocks until the node is serving
        if not line:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise RuntimeError(f"node did not start: {err}")
        self.url = json.loads(line)["rpc"] + "/rpc"

    def rpc(self, method: str, *params: Any) -> Any:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method,
                           "params": list(params)}).encode()
        req = urllib.request.Request(self.url, body, {"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            reply = json.loads(resp.read())
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply["result"]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self._close()

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
        self._close()

    def _close(self) -> None:
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
