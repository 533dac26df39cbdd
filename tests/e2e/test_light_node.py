"""A light node and the SDK against a real 4-validator network: headers certified by the
committee, queries checked against them, and full nodes that lie caught. The light node is
then the endpoint of the SDK's verifying client and of the CLI (reads checked by both, a
transfer forwarded, what no proof covers refused), passes over a liar for each method the
SDK needs, and a liar in front of it is caught by the client.

The network runs as 4 processes (`xinlian node start`), the light node as a fifth
(`xinlian node start --light`); the liars are proxies in front of an honest validator
(xinlian.testing.liar) that forge headers, values or certificates."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from xinlian.api.jsonrpc import Dispatcher
from xinlian.api.light import LightNode
from xinlian.api.light_api import LightApi
from xinlian.api.limits import Limits
from xinlian.cli.cluster import NodeProcess, free_ports, prepare
from xinlian.cli.main import main
from xinlian.crypto.signing import SigningKey
from xinlian.crypto.suites import get_suite
from xinlian.ledger.account import address_of
from xinlian.ledger.genesis import load_genesis
from xinlian.node.errors import NodeError
from xinlian.node.keyfile import read_key
from xinlian.sdk.aio import AsyncClient
from xinlian.sdk.calls import Call
from xinlian.sdk.client import Client
from xinlian.sdk.errors import NoContract, ProofError, TxRejected
from xinlian.sdk.verify import COMMITTEE
from xinlian.sdk.wallet import Wallet
from xinlian.storage.mst_proof import RangeQuery
from xinlian.testing.liar import MODES, LyingNode, liar_process

N = 4
CHAIN = "xinlian-cluster"


def _until(check: Any, within_s: float = 60.0) -> Any:
    """Busy-poll `check()` until it returns something truthy; fail at the deadline."""
    deadline = time.monotonic() + within_s
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
    return found


@pytest.mark.timeout(180)
def test_a_light_node_follows_and_catches_lying_full_nodes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = get_suite("intl")
    dirs = prepare(tmp_path, N, suite, 0, 0, accounts=2, ports=free_ports(N))
    nodes = [NodeProcess(d) for d in dirs]
    light: NodeProcess | None = None
    liars = contextlib.ExitStack()  # the lying node's process
    try:
        wallets = [Wallet(read_key(tmp_path / "keys" / f"account{j}.json")[1], CHAIN, suite)
                   for j in range(2)]
        first = wallets[0].transfer(wallets[1].address, 5)
        tx_hash = "0x" + first.hash.hex()
        # two rounds of blocks, so that the first transaction's block is an old one
        for batch in ([first], [wallets[0].transfer(wallets[1].address, 1) for _ in range(9)]):
            assert all(r["accepted"] for r in nodes[0].rpc(
                "xl_submitTransactions", ["0x" + t.raw.hex() for t in batch]))
            _until(lambda b=batch: nodes[0].rpc("xl_getReceipt", "0x" + b[-1].hash.hex()))
        tx_height = nodes[0].rpc("xl_getTransaction", tx_hash)["height"]
        _until(lambda: (nodes[0].rpc("xl_getCertifiedHeader") or {"header": {"height": 0}})
               ["header"]["height"] > tx_height)

        # The SDK checks a BFT chain against its committee, not the node's word.
        with Client(nodes[1].base_url) as client:
            assert client.verifier().basis == COMMITTEE
            anchor = client.certified()
            view = client.account(wallets[1].address)
            assert view.state.header == anchor.header or \
                view.state.header.height >= anchor.header.height
            assert client.transaction(first.hash) is not None  # proven via the MMR

        (tmp_path / "light").mkdir()
        # the light node asks a lying node first: it must notice and ask the next one
        liar_url = liars.enter_context(liar_process(nodes[3].url, "header"))
        peers = [liar_url, *(n.base_url for n in nodes)]
        metrics = f"http://127.0.0.1:{free_ports(1)[0]}"
        light = NodeProcess(tmp_path / "light", args=[
            "--light", "--genesis", str(tmp_path / "genesis.toml"),
            *(a for url in peers for a in ("--peer", url)), "--interval", "0.2",
            "--metrics-listen", metrics.removeprefix("http://")])
        status = light.rpc("xl_lightStatus")
        assert status["epoch"] == 0 and status["height"] is not None
        account = light.rpc("xl_getAccount", "0x" + wallets[1].address.hex())
        assert account["account"]["balance"] == \
            nodes[2].rpc("xl_getAccount", "0x" + wallets[1].address.hex(),
                          account["state"]["header"]["height"])["account"]["balance"]
        found = light.rpc("xl_getTransaction", tx_hash)
        assert found["hash"] == tx_hash and found["receipt"]["status"] == 0
        assert light.rpc("xl_getReceipt", tx_hash)["status"] == 0
        verified = light.rpc("xl_lightStatus")["verified"]
        assert verified["certified"] >= 1 and verified["proven"] >= 1
        assert light.rpc("xl_lightStatus")["liars"].get(liar_url, 0) >= 1
        _light_metrics(metrics, liar_url, light.rpc("xl_lightStatus")["height"])

        keys = [read_key(tmp_path / "keys" / f"account{j}.json")[1] for j in range(2)]
        _light_node_as_endpoint(light, nodes[1].base_url, keys, first.hash, tx_height, capsys)
        asyncio.run(_liars_are_caught(nodes[0].url, wallets[1].address, first.hash))
        asyncio.run(_a_light_node_passes_over_liars(
            tmp_path, nodes[3].url, nodes[2].base_url, first.hash, tx_height))
        asyncio.run(_a_lying_light_node_is_caught(light.url, wallets[1].address))
    finally:
        for node in [*nodes, light]:
            if node is not None:
                node.stop()
        liars.close()


def _light_metrics(url: str, liar_url: str, height: int) -> None:
    """The light node's metrics listener: what it verified and who lied, and its probes."""
    with urllib.request.urlopen(url + "/metrics", timeout=30) as resp:
        text = resp.read().decode()
    got = {(s.name, tuple(sorted(s.labels.items()))): s.value
           for family in text_string_to_metric_families(text) for s in family.samples}
    assert got[("xinlian_node_info", (("chain_id", CHAIN), ("role", "light"),
                                      ("suite", "intl")))] == 1
    assert got[("xinlian_height", ())] >= height
    assert got[("xinlian_light_peer_liars_total", (("peer", liar_url),))] >= 1
    assert got[("xinlian_light_verified_total", (("kind", "certified"),))] >= 1
    assert got[("xinlian_light_syncs_total", (("result", "ok"),))] >= 1
    assert got[("xinlian_peers", ())] == N + 1
    for probe in ("/health", "/ready"):
        with urllib.request.urlopen(url + probe, timeout=30) as resp:
            assert resp.status == 200


