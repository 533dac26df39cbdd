"""A validator that joins by state sync after data was written carries every record's
history and the block filters, with real processes.

Four validators take data writes (records written, rewritten and deleted over several
blocks); governance adds a fifth, which catches up from its peers' snapshot. At the same
height it then answers `xl_dataHistory` and `xl_dataBlocks` with the same proofs as a
node that executed the whole chain (the headers' signatures aside: each node attests the
headers it serves), the SDK verifies its answers, and it keeps applying data writes with
the others (its imported histories and filters are the ones the state commits to).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from xinlian.cli.cluster import NodeProcess, free_ports, prepare
from xinlian.crypto.suites import get_suite
from xinlian.execution.data.changes import collection_term, record_term
from xinlian.execution.data.model import collection_id
from xinlian.node.keyfile import read_key
from xinlian.sdk import Client
from xinlian.sdk.errors import NotCertifiedYet
from xinlian.storage.proof import Hasher

from .test_bft_join import _agree, _poll, xl

T = TypeVar("T")
RECORDS = [f"m{i}" for i in range(6)]


def _unsigned(value: Any) -> Any:
    """An answer without the headers' signatures (each node attests what it serves)."""
    if isinstance(value, dict):
        return {k: _unsigned(v) for k, v in value.items() if k != "header_signature"}
    return value


def compare(source: NodeProcess, joiner: NodeProcess, hasher: Hasher) -> int:
    """Both nodes' history and block window answers at the lower of their heads are the
    same; that height."""
    height = min(source.rpc("xl_status")["height"], joiner.rpc("xl_status")["height"])
    cid = collection_id(hasher, "meters")
    for rid in RECORDS:
        for first, limit, as_of in ((0, 100, None), (2, 2, None), (0, 100, height - 3)):
            args = ["meters", "0x" + rid.encode().hex(), first, limit, as_of, height]
            answer = source.rpc("xl_dataHistory", *args)
            assert _unsigned(joiner.rpc("xl_dataHistory", *args)) == _unsigned(answer)
    terms = [collection_term(cid), *(record_term(cid + r.encode()) for r in RECORDS)]
    window = [["0x" + t.hex() for t in terms], 0, height + 1, "any", 1000, height]
    answer = source.rpc("xl_dataBlocks", *window)
    assert _unsigned(joiner.rpc("xl_dataBlocks", *window)) == _unsigned(answer)
    return height


def certified(read: Callable[[], T]) -> T:
    """`read()` once the head it reads at is certified (its certificate trails the block)."""
    def attempt() -> T | None:
        try:
            return read()
        except NotCertifiedYet:
            return None
    found: T = _poll(attempt)
    return found


@pytest.mark.slow  # suite time: tests/node/test_statesync.py covers the phases in make test
@pytest.mark.timeout(300)
def test_a_joined_validator_answers_histories_and_block_windows_as_the_others(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = get_suite("intl")
    ports = free_ports(5)
    dirs = prepare(tmp_path, 4, suite, 0, 0, accounts=1, ports=ports[:4])
    keys = tmp_path / "keys"
    joiner_dir = tmp_path / "node4"
    xl(capsys, "keygen", "--suite", "intl", "--out", str(keys / "node4.json"))
    xl(capsys, "init", "--config", str(tmp_path / "genesis.toml"), "--data", str(joiner_dir),
       "--node-key", str(keys / "node4.json"), "--rpc-port", "0",
       "--listen", f"127.0.0.1:{ports[4]}")
    fifth = xl(capsys, "validator", "keys", "--data", str(joiner_dir))
    account = read_key(keys / "account0.json")[1]
    nodes = [NodeProcess(d) for d in dirs]
    joiner: NodeProcess | None = None
    try:
        first = nodes[0]
        with Client(first.base_url) as client:
            meters = client.data("meters", wallet=client.wallet(account))
            meters.declare({"kwh": "number", "note": "text"})
            for round_ in range(4):  # each record rewritten, some deleted, over 8 blocks
                meters.put({rid: {"kwh": 10 * round_ + i, "note": f"round {round_}"}
                            for i, rid in enumerate(RECORDS)})
                meters.delete([RECORDS[round_]])

        def admin(i: int) -> list[str]:
            return ["--key", str(keys / f"admin{i}.json"), "--rpc", first.base_url]
        proposal = xl(capsys, "validator", "add", "--organisation", "org0",
                      "--node-key", fifth["node_key"], "--consensus-key",
                      fifth["consensus_key"], "--pop", fifth["pop"], "--endpoint",
                      fifth["endpoint"], *admin(0))["transaction"]
        for i in (1, 2):
            xl(capsys, "validator", "approve", "--proposal", proposal, *admin(i))
        _agree(nodes, 0)

        joiner = NodeProcess(joiner_dir)  # catches up from a snapshot, then serves
        assert joiner.rpc("xl_getBlockByHeight", 1) is None  # it did not replay the chain
        synced_at = compare(first, joiner, suite.hash_bytes)

        # it goes on applying data writes with the others, and still answers as they do
        with Client(first.base_url) as client:
            again: dict[str, dict[str, Any]] = {"m1": {"kwh": 99}, "m5": {"note": "again"}}
            client.data("meters", wallet=client.wallet(account)).put(again)
        _agree([*nodes, joiner], 0)
        compare(first, joiner, suite.hash_bytes)
        with Client(joiner.base_url) as client:  # its answers verify in the SDK
            meters = client.data("meters")
            history = certified(lambda: meters.history("m1"))
            assert [v.deleted for v in history.versions] == [
                False, False, True, False, False, False]
            written = history.versions[-1].height
            assert written > synced_at
            assert certified(lambda: meters.as_of("m0", synced_at, height=written)) is not None
            window = certified(lambda: meters.blocks(0, written + 1, rid="m5", height=written))
            assert written in window.blocks
    finally:
        for node in [*nodes, joiner]:
            if node is not None:
                node.stop()
