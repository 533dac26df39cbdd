"""The fault campaign of issue 10 against real node processes: a 4-validator cluster on
loopback takes each fault in turn and must hold.

One cluster serves the module (starting four nodes is most of the cost); the tests run in
file order and each leaves every validator it did not damage running. The short setting
runs under `make test`; the long one (more transfers, more rounds, more kills) under
`make test-slow`. Limits the faults trip are set low in each node.toml's `[rpc]` table so
they trip in a short test; their defaults are in docs/operations.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from xinlian import codec
from xinlian.cli.cluster import NodeProcess, data_dirs, free_ports, prepare
from xinlian.cli.main import main as cli
from xinlian.crypto.suites import get_suite
from xinlian.ledger.account import Account
from xinlian.node import pidfile
from xinlian.node.errors import NodeError
from xinlian.node.keyfile import read_key
from xinlian.sdk.wallet import Wallet
from xinlian.storage.errors import CorruptDataError
from xinlian.testing.disk import flip_byte_everywhere

N = 4
PER_ROUND = 50  # ordinary transfers per round, under the per-sender cap of 64
SINK = bytes(20)
MAX_BATCH_REQUESTS = 20
WS_MAX_WATCHED = 3
LIMITS: dict[str, int | float] = {"max_body_size": 1048576,
                                  "max_batch_requests": MAX_BATCH_REQUESTS,
                                  "ws_max_watched": WS_MAX_WATCHED, "header_timeout": 0.5}


@dataclass(frozen=True)
class Intensity:
    senders: int      # accounts whose transfers become unpayable
    per_sender: int   # unpayable transfers each (under the per-sender cap of 64)
    transfers: int    # transfers sent while a validator is down, per kill
    kills: int        # validators killed -9 and restarted, one after another
    slow_clients: int  # slow-loris connections at once


SHORT = Intensity(senders=2, per_sender=10, transfers=20, kills=1, slow_clients=20)
LONG = Intensity(senders=8, per_sender=60, transfers=200, kills=6, slow_clients=300)


@dataclass
class Net:
    root: Path
    dirs: list[Path]
    nodes: list[NodeProcess | None]
    admin: Wallet        # pays the ordinary traffic
    accounts: list[Wallet]
    intensity: Intensity

    def live(self) -> list[NodeProcess]:
        return [node for node in self.nodes if node is not None]

    def node(self, i: int) -> NodeProcess:
        node = self.nodes[i]
        assert node is not None
        return node


def until(condition: Callable[[], bool], what: str, limit: float = 60.0) -> None:
    """Poll `condition` until it holds; fail after `limit` seconds."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")


def statuses(nodes: list[NodeProcess]) -> list[dict[str, Any]]:
    return [node.rpc("xl_status") for node in nodes]


def agree(nodes: list[NodeProcess], committed: int) -> Callable[[], bool]:
    """All `nodes` have committed `committed` transactions and share head and state root."""
    def check() -> bool:
        got = statuses(nodes)
        return all(s["committed_txs"] >= committed for s in got) and \
            len({(s["height"], s["head_hash"], s["state_root"]) for s in got}) == 1
    return check


