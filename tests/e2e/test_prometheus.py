"""A real Prometheus server (Debian's `prometheus`, installed by `make prometheus`) scrapes
real node processes: a solo node and a 4-validator network. Its query API must report the
height and committed transactions each node's RPC reports, and every metric the shipped
Grafana dashboard (docs/grafana/xinlian.json) queries must exist in its scrapes."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from xinlian.cli.cluster import NodeProcess, free_ports, prepare
from xinlian.crypto.suites import get_suite
from xinlian.node.keyfile import read_key
from xinlian.sdk.wallet import Wallet

from .cluster import Chain, init_data_dir

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "xinlian.json"
DEADLINE_S = 120.0  # an upper bound for each polled condition, never a synchronisation

pytestmark = pytest.mark.skipif(
    not Path(PROMETHEUS).exists(),
    reason="no prometheus binary: `make prometheus` installs Debian's package")


def _until(check: Any, what: str) -> Any:
    """Poll `check()` until it returns something truthy; fail at the deadline."""
    end = time.monotonic() + DEADLINE_S
    while not (found := check()):
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.2)  # a poll's pace, not synchronisation: the loop checks the condition
    return found


class Prometheus:
    """`prometheus` scraping `targets` every second, with its own config, storage and
    port under `root`."""

    def __init__(self, root: Path, targets: list[str]) -> None:
        root.mkdir(parents=True, exist_ok=True)
        config = root / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: xinlian\n    static_configs:\n"
            f"      - targets: {json.dumps(targets)}\n", encoding="utf-8")
        self.url = f"http://127.0.0.1:{free_ports(1)[0]}"
        self._log = open(root / "prometheus.log", "wb")  # noqa: SIM115 - closed in stop
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={root / 'tsdb'}",
             f"--web.listen-address={self.url.removeprefix('http://')}"],
            stdout=self._log, stderr=subprocess.STDOUT)

    def _get(self, path: str, **params: str) -> Any:
        """The `data` of an API answer, or None while the server is not up yet."""
        assert self.proc.poll() is None, "prometheus exited; see prometheus.log"
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                answer = json.loads(resp.read())
        except (urllib.error.URLError, ConnectionError):
            return None
        assert answer["status"] == "success", answer
        return answer["data"]

    def values(self, expr: str) -> dict[str, float]:
        """Instance -> value of an instant query (empty before the first scrape)."""
        data = self._get("/api/v1/query", query=expr)
        if data is None:
            return {}
        return {r["metric"].get("instance", ""): float(r["value"][1]) for r in data["result"]}

    def names(self) -> set[str]:
        return set(self._get("/api/v1/label/__name__/values") or [])

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _garbage(address: str) -> bytes:
    """Bytes that are not HTTP sent to the metrics listener: its reply's status line."""
    host, _, port = address.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"\x00\xffnot http at all\r\n\r\n")
        return sock.makefile("rb").readline()


@pytest.mark.timeout(300)
def test_prometheus_scrapes_a_solo_node(tmp_path: Path) -> None:
    chain = Chain.make("intl", 4)
    data = init_data_dir(chain, tmp_path)
    address = f"127.0.0.1:{free_ports(1)[0]}"
    node = NodeProcess(data, args=["--metrics-listen", address, "--log-format", "json"])
    prometheus = None
    try:
        txs = ["0x" + chain.transfer(i, 0, (i + 1) % 4, 1).hex() for i in range(4)]
        assert all(r["accepted"] for r in node.rpc("xl_submitTransactions", txs))
        _until(lambda: node.rpc("xl_status")["committed_txs"] == 4, "4 committed")
        prometheus = Prometheus(tmp_path / "prometheus", [address])

        def agrees() -> bool:
            status = node.rpc("xl_status")
            return (prometheus.values("xinlian_height") == {address: status["height"]}
                    and prometheus.values("xinlian_committed_transactions_total")
                    == {address: status["committed_txs"]})

        _until(agrees, "Prometheus to report the node's height and committed transactions")
        assert prometheus.values("up") == {address: 1.0}
        assert prometheus.values("xinlian_mempool_transactions") == {address: 0.0}

        # not HTTP: refused with 400, and the node goes on serving metrics and RPC
        assert _garbage(address).split(b" ")[1] == b"400"
        assert _get(f"http://{address}/metrics")[0] == 200
        assert _get(f"http://{address}/health")[0] == 200
        assert node.rpc("xl_status")["committed_txs"] == 4

        # the log is JSON lines; the node's own lines carry their fields
        lines = [json.loads(line) for line in (data / "node.log").read_text().splitlines()
                 if line.startswith('{"time"')]
        serving = [line for line in lines if line["message"] == "serving"]
        assert serving and serving[0]["logger"] == "xinlian.node"
        assert serving[0]["level"] == "info"
        assert serving[0]["fields"]["metrics"] == f"http://{address}"
    finally:
        if prometheus is not None:
            prometheus.stop()
        node.stop()


