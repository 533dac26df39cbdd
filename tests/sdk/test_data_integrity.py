"""A node whose index records are damaged on disk keeps running: the query that reads a
damaged record gets the typed corrupt_data error (3006) and nothing of it, while the node
goes on producing blocks and answering everything else (tests/storage/
test_index_integrity.py damages every sub-database of each index at the storage level).

One node writes a collection with a keyword attribute and a record rewritten (its
history) and stops; each index's records are then damaged on disk (the inverted index's
nodes, the per-key history's open records, the block filters), and the node, started again,
is asked through the SDK."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from xinlian.sdk import Client, RpcError
from xinlian.sdk.data import DataCollection
from xinlian.storage import mst, provenance
from xinlian.storage.bloom import FILTERS_DB
from xinlian.storage.errors import CorruptDataError
from xinlian.testing.disk import flip_records

from .conftest import harness

READS: dict[str, Callable[[DataCollection], Any]] = {  # damaged: the read refusing it
    mst.NODES_DB: lambda data: data.search("note", "red"),
    provenance.ITEMS_DB: lambda data: data.history("r1"),
    FILTERS_DB: lambda data: data.blocks(0, 10_000, rid="r1"),
}


def test_damaged_indexes_are_refused_and_the_node_runs_on(keys: Any, tmp_path: Path) -> None:
    path = tmp_path / "node"
    node = harness.Background(path, keys)  # type: ignore[attr-defined]
    try:  # each read answers before any damage
        with Client(node.server.url) as client:
            data = client.data("notes", wallet=client.wallet(keys.admin))
            data.declare({"note": "text", "n": "number"})
            data.put({f"r{i}": {"note": f"{('red', 'blue')[i % 2]} meter {i}", "n": i}
                      for i in range(20)})
            data.put({"r1": {"note": "red again", "n": 100}})
            assert len(data.search("note", "red").records) == 11
            assert len(data.history("r1").versions) == 2
            assert data.blocks(0, 10_000, rid="r1").blocks
    finally:
        node.close()
    for db in READS:
        assert flip_records(path / "chain", db) >= 1
    node = harness.Background(path, keys)  # type: ignore[attr-defined]
    try:
        with Client(node.server.url) as client:
            data = client.data("notes")
            for db, read in READS.items():
                with pytest.raises(RpcError) as refused:
                    read(data)
                assert refused.value.remote_code == CorruptDataError.code, db
                assert refused.value.remote_name == CorruptDataError.name
            record = data.get("r3")  # records still read, verified
            assert record is not None and record.values["n"] == 3
            _blocks_go_on(client, keys)
    finally:
        node.close()


def _blocks_go_on(client: Client, keys: Any) -> None:
    """The node still commits blocks: a transfer goes through, its receipt verified."""
    wallet = client.wallet(keys.alice)
    receipt = client.send(wallet.transfer(keys.address["bob"], 1))
    assert receipt.status == 0
    assert client.transaction(receipt.tx_hash) is not None
