"""Readiness (xl_ready, GET /ready) and fail-stop of a node task, with faults injected in
process; the same against real processes is in tests/e2e/test_supervision.py."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from xinlian.crypto import batch as batch_verify
from xinlian.crypto.errors import VerifierUnavailable
from xinlian.node.errors import InjectedFault, TaskFailed

from .harness import Keys, hx, serving, transfer


async def _ready(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url + "/ready") as resp:
        return resp.status, await resp.json()


async def _call(http: aiohttp.ClientSession, url: str, method: str, *params: Any) -> Any:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    async with http.post(url + "/rpc", json=body) as resp:
        return await resp.json()


def test_a_failed_producer_stops_the_node_and_readiness_says_why(
        tmp_path: Path, keys: Keys, monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> None:
        async with serving(tmp_path / "n", keys) as (node, server), \
                aiohttp.ClientSession() as http:
            status, body = await _ready(http, server.url)
            assert (status, body["ready"], body["consensus_height"]) == (200, True, None)
            assert (await _call(http, server.url, "xl_ready"))["result"] == body

            def broken(*args: Any) -> Any:
                raise InjectedFault("build")

            monkeypatch.setattr(node.ledger, "build", broken)
            await _call(http, server.url, "xl_submitTransaction", hx(transfer(keys)))
            failure = await asyncio.wait_for(node.failed(), 60)
            assert isinstance(failure, TaskFailed)
            assert failure.message == "task solo-producer failed: InjectedFault: build"
            status, body = await _ready(http, server.url)
            assert (status, body["ready"]) == (503, False)
            assert failure.message in body["reasons"]

    asyncio.run(main())


def test_an_unavailable_verifier_is_a_typed_error_at_admission(
        tmp_path: Path, keys: Keys, monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable(items: Any) -> tuple[list[bool], float]:
        raise VerifierUnavailable("the verification pool broke twice")

    async def main() -> None:
        async with serving(tmp_path / "n", keys) as (_, server), \
                aiohttp.ClientSession() as http:
            monkeypatch.setattr(batch_verify, "verify_batch_timed", unavailable)
            txs = [hx(transfer(keys, nonce=n)) for n in range(batch_verify.INLINE_LIMIT + 1)]
            reply = await _call(http, server.url, "xl_submitTransactions", txs)
            assert reply["error"]["data"]["code"] == VerifierUnavailable.code

    asyncio.run(main())
