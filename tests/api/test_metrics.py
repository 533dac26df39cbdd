"""Metrics of an in-process node (api/metrics.py) read from its own counters, and the
metrics listener (api/metrics_server.py): probes, and malformed requests refused while it
keeps serving. A real Prometheus server scrapes real node processes in
tests/e2e/test_prometheus.py."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from xinlian import codec
from xinlian.api.metrics import NodeMetrics
from xinlian.api.metrics_server import MetricsServer
from xinlian.execution.payloads import Deploy
from xinlian.ledger.transaction import TxKind
from xinlian.node.service import Node
from xinlian.storage.errors import CorruptDataError
from xinlian.testing.contracts import encode_args
from xinlian.testing.disk import flip_byte_everywhere

from .harness import Keys, hx, serving, transfer
from .test_contracts_rpc import TOKEN, commit, contract_tx
from .test_jsonrpc import Rpc


def samples(text: bytes | str) -> dict[str, float]:
    """`name{labels}` -> value of every sample of a scrape (the text format parsed)."""
    out = {}
    for family in text_string_to_metric_families(
            text.decode() if isinstance(text, bytes) else text):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            out[s.name + (f"{{{labels}}}" if labels else "")] = s.value
    return out


def test_metrics_read_the_nodes_own_counters(node: Node, keys: Keys, tmp_path: Path) -> None:
    metrics = NodeMetrics(node, tmp_path / "node")
    try:
        rpc = Rpc(node)
        deployed = commit(rpc, node, contract_tx(keys, 0, TxKind.DEPLOY, Deploy(
            TOKEN.wasm, TOKEN.abi_json().encode(), encode_args(TOKEN, "init", "Coin", 1000),
            100_000_000)))
        assert deployed["status"] == 0
        moved = commit(rpc, node, transfer(keys))
        fuel = int(deployed["fuel_used"]) + int(moved["fuel_used"])
        assert fuel > 0
        [pending] = rpc.result("xl_submitTransactions", [hx(transfer(keys, nonce=1))])
        assert pending["accepted"]

        got = samples(metrics.render())
        assert got["xinlian_height"] == node.chain.height == 2
        assert got["xinlian_committed_transactions_total"] == node.chain.committed_txs == 2
        assert got["xinlian_fuel_used_total"] == fuel
        assert got["xinlian_mempool_transactions"] == 1
        assert got["xinlian_block_interval_seconds_count"] == 1  # two blocks, one interval
        assert got['xinlian_node_info{chain_id="test-chain",role="solo",suite="intl"}'] == 1
        assert got["xinlian_peers_connected"] == got["xinlian_peers"] == 0
        assert got['xinlian_store_bytes{store="chain"}'] > 0
        assert got["xinlian_data_dir_bytes"] >= got['xinlian_store_bytes{store="chain"}']
        used = got["xinlian_chain_used_bytes"]
        assert used == node.chain.store.used_bytes()
        assert 0 < used <= got['xinlian_store_bytes{store="chain"}']
        assert got["xinlian_pruned_below_height"] == 0  # an archive node
        assert got["xinlian_ready"] == 0  # the fixture's node never started its tasks
        assert got["process_resident_memory_bytes"] > 0
        assert not any(name.startswith("xinlian_consensus") for name in got)  # solo
        # CPU per stage: what ran here (the block of the deploy and the transfer's) was
        # timed, and consensus is a validator's only
        cpu = {stage: got[f'xinlian_stage_cpu_seconds_total{{stage="{stage}"}}']
               for stage in ("admission", "verification", "execution", "tree", "commit",
                             "consensus")}
        assert cpu == node.ledger.stages.seconds
        assert all(cpu[s] > 0 for s in ("admission", "verification", "execution", "tree",
                                        "commit"))
        assert cpu["consensus"] == 0
    finally:
        metrics.close()
    node.produce_block()  # no longer observed once closed
    assert samples(metrics.render())["xinlian_block_interval_seconds_count"] == 1


async def _raw(port: int, request: bytes) -> int:
    """Send raw bytes; the status code of the reply."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return int((await reader.readline()).split(b" ")[1])
    finally:
        writer.close()


def test_the_listener_serves_probes_and_refuses_malformed_requests(
        tmp_path: Path, keys: Keys) -> None:
    async def main() -> None:
        async with serving(tmp_path / "n", keys) as (node, rpc_server), \
                aiohttp.ClientSession() as http:
            metrics = NodeMetrics(node, tmp_path / "n", rpc_server)
            server = MetricsServer(metrics)
            await server.start()
            try:
                await _probe_and_abuse(http, server, node)
            finally:
                await server.stop()
                metrics.close()

    asyncio.run(main())


async def _probe_and_abuse(http: aiohttp.ClientSession, server: MetricsServer,
                           node: Node) -> None:
    async def get(path: str) -> tuple[int, str, str]:
        async with http.get(server.url + path) as resp:
            return resp.status, resp.headers["Content-Type"], await resp.text()

    status, kind, text = await get("/metrics")
    assert status == 200 and kind.startswith("text/plain; version=0.0.4")
    assert samples(text)["xinlian_ready"] == 1
    assert "xinlian_rpc_connections" in samples(text)
    status, _, body = await get("/health")
    assert status == 200 and '"healthy": true' in body
    status, _, body = await get("/ready")
    assert status == 200 and '"ready": true' in body

    async with http.post(server.url + "/metrics", data=b"x") as resp:
        assert resp.status == 405
    assert (await get("/nothing"))[0] == 404
    assert await _raw(server.port, b"\x16\x03\x01garbage\r\n\r\n") == 400  # TLS, say
    assert await _raw(server.port, b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20_000
                      + b"\r\n\r\n") in (400, 431)
    assert await _raw(server.port, b"GET /metrics HTTP/1.1\r\nContent-Length: -5\r\n\r\n") == 400

    status, _, text = await get("/metrics")  # still serving, and the node too
    assert status == 200 and samples(text)["xinlian_height"] == node.chain.height


def test_health_fails_when_the_store_does_not_read(tmp_path: Path, keys: Keys) -> None:
    """A flipped byte in the head block: /health answers 503 with the typed error, on the
    metrics listener and on the RPC listener, and the process keeps answering."""
    async def main() -> None:
        async with serving(tmp_path / "n", keys, produce=False) as (node, rpc_server), \
                aiohttp.ClientSession() as http:
            metrics = NodeMetrics(node, tmp_path / "n", rpc_server)
            server = MetricsServer(metrics)
            await server.start()
            try:
                head = node.block(node.chain.height)
                assert head is not None
                stored = codec.encode(head)
                assert flip_byte_everywhere(tmp_path / "n" / "chain" / "data.mdb", stored,
                                            len(stored) // 2) >= 1
                for url in (server.url, rpc_server.url):
                    async with http.get(url + "/health") as resp:
                        body: dict[str, Any] = await resp.json()
                    assert resp.status == 503 and body["healthy"] is False
                    assert body["error"]["code"] == CorruptDataError.code
                async with http.get(server.url + "/metrics") as resp:
                    assert resp.status == 200
            finally:
                await server.stop()
                metrics.close()

    asyncio.run(main())
