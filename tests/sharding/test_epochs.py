"""Reshuffling: each epoch's shard committees come from that epoch's beacon round, and the
beacon cross-links a shard's headers only under the committee of the header's epoch."""

from __future__ import annotations

import pytest
from msgspec.structs import replace

from xinlian.consensus.certificates import Meter, combine
from xinlian.consensus.committee import Committee
from xinlian.crypto.primitives.bls import Scheme
from xinlian.crypto.threshold import tbls
from xinlian.sharding.assignment import Assignment, assign, epoch_randomness, movers
from xinlian.sharding.beacon import CrossLinks
from xinlian.sharding.errors import InvalidCrossLink, WrongEpoch
from xinlian.sharding.ledger import ShardLedger
from xinlian.sharding.receipts import CertifiedHeader, ShardHeader, header_message
from xinlian.testing.consensus.committees import local_committee
from xinlian.testing.sharding.world import HASH

NODES = [b"node-%02d" % i for i in range(20)]
SEED = b"epoch-tests"


def _assignments() -> list[Assignment]:
    """Epochs 1 and 2 from chained rounds of a 5-of-9 threshold-BLS beacon."""
    key_set, shares = tbls.deal(9, 5, tbls.seeded(SEED))
    out, previous = [], b""
    for epoch in (1, 2):
        message = tbls.beacon_message(epoch, previous)
        partials = [tbls.sign_share(s, message, Scheme.BASIC) for s in shares[:5]]
        signature = bytes(tbls.combine(key_set, message, partials, Scheme.BASIC).signature)
        randomness = epoch_randomness(bytes(key_set.group_key), epoch, previous, signature)
        out.append(assign(epoch, NODES, randomness, shards=2, size=4))
        previous = signature
    return out


def _committee(a: Assignment, shard: int) -> Committee:
    return local_committee(4, epoch=a.epoch, nodes=a.shards[shard], seed=SEED)[0]


def _certify(a: Assignment, header: ShardHeader) -> CertifiedHeader:
    committee, keys = local_committee(4, epoch=a.epoch, nodes=a.shards[header.shard],
                                      seed=SEED)
    meter, message = Meter(), header_message(header)
    votes = [(i, keys[n].sign(committee, message, meter))
             for i, n in enumerate(committee.nodes[:committee.quorum])]
    return CertifiedHeader(header, combine(committee, votes, meter))


def test_headers_are_cross_linked_under_their_epochs_committee() -> None:
    e1, e2 = _assignments()
    assert e1.shards[0] != e2.shards[0] and movers(e1, e2)
    by_epoch = {1: e1, 2: e2}

    def committee_of(shard: int, epoch: int) -> Committee | None:
        return _committee(by_epoch[epoch], shard) if epoch in by_epoch else None

    links = CrossLinks(2, committee_of, HASH)
    ledger = ShardLedger(0, 2, HASH, {}, epoch=1)
    h1 = ledger.apply_block([], links).header
    ledger.start_epoch(2)  # the shard's chain goes on under its epoch-2 committee
    h2 = ledger.apply_block([], links).header
    assert (h1.epoch, h2.epoch) == (1, 2)
    results = links.apply_block(1, [_certify(e1, h1), _certify(e1, h2), _certify(e2, h2)])
    assert [type(e) for _, e in results] == [type(None), InvalidCrossLink, type(None)]
    back = ledger.apply_block([], links).header
    stale = replace(back, epoch=1)  # a header claiming the old epoch after epoch 2's
    assert isinstance(links.apply_block(2, [_certify(e1, stale)])[0][1], WrongEpoch)
    unknown = replace(back, epoch=3)
    assert isinstance(links.apply_block(3, [_certify(e2, unknown)])[0][1], WrongEpoch)
    with pytest.raises(WrongEpoch):
        ledger.start_epoch(1)
