"""A live migration on real processes: 4 validator processes of an `intl` chain move their
accounts to `pq` (ML-DSA-65) keys under a steady, closed-loop load of signed transfers
(xinlian.cli.pq_demo.run_cluster_migration, `xinlian pq demo`; docs/pq.md, "Migration without a
fork"): every transfer a node admits commits with status 0, the load runs through all three
phases, the heights pass the window, and the validators end on one head holding every
transaction. The validators also register ML-DSA-65 vote keys generated into their data
directories (`xinlian pq rotate`'s `rotation_of`), so the committee switches to `pq` votes,
and a client that follows the epochs from genesis verifies the last certified header. They
also register ML-DSA-65 node keys: after the switch every validator's channels run on
them (the pq handshake, X25519 + ML-KEM-768), node ids unchanged, and every validator's
stored headers are signed by its Ed25519 key up to the switch and by its ML-DSA-65 key
from then on, each verifying with the key of its height.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from xinlian.cli.pq_demo import run_cluster_migration
from xinlian.crypto.composite import MLDSA65_SIGNATURE_SIZE
from xinlian.crypto.keys import AlgId
from xinlian.crypto.signing import verify
from xinlian.crypto.suites import get_suite
from xinlian.ledger.account import address_of
from xinlian.ledger.block import header_message


@pytest.mark.slow  # suite time: tests/node/test_pq_*_bft.py run the same move in make test
@pytest.mark.timeout(600)
def test_four_validator_processes_migrate_a_live_chain_to_pq(tmp_path: Path) -> None:
    run = run_cluster_migration(tmp_path)
    assert {r.phase for r in run.rounds} == {"scheduled", "overlap", "done"}
    assert len({(s.height, s.head_hash, s.state_root) for s in run.statuses}) == 1
    assert run.statuses[0].height >= run.schedule_height + run.window
    for chain_nonce, sent in run.nonces:  # each account's nonce counts all it sent
        assert chain_nonce == sent
    # the validators rotated their vote keys: the last certificate is of ML-DSA-65 votes,
    # verified by a client that followed every epoch from genesis across the switch
    assert run.certified.epoch >= 1
    assert run.vote_suite == "pq"
    assert {len(s) for s in run.certified.cert.signatures} == {MLDSA65_SIGNATURE_SIZE}

    # the transport switched: each validator sees every member (itself included) on its
    # ML-DSA-65 node key, every channel under the pq handshake, and the ids of genesis
    hash_bytes = get_suite("intl").hash_bytes
    ids = {address_of(old, hash_bytes) for old, _ in run.node_keys}
    for view in run.transport:
        assert {t.node for t in view} == ids
        assert {t.key for t in view} == {AlgId.ML_DSA_65.name}
        assert {t.suite for t in view[1:]} == {"pq"}
    # headers: Ed25519 up to the switch, ML-DSA-65 from it (one height on every
    # validator), each verifying with that validator's key of its height
    switches = set()
    for blocks, (old, new) in zip(run.headers, run.node_keys, strict=True):
        algs = [b.signature.alg for b in blocks]
        switch = algs.index(AlgId.ML_DSA_65)
        assert set(algs[:switch]) == {AlgId.ED25519} and set(algs[switch:]) == {AlgId.ML_DSA_65}
        switches.add(blocks[switch].header.height)
        for block in blocks:
            key = new if block.signature.alg == AlgId.ML_DSA_65 else old
            assert verify(key, header_message(block.header), block.signature)
            assert block.header.proposer.alg == block.signature.alg
    assert len(switches) == 1 and switches.pop() >= run.schedule_height
