"""A live 4-validator chain moves from `intl` (Ed25519) to `pq` (ML-DSA-65) accounts under a
steady load of signed transfers, in the whole-validator simulation (seeded; real consensus,
ledger pipelines, execution and LMDB stores; the run is xinlian.testing.pq_migration).

Governance schedules the move (three of four organisations approve), every client binds an
ML-DSA-65 key with a transaction signed by both keys, and the clients keep sending: with
their Ed25519 keys before H, with either key in the window, with the bound key after it.
The chain never stops committing, every validator ends with the same state, the blocks
hold the algorithms the rule allows at their heights, and the last transfers each client
sent are all committed.
"""

from __future__ import annotations

from xinlian.crypto.keys import AlgId
from xinlian.execution.migration import get_bound_count
from xinlian.ledger.migration import Phase, get_phase
from xinlian.ledger.transaction import decode_transaction
from xinlian.testing.pq_migration import run_migration


def test_a_live_chain_moves_to_pq_keys_without_a_halt_or_a_lost_transfer() -> None:
    run = run_migration(41)
    try:
        net, schedule, chain = run.net, run.schedule, run.chain
        hash_bytes = net.genesis.crypto_suite().hash_bytes
        assert get_bound_count(chain.read) == len(net.clients)
        assert net.log.violations == []
        assert len(set(net.state_roots().values())) == 1
        head = chain.height
        end = schedule.height + schedule.window
        assert head >= end + 5, head  # the chain went on committing past the window
        algs: dict[Phase, set[AlgId]] = {phase: set() for phase in Phase}
        for height in range(1, head + 1):
            block = chain.block(height)
            assert block is not None
            for raw in block.txs:
                tx = decode_transaction(raw, net.genesis.chain_id, hash_bytes)
                algs[get_phase(schedule, height)].add(tx.body.sender.alg)
        assert algs[Phase.SCHEDULED] == {AlgId.ED25519}
        assert algs[Phase.OVERLAP] == {AlgId.ED25519, AlgId.ML_DSA_65}
        assert algs[Phase.DONE] == {AlgId.ML_DSA_65}
        # every height of the load committed, and the last transfers sent all committed
        assert sorted(run.committed_ms) == list(range(min(run.committed_ms), head + 1))
        for i, client in enumerate(net.clients):
            assert chain.account(client.address).nonce == run.last_nonce[i] + 1
    finally:
        run.close()
