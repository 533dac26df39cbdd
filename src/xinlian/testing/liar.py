"""A full node that lies: a JSON-RPC proxy in front of a real node that forges its answers.

Tests point SDK clients and light nodes at it to show that a forged answer is detected and
never passed on. It forwards every request to the honest node and rewrites the answers:
- "header": every block header it returns (certified headers, the headers under state
  proofs and transactions) gets another state root;
- "value": state proofs carry another value and accounts a raised balance, with the
  honest proof and header;
- "certificate": certified headers keep their header but lose a signer from the
  certificate's bitmap (under the quorum);
- "data": data answers (docs/data.md) with the honest proofs and headers: a record's
  stored value changed, a query page (by range, keywords or several conditions) missing
  its last candidate, an
  aggregate's count raised, an index plan's record count raised,
  a history or block window page with a byte flipped, a blob chunk with its first byte
  flipped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import aiohttp
import msgspec
from aiohttp import web

MODES = ("header", "value", "certificate", "data")
_FORGED_ROOT = "0x" + "ab" * 32


def _forge_header(header: dict[str, Any]) -> None:
    header["state_root"] = _FORGED_ROOT


def _flip(hex_text: str, at: int) -> str:
    """0x hex with the byte at `at` (negative: from the end) inverted."""
    raw = bytearray.fromhex(hex_text[2:])
    raw[at] ^= 0xFF
    return "0x" + raw.hex()


def _forge_data(method: str, result: dict[str, Any]) -> None:
    if method == "xl_dataGet" and result["record"].get("value") is not None:
        result["record"]["value"] = _flip(result["record"]["value"], -1)
    elif method == "xl_dataQuery" and result.get("ids"):  # a keyword page
        result["ids"], result["records"] = result["ids"][:-1], result["records"][:-1]
    elif method == "xl_dataQuery" and result.get("entries"):
        result["entries"] = result["entries"][:-1]
    elif method == "xl_dataSelect" and result.get("keyword"):  # a words driver's page
        page = result["keyword"]
        page["ids"], page["records"] = page["ids"][:-1], page["records"][:-1]
    elif method == "xl_dataSelect" and result.get("range"):
        result["range"]["entries"] = result["range"]["entries"][:-1]
    elif method == "xl_dataPlan":
        result["records"] += 1
    elif method == "xl_dataAggregate":
        result["count"] += 1
    elif method in ("xl_dataHistory", "xl_dataBlocks"):
        result["page"] = _flip(result["page"], -1)
    elif method == "xl_blobGetChunk":
        result["data"] = _flip(result["data"], 0)


def forge(mode: str, method: str, result: Any) -> Any:
    """The lie told for `method`'s honest `result` (unchanged where the mode has none)."""
    if not isinstance(result, dict):
        return result
    if mode == "header":
        for holder in (result, result.get("state")):
            if isinstance(holder, dict) and isinstance(holder.get("header"), dict):
                _forge_header(holder["header"])
    elif mode == "value" and method in ("xl_getStateProof", "xl_getAccount"):
        if method == "xl_getAccount":
            result["account"]["balance"] += 10**6
        elif result.get("value") is not None:
            result["value"] = result["value"] + "00"
    elif mode == "data":
        _forge_data(method, result)
    elif mode == "certificate" and method == "xl_getCertifiedHeader":
        signers = bytes.fromhex(result["cert"]["signers"][2:])
        first = signers[0]
        dropped = first & (first - 1)  # the lowest set bit of the first byte cleared
        result["cert"]["signers"] = "0x" + (bytes([dropped]) + signers[1:]).hex()
    return result


class LyingNode:
    """The proxy: `await start()`, then `.url`; `await stop()`."""

    def __init__(self, upstream: str, mode: str, host: str = "127.0.0.1") -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.upstream = upstream
        self.mode = mode
        self.host = host
        self.lies = 0
        self.url = ""  # once started: the base URL to give clients
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_post("/rpc", self._rpc)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _rpc(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        assert self._session is not None
        async with self._session.post(self.upstream, data=body,
                                      headers={"Content-Type": "application/json"}) as resp:
            reply = msgspec.json.decode(await resp.read())
        asked = msgspec.json.decode(body)
        pairs = (zip(asked, reply, strict=False) if isinstance(asked, list)
                 else [(asked, reply)])
        for request_json, reply_json in pairs:
            if isinstance(reply_json, dict) and "result" in reply_json:
                before = msgspec.json.encode(reply_json["result"])
                reply_json["result"] = forge(self.mode, request_json.get("method", ""),
                                             reply_json["result"])
                self.lies += msgspec.json.encode(reply_json["result"]) != before
        return web.Response(body=msgspec.json.encode(reply), content_type="application/json")


async def _serve(upstream: str, mode: str) -> None:
    liar = LyingNode(upstream, mode)
    await liar.start()
    print(json.dumps({"event": "ready", "rpc": liar.url}), flush=True)
    try:
        await asyncio.Event().wait()  # until the process is terminated
    finally:
        await liar.stop()


@contextlib.contextmanager
def liar_process(upstream: str, mode: str) -> Iterator[str]:
    """A lying node as its own process (`main`) in front of `upstream` (a POST /rpc URL),
    for tests that drive nodes as processes: its base URL, for as long as the block runs."""
    proc = subprocess.Popen([sys.executable, "-m", "xinlian.testing.liar", "--upstream",
                             upstream, "--mode", mode], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    try:
        yield str(json.loads(proc.stdout.readline())["rpc"])
    finally:
        proc.terminate()
        proc.wait()
        proc.stdout.close()


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m xinlian.testing.liar --upstream URL --mode MODE`: a lying node as its own
    process (for tests that drive nodes as processes)."""
    parser = argparse.ArgumentParser(prog="xinlian.testing.liar")
    parser.add_argument("--upstream", required=True, help="the honest node's POST /rpc URL")
    parser.add_argument("--mode", choices=MODES, required=True)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.upstream, args.mode))
    return 0


if __name__ == "__main__":
    sys.exit(main())
