"""A live migration on real processes: 4 validator processes of an `intl` chain move their
accounts to `pq` (ML-DSA-65) keys under a steady, closed-loop load of signed transfers
(xinlian.cli.pq_demo.run_cluster_migration, `xinlian pq demo`; docs/pq.md, "Migration without a
fork"): every transfer a node admits commits with status 0, the load runs through all three
phases, the heights pass the window, and the validators end on one head holding every
transaction. The validators also register ML-DSA-65 vote keys generated into their data
directories (`xinlian pq rotate`'s `rotation_of`), so the committee switches to `pq` votes,
and a client that follows the epochs from genesis verifies the last certified header.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from xinlian.cli.pq_demo import run_cluster_migration
from xinlian.crypto.composite import MLDSA65_SIGNATURE_SIZE


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
