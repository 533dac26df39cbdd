"""A live 4-validator `intl` chain moves its accounts AND its validators' vote keys to `pq`, in
the whole-validator simulation (seeded; xinlian.testing.pq_migration with `rotate`).

Besides the account migration (as tests/node/test_pq_migration_bft.py), each organisation's
admin registers its validator's ML-DSA-65 vote and node keys (both signing the rotation
message; two other organisations approve), so the committee of the first epoch that starts
at or after H votes with `pq`: headers from that epoch on carry certificates of ML-DSA-65
signatures, those before it BLS aggregates, and a light client that follows the epochs from
genesis (sdk/headers.py, the epoch proofs state sync serves) accepts headers on both sides.
Each validator signs the ledger headers it stores with its genesis Ed25519 node key before
the switch epoch and with its registered ML-DSA-65 node key from it on (the header names
the leader by the same rule); `header_key` picks the key by the epoch of each height.
When one validator never registers, the committee switches only from H+W, without it, and
the other three keep committing the same state.
"""

from __future__ import annotations

import msgspec
import pytest

from xinlian.crypto.composite import MLDSA65_SIGNATURE_SIZE
from xinlian.crypto.keys import AlgId
from xinlian.crypto.primitives import bls
from xinlian.crypto.signing import verify
from xinlian.execution.rotation import get_rotated
from xinlian.ledger.block import header_message
from xinlian.node.certify import genesis_root
from xinlian.sdk.errors import ProofError
from xinlian.sdk.headers import HeaderChain
from xinlian.testing.pq_migration import run_migration


def test_validators_rotate_to_pq_votes_without_a_halt_and_light_clients_follow() -> None:
    run = run_migration(43, rotate=4)
    try:
        net, schedule, chain = run.net, run.schedule, run.chain
        assert all(get_rotated(chain.read, node) is not None for node in net.nodes)
        assert net.log.violations == []
        assert len(set(net.state_roots().values())) == 1
        validator = net.validator(net.nodes[0])
        assert validator is not None
        bft, core = validator.bft, validator.consensus
        assert core.committee.suite == "pq"
        switch = next(e for e in range(1, core.epoch + 1)
                      if (c := bft.committee_of(e)) is not None and c.suite == "pq")
        start = bft.epoch_block(switch)
        assert start is not None
        first_pq = start.header.height + 1  # the first ledger block the pq epoch executes
        assert first_pq >= schedule.height
        head = chain.height
        assert head >= first_pq + 20, (first_pq, head)  # no halt after the switch
        # every height committed, and the last transfers sent all committed
        assert sorted(run.committed_ms) == list(range(min(run.committed_ms), head + 1))
        for i, client in enumerate(net.clients):
            assert chain.account(client.address).nonce == run.last_nonce[i] + 1

        # a light client follows the epochs from genesis across the switch
        hash_bytes = net.genesis.crypto_suite().hash_bytes
        light = HeaderChain(genesis_root(net.genesis), net.genesis.chain_id, hash_bytes)
        proofs = bft.epoch_proofs(0, core.epoch)
        assert light.follow(proofs) == core.epoch
        committees = [light.committee(e) for e in range(core.epoch + 1)]
        assert [c.suite for c in committees if c is not None][switch - 1:switch + 1] == [
            "intl", "pq"]
        before = after = 0
        for height in range(1, head - 3):
            certified = bft.certified(height)
            if certified is None:
                continue
            light.accept(certified)  # verifies against the committee of its epoch
            if height < first_pq:
                assert certified.epoch < switch
                assert [len(s) for s in certified.cert.signatures] == [bls.SIGNATURE_SIZE]
                before += 1
            else:
                assert certified.epoch >= switch
                sizes = {len(s) for s in certified.cert.signatures}
                assert sizes == {MLDSA65_SIGNATURE_SIZE}
                committee = committees[switch]
                assert committee is not None
                assert len(certified.cert.signatures) >= committee.quorum
                after += 1
        assert before > 0 and after > 10

        # headers: each validator signs the headers it stores with its rotated node key
        # from the switch epoch on, and names the leader by its rotated key; the key that
        # verifies a height is picked by its epoch, so old blocks verify as they were made
        for n, node in enumerate(net.nodes):
            held = net.validator(node)
            assert held is not None
            old_key, new_key = net.node_keys[n].public_key, net.rotated_keys[n][1].public_key
            for height in range(1, head + 1):
                block = held.ledger.chain.block(height)
                assert block is not None
                key = held.bft.header_key(height)
                assert key == (old_key if height < first_pq else new_key), height
                assert verify(key, header_message(block.header), block.signature)
                expected = AlgId.ED25519 if height < first_pq else AlgId.ML_DSA_65
                assert block.signature.alg == block.header.proposer.alg == expected

        # a pq epoch's certificate does not pass for the BLS committee before it
        last = bft.certified(head - 4)
        assert last is not None and last.epoch >= switch
        relabelled = msgspec.structs.replace(last, epoch=switch - 1)
        with pytest.raises(ProofError):
            light.accept(relabelled)
    finally:
        run.close()


def test_a_validator_that_never_registers_leaves_the_committee_from_h_plus_w() -> None:
    run = run_migration(44, rotate=3)  # validator 3 never registers its keys
    try:
        net, schedule, chain = run.net, run.schedule, run.chain
        assert get_rotated(chain.read, net.nodes[3]) is None
        assert net.log.violations == []
        validator = net.validator(net.nodes[0])
        assert validator is not None
        bft, core = validator.bft, validator.consensus
        assert core.committee.suite == "pq"
        assert set(core.committee.nodes) == set(net.nodes[:3])
        switch = next(e for e in range(1, core.epoch + 1)
                      if (c := bft.committee_of(e)) is not None and c.suite == "pq")
        start = bft.epoch_block(switch)
        assert start is not None
        # not at H (one had not registered): from H+W, without it (3/4 > 2/3 of the power)
        assert start.header.height + 1 >= schedule.height + schedule.window
        assert chain.height >= start.header.height + 20  # the three keep committing
        roots = net.state_roots()
        assert len({roots[n] for n in net.nodes[:3]}) == 1
        for i, client in enumerate(net.clients):
            assert chain.account(client.address).nonce == run.last_nonce[i] + 1
    finally:
        run.close()
