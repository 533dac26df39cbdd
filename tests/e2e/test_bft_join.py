"""Dynamic membership with real processes: a validator joins from a state snapshot, one leaves.

Four validators commit transfers; governance (approved by 3 of the 4 organisations) adds a
fifth, whose process then catches up from its peers' snapshot — not by replaying the chain
from genesis — and commits with them. Governance then removes a genesis validator: the rest
keep committing and the removed node no longer receives the chain. A light node that knows
only the genesis follows all along: it learns each new committee from the previous one's
proof and checks a state proof of the final validator set against a certified header.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from xinlian import codec
from xinlian.cli.cluster import NodeProcess, free_ports, prepare
from xinlian.cli.main import main as cli
from xinlian.crypto.suites import get_suite
from xinlian.execution.system import VALIDATORS_KEY
from xinlian.ledger.genesis import Validator
from xinlian.node.keyfile import read_key
from xinlian.sdk.wallet import Wallet

CHAIN = "xinlian-cluster"


def _agree(nodes: list[NodeProcess], txs: int, within_s: float = 60.0) -> dict[str, Any]:
    """Busy-poll until the first node has committed `txs` transactions in all and every node
    agrees with it on the head (height, hash, state root); fail with what they report."""
    deadline = time.monotonic() + within_s
    while True:
        statuses = [n.rpc("xl_status") for n in nodes]
        if statuses[0]["committed_txs"] >= txs and \
                len({(s["height"], s["head_hash"], s["state_root"]) for s in statuses}) == 1:
            return statuses[0]
        assert time.monotonic() < deadline, [
            (s["height"], s["committed_txs"], s["mempool_size"], s["head_hash"][:12])
            for s in statuses]


def _poll(check: Any, within_s: float = 60.0) -> Any:
    """Busy-poll `check()` until it returns something; fail at the deadline."""
    deadline = time.monotonic() + within_s
    while (found := check()) is None:
        assert time.monotonic() < deadline, "timed out"
    return found


def _validator_keys(node: NodeProcess) -> list[bytes]:
    proof = node.rpc("xl_getStateProof", "0x" + VALIDATORS_KEY.hex())
    members = codec.decode(bytes.fromhex(proof["value"][2:]), list[Validator])
    return [v.node_key.data for v in members]


def xl(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    """Run an `xinlian` command in this process; its last output line, as JSON."""
    assert cli(list(argv)) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.timeout(240)
@pytest.mark.parametrize("suite_name", [  # intl's run is a slow campaign (suite time)
    pytest.param("intl", marks=pytest.mark.slow), "sm"])
def test_a_validator_joins_from_a_snapshot_and_another_leaves(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], suite_name: str) -> None:
    suite = get_suite(suite_name)
    ports = free_ports(5)  # the fifth for the joiner; RPC ports are any free ones
    dirs = prepare(tmp_path, 4, suite, 0, 0, accounts=4, ports=ports[:4])
    keys = tmp_path / "keys"
    # the fifth validator's operator prepares its keys and data directory up front
    joiner_dir = tmp_path / "node4"
    xl(capsys, "keygen", "--suite", suite_name, "--out", str(keys / "node4.json"))
    xl(capsys, "init", "--config", str(tmp_path / "genesis.toml"), "--data", str(joiner_dir),
       "--node-key", str(keys / "node4.json"), "--rpc-port", "0",
       "--listen", f"127.0.0.1:{ports[4]}")
    fifth = xl(capsys, "validator", "keys", "--data", str(joiner_dir))
    assert fifth["endpoint"] == f"127.0.0.1:{ports[4]}"

    def wallet(name: str) -> Wallet:
        return Wallet(read_key(keys / f"{name}.json")[1], CHAIN, suite)

    accounts = [wallet(f"account{j}") for j in range(4)]

    def send(node: NodeProcess, rounds: int) -> None:
        txs = ["0x" + w.transfer(accounts[(i + 1) % 4].address, 1).raw.hex()
               for _ in range(rounds) for i, w in enumerate(accounts)]
        assert all(r["accepted"] for r in node.rpc("xl_submitTransactions", txs))

    def govern(node: NodeProcess, change: list[str], approvers: list[int]) -> str:
        """Propose by org0's admin; approvals by `approvers` (3 of 4 organisations > 2/3);
        the name of the event that enacted the change."""
        def admin(i: int) -> list[str]:
            return ["--key", str(keys / f"admin{i}.json"), "--rpc", node.base_url]
        proposal = xl(capsys, "validator", *change, *admin(0))["transaction"]
        for i in approvers:
            receipt = xl(capsys, "validator", "approve", "--proposal", proposal,
                         *admin(i))["receipt"]
        return str(receipt["events"][-1]["name"])

    nodes = [NodeProcess(d) for d in dirs]
    joiner: NodeProcess | None = None
    (tmp_path / "light").mkdir()
    light = NodeProcess(tmp_path / "light", args=[
        "--light", "--genesis", str(tmp_path / "genesis.toml"),
        *(a for n in nodes for a in ("--peer", n.base_url)), "--interval", "0.2"])
    try:
        first = nodes[0]
        send(first, 10)
        _agree(nodes, 40)
        assert govern(first, ["add", "--organisation", "org0", "--node-key", fifth["node_key"],
                              "--consensus-key", fifth["consensus_key"], "--pop", fifth["pop"],
                              "--endpoint", fifth["endpoint"]], [1, 2]) == "ValidatorAdded"
        assert bytes.fromhex(fifth["node_key"][2:]) in _validator_keys(first)
        send(first, 5)
        before = _agree(nodes, 63)

        # The fifth process catches up from a snapshot; NodeProcess returns once it serves.
        joiner = NodeProcess(joiner_dir)
        status = joiner.rpc("xl_status")
        assert status["height"] > 1
        # it did not replay from genesis: it holds no block between genesis and the
        # snapshot, and executed none of the transactions committed before it
        assert joiner.rpc("xl_getBlockByHeight", 1) is None
        assert status["committed_txs"] < before["committed_txs"]
        # it commits with the others (transactions submitted to it, too)
        send(joiner, 5)
        send(first, 5)
        five = [*nodes, joiner]
        _agree(five, 103)
        address = "0x" + accounts[0].address.hex()
        assert joiner.rpc("xl_getAccount", address)["account"] == \
            first.rpc("xl_getAccount", address)["account"]

        # Governance removes validator 1; the other four keep committing without it.
        removed = read_key(keys / "node1.json")[1].public_key.data
        assert govern(first, ["remove", "--node-key", "0x" + removed.hex()],
                      [2, 3]) == "ValidatorRemoved"
        assert removed not in _validator_keys(first)
        rest = [nodes[0], nodes[2], nodes[3], joiner]
        send(joiner, 5)
        _agree(rest, 126)
        send(first, 5)
        final = _agree(rest, 146)
        assert nodes[1].rpc("xl_status")["height"] < final["height"]

        # The joined node restarts from its own store (no second snapshot) and catches up.
        joiner.stop()
        joiner = NodeProcess(joiner_dir)
        send(first, 5)
        _agree([nodes[0], nodes[2], nodes[3], joiner], 166)
        log = (joiner_dir / "node.log").read_text(encoding="utf-8")
        assert log.count('"event": "caught_up"') == 1

        # The light node followed both changes (epoch 0 -> 1 -> 2), one checkpoint each,
        # and proves today's validator set against a header the current committee certified.
        def followed() -> dict[str, Any] | None:
            status: dict[str, Any] = light.rpc("xl_lightStatus")
            return status if status["epoch"] >= 2 and status["height"] >= final["height"] \
                else None
        status = _poll(followed)
        assert status["checkpoints"][:2] == [0, 1] and status["liars"] == {}
        proof = light.rpc("xl_getStateProof", "0x" + VALIDATORS_KEY.hex())
        assert proof["header"]["height"] >= final["height"]
        members = codec.decode(bytes.fromhex(proof["value"][2:]), list[Validator])
        assert [v.node_key.data for v in members] == _validator_keys(first)
        assert removed not in [v.node_key.data for v in members]
    finally:
        light.stop()
        for node in [*nodes, joiner]:
            if node is not None:
                node.stop()
