"""A light node answers data queries with real processes: it asks full nodes and checks their
answers against its certified headers, keeping none of the data.

Four validators hold a collection with records written, rewritten and deleted, and a blob,
and an adaptive collection. A light node whose first peer is a lying full node
(xinlian.testing.liar, mode "data") answers `xl_getCollection`, `xl_dataGet`,
`xl_dataQuery` (by range, and by keywords: all, any, excluded words, paged),
`xl_dataSelect` (words AND a range AND NOT words, by either driver), `xl_dataAggregate`,
`xl_dataHistory`, `xl_dataBlocks`, `xl_dataPlan` and the blob's chunks one by one exactly
as an honest full node does (a plan's `local` counts named as the full node's word), and
counts the liar; a light node that can ask only the liar answers each of them with a typed
error and passes on nothing.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from xinlian import codec
from xinlian.cli.cluster import NodeProcess, free_ports, prepare
from xinlian.cli.main import main
from xinlian.crypto.suites import get_suite
from xinlian.execution.data.blob_access import GET, BlobAuth, auth_message
from xinlian.execution.data.changes import collection_term
from xinlian.execution.data.model import collection_id
from xinlian.ledger.genesis import load_genesis
from xinlian.node.errors import NodeError
from xinlian.node.keyfile import read_key
from xinlian.sdk import Client, RpcError
from xinlian.testing.liar import liar_process

from .test_light_node import _unsigned, _until

CS = 64 * 1024
NOTES = ("ok", "fault")
PROOF_ERRORS = ("answer_tampered", "answer_incomplete", "answer_reordered", "proof_failed",
                "corrupt_blob_chunk")


def _named(url: str, method: str, params: dict[str, Any]) -> Any:
    """A call with its params by name."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    request = urllib.request.Request(url, body.encode(), {"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as reply:
        return json.loads(reply.read())["result"]


