"""The server over real sockets: HTTP POST /rpc and websocket subscriptions on 127.0.0.1.

Ordering, not time, synchronises these tests: a block sealed before a request is sent has
its notifications queued ahead of that request's reply on the same connection.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from xinlian import codec
from xinlian.api.limits import Limits
from xinlian.api.server import RpcServer
from xinlian.ledger.block import header_hash
from xinlian.ledger.transaction import SignedTransaction
from xinlian.node.service import Node

from .harness import Keys, hx, transfer, tx_hash

Scenario = Callable[[RpcServer, aiohttp.ClientSession], Awaitable[None]]


@asynccontextmanager
async def serving(node: Node, limits: Limits | None = None
                  ) -> AsyncIterator[tuple[RpcServer, aiohttp.ClientSession]]:
    server = RpcServer(node, limits=limits)
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            yield server, http
    finally:
        await server.stop()


async def post(http: aiohttp.ClientSession, server: RpcServer, body: Any,
               raw: bytes | None = None) -> tuple[int, Any]:
    data = raw if raw is not None else json.dumps(body).encode()
    async with http.post(server.url + "/rpc", data=data,
                         headers={"Content-Type": "application/json"}) as resp:
        text = await resp.text()
        return resp.status, (json.loads(text) if text else None)


class Ws:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = 0

    async def call(self, method: str, *params: Any) -> Any:
        self.ids += 1
        await self.ws.send_str(json.dumps({"jsonrpc": "2.0", "id": self.ids,
                                           "method": method, "params": list(params)}))
        return await self.next()

    async def next(self) -> Any:
        return json.loads(await self.ws.receive_str(timeout=10))


def test_http_round_trip_and_oversize_body(node: Node) -> None:
    async def scenario() -> None:
        async with serving(node, Limits(max_body_size=4096)) as (server, http):
            assert server.port > 0
            status, reply = await post(http, server, {"jsonrpc": "2.0", "id": 1,
                                                      "method": "xl_status"})
            assert status == 200 and reply["result"]["height"] == 0
            status, reply = await post(http, server, None, raw=b"[" + b"1," * 5000 + b"1]")
            assert status == 413
            assert reply["error"]["code"] == -32600
            assert reply["error"]["data"]["name"] == "request_too_large"
            status, reply = await post(http, server, None, raw=b"{oops")
            assert status == 200 and reply["error"]["code"] == -32700
            status, reply = await post(http, server, {"jsonrpc": "2.0", "method": "xl_status"})
            assert status == 204 and reply is None
            status, reply = await post(http, server, {"jsonrpc": "2.0", "id": 2,
                                                      "method": "xl_chainInfo"})
            assert reply["result"]["genesis"]["chain_id"] == "test-chain"
            assert reply["result"]["genesis_hash"] == hx(node.genesis.hash())
    asyncio.run(scenario())


def test_websocket_new_blocks_and_tx_status(node: Node, keys: Keys) -> None:
    h = node.suite.hash_bytes

    async def scenario() -> None:
        async with serving(node) as (server, http), \
                http.ws_connect(server.url.replace("http", "ws") + "/ws") as raw_ws:
            ws = Ws(raw_ws)
            blocks = (await ws.call("xl_subscribe", "newBlocks"))["result"]
            tx = transfer(keys, amount=5)
            tx_hash = h(codec.decode(tx, SignedTransaction).body)
            assert (await ws.call("xl_submitTransaction", hx(tx)))["result"]["hash"] == hx(tx_hash)
            watch = (await ws.call("xl_subscribe", "txStatus", [hx(tx_hash)]))["result"]
            assert watch != blocks
            block = node.produce_block()
            assert block is not None
            got = {}
            for _ in range(2):
                note = await ws.next()
                assert note["method"] == "xl_subscription" and "id" not in note
                got[note["params"]["subscription"]] = note["params"]["result"]
            assert got[blocks]["hash"] == hx(header_hash(block.header, h))
            assert got[blocks]["header"]["height"] == 1
            assert got[blocks]["tx_hashes"] == [hx(tx_hash)]
            assert got[watch]["status"] == "committed" and "height" not in got[watch]
            assert got[watch]["receipt"]["status"] == 0

            # already committed when subscribing: the reply, then the notification
            reply = await ws.call("xl_subscribe", "txStatus", [hx(tx_hash)])
            note = await ws.next()
            assert note["params"] == {"subscription": reply["result"],
                                      "result": got[watch]}

            # unsubscribed: the next seal sends nothing ahead of the next reply
            assert (await ws.call("xl_unsubscribe", blocks))["result"] is True
            unknown = await ws.call("xl_unsubscribe", blocks)
            assert unknown["error"]["data"]["name"] == "unknown_subscription"
            second = hx(transfer(keys, nonce=1))
            assert "result" in await ws.call("xl_submitTransaction", second)
            assert node.produce_block() is not None
            assert (await ws.call("xl_status"))["result"]["height"] == 2

            # bad input over the socket gets typed errors and the socket stays open
            await raw_ws.send_str("{nope")
            assert (await ws.next())["error"]["code"] == -32700
            assert (await ws.call("xl_subscribe", "mempool"))["error"]["code"] == -32602
            assert (await ws.call("xl_subscribe", "txStatus"))["error"]["code"] == -32602
            assert (await ws.call("xl_status"))["result"]["height"] == 2
    asyncio.run(scenario())


def test_watching_many_committed_hashes_is_paced_not_dropped(node: Node, keys: Keys) -> None:
    """More already-committed hashes than the client's queue holds: each is notified once,
    after the reply, and the connection stays open (it used to overflow and be closed)."""
    limits = Limits(ws_send_queue=8)
    raws = [transfer(keys, nonce=n) for n in range(30)]
    hashes = {hx(tx_hash(keys, raw)) for raw in raws}

    async def scenario() -> None:
        async with serving(node, limits) as (server, http), \
                http.ws_connect(server.url.replace("http", "ws") + "/ws") as raw_ws:
            ws = Ws(raw_ws)
            for raw in raws:
                assert "result" in await ws.call("xl_submitTransaction", hx(raw))
            while node.produce_block() is not None:
                pass
            reply = await ws.call("xl_subscribe", "txStatus", sorted(hashes))
            notes = [await ws.next() for _ in hashes]
            assert {n["params"]["subscription"] for n in notes} == {reply["result"]}
            assert {n["params"]["result"]["hash"] for n in notes} == hashes
            assert all(n["params"]["result"]["status"] == "committed" for n in notes)
            assert (await ws.call("xl_status"))["result"]["height"] >= 1
    asyncio.run(scenario())


def test_oversize_websocket_message_closes_only_that_socket(node: Node) -> None:
    async def scenario() -> None:
        async with serving(node, Limits(max_body_size=1024)) as (server, http):
            url = server.url.replace("http", "ws") + "/ws"
            async with http.ws_connect(url) as ws:
                await ws.send_str(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "xl_status",
                                              "params": ["x" * 2000]}))
                msg = await ws.receive(timeout=10)
                assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
                assert ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
            async with http.ws_connect(url) as ws2:
                assert (await Ws(ws2).call("xl_status"))["result"]["height"] == 0
            status, reply = await post(http, server, {"jsonrpc": "2.0", "id": 1,
                                                      "method": "xl_status"})
            assert status == 200 and reply["result"]["height"] == 0
    asyncio.run(scenario())


def test_a_client_that_does_not_read_is_disconnected(node: Node, keys: Keys) -> None:
    async def scenario() -> None:
        async with serving(node, Limits(ws_send_queue=1)) as (server, http):
            url = server.url.replace("http", "ws") + "/ws"
            async with http.ws_connect(url) as raw_slow, http.ws_connect(url) as raw_ok:
                slow, ok = Ws(raw_slow), Ws(raw_ok)
                await slow.call("xl_subscribe", "newBlocks")
                await slow.call("xl_subscribe", "newBlocks")
                await ok.call("xl_subscribe", "newBlocks")
                await ok.call("xl_submitTransaction", hx(transfer(keys)))
                node.produce_block()  # two notifications for `slow` at once: over its limit
                while (await raw_slow.receive(timeout=10)).type == aiohttp.WSMsgType.TEXT:
                    pass
                assert raw_slow.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
                assert (await ok.next())["params"]["result"]["header"]["height"] == 1
                assert (await ok.call("xl_status"))["result"]["height"] == 1
    asyncio.run(scenario())
