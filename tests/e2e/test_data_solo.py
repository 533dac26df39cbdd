"""Data collections on a real solo node process, through the SDK: records written by
transactions are read and queried with verified proofs; malformed and oversize queries get
typed errors while the node keeps serving; after a restart the same pages verify against
the same committed roots (the range and keyword indexes are persisted with the blocks), and
new writes extend them; aggregates over a range are proven too, and so is a query of
words AND a range AND NOT a value over three attributes; a record's history
(provenance) verifies the same after the restart and grows with new writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from xinlian.cli.cluster import NodeProcess
from xinlian.execution.data.select import Condition
from xinlian.sdk import Client, RpcError
from xinlian.sdk.calls import Call

from .cluster import Chain, init_data_dir


def test_data_on_a_solo_node_survives_a_restart(tmp_path: Path) -> None:
    chain = Chain.make("sm", 2)
    data_dir = init_data_dir(chain, tmp_path, 10**9, block_interval_ms=20)
    node = NodeProcess(data_dir)
    try:
        with Client(node.base_url) as client:
            owner = client.data("shipments", wallet=client.wallet(chain.keys[0]))
            owner.declare({"weight": "number", "sent": "time", "port": ("text", "range"),
                           "note": "text"})
            owner.put({f"s{i}": {"weight": 100 - i, "sent": 1_000 * i, "port": f"P{i % 4}",
                                 "note": f"{('fragile', 'cold')[i % 2]} cargo {i}"}
                       for i in range(40)})
            cold = owner.search("note", "cold cargo", limit=100)
            assert [r.id for r in cold.records] == sorted(
                f"s{i}".encode() for i in range(1, 40, 2))
            heavy = [r.id for r in owner.query_all("weight", 90, None, limit=3)]
            assert heavy == [f"s{i}".encode() for i in range(10, -1, -1)]
            ports = owner.query("port", "P2", "P2", limit=100)
            assert sorted(r.id for r in ports.records) == sorted(
                f"s{i}".encode() for i in range(2, 40, 4))
            where = [Condition("note", words=("cold",)), Condition("weight", 70, 90),
                     Condition("port", "P3", "P3", negate=True)]
            chosen = owner.select(where, limit=2, scan=4)  # words AND a range AND NOT
            rest = list(owner.select_all(where, drive=0))
            assert {r.id for r in rest} == {f"s{i}".encode() for i in (13, 17, 21, 25, 29)}
            before = owner.query("sent", 5_000, 9_000)
            total = owner.aggregate("weight", 70, 95)  # s5..s30, proven by the index
            assert (total.count, total.sum, total.min, total.max) == (
                26, sum(range(70, 96)), 70, 95)
            refused = []
            for params in (["shipments", "weight", None, None, "asc", 100_000],
                           ["shipments", "weight", "heavy"], ["shipments", 7],
                           ["shipments", "weight", None, None, "sideways"],
                           ["shipments", "weight", None, None, "asc", 5, "0xzz"],
                           ["shipments", "weight", None, None, "asc", 5, "0x01"],
                           ["shipments", "colour"], ["nothing", "weight"]):
                with pytest.raises(RpcError) as error:
                    client.call(Call("xl_dataQuery", params, lambda result: result))
                refused.append(error.value.remote_name)
            assert refused == ["invalid_params", "wrong_kind", "invalid_params",
                               "invalid_params", "invalid_params", "bad_data_query",
                               "unknown_attribute", "unknown_collection"]
            assert owner.query("weight", 99, 99).records[0].id == b"s1"  # still serving
            same = {"weight": 99, "sent": 1_000, "port": "P1"}
            rewrite = owner.put({"s1": same})
            history = owner.history("s1")
            assert [v.tx_hash for v in history.versions][1:] == [rewrite.tx_hash]
        node.stop()
        node = NodeProcess(data_dir)
        with Client(node.base_url) as client:
            owner = client.data("shipments", wallet=client.wallet(chain.keys[0]))
            again = owner.query("sent", 5_000, 9_000, height=before.height)
            assert again == before
            assert owner.search("note", "cold cargo", limit=100, height=cold.height) == cold
            assert owner.select(where, limit=2, scan=4, height=chosen.height) == chosen
            owner.put({"s99": {"weight": 1000, "sent": 7_500, "note": "cold"}})
            assert owner.search("note", "cold", exclude="cargo").records[0].id == b"s99"
            assert [r.id for r in owner.query("sent", 5_000, 9_000).records] == [
                b"s5", b"s6", b"s7", b"s99", b"s8", b"s9"]
            assert owner.get("s99") is not None
            assert owner.history("s1", height=history.height) == history  # persisted
            again_put = owner.put({"s1": same})
            grown = owner.history("s1")
            assert grown.size == 3 and grown.versions[:2] == history.versions
            assert grown.versions[2].tx_hash == again_put.tx_hash
            assert owner.as_of("s1", history.height) == history.versions[-1]
            assert grown.versions[2].height in owner.blocks(0, grown.height + 1,
                                                            rid="s1").blocks
            assert owner.aggregate("sent", 5_000, 9_000).sum == 35_000 + 7_500
    finally:
        node.stop()
