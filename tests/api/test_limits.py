"""The server's limits over real sockets on 127.0.0.1: body size and concurrency, batches
and work budgets, websocket caps, slow readers, slowloris, clients that go away.

Conditions are awaited by bounded polling (`until`), never by sleeping a guessed time.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import socket
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from xinlian.api.errors import LimitsError
from xinlian.api.format import to_json
from xinlian.api.limits import Limits, limits_from
from xinlian.api.metering import Meter, counting
from xinlian.api.server import RpcServer
from xinlian.ledger import merkle

from .harness import Keys, hx, serving, transfer, tx_hash


async def until(condition: Callable[[], bool], what: str, limit: float = 20.0) -> None:
    """Poll `condition` on the loop until it holds; fail after `limit` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def raw_request(server: RpcServer, head: str, body: bytes = b""
                      ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(head.encode() + body)
    await writer.drain()
    return reader, writer


def post_head(length: int | None) -> str:
    size = "Transfer-Encoding: chunked" if length is None else f"Content-Length: {length}"
    return f"POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{size}\r\n\r\n"


async def read_reply(reader: asyncio.StreamReader) -> tuple[int, Any]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    status = int(head.split()[1])
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length")))
    return status, json.loads(await reader.readexactly(length))


STATUS = b'{"jsonrpc": "2.0", "id": 1, "method": "xl_status"}'


def call(method: str, i: int = 1, **params: object) -> dict[str, object]:
    return {"jsonrpc": "2.0", "id": i, "method": method, "params": params}


async def rpc(http: aiohttp.ClientSession, server: RpcServer, body: object) -> tuple[int, Any]:
    async with http.post(server.url + "/rpc", json=body) as resp:
        return resp.status, await resp.json()


def test_an_oversized_body_is_refused_before_it_is_read(tmp_path: Path, keys: Keys) -> None:
    async def scenario() -> None:
        async with serving(tmp_path, keys, produce=False,
                           limits=Limits(max_body_size=4096)) as (_, server):
            # 100 MB announced, 10 bytes sent: the reply comes without the rest
            reader, writer = await raw_request(server, post_head(100_000_000), b"[" * 10)
            status, reply = await read_reply(reader)
            assert status == 413
            assert reply["error"]["data"]["name"] == "request_too_large"
            assert await asyncio.wait_for(reader.read(), 10) == b""  # and the socket closes
            writer.close()
            # no Content-Length: refused once the streamed chunks pass the limit
            reader, writer = await raw_request(server, post_head(None))
            chunk = b"1000\r\n" + b" " * 4096 + b"\r\n"
            writer.write(chunk * 2)
            await writer.drain()
            status, reply = await read_reply(reader)
            assert status == 413 and server.inflight_bytes == 0
            writer.close()
    asyncio.run(scenario())


def test_a_slow_body_times_out(tmp_path: Path, keys: Keys) -> None:
    async def scenario() -> None:
        async with serving(tmp_path, keys, produce=False,
                           limits=Limits(body_timeout=0.3)) as (_, server):
            reader, writer = await raw_request(server, post_head(100), b"{")
            status, reply = await read_reply(reader)  # 99 bytes never come
            assert status == 408 and reply["error"]["data"]["name"] == "request_timeout"
            assert server.inflight_bytes == 0
            writer.close()
    asyncio.run(scenario())


def test_concurrent_body_bytes_are_capped(tmp_path: Path, keys: Keys) -> None:
    async def scenario() -> None:
        limits = Limits(max_body_size=1000, max_inflight_bytes=2000)
        async with serving(tmp_path, keys, produce=False, limits=limits) as (_, server):
            held = [await raw_request(server, post_head(1000), b"{") for _ in range(2)]
            await until(lambda: server.inflight_bytes == 2000, "two bodies in flight")
            async with aiohttp.ClientSession() as http:
                status, reply = await rpc(http, server, call("xl_status"))
                assert status == 503
                assert reply["error"]["data"]["name"] == "server_busy"
                # one held body completes: its bytes are released and requests pass again
                reader, writer = held[0]
                body = json.dumps(call("xl_status")).encode()
                writer.write(body[1:] + b" " * (1000 - len(body)))
                status, reply = await read_reply(reader)
                assert status == 200 and reply["result"]["height"] == 0
                await until(lambda: server.inflight_bytes == 1000, "one body released")
                status, reply = await rpc(http, server, call("xl_status"))
                assert status == 200
            for _, writer in held:
                writer.close()
    asyncio.run(scenario())


def test_batches_and_work_budgets(tmp_path: Path, keys: Keys) -> None:
    async def scenario() -> None:
        limits = Limits(max_batch_requests=50, work_burst=9.5, work_rate=1e-9)
        async with serving(tmp_path, keys, produce=False, limits=limits) as (_, server), \
                aiohttp.ClientSession() as http:
            _, reply = await rpc(http, server, [call("xl_status", i) for i in range(51)])
            assert reply["error"]["data"]["name"] == "batch_too_large"
            _, reply = await rpc(http, server, [call("xl_status", i) for i in range(20)])
            names = [r.get("error", {}).get("data", {}).get("name") for r in reply]
            assert names == [None] * 10 + ["rate_limited"] * 10
            assert reply[10]["error"]["code"] == -32005
    asyncio.run(scenario())


def test_meter_keeps_clients_apart() -> None:
    meter = Meter(rate=10, burst=100)
    meter.charge("a", 150, now=0.0)
    assert not meter.admits("a", now=0.0) and meter.admits("b", now=0.0)
    assert not meter.admits("a", now=5.0)  # -50 + 50 = 0: still not positive
    assert meter.admits("a", now=6.0)
    meter.charge("a", 1_000_000, now=6.0)
    assert meter.admits("a", now=1e9) and meter.admits("b", now=1e9)  # refills to burst


def test_transaction_lookup_work_does_not_grow_with_the_block(tmp_path: Path,
                                                              keys: Keys) -> None:
    async def scenario() -> None:
        async with serving(tmp_path, keys, produce=False) as (node, server):
            sizes = (2, 60)
            blocks: list[list[bytes]] = []
            nonce = 0
            for size in sizes:
                raws = [transfer(keys, "admin", "bob", 1, nonce + i) for i in range(size)]
                nonce += size
                assert all(r.accepted for r in await node.submit(raws))
                node.produce_block()
                blocks.append([tx_hash(keys, raw) for raw in raws])
            api = server.api
            for hashes in blocks:
                with counting() as work:
                    views = [await api.transaction(None, h) for h in hashes]
                assert work[0] == 0  # point reads (tests/api/test_tx_proofs.py counts them)
                for h, view in zip(hashes, views, strict=True):
                    record = node.transaction(h)  # the node's own answer, block by block
                    assert record is not None
                    for field in ("raw", "height", "index", "header", "header_signature",
                                  "tx_path", "receipt", "receipt_path"):
                        assert view[field] == to_json(getattr(record, field)), field
                    assert merkle.verify_path(record.header.tx_root, h, record.tx_path,
                                              node.suite.hash_bytes)
            # over HTTP, a batch of lookups is charged one unit a call, whatever the block
            server.dispatcher.meter = Meter(rate=1e-9, burst=1e9)
            async with aiohttp.ClientSession() as http:
                batch = [call("xl_getTransaction", i, hash=hx(h))
                         for i, h in enumerate(blocks[1])]
                _, reply = await rpc(http, server, batch)
                assert all("result" in r for r in reply)
            spent = 1e9 - server.dispatcher.meter.balance("127.0.0.1", 0)
            assert spent == pytest.approx(len(batch), abs=1)
    asyncio.run(scenario())


def test_long_method_names_are_truncated(tmp_path: Path, keys: Keys) -> None:
    async def scenario() -> None:
        async with serving(tmp_path, keys, produce=False) as (_, server), \
                aiohttp.ClientSession() as http:
            async with http.post(server.url + "/rpc", json=call("x" * 1_000_000)) as resp:
                raw = await resp.read()
            assert len(raw) < 1000
            message = json.loads(raw)["error"]["message"]
            assert message == "no method '" + "x" * 64 + "...'"
    asyncio.run(scenario())


@pytest.mark.parametrize(("per_ip", "total", "status"), [(2, 3, 429), (10, 2, 503)])
def test_websocket_connections_are_capped(tmp_path: Path, keys: Keys, per_ip: int, total: int,
                                          status: int) -> None:
    async def scenario() -> None:
        limits = Limits(ws_max_per_ip=per_ip, ws_max_connections=total)
        async with serving(tmp_path, keys, produce=False, limits=limits) as (_, server), \
                aiohttp.ClientSession() as http:
            url = server.url.replace("http", "ws") + "/ws"
            first = [await http.ws_connect(url) for _ in range(2)]
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(url)
            assert refused.value.status == status
            await first[0].close()
            await until(lambda: server.ws_count == 1, "a websocket released")
            first[0] = await http.ws_connect(url)  # a released place can be taken again
            for ws in first:
                await ws.close()
    asyncio.run(scenario())


def test_watched_hashes_are_capped(tmp_path: Path, keys: Keys) -> None:
    async def scenario() -> None:
        limits = Limits(ws_max_watched=3, ws_max_watched_total=5)
        hashes = [hx(bytes([i]) * 32) for i in range(4)]
        async with serving(tmp_path, keys, produce=False, limits=limits) as (_, server):
            url = server.url.replace("http", "ws") + "/ws"
            async with aiohttp.ClientSession() as http:
                a, b = await http.ws_connect(url), await http.ws_connect(url)

                async def subscribe(ws: aiohttp.ClientWebSocketResponse,
                                    watched: list[str]) -> Any:
                    await ws.send_json(call("xl_subscribe", kind="txStatus", hashes=watched))
                    return json.loads(await ws.receive_str(timeout=10))

                reply = await subscribe(a, hashes)  # 4 > 3 per connection
                assert reply["error"]["code"] == -32602
                reply = await subscribe(a, hashes[:3])
                assert "result" in reply and server.api.hub.watched == 3
                reply = await subscribe(b, hashes[:3])  # 3 + 3 > 5 in total
                assert reply["error"]["data"]["name"] == "too_many_watches"
                await a.close()
                await until(lambda: server.api.hub.watched == 0, "a's watches dropped")
                assert "result" in await subscribe(b, hashes[:3])
                await b.close()
    asyncio.run(scenario())


class RawWs:
    """A websocket client on a bare socket with a tiny receive buffer that never reads."""

    def __init__(self, server: RpcServer) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect((server.host, server.port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101")

    def read_to_end(self) -> int:
        """How many bytes arrive before the connection ends (closed or reset)."""
        self.sock.settimeout(30)
        received = 0
        with contextlib.suppress(ConnectionResetError):
            while chunk := self.sock.recv(65536):
                received += len(chunk)
        return received

    def send_text(self, text: str) -> bool:
        """Send one masked text frame; False once the server has cut the connection."""
        data = text.encode()
        mask = b"\x01\x02\x03\x04"
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        size = (struct.pack("!B", 0x80 | len(data)) if len(data) < 126
                else struct.pack("!BH", 0x80 | 126, len(data)))
        try:
            self.sock.sendall(b"\x81" + size + mask + masked)
        except OSError:
            return False
        return True


async def flood(server: RpcServer, limits: Limits) -> RawWs:
    """A websocket client that sends requests and never reads, until the server drops it."""
    slow = await asyncio.to_thread(RawWs, server)
    await until(lambda: server.ws_count == 1, "the websocket open")
    request = json.dumps(call("xl_chainInfo"))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while server.ws_count and loop.time() < deadline:
        if not await asyncio.to_thread(slow.send_text, request):
            break
    await until(lambda: server.connections == 0, "the slow client's connection closed")
    return slow


def test_a_client_that_stops_reading_is_cut_off(tmp_path: Path, keys: Keys,
                                                caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        limits = Limits(ws_send_queue=1_000_000, ws_send_timeout=0.5)
        async with serving(tmp_path, keys, produce=False, limits=limits) as (_, server):
            # replies fill its socket, then a send blocks: the server drops the connection
            # (flood waits for that) although the client has read nothing
            slow = await flood(server, limits)
            # a send blocks only with over 64 KiB waiting above the kernel's buffers; all of
            # it is discarded (the connection is reset), not delivered before a close frame
            assert await asyncio.to_thread(slow.read_to_end) < 64 * 1024
            slow.sock.close()
            async with aiohttp.ClientSession() as http:  # the server still serves others
                assert (await rpc(http, server, call("xl_status")))[0] == 200
    with caplog.at_level(logging.WARNING, logger="xinlian.api.server"):
        asyncio.run(scenario())
    logged = [r.getMessage() for r in caplog.records]
    assert "websocket client 127.0.0.1 dropped: not reading for 0.5 s" in logged


def test_a_client_that_falls_behind_is_dropped(tmp_path: Path, keys: Keys,
                                               caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        limits = Limits(ws_send_queue=8, ws_send_timeout=0.5)
        async with serving(tmp_path, keys, produce=False, limits=limits) as (_, server):
            (await flood(server, limits)).sock.close()
    with caplog.at_level(logging.WARNING, logger="xinlian.api.server"):
        asyncio.run(scenario())
    logged = [r.getMessage() for r in caplog.records]
    assert "websocket client 127.0.0.1 dropped: 8 notifications wait unread" in logged


def test_slowloris_connections_are_dropped(tmp_path: Path, keys: Keys) -> None:
    async def scenario() -> None:
        async with serving(tmp_path, keys, produce=False,
                           limits=Limits(header_timeout=0.5)) as (_, server):
            conns = [await raw_request(server, "POST /rpc HTTP/1.1\r\n") for _ in range(500)]
            closed: set[int] = set()

            async def trickle(i: int, reader: asyncio.StreamReader,
                              writer: asyncio.StreamWriter) -> None:
                with contextlib.suppress(ConnectionError):
                    while not reader.at_eof():  # a header line at a time, never the end
                        writer.write(b"X-Slow: 1\r\n")
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(reader.read(1), 0.1)
                closed.add(i)

            # a kept-alive connection trickling its second request is dropped the same way
            reader, writer = await raw_request(server, post_head(len(STATUS)), STATUS)
            assert (await read_reply(reader))[0] == 200
            writer.write(b"POST /rpc HTTP/1.1\r\n")
            conns.append((reader, writer))
            tasks = [asyncio.create_task(trickle(i, r, w)) for i, (r, w) in enumerate(conns)]
            await until(lambda: len(closed) == 501, "all 501 connections dropped", 60)
            await asyncio.gather(*tasks)
            async with aiohttp.ClientSession() as http:
                assert (await rpc(http, server, call("xl_status")))[0] == 200
    asyncio.run(scenario())


def test_a_client_gone_mid_request_leaves_no_traceback(
        tmp_path: Path, keys: Keys, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        limits = Limits(work_rate=1e-9, work_burst=1e9)
        async with serving(tmp_path, keys, produce=False, limits=limits) as (_, server):
            meter = server.dispatcher.meter
            # gone while sending its body
            _, writer = await raw_request(server, post_head(1000), b"[")
            await until(lambda: server.inflight_bytes == 1000, "the body being read")
            writer.transport.abort()
            await until(lambda: server.inflight_bytes == 0, "the body released")
            # gone before its reply is written
            body = json.dumps([call("xl_chainInfo", i) for i in range(200)]).encode()
            _, writer = await raw_request(server, post_head(len(body)), body)
            writer.transport.abort()
            await until(lambda: meter.balance("127.0.0.1", 0) <= 1e9 - 200, "it was handled")
            await until(lambda: server.inflight_bytes == 0, "the request released")
            async with aiohttp.ClientSession() as http:
                assert (await rpc(http, server, call("xl_status")))[0] == 200
    with caplog.at_level(logging.DEBUG):
        asyncio.run(scenario())
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_rpc_limits_from_node_toml() -> None:
    limits = limits_from({"max_body_size": 1024, "ws_send_timeout": 2})
    assert limits.max_body_size == 1024 and limits.ws_send_timeout == 2.0
    with pytest.raises(LimitsError):
        limits_from({"max_bdy_size": 1})
    with pytest.raises(LimitsError):
        limits_from({"max_body_size": 0})
    with pytest.raises(LimitsError):
        limits_from({"max_body_size": 1.5})


def test_bodies_are_checked_before_they_are_decoded() -> None:
    from xinlian.api.errors import ParseError, RequestTooLarge
    from xinlian.api.jsonrpc import decode

    with pytest.raises(RequestTooLarge):  # a million empty arrays: counted, never built
        decode(b"[" + b"[]," * 1_000_000 + b"[]]", 4016)
    # floats are outside every request's shape: decoded by the standard library
    assert decode(b'{"params": [1e300, {"a": [1.5]}]}', 4016) == {
        "params": [1e300, {"a": [1.5]}]}
    assert decode(b'[{"id": 1, "params": [[["deep"]]]}]', 4016) == [
        {"id": 1, "params": [[["deep"]]]}]
    with pytest.raises(ParseError):
        decode(b"[" + b"9" * 5000 + b"]", 4016)  # an integer of 5,000 digits
    with pytest.raises(ParseError):
        decode(b'{"a": 1e300', 4016)