def submit(node: NodeProcess, raws: list[bytes]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = node.rpc("xl_submitTransactions",
                                            ["0x" + raw.hex() for raw in raws])
    return result


def wallet(root: Path, name: str) -> Wallet:
    """The wallet of the key `prepare` wrote as keys/NAME.json."""
    return Wallet(read_key(root / "keys" / f"{name}.json")[1], "xinlian-cluster", "intl")


def committed(node: NodeProcess) -> int:
    return int(node.rpc("xl_status")["committed_txs"])


def traffic(net: Net, nodes: list[NodeProcess], count: int, what: str) -> None:
    """`count` ordinary transfers through `nodes[0]`, in rounds within the per-sender cap,
    each round committed by all of `nodes` with one head and state root."""
    target = committed(nodes[0])
    for start in range(0, count, PER_ROUND):
        round_ = [net.admin.transfer(SINK, 1).raw for _ in range(min(PER_ROUND, count - start))]
        assert all(r["accepted"] for r in submit(nodes[0], round_))
        target += len(round_)
        until(agree(nodes, target), what)


@pytest.fixture(scope="module", params=[pytest.param(SHORT, id="short"),
                                        pytest.param(LONG, id="long", marks=pytest.mark.slow)])
def net(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[Net]:
    intensity: Intensity = request.param
    suite = get_suite("intl")
    root = tmp_path_factory.mktemp("campaign")
    dirs = prepare(root, N, suite, 0, 0, intensity.senders, ports=free_ports(N))
    for data in dirs:
        with open(data / "node.toml", "a", encoding="utf-8") as f:
            f.write("[rpc]\n" + "".join(f"{k} = {v}\n" for k, v in LIMITS.items()))
    nodes: list[NodeProcess | None] = [NodeProcess(d) for d in dirs]
    try:
        yield Net(root, dirs, nodes, wallet(root, "admin0"),
                  [wallet(root, f"account{j}") for j in range(intensity.senders)], intensity)
    finally:
        for node in nodes:
            if node is not None:
                node.stop()


def test_unpayable_transfers_leave_every_pool(net: Net) -> None:
    """Each sender's later transfers reach validator 1 while validator 0 commits a transfer
    of the sender's whole balance: once forwarded they can never execute, and every
    validator drops them instead of proposing them again after every block."""
    nodes, load = net.live(), net.intensity
    before = committed(nodes[0])
    balance = int(nodes[0].rpc("xl_getAccount", "0x" + net.accounts[0].address.hex())
                  ["account"]["balance"])
    drains = [w.transfer(SINK, balance - w.params.transfer_cost).raw for w in net.accounts]
    later = [w.transfer(SINK, 1).raw for _ in range(load.per_sender) for w in net.accounts]
    assert all(r["accepted"] for r in submit(nodes[1], later))
    assert all(r["accepted"] for r in submit(nodes[0], drains))
    until(lambda: all(s["mempool_size"] == 0 and s["committed_txs"] >= before + load.senders
                      for s in statuses(nodes)), "every pool to empty")
    # Ordinary traffic still commits, and nothing dropped comes back into any pool.
    traffic(net, [nodes[2], *nodes[:2], nodes[3]], 1, "an ordinary transfer to commit")
    assert all(s["mempool_size"] == 0 for s in statuses(nodes))
    assert committed(nodes[0]) == before + load.senders + 1
    for w in net.accounts:  # only the drain executed
        view = nodes[3].rpc("xl_getAccount", "0x" + w.address.hex())["account"]
        assert view["nonce"] == 1


def test_a_validator_killed_9_is_not_missed_and_catches_up(net: Net) -> None:
    load = net.intensity
    for k in range(load.kills):
        victim = 1 + k % (N - 1)  # validator 0 takes the submissions
        net.node(victim).kill()
        net.nodes[victim] = None
        others = net.live()
        before = statuses(others)
        traffic(net, others, load.transfers, "the other three to commit without the killed one")
        assert all(s["height"] > b["height"] for s, b in zip(statuses(others), before,
                                                             strict=True))
        net.nodes[victim] = NodeProcess(net.dirs[victim])
        until(agree(net.live(), committed(others[0])), "the restarted validator to catch up")


def _post(node: NodeProcess, body: bytes) -> Any:
    """The node's JSON reply to `body`, whatever its HTTP status."""
    req = urllib.request.Request(node.url, body, {"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return json.loads(e.read())


def _call(method: str, i: int = 1, **params: object) -> dict[str, object]:
    return {"jsonrpc": "2.0", "id": i, "method": method, "params": params}


def test_rpc_refuses_oversized_bodies_and_batches(net: Net) -> None:
    node = net.node(0)
    # Refused from the head: the node replies before reading a byte of the body.
    host, port = node.base_url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.putrequest("POST", "/rpc")
        conn.putheader("Content-Length", str(LIMITS["max_body_size"] + 1))
        conn.endheaders()
        resp = conn.getresponse()
        assert resp.status == 413
        assert json.loads(resp.read())["error"]["data"]["name"] == "request_too_large"
    finally:
        conn.close()
    batch = [_call("xl_status", i) for i in range(MAX_BATCH_REQUESTS + 1)]
    reply = _post(node, json.dumps(batch).encode())
    assert reply["error"]["code"] == -32600
    assert reply["error"]["data"]["name"] == "batch_too_large"
    assert node.rpc("xl_status")["mempool_size"] == 0  # and it still serves


def test_websocket_watches_over_the_cap_are_refused(net: Net) -> None:
    node = net.node(1)
    hashes = ["0x" + (bytes([i]) * 32).hex() for i in range(WS_MAX_WATCHED + 1)]

    async def scenario() -> None:
        async with aiohttp.ClientSession() as http, \
                http.ws_connect(node.base_url.replace("http", "ws") + "/ws") as ws:
            async def subscribe(i: int, watched: list[str]) -> Any:
                await ws.send_json(_call("xl_subscribe", i, kind="txStatus", hashes=watched))
                return json.loads(await ws.receive_str(timeout=30))

            reply = await subscribe(1, hashes)  # more than the cap in one call
            assert reply["error"]["code"] == -32602
            assert "result" in await subscribe(2, hashes[:-1])  # up to the cap
            reply = await subscribe(3, hashes[-1:])  # one more over the connection's cap
            assert reply["error"]["data"]["name"] == "too_many_watches"
    asyncio.run(scenario())
    assert node.rpc("xl_status")["mempool_size"] == 0  # and it still serves


def test_slowloris_connections_are_dropped_while_others_are_served(net: Net) -> None:
    node = net.node(2)
    host, port = node.base_url.removeprefix("http://").rsplit(":", 1)
    slow = [socket.create_connection((host, int(port)), timeout=30)
            for _ in range(net.intensity.slow_clients)]
    try:
        for s in slow:
            s.sendall(b"POST /rpc HTTP/1.1\r\nX-Slow: 1\r\n")  # never the end of the head
            s.setblocking(False)
        open_ = list(slow)
        deadline = time.monotonic() + 60
        while open_:  # the node closes each one: recv() sees the end of the stream
            assert time.monotonic() < deadline, f"{len(open_)} slow connections still open"
            assert node.rpc("xl_status")["mempool_size"] == 0  # another client is served
            for s in list(open_):
                with contextlib.suppress(BlockingIOError):
                    assert s.recv(1) == b""  # closed without a reply
                    open_.remove(s)
    finally:
        for s in slow:
            s.close()


def test_a_flipped_byte_is_found_refused_and_harms_no_other_validator(
        net: Net, capsys: pytest.CaptureFixture[str]) -> None:
    victim = 3
    net.node(victim).stop()
    net.nodes[victim] = None
    data = net.dirs[victim]
    # Organisation admin 3 never transacted: its stored account reads as at genesis.
    address = wallet(net.root, "admin3").address
    balance = int(net.node(0).rpc("xl_getAccount", "0x" + address.hex())["account"]["balance"])
    stored = codec.encode(Account(balance, 0))
    assert flip_byte_everywhere(data / "chain" / "data.mdb", stored, len(stored) // 2) >= 1
    assert cli(["node", "check", "--data", str(data)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["problems"][0]["code"] == CorruptDataError.code
    # The damage is in a record, not in what starting reads: the node starts and refuses
    # to serve the damaged record with the typed storage error.
    damaged = NodeProcess(data)
    try:
        with pytest.raises(NodeError, match=f"'code': {CorruptDataError.code}"):
            damaged.rpc("xl_getAccount", "0x" + address.hex())
        damaged.rpc("xl_status")  # what is intact is still served
    finally:
        damaged.stop()
    # The other three keep committing and agree.
    traffic(net, net.live(), net.intensity.transfers, "the undamaged validators to commit")


def test_cluster_down_stops_a_validator_restarted_by_hand(
        net: Net, capsys: pytest.CaptureFixture[str]) -> None:
    """Runs last: it stops the module's cluster."""
    net.node(1).kill()
    again = NodeProcess(net.dirs[1], rpc_port=None, detach=True)  # started by hand
    net.nodes[1] = None
    running = [pid for pid in (pidfile.running(d) for d in data_dirs(net.root)) if pid]
    assert again.pid in running and len(running) == N - 1  # 3 has been damaged and stays down
    capsys.readouterr()
    assert cli(["cluster", "down", "--dir", str(net.root)]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["stopped"] == len(running)
    assert all(pidfile.running(d) is None for d in net.dirs)
    assert again.proc.poll() is not None  # the hand-started validator is gone
    for i, node in enumerate(net.nodes):
        if node is not None:
            node.stop()  # reaps the child cluster down already stopped
            net.nodes[i] = None