@pytest.mark.timeout(240)
def test_a_light_node_answers_data_queries_verified_and_refuses_a_liar(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = get_suite("intl")
    dirs = prepare(tmp_path, 4, suite, 0, 0, accounts=1, ports=free_ports(4))
    genesis = load_genesis(tmp_path / "genesis.toml")
    key = read_key(tmp_path / "keys" / "account0.json")[1]
    nodes = [NodeProcess(d) for d in dirs]
    lights: list[NodeProcess] = []
    payload = random.Random(11).randbytes(3 * CS - 100)  # seeded: the same every run

    def stop_all() -> None:
        for node in [*nodes, *lights]:
            node.stop()

    with contextlib.ExitStack() as stack:
        stack.callback(stop_all)
        with Client(nodes[0].base_url) as client:
            wallet = client.wallet(key)
            meters = client.data("meters", wallet=wallet)
            meters.declare({"kwh": "number", "note": "text", "scan": "blob"},
                           readers=[wallet.address])
            for round_ in range(3):
                meters.put({f"r{i}": {"kwh": 10 * round_ + i,
                                      "note": f"round {round_} meter {NOTES[i % 2]}"}
                            for i in range(4)})
            tickets = client.data("tickets", wallet=wallet)
            tickets.declare({"title": "text", "opened": "number"}, adapt_every=2)
            tickets.put({"t1": {"title": "display dark", "opened": 1}})
            meters.delete(["r3"])
            commitment = meters.put_blob("r1", "scan", payload, "image/png", chunk_size=CS)
            written = meters.history("r1", verify=False).versions[-1].height

        # the blob is in node 0's store only (blob stores are per node): the liar fronts it
        liar_url = stack.enter_context(liar_process(nodes[0].url, "data"))
        for name, peers in (("light", [liar_url, nodes[1].base_url, nodes[0].base_url]),
                            ("fooled", [liar_url])):
            (tmp_path / name).mkdir()
            lights.append(NodeProcess(tmp_path / name, args=[
                "--light", "--genesis", str(tmp_path / "genesis.toml"),
                *(a for url in peers for a in ("--peer", url)), "--interval", "0.2"]))
        light, fooled = lights
        height = _until(lambda: min(
            (n.rpc("xl_lightStatus")["height"] or 0) for n in lights) >= written
            and light.rpc("xl_lightStatus")["height"])
        assert fooled.rpc("xl_lightStatus")["height"] >= written  # headers: honest

        cid = collection_id(suite.hash_bytes, "meters")
        rid = "0x" + b"r1".hex()
        def words(keywords: list[str], match: str = "all", exclude: list[str] | None = None,
                  limit: int = 100, cursor: str | None = None) -> list[Any]:
            return ["meters", "note", None, None, "asc", limit, cursor, height, keywords,
                    match, exclude]

        select = [{"attribute": "note", "words": ["meter"]},  # words AND range AND NOT
                  {"attribute": "kwh", "lo": 10, "hi": 25},
                  {"attribute": "note", "words": ["fault"], "not": True}]
        first_page = nodes[2].rpc("xl_dataQuery", *words(["meter"], limit=2))
        assert first_page["ids"] == ["0x" + b"r0".hex(), "0x" + b"r1".hex()]
        # keyword queries first: the light node asks the liar before any other peer
        queries: list[tuple[str, list[Any]]] = [
            ("xl_dataQuery", words(["meter", "fault"])),                    # and
            ("xl_dataQuery", words(["fault", "ok"], "any")),                # or
            ("xl_dataQuery", words(["meter"], exclude=["fault"])),          # and not
            ("xl_dataQuery", words(["meter"], limit=2)),                    # paged
            ("xl_dataQuery", words(["meter"], limit=2, cursor=first_page["cursor"])),
            ("xl_dataSelect", ["meters", select, None, "asc", 100, 1000, None, height]),
            ("xl_dataSelect", ["meters", select, 1, "asc", 1, 1000, None, height]),
            ("xl_getCollection", ["meters", height]),
            ("xl_dataGet", ["meters", rid, height]),
            ("xl_dataQuery", ["meters", "kwh", 0, 1000, "asc", 100, None, height]),
            ("xl_dataQuery", ["meters", "kwh", 20, 25, "desc", 2, None, height]),
            ("xl_dataAggregate", ["meters", "kwh", 0, 1000, height]),
            ("xl_dataAggregate", ["meters", "kwh", 500, 100, height]),  # nothing can match
            ("xl_dataHistory", ["meters", rid, 0, 100, None, height]),
            ("xl_dataHistory", ["meters", "0x" + b"r3".hex(), 0, 100, written - 1, height]),
            ("xl_dataBlocks", [["0x" + collection_term(cid).hex()], 0, height + 1, "any",
                               1000, height]),
            ("xl_dataPlan", ["meters", height]),  # a collection that does not adapt
            ("xl_dataPlan", ["tickets", height]),
        ]
        for method, params in queries:
            honest = nodes[2].rpc(method, *params)
            answer = light.rpc(method, *params)
            if method == "xl_dataPlan":  # each node counts the queries it served
                assert answer.pop("local_from") in (nodes[1].base_url, nodes[0].base_url)
                assert honest.pop("local_from") is None
                answer.pop("local"), honest.pop("local")
            assert _unsigned(answer) == _unsigned(honest), (method, params)
        assert [a["name"] for a in answer["attributes"]] == ["title", "opened"]
        chosen = light.rpc("xl_dataSelect", "meters", select, 0, "asc", 100, 1000, None,
                           height)["keyword"]
        assert chosen["ids"] == ["0x" + b"r0".hex(), "0x" + b"r1".hex(), "0x" + b"r2".hex()]
        assert len(chosen["records"]) == 3  # r1 is a candidate, its record shows the fault
        by_name = _named(light.url, "xl_dataQuery", {  # as docs/operations.md shows it
            "collection": "meters", "attribute": "note", "keywords": ["meter"],
            "exclude": ["fault"], "height": height})
        assert by_name["ids"] == ["0x" + b"r0".hex(), "0x" + b"r2".hex()]
        status = light.rpc("xl_lightStatus")
        assert status["liars"].get(liar_url, 0) >= 1
        assert not (tmp_path / "light" / "blobs").exists()  # it keeps no data

        # a keyword query the verified collection does not allow, or mixed with a range
        for params, name in ((["meters", "kwh", *words(["meter"])[2:]], "bad_data_query"),
                             (["meters", "note", 0, *words(["meter"])[3:]],
                              "invalid_params")):
            with pytest.raises(NodeError) as refused:
                light.rpc("xl_dataQuery", *params)
            assert name in str(refused.value), str(refused.value)

        # the blob streams through the light node a verified chunk at a time
        expiry = int(time.time() * 1000) + 60_000
        message = auth_message(genesis.hash(), GET, "meters", b"r1", "scan",
                               commitment.root, expiry, 7)
        auth = "0x" + codec.encode(BlobAuth(key.public_key, expiry, 7,
                                            key.sign(message))).hex()
        chunks = [light.rpc("xl_blobGetChunk", "meters", rid, "scan", i, auth)
                  for i in range(3)]
        assert b"".join(bytes.fromhex(c["data"][2:]) for c in chunks) == payload

        # the CLI and the SDK with the light node as their endpoint: reads checked twice,
        # a write forwarded, a blob upload refused (it goes to a full node's store)
        for args in (["get", "meters", "r1"], ["query", "meters", "kwh", "--from", "0",
                                                 "--to", "1000"]):
            answers = []
            for url in (light.base_url, nodes[2].base_url):
                assert main(["data", *args, "--height", str(height), "--json",
                             "--rpc", url]) == 0
                answers.append(json.loads(capsys.readouterr().out))
            assert answers[0] == answers[1], args
        key_file = str(tmp_path / "keys" / "account0.json")
        assert main(["data", "put", "meters", "r9", "kwh=77", "--key", key_file,
                     "--rpc", light.base_url]) == 0
        capsys.readouterr()
        with Client(light.base_url) as client:
            written_r9 = client.data("meters").get("r9")
            assert written_r9 is not None and written_r9.values["kwh"] == 77
            with pytest.raises(RpcError) as not_served:
                client.data("meters", wallet=client.wallet(key)).put_blob(
                    "r9", "scan", b"x" * 100, "image/png")
            assert not_served.value.remote_name == "not_served_by_light_node"

        # a light node that can ask only the liar passes on none of its answers
        lies = [q for q in queries if q[0] != "xl_getCollection"]
        for method, params in [*lies, ("xl_blobGetChunk", ["meters", rid, "scan", 0, auth])]:
            with pytest.raises(NodeError) as refused:
                fooled.rpc(method, *params)
            assert any(name in str(refused.value) for name in PROOF_ERRORS), \
                (method, str(refused.value))
        assert fooled.rpc("xl_lightStatus")["liars"][liar_url] >= len(lies)
