"""A node as a child process: started, reached over JSON-RPC, stopped or killed.

Used by `xinlian demo` and the end-to-end tests. The child prints one JSON line when it
serves; its stderr goes to node.log in its data directory.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from xinlian.node.errors import NodeError


def free_ports(count: int) -> list[int]:
    """Ports free on loopback right now, for the validators of a local network."""
    socks = [socket.socket() for _ in range(count)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class NodeProcess:
    """`xinlian node start --data DIR` on a free RPC port; blocks until it serves."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self._log = open(data / "node.log", "ab")  # noqa: SIM115 - closed in _close
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "xinlian.cli.main", "node", "start", "--data", str(data),
             "--rpc-port", "0"], stdout=subprocess.PIPE, stderr=self._log, text=True,
            env=dict(os.environ, PYTHONUNBUFFERED="1"))
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # blocks until the node is serving
        if not line:
            self.proc.wait()
            self._close()
            raise NodeError(f"node in {data} did not start; see {data / 'node.log'}")
        self.base_url = json.loads(line)["rpc"]
        self.url = self.base_url + "/rpc"

    def rpc(self, method: str, *params: Any) -> Any:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method,
                           "params": list(params)}).encode()
        req = urllib.request.Request(self.url, body, {"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            reply = json.loads(resp.read())
        if "error" in reply:
            raise NodeError(f"{method}: {reply['error']}")
        return reply["result"]

    def kill(self) -> None:
        """SIGKILL: the node gets no chance to clean up."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self._close()

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, and SIGKILL if the node has not stopped within `timeout` seconds."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close()

    def _close(self) -> None:
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()