def _dashboard_metrics() -> set[str]:
    """The metric names the dashboard's queries use."""
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    assert exprs, "the dashboard has no queries"
    return {name for e in exprs for name in re.findall(r"\b((?:xinlian|process)_\w+)", e)}


@pytest.mark.slow  # suite time: the solo node's scrape runs in make test
@pytest.mark.timeout(300)
def test_prometheus_scrapes_validators_and_the_dashboard_queries_exist(
        tmp_path: Path) -> None:
    suite = get_suite("intl")
    dirs = prepare(tmp_path, 4, suite, 0, 0, accounts=2, ports=free_ports(4))
    addresses = [f"127.0.0.1:{port}" for port in free_ports(4)]
    nodes = [NodeProcess(d, args=["--metrics-listen", a])
             for d, a in zip(dirs, addresses, strict=True)]
    prometheus = None
    try:
        wallets = [Wallet(read_key(tmp_path / "keys" / f"account{j}.json")[1],
                          "xinlian-cluster", suite) for j in range(2)]
        batch = [wallets[0].transfer(wallets[1].address, 1) for _ in range(5)]
        assert all(r["accepted"] for r in nodes[0].rpc(
            "xl_submitTransactions", ["0x" + t.raw.hex() for t in batch]))
        _until(lambda: all(n.rpc("xl_getReceipt", "0x" + batch[-1].hash.hex())
                           for n in nodes), "the transfers to commit everywhere")
        prometheus = Prometheus(tmp_path / "prometheus", addresses)

        def agrees() -> bool:
            heights = {a: n.rpc("xl_status")["height"] for a, n in zip(addresses, nodes,
                                                                      strict=True)}
            return (prometheus.values("xinlian_height") == heights
                    and prometheus.values("xinlian_peers_connected")
                    == dict.fromkeys(addresses, 3.0))

        _until(agrees, "Prometheus to report each validator's height and its 3 peers")
        committed = prometheus.values("xinlian_committed_transactions_total")
        assert committed == dict.fromkeys(addresses, 5.0)
        assert prometheus.values("xinlian_ready") == dict.fromkeys(addresses, 1.0)
        consensus = prometheus.values("xinlian_consensus_height")
        assert set(consensus) == set(addresses) and min(consensus.values()) >= 1

        missing = _dashboard_metrics() - prometheus.names()
        assert not missing, f"the dashboard queries metrics no node exports: {missing}"

        # Two of four stopped: the others reach no quorum and say so.
        for node in nodes[2:]:
            node.stop()

        def cut_off() -> bool:
            status, body = _get(f"http://{addresses[0]}/ready")
            return status == 503 and any("a quorum needs 3" in reason
                                         for reason in json.loads(body)["reasons"])

        _until(cut_off, "the validator to report that it reaches no quorum")
        _until(lambda: prometheus.values("xinlian_consensus_reachable_power").get(
            addresses[0]) == 2.0 and prometheus.values("xinlian_ready").get(addresses[0])
            == 0.0, "Prometheus to see the validator unready")
    finally:
        if prometheus is not None:
            prometheus.stop()
        for node in nodes:
            node.stop()