async def _liars_are_caught(upstream: str, address: bytes, tx_hash: bytes) -> None:
    for mode in MODES:
        if mode == "data":
            continue  # data answers: tests/e2e/test_light_data.py
        liar = LyingNode(upstream, mode)
        await liar.start()
        try:
            async with AsyncClient(liar.url) as client:
                with pytest.raises(ProofError):
                    await client.account(address)
                if mode == "header":
                    with pytest.raises(ProofError):
                        await client.transaction(tx_hash)
            assert liar.lies > 0
        finally:
            await liar.stop()


def _light_node_as_endpoint(light: NodeProcess, full_url: str, keys: list[SigningKey],
                            tx_hash: bytes, tx_height: int,
                            capsys: pytest.CaptureFixture[str]) -> None:
    """The SDK's verifying client and the CLI with the light node as their endpoint: every
    answer checked against the committee, as against a full node."""
    to = address_of(keys[1].public_key, get_suite("intl").hash_bytes)
    with Client(light.base_url) as client, Client(full_url) as full:
        assert client.verifier().basis == COMMITTEE
        anchor = client.certified()
        found = client.transaction(tx_hash)  # an old block: proven via the header MMR
        assert found is not None and found.height == tx_height < anchor.header.height
        block = client.block(tx_height, full=True)
        assert block is not None and tx_hash in block.tx_hashes
        before = client.account(to).account.balance
        wallet = client.wallet(keys[0])  # its nonce proven through the light node
        sent = wallet.transfer(to, 7)
        receipt = client.send(sent)  # forwarded, then polled verified
        assert receipt.status == 0
        with pytest.raises(TxRejected) as rejected:  # the full node's refusal, passed on
            client.submit(sent)
        assert rejected.value.remote_code // 1000 == 4 and rejected.value.tx_hash == sent.hash
        assert client.account(to).account.balance == before + 7
        assert client.state_proof(b"no such key").value is None
        assert client.index_query(RangeQuery(b"", None, False, 10)) is not None  # proven
        with pytest.raises(NoContract):  # proven absent, through the light node's proofs
            client.contract_info(bytes(20))
        assert client.pq_status().phase == full.pq_status().phase
    assert light.rpc("xl_getContract", "0x" + bytes(20).hex()) is None
    assert light.rpc("xl_getContractVersions", "0x" + bytes(20).hex()) == []
    assert main(["query", "account", "0x" + to.hex(), "--rpc", light.base_url]) == 0
    assert json.loads(capsys.readouterr().out)["account"]["balance"] == before + 7
    assert main(["query", "tx", "0x" + tx_hash.hex(), "--rpc", light.base_url]) == 0
    assert json.loads(capsys.readouterr().out)["height"] == tx_height
    with pytest.raises(NodeError) as refused:  # no proof covers it: refused, and why
        light.rpc("xl_getTransactionsBySender", "0x" + to.hex())
    assert "not_served_by_light_node" in str(refused.value)


