"""The hybrid suites end to end: a real solo node process and a real 4-validator BFT
network on `hybrid-sm` and `hybrid-intl` commit signed transactions; a transaction whose
composite signature has one valid half (the classical one) is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from xinlian import codec
from xinlian.cli.cluster import NodeProcess, free_ports, prepare
from xinlian.crypto.composite import MLDSA65_SIGNATURE_SIZE
from xinlian.crypto.keys import Signature
from xinlian.crypto.suites import get_suite
from xinlian.ledger.transaction import SignedTransaction, signing_message
from xinlian.node.keyfile import read_key
from xinlian.sdk.wallet import Wallet

from .cluster import Chain, init_data_dir

HYBRIDS = ["hybrid-sm", "hybrid-intl"]


def _committed(nodes: list[NodeProcess], count: int) -> dict[str, Any]:
    """Busy-poll until every node has committed `count` transactions on one common head."""
    while True:
        statuses = [node.rpc("xl_status") for node in nodes]
        if all(s["committed_txs"] >= count for s in statuses) and \
                len({(s["height"], s["head_hash"], s["state_root"]) for s in statuses}) == 1:
            return statuses[0]


def _one_half_forged(chain: Chain, raw: bytes) -> bytes:
    """`raw` with the ML-DSA half of its composite signature taken from another key's
    signature of the same body: the classical half stays valid."""
    signed = codec.decode(raw, SignedTransaction)
    other = get_suite(chain.suite_name).generate_signing_key(b"\x77" * 32)
    foreign = other.sign(signing_message(signed.body)).data
    data = foreign[:MLDSA65_SIGNATURE_SIZE] + signed.signature.data[MLDSA65_SIGNATURE_SIZE:]
    return codec.encode(SignedTransaction(signed.body, Signature(signed.signature.alg, data)))


@pytest.mark.timeout(180)
@pytest.mark.parametrize("suite_name", HYBRIDS)
def test_a_solo_node_commits_hybrid_signed_transactions(tmp_path: Path, suite_name: str) -> None:
    chain = Chain.make(suite_name, 3)
    data = init_data_dir(chain, tmp_path, block_interval_ms=20)
    node = NodeProcess(data)
    try:
        txs = [chain.transfer(i, n, (i + 1) % 3, 7) for n in range(5) for i in range(3)]
        results = node.rpc("xl_submitTransactions", ["0x" + t.hex() for t in txs])
        assert all(r["accepted"] for r in results)
        status = _committed([node], 15)
        assert status["committed_txs"] == 15
        [forged] = node.rpc("xl_submitTransactions",
                            ["0x" + _one_half_forged(chain, chain.transfer(0, 5, 1, 1)).hex()])
        assert not forged["accepted"] and forged["error"]["name"] == "bad_signature"
    finally:
        node.stop()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("suite_name", [  # hybrid-intl's run is a slow campaign (suite time)
    "hybrid-sm", pytest.param("hybrid-intl", marks=pytest.mark.slow)])
def test_four_hybrid_validators_commit_and_survive_one_kill(tmp_path: Path,
                                                            suite_name: str) -> None:
    suite = get_suite(suite_name)
    dirs = prepare(tmp_path, 4, suite, 0, 0, accounts=4, ports=free_ports(4))
    nodes = [NodeProcess(d) for d in dirs]
    try:
        wallets = [Wallet(read_key(tmp_path / "keys" / f"account{j}.json")[1],
                          "xinlian-cluster", suite) for j in range(4)]

        def send(per_wallet: int) -> None:
            txs = ["0x" + w.transfer(wallets[(i + 1) % 4].address, 1).raw.hex()
                   for _ in range(per_wallet) for i, w in enumerate(wallets)]
            assert all(r["accepted"] for r in nodes[0].rpc("xl_submitTransactions", txs))

        send(10)
        _committed(nodes, 40)
        # n = 4 tolerates f = 1: with one validator killed, the other three keep committing.
        victim = nodes.pop(3)
        victim.kill()
        send(10)
        assert _committed(nodes, 80)["committed_txs"] == 80
    finally:
        for node in nodes:
            node.stop()
