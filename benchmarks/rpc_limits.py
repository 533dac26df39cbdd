"""Memory of a node's RPC server at its limits: the largest allowed body, many at once,
a body over the limit, and websockets up to the connection and watch caps.

    python -m benchmarks.rpc_limits

A real solo node process (`xinlian node start`, default [rpc] limits) is measured from
outside: peak RSS is the kernel's VmHWM of the node process, reset before each scenario
(/proc/PID/clear_refs), so each figure is that scenario's own peak. Also printed: how long
a small request from another client waited while the scenario ran (the loop's stall).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.report import emit
from xinlian.api.limits import Limits

BENCH = "rpc_limits"
LIMITS = Limits()
STATUS = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "xl_status"}).encode()


def start_node(tmp: Path) -> tuple[subprocess.Popen[str], str]:
    cli = [sys.executable, "-m", "xinlian.cli.main"]
    key = subprocess.run([*cli, "keygen", "--suite", "intl", "--out", str(tmp / "k.json")],
                         check=True, capture_output=True, text=True)
    public = json.loads(key.stdout)["public_key"]
    (tmp / "genesis.toml").write_text(
        f'chain_id = "bench"\nsuite = "intl"\n[[organisations]]\nname = "o"\n'
        f'admins = ["{public}"]\n[[accounts]]\nkey = "{public}"\nbalance = 100\n',
        encoding="utf-8")
    subprocess.run([*cli, "init", "--config", str(tmp / "genesis.toml"), "--data",
                    str(tmp / "data")], check=True, capture_output=True)
    node = subprocess.Popen([*cli, "node", "start", "--data", str(tmp / "data"),
                             "--rpc-port", "0"], stdout=subprocess.PIPE, text=True)
    assert node.stdout is not None
    ready = json.loads(node.stdout.readline())
    return node, str(ready["rpc"])


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")


async def post(http: aiohttp.ClientSession, url: str, body: bytes) -> int:
    try:
        async with http.post(url + "/rpc", data=body,
                             headers={"Content-Type": "application/json"}) as resp:
            await resp.read()
            return resp.status
    except aiohttp.ClientError:
        return 0  # refused and closed before the whole body was sent


async def measure(name: str, pid: int, url: str,
                  scenario: Callable[[aiohttp.ClientSession], Awaitable[dict[str, Any]]]
                  ) -> None:
    """Run `scenario` while another client pings; emit the peak RSS and the worst ping."""
    reset_peak(pid)
    base = rss_kib(pid, "VmRSS")
    worst = 0.0
    done = asyncio.Event()

    async def ping() -> None:
        nonlocal worst
        async with aiohttp.ClientSession() as http:
            while not done.is_set():
                start = time.perf_counter()
                await post(http, url, STATUS)
                worst = max(worst, time.perf_counter() - start)
                await asyncio.sleep(0.02)

    pinger = asyncio.create_task(ping())
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        extra = await scenario(http)
    done.set()
    await pinger
    peak = rss_kib(pid, "VmHWM")
    emit(BENCH, name + "_peak_rss", peak / 1024, "MiB", before_mib=round(base / 1024, 1),
         worst_ping_ms=round(worst * 1000, 1), **extra)


def array_of(item: bytes, size: int, prefix: bytes = b"", suffix: bytes = b"") -> bytes:
    """`prefix` [item,item,...] `suffix`, `size` bytes at most."""
    count = (size - len(prefix) - len(suffix) - 1) // (len(item) + 1)
    return prefix + b"[" + b",".join([item] * count) + b"]" + suffix


# Bodies of the largest allowed size, by what they make the server build.
CALL = b'{"jsonrpc":"2.0","id":1,"method":"xl_status","params":'
SHAPES = {
    "empty_arrays": lambda size: array_of(b"[]", size),  # refused by the container count
    "floats": lambda size: array_of(b"1e300", size),     # the standard library's decoder
    "strings": lambda size: array_of(b'"a"', size, CALL, b"}"),
    "integers": lambda size: array_of(b"1", size, CALL, b"}"),
}


def worst_body(size: int) -> bytes:
    return SHAPES["strings"](size)


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        node, url = start_node(Path(tmp))
        pid = node.pid
        size = LIMITS.max_body_size
        try:
            for shape, make in SHAPES.items():
                async def one_max_body(http: aiohttp.ClientSession,
                                       body: bytes = make(size)) -> dict[str, Any]:
                    return {"status": await post(http, url, body), "bytes": len(body)}
                await measure("largest_body_" + shape, pid, url, one_max_body)

            async def over_limit(http: aiohttp.ClientSession) -> dict[str, Any]:
                body = worst_body(64 * 1024 * 1024)
                return {"status": await post(http, url, body), "bytes": len(body)}
            await measure("body_over_limit", pid, url, over_limit)

            async def many_max_bodies(http: aiohttp.ClientSession) -> dict[str, Any]:
                clients = 3 * LIMITS.max_inflight_bytes // size
                statuses = await asyncio.gather(*(post(http, url, worst_body(size))
                                                  for _ in range(clients)))
                return {"clients": clients, "refused_503": statuses.count(503)}
            await measure("concurrent_largest_bodies", pid, url, many_max_bodies)

            async def websockets_at_caps(http: aiohttp.ClientSession) -> dict[str, Any]:
                return await fill_websockets(url)
            await measure("websockets_at_caps", pid, url, websockets_at_caps)
        finally:
            node.terminate()
            node.wait(timeout=30)


async def fill_websockets(url: str) -> dict[str, Any]:
    """Open websockets up to the total cap, from enough loopback addresses to pass the
    per-IP cap, and watch hashes up to the total watch cap; one more of each is refused."""
    total, per_ip = LIMITS.ws_max_connections, LIMITS.ws_max_per_ip
    per_conn = LIMITS.ws_max_watched_total // total
    sessions = [aiohttp.ClientSession(connector=aiohttp.TCPConnector(
        limit=0, local_addr=(f"127.0.0.{2 + i}", 0))) for i in range(-(-total // per_ip) + 1)]
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    ws_url = url.replace("http", "ws") + "/ws"
    try:
        for i in range(total):
            ws = await sessions[i // per_ip].ws_connect(ws_url)
            hashes = ["0x" + (i * per_conn + j).to_bytes(32, "big").hex()
                      for j in range(per_conn)]
            await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "xl_subscribe",
                                "params": ["txStatus", hashes]})
            assert "result" in json.loads(await ws.receive_str())
            sockets.append(ws)
        refused = 0
        try:
            await sessions[-1].ws_connect(ws_url)
        except aiohttp.WSServerHandshakeError as exc:
            refused = exc.status
        await sockets[0].send_json({"jsonrpc": "2.0", "id": 2, "method": "xl_subscribe",
                                    "params": ["txStatus", ["0x" + "ff" * 32]]})
        over = json.loads(await sockets[0].receive_str())["error"]["data"]["name"]
        return {"websockets": len(sockets), "watched": per_conn * len(sockets),
                "next_connection_status": refused, "next_watch": over}
    finally:
        for ws in sockets:
            await ws.close()
        for session in sessions:
            await session.close()


if __name__ == "__main__":
    asyncio.run(main())