async def _a_light_node_passes_over_liars(tmp_path: Path, lied_to: str, honest: str,
                                          tx_hash: bytes, tx_height: int) -> None:
    """A light node (in this process) whose first peer lies answers each method the SDK
    needs as the honest node does, and counts the liar."""
    genesis = load_genesis(tmp_path / "genesis.toml")
    liar = LyingNode(lied_to, "header")
    await liar.start()
    anchor = (await _call(honest, "xl_getCertifiedHeader", []))["header"]["height"]
    try:
        for i, (method, params) in enumerate([
                ("xl_getCertifiedHeader", [tx_height + 1]),
                ("xl_getHeaderProof", [tx_height, anchor]),
                ("xl_getBlockByHeight", [tx_height, True]),
                ("xl_getTransactionStatus", ["0x" + tx_hash.hex()])]):
            light = LightNode(tmp_path / f"liar{i}", genesis, [liar.url, honest])
            try:
                dispatcher = Dispatcher(LightApi(light, Limits()).table(), Limits())
                reply = await dispatcher.handle(json.dumps(
                    {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode(),
                    None)
                assert reply is not None
                answer = json.loads(reply)["result"]
                assert _unsigned(answer) == _unsigned(await _call(honest, method, params))
                assert light.liars[liar.url] >= 1, method
            finally:
                await light.close()
    finally:
        await liar.stop()


async def _a_lying_light_node_is_caught(light_rpc: str, address: bytes) -> None:
    """The client checks the light node's answers too: one forged on the way is caught."""
    liar = LyingNode(light_rpc, "header")
    await liar.start()
    try:
        async with AsyncClient(liar.url) as client:
            with pytest.raises(ProofError):
                await client.account(address)
        assert liar.lies > 0
    finally:
        await liar.stop()


async def _call(base_url: str, method: str, params: list[Any]) -> Any:
    async with AsyncClient(base_url) as client:
        return await client.call(Call(method, params, lambda result: result))


def _unsigned(value: Any) -> Any:
    """An answer without the headers' signatures (each node attests what it serves)."""
    if isinstance(value, dict):
        return {k: _unsigned(v) for k, v in value.items() if k != "header_signature"}
    if isinstance(value, list):
        return [_unsigned(v) for v in value]
    return value
