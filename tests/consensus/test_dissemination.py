"""Dissemination: availability certificates, ordering by digest, fetching missing batches."""

from __future__ import annotations

from collections import Counter

import pytest

from xinlian import codec
from xinlian.consensus.certificates import Meter, VoteKey, combine
from xinlian.consensus.committee import Committee
from xinlian.consensus.core import Config
from xinlian.consensus.dissemination import Dissemination
from xinlian.consensus.errors import InvalidCertificate
from xinlian.consensus.messages import Batch, BatchCert, BatchMsg, ack_message
from xinlian.consensus.pacemaker import Pacemaker
from xinlian.protocol import Broadcast
from xinlian.testing.consensus.committees import local_committee
from xinlian.testing.consensus.simnet import ConsensusNet, chunks

FAST = Config(pacemaker=Pacemaker(base_ms=300), sync_retry_ms=200, batch_delay_ms=100)


def test_every_node_receives_every_committed_batch_in_commit_order() -> None:
    """Also a regression (seed 41): the fetch retry timer was re-set by every commit, so under
    steady commits it never fired and the cut-off node never got the batches it missed; and
    batches sealed during the partition never got their acks until they were re-sent."""
    network = ConsensusNet(4, 41, config=FAST)
    network.load(2000, 100, 0, 3000)
    lagging = network.committee.nodes[2]
    others = [n for n in network.committee.nodes if n != lagging]
    # cut one node off: it misses batches, then commits blocks that order them
    network.sim.partition([others, [lagging]], 500)
    network.sim.heal(1500)
    network.run(4000)
    assert not network.log.violations
    order = {n: [d for _, c in network.log.times[n] for d in c.digests]
             for n in network.committee.nodes}
    assert len({tuple(v) for v in order.values()}) == 1  # one order everywhere
    for node in network.committee.nodes:
        assert network.log.ready[node] == order[node]  # every batch arrived, in order
    fetched = network.sim.stats.by_kind["batch_response"]
    assert fetched > 0  # the cut-off node fetched what it missed
    # every submitted transaction was ordered exactly once
    submitted = 2000 * 3
    assert network.committed_txs(network.committee.nodes[0]) == submitted


def test_proposals_carry_digests_not_transactions() -> None:
    network = ConsensusNet(4, 42, config=FAST)
    network.load(2000, 500, 0, 1000)
    network.run(2000)
    stats = network.sim.stats
    assert stats.by_kind["proposal"] > 0 and stats.by_kind["batch"] > 0
    latencies = network.latencies(network.committee.nodes[0])
    assert sum(c for _, c in latencies) == 2000
    assert all(0 < lat < 1000 for lat, _ in latencies)


def test_chunk_headers_round_trip() -> None:
    from xinlian.testing.consensus.simnet import chunk
    payload = chunk(5, 3, 100) + chunk(9, 1, 10)
    assert chunks(payload) == [(5, 3), (9, 1)]


def test_crypto_costs_are_charged_as_simulated_cpu_time() -> None:

    from xinlian.protocol import Action, Event, Start
    from xinlian.testing.consensus.simnet import crypto_cost

    class Metered:
        def __init__(self) -> None:
            self.meter = Meter()

        def handle(self, event: Event) -> list[Action]:
            return []

    cost = crypto_cost({"bls_sign": 400.0, "bls_pairing": 600.0})
    core = Metered()
    core.meter.update(bls_sign=2, bls_pairing=2, other=5)
    assert cost(b"n", core, Start(0), []) == 2000
    assert cost(b"n", core, Start(0), []) == 0  # only what was counted since the last event
    core.meter["bls_sign"] += 1
    assert cost(b"n", core, Start(0), []) == 400

    def first_commit(costs: dict[str, float] | None) -> int:
        network = ConsensusNet(4, 43, config=FAST, cpu_costs_us=costs)
        network.run(1500)
        return network.log.times[network.committee.nodes[0]][0][0]

    assert first_commit({"bls_sign": 20_000.0}) > first_commit(None) + 40



def _pool_and_batch() -> tuple[Dissemination, Committee, dict[bytes, VoteKey], bytes, bytes]:
    """Member 0's pool, the committee, its keys, and a batch authored by member 1."""
    committee, keys = local_committee(4, seed=b"pool")
    me = committee.nodes[0]
    pool = Dissemination(me, keys[me], {}, 1 << 20, 20, 100, 1000, Meter(), Counter())
    pool.start_epoch(committee, 0)
    message = codec.encode(BatchMsg(Batch(0, 1, 1, 3, b"txs")))
    return pool, committee, keys, message, committee.hash(message)


def _cert(committee: Committee, keys: dict[bytes, VoteKey], digest: bytes,
          signers: list[int], *, forge: bool = False) -> BatchCert:
    message = ack_message(0, b"\0" * 32 if forge else digest)
    votes = [(i, keys[committee.nodes[i]].sign(committee, message, Meter())) for i in signers]
    return BatchCert(0, digest, 1, 3, combine(committee, votes, Meter()))


def test_a_held_batch_needs_no_certificate_check_and_an_unheld_one_does() -> None:
    pool, committee, keys, message, digest = _pool_and_batch()
    forged = _cert(committee, keys, digest, [1, 2], forge=True)
    with pytest.raises(InvalidCertificate):
        pool.check_cert(forged)
    pool.on_batch(committee.nodes[1], message, codec.decode(message, BatchMsg).batch)
    pool.check_cert(forged)  # this node holds the bytes itself: nothing to be convinced of
    assert pool.metrics["cert_held"] == 1


def test_announced_certificates_are_checked_before_a_leader_proposes_them() -> None:
    pool, committee, keys, _, digest = _pool_and_batch()
    author = committee.nodes[1]
    forged = _cert(committee, keys, digest, [1, 2], forge=True)
    pool.on_available(committee.nodes[2], forged)
    assert pool.metrics["available_not_author"] == 1  # only the author announces
    pool.on_available(author, forged)
    assert digest in pool.pending and digest in pool.unchecked
    assert pool.take(10, set()) == []
    assert pool.metrics["cert_invalid"] == 1 and digest not in pool.pending
    good = _cert(committee, keys, digest, [1, 2])
    pool.on_available(author, good)
    assert pool.take(10, set()) == [good]


def test_a_missing_batch_is_fetched_from_its_signers_then_from_everyone() -> None:
    pool, committee, keys, _, digest = _pool_and_batch()
    pool.commit(0, [_cert(committee, keys, digest, [2, 1])])
    nodes = committee.nodes
    assert pool.fetching[digest] == [nodes[1], nodes[2], nodes[3]]


def test_a_batch_is_re_sent_only_once_its_copies_had_time_to_arrive() -> None:
    pool, *_ = _pool_and_batch()  # resend_ms = 1000
    pool.submit(0, b"early", 1)
    pool.seal(0)
    pool.submit(900, b"late", 1)
    pool.seal(900)

    def resent(now_ms: int) -> list[bytes]:
        return [a.message for a in pool.retry_acks(now_ms) if isinstance(a, Broadcast)]

    assert resent(999) == []
    [early] = resent(1000)  # the batch sealed at 900 is not sent again yet
    assert codec.decode(early, BatchMsg).batch.payload == b"early"
    [late] = resent(1900)
    assert codec.decode(late, BatchMsg).batch.payload == b"late"
    assert pool.metrics["batch_resent"] == 2
