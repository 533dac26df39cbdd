"""A light node's JSON-RPC table (api/light_api.py): every method of a full node by the
same name and parameters; what it keeps served from its verified headers and read back by
the SDK's own parsing and checks; what it cannot check refused with a typed error.

The light node here follows the simulated chain of conftest.py `bft_chain` (fed the
proofs directly, as a sync would); its one peer is not listening, so whatever it would
have to ask a full node fails with the transport error instead. Forwarding, which checks
nothing, is shown against a real node of the test harness behind that dead peer."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from xinlian.api.errors import NotServedByLightNode
from xinlian.api.jsonrpc import Dispatcher
from xinlian.api.light import LightNode
from xinlian.api.light_api import REFUSED, LightApi
from xinlian.api.limits import Limits
from xinlian.api.method_params import method_params
from xinlian.sdk import calls
from xinlian.sdk.aio import AsyncClient
from xinlian.sdk.errors import TransportError

from .conftest import EPOCHS, Served, harness


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def light(tmp_path: Path, bft_chain: Served) -> Iterator[LightNode]:
    node = LightNode(tmp_path, bft_chain.net.genesis, [f"http://127.0.0.1:{_closed_port()}"],
                     timeout=5.0)
    node.headers.follow(bft_chain.proofs)
    for epoch, certified in bft_chain.checkpoints.items():
        node.headers.accept_checkpoint(epoch, certified)
    node.headers.accept(bft_chain.anchor)
    yield node
    asyncio.run(node.close())


def _ask(light: LightNode, method: str, *params: Any) -> dict[str, Any]:
    """The light node's JSON-RPC reply to one call (its result or its error)."""
    async def run() -> dict[str, Any]:
        try:
            table = LightApi(light, Limits()).table()
            reply = await Dispatcher(table, Limits()).handle(json.dumps(
                {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
            ).encode(), None)
            assert reply is not None
            answer: dict[str, Any] = json.loads(reply)
            return answer
        finally:
            for client in light.clients:  # this loop's sessions end with it
                await client.close()
    return asyncio.run(run())


def test_every_full_node_method_is_served_or_refused(light: LightNode) -> None:
    genesis = light.genesis
    full = method_params(genesis.params.max_tx_size, Limits())
    table = LightApi(light, Limits()).table()
    assert set(full) <= set(table)
    assert set(table) - set(full) == {"xl_lightStatus"}
    def signature(params: Any) -> list[tuple[str, object]]:
        return [(p.name, p.default) for p in params]
    for name, method in table.items():
        if name in full:  # asked the same way as a full node
            assert signature(method.params) == signature(full[name]), name
    assert set(REFUSED) < set(full)


def test_the_kept_headers_are_served_and_verify(light: LightNode, bft_chain: Served) -> None:
    proofs = calls.epoch_proofs(0).parse(_ask(light, "xl_getEpochProofs", 0)["result"])
    assert proofs == bft_chain.proofs
    follower = bft_chain.fresh()  # another client follows from what the light node served
    assert follower.follow(proofs) == EPOCHS
    assert calls.epoch_proofs(EPOCHS).parse(
        _ask(light, "xl_getEpochProofs", EPOCHS)["result"]) == []
    anchor = calls.certified_header().parse(_ask(light, "xl_getCertifiedHeader")["result"])
    assert anchor == bft_chain.anchor
    assert follower.accept(anchor)
    height = anchor.header.height
    assert calls.certified_header().parse(
        _ask(light, "xl_getCertifiedHeader", height)["result"]) == anchor
    for epoch, certified in bft_chain.checkpoints.items():
        served = calls.checkpoint(epoch).parse(_ask(light, "xl_getCheckpoint", epoch)["result"])
        assert served == certified
        assert calls.certified_header().parse(_ask(
            light, "xl_getCertifiedHeader", certified.header.height)["result"]) == certified


def test_invalid_what_it_must_ask_fails_when_no_peer_answers(light: LightNode,
                                                            bft_chain: Served) -> None:
    """A header it does not keep, a header proof, a block: asked of its peer, which is not
    listening; the caller gets the transport error, never an unchecked answer."""
    old = bft_chain.old.header.height
    for method, params in (("xl_getCertifiedHeader", [old]),
                           ("xl_getCheckpoint", [EPOCHS + 5]),
                           ("xl_getHeaderProof", [old, bft_chain.anchor.header.height]),
                           ("xl_getBlockByHeight", [old]),
                           ("xl_submitTransaction", ["0x00"])):
        error = _ask(light, method, *params)["error"]
        assert error["data"]["name"] == TransportError.name, (method, error)
    assert light.failures  # counted against the peer


def test_invalid_methods_it_cannot_check_are_refused(light: LightNode) -> None:
    for name, params in (("xl_status", []), ("xl_ready", []),
                         ("xl_contractQuery", ["0x" + "11" * 20, "get"]),
                         ("xl_getTransactionsBySender", ["0x" + "11" * 20]),
                         ("xl_subscribe", ["newBlocks"]), ("xl_unsubscribe", ["1"])):
        error = _ask(light, name, *params)["error"]
        assert error["code"] == NotServedByLightNode.rpc_code
        assert error["data"]["code"] == NotServedByLightNode.code
        assert error["data"]["name"] == "not_served_by_light_node"
        assert name in error["message"]
    # bad parameters are still refused as such, before anything else
    assert _ask(light, "xl_getEpochProofs", -1)["error"]["data"]["name"] == "invalid_params"


def test_a_submission_goes_to_the_next_reachable_peer_and_its_refusal_comes_back(
        light: LightNode, served: Any, keys: Any) -> None:
    light.clients.append(AsyncClient(served.server.url, ops=light.ops))
    raw = harness.transfer(keys, nonce=0, memo=b"forwarded")  # type: ignore[attr-defined]
    tx_hash = harness.tx_hash(keys, raw)  # type: ignore[attr-defined]
    answer = _ask(light, "xl_submitTransaction", "0x" + raw.hex())
    assert answer["result"] == {"hash": "0x" + tx_hash.hex()}
    assert sum(light.failures.values()) == 1  # the dead peer, passed over
    bad = harness.transfer(keys, sender="carol")  # type: ignore[attr-defined]
    bad_hash = "0x" + harness.tx_hash(keys, bad).hex()  # type: ignore[attr-defined]
    [listed] = _ask(light, "xl_submitTransactions", ["0x" + bad.hex()])["result"]
    assert listed["hash"] == bad_hash and listed["accepted"] is False
    refused = _ask(light, "xl_submitTransaction", "0x" + bad.hex())["error"]
    assert refused["code"] == refused["data"]["code"] == listed["error"]["code"]
    assert refused["data"]["name"] == listed["error"]["name"]  # the full node's own
    assert refused["data"]["hash"] == bad_hash
