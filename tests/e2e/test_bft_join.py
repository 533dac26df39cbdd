"""Dynamic membership with real processes: a validator joins from a state snapshot, one leaves.

Four validators commit transfers; governance (approved by 3 of the 4 organisations) adds a
fifth, whose process then catches up from its peers' snapshot — not by replaying the chain
from genesis — and commits with them. Governance then removes a genesis validator: the rest
keep committing and the removed node no longer receives the chain.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from xinlian import codec
from xinlian.cli.cluster import prepare
from xinlian.cli.node_cmd import CONSENSUS_KEY_FILE, init_data_dir
from xinlian.cli.process import NodeProcess
from xinlian.crypto.bls import BlsKey
from xinlian.crypto.suites import get_suite
from xinlian.execution.payloads import AddValidator, Approve, Propose, RemoveValidator
from xinlian.execution.system import VALIDATORS_KEY
from xinlian.ledger.genesis import Validator
from xinlian.node.keyfile import read_key, write_consensus_key, write_key
from xinlian.sdk.wallet import SignedTx, Wallet

BASE = 17500
CHAIN = "xinlian-cluster"


def _agree(nodes: list[NodeProcess], txs: int) -> dict[str, Any]:
    """Busy-poll until the first node has committed `txs` transactions in all and every node
    agrees with it on the head (height, hash, state root)."""
    while True:
        statuses = [n.rpc("xl_status") for n in nodes]
        if statuses[0]["committed_txs"] >= txs and \
                len({(s["height"], s["head_hash"], s["state_root"]) for s in statuses}) == 1:
            return statuses[0]


def _committed(node: NodeProcess, tx: SignedTx) -> dict[str, Any]:
    while True:
        receipt = node.rpc("xl_getReceipt", "0x" + tx.hash.hex())
        if receipt is not None:
            return dict(receipt)


def _validator_keys(node: NodeProcess) -> list[bytes]:
    proof = node.rpc("xl_getStateProof", "0x" + VALIDATORS_KEY.hex())
    members = codec.decode(bytes.fromhex(proof["value"][2:]), list[Validator])
    return [v.node_key.data for v in members]


@pytest.mark.timeout(240)
def test_a_validator_joins_from_a_snapshot_and_another_leaves(tmp_path: Path) -> None:
    suite = get_suite("intl")
    dirs = prepare(tmp_path, 4, suite, BASE, BASE + 50, accounts=4)
    keys = tmp_path / "keys"
    # the fifth validator's keys and data directory, prepared up front by its operator
    node_key = suite.generate_signing_key()
    write_key(keys / "node4.json", suite, node_key)
    vote = BlsKey.generate()
    endpoint = f"127.0.0.1:{BASE + 4}"
    joiner_dir = tmp_path / "node4"
    init_data_dir(tmp_path / "genesis.toml", joiner_dir, keys / "node4.json", "127.0.0.1",
                  BASE + 54, listen=endpoint)
    write_consensus_key(joiner_dir / CONSENSUS_KEY_FILE, suite, vote.secret, vote.public,
                        vote.pop)

    def wallet(name: str) -> Wallet:
        return Wallet(read_key(keys / f"{name}.json")[1], CHAIN, suite)

    accounts = [wallet(f"account{j}") for j in range(4)]
    admins = [wallet(f"admin{i}") for i in range(4)]

    def send(node: NodeProcess, rounds: int) -> None:
        txs = ["0x" + w.transfer(accounts[(i + 1) % 4].address, 1).raw.hex()
               for _ in range(rounds) for i, w in enumerate(accounts)]
        assert all(r["accepted"] for r in node.rpc("xl_submitTransactions", txs))

    def govern(node: NodeProcess, change: AddValidator | RemoveValidator,
               approvers: list[int]) -> None:
        """Propose by org0's admin; approvals by `approvers` (3 of 4 organisations > 2/3)."""
        proposal = admins[0].system(Propose(change))
        node.rpc("xl_submitTransaction", "0x" + proposal.raw.hex())
        assert _committed(node, proposal)["status"] == 0
        for i in approvers:
            approval = admins[i].system(Approve(proposal.hash))
            node.rpc("xl_submitTransaction", "0x" + approval.raw.hex())
            assert _committed(node, approval)["status"] == 0

    nodes = [NodeProcess(d) for d in dirs]
    joiner: NodeProcess | None = None
    try:
        first = nodes[0]
        send(first, 10)
        _agree(nodes, 40)
        govern(first, AddValidator(Validator("org0", node_key.public_key, vote.public,
                                             vote.pop, 1, endpoint)), [1, 2])
        assert node_key.public_key.data in _validator_keys(first)
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
        removed = read_key(keys / "node1.json")[1].public_key
        govern(first, RemoveValidator(removed), [2, 3])
        assert removed.data not in _validator_keys(first)
        rest = [nodes[0], nodes[2], nodes[3], joiner]
        send(joiner, 5)
        _agree(rest, 126)
        send(first, 5)
        final = _agree(rest, 146)
        assert nodes[1].rpc("xl_status")["height"] < final["height"]
    finally:
        for node in [*nodes, joiner]:
            if node is not None:
                node.stop()
