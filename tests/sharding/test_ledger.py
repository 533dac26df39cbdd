"""A shard's rules: transfers, cross-shard debits, cross-links and claims, and each refusal."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st
from msgspec.structs import replace

from xinlian.consensus.certificates import Cert
from xinlian.crypto.keys import Signature
from xinlian.ledger.merkle import AuditPath
from xinlian.sharding.beacon import CrossLinks, verify_link
from xinlian.sharding.errors import (
    InvalidCrossLink,
    InvalidReceiptProof,
    InvalidTransfer,
    NotCrossLinked,
    ReplayedReceipt,
    WrongEpoch,
    WrongShard,
)
from xinlian.sharding.ledger import BlockResult, NonceSet, ShardLedger, verify_account
from xinlian.sharding.receipts import Claim, ShardTx, header_hash
from xinlian.testing.sharding.world import HASH, Client, World, make_world


@pytest.fixture(scope="module")
def world() -> World:
    return make_world(2, seed=b"ledger-tests")


def _cross(world: World) -> tuple[list[ShardLedger], CrossLinks, Client, Client, BlockResult]:
    """One cross-shard transfer of 30 from a shard-0 client to a shard-1 client, debited
    in block 1 of shard 0 and cross-linked by beacon block 1."""
    ledgers, links = world.ledgers(), world.links()
    a = dataclasses.replace(world.clients[0])
    b = next(c for c in world.clients if c.shard == 1)
    result = ledgers[0].apply_block([ShardTx(transfer=a.transfer(b.address, 30))], links)
    assert result.outcomes == [None] and len(result.receipts) == 1
    assert links.apply_block(1, [world.certify(result.header)]) == \
        [(world.certify(result.header), None)]
    return ledgers, links, a, b, result


def test_intra_shard_transfer(world: World) -> None:
    ledgers, links = world.ledgers(), world.links()
    a, b = (dataclasses.replace(c) for c in world.clients[:2])
    assert a.shard == b.shard == 0
    result = ledgers[0].apply_block([ShardTx(transfer=a.transfer(b.address, 10))], links)
    assert result.outcomes == [None] and result.receipts == []
    assert ledgers[0].balance(a.address) == world.balance - 10
    assert ledgers[0].balance(b.address) == world.balance + 10
    assert ledgers[0].total() == world.balance * 3


def test_cross_shard_transfer_is_credited_once(world: World) -> None:
    ledgers, links, a, b, result = _cross(world)
    assert ledgers[0].balance(a.address) == world.balance - 30
    claim = world.claim(result, 0, 1)
    out = ledgers[1].apply_block([ShardTx(claim=claim), ShardTx(claim=claim)], links)
    assert out.outcomes[0] is None and isinstance(out.outcomes[1], ReplayedReceipt)
    assert ledgers[1].balance(b.address) == world.balance + 30
    assert sum(ledger.total() for ledger in ledgers) == world.supply
    again = ledgers[1].apply_block([ShardTx(claim=claim)], links)  # a later block
    assert isinstance(again.outcomes[0], ReplayedReceipt)


def test_invalid_claims_are_refused_with_their_error(world: World) -> None:
    ledgers, links, _, b, result = _cross(world)
    good = world.claim(result, 0, 1)
    r = good.receipt
    cases = [
        (replace(good, receipt=replace(r, amount=3000)),
         InvalidReceiptProof),
        (replace(good, path=AuditPath(0, 2, [bytes(32)])), InvalidReceiptProof),
        (replace(good, beacon_height=0), NotCrossLinked),  # linked at 1, not 0
        (replace(good, beacon_height=5), NotCrossLinked),  # beyond the view
        (replace(good, header=replace(good.header, state_root=b"x")),
         NotCrossLinked),  # not the header the beacon linked
        (replace(good, receipt=replace(r, epoch=1)), WrongEpoch),
    ]
    for claim, error in cases:
        out = ledgers[1].apply_block([ShardTx(claim=claim)], links)
        assert isinstance(out.outcomes[0], error), (claim, out.outcomes)
    # addressed to shard 1, claimed on shard 0
    out = ledgers[0].apply_block([ShardTx(claim=good)], links)
    assert isinstance(out.outcomes[0], WrongShard)
    assert ledgers[1].balance(b.address) == world.balance  # nothing credited
    assert ledgers[1].apply_block([ShardTx(claim=good)], links).outcomes == [None]


def test_a_header_from_a_later_epoch_is_refused(world: World) -> None:
    ledgers, links, _, _, result = _cross(world)
    later = replace(result.header, epoch=1)
    claim = Claim(replace(result.receipts[0], epoch=1), later,
                  result.receipt_path(0, HASH), 1)
    assert isinstance(ledgers[1].apply_block([ShardTx(claim=claim)], links).outcomes[0],
                      WrongEpoch)


def test_invalid_transfers_are_refused(world: World) -> None:
    ledgers, links = world.ledgers(), world.links()
    a = dataclasses.replace(world.clients[0])
    other = next(c for c in world.clients if c.shard == 1)
    forged = a.transfer(other.address, 5)
    forged = replace(forged, signature=Signature(forged.signature.alg,
                                                             bytes(64)))
    a.nonce = 0
    first = a.transfer(other.address, 5)
    too_much = a.transfer(other.address, world.balance)
    from_elsewhere = dataclasses.replace(other).transfer(a.address, 1)
    out = ledgers[0].apply_block([ShardTx(transfer=forged), ShardTx(transfer=first),
                                  ShardTx(transfer=first), ShardTx(transfer=too_much),
                                  ShardTx(transfer=from_elsewhere), ShardTx()], links)
    kinds = [type(o) for o in out.outcomes]
    assert kinds == [InvalidTransfer, type(None), InvalidTransfer, InvalidTransfer,
                     WrongShard, InvalidTransfer]
    assert ledgers[0].balance(a.address) == world.balance - 5


def test_cross_links_check_certificate_height_parent_and_epoch(world: World) -> None:
    ledgers, links = world.ledgers(), world.links()
    h1 = ledgers[0].apply_block([], links).header
    h2 = ledgers[0].apply_block([], links).header
    committee = world.committees[0][0]
    weak = world.certify(h1, signers=committee.quorum - 1)
    other = world.certify(h2)
    stolen = replace(world.certify(h1), cert=Cert(other.cert.signers,
                                                             other.cert.signatures))
    wrong_committee = replace(world.certify(h1),
                                          cert=world.certify(
                                              replace(h1, shard=1)).cert)
    results = links.apply_block(1, [weak, stolen, wrong_committee, world.certify(h2),
                                    world.certify(replace(h1, epoch=3)),
                                    world.certify(h1), world.certify(h1)])
    errors = [type(e) for _, e in results]
    assert errors == [InvalidCrossLink, InvalidCrossLink, InvalidCrossLink,
                      InvalidCrossLink, WrongEpoch, type(None), InvalidCrossLink]
    assert links.linked(0) == 1 and links.linked(1) == 0
    forked = replace(h2, parent=bytes(32))
    assert isinstance(links.apply_block(2, [world.certify(forked)])[0][1], InvalidCrossLink)
    with pytest.raises(InvalidCrossLink):
        links.apply_block(5, [])  # beacon blocks apply in order


def test_cross_link_root_changes_with_links(world: World) -> None:
    ledgers, links = world.ledgers(), world.links()
    before = links.root()
    links.apply_block(1, [world.certify(ledgers[1].apply_block([], links).header)])
    assert links.root() != before


@given(st.lists(st.integers(0, 40), max_size=60))
def test_nonce_set_holds_exactly_what_was_consumed(nonces: list[int]) -> None:
    s, seen = NonceSet(), set()
    for n in nonces:
        if n not in s:
            s.consume(n)
        seen.add(n)
        assert all((m in s) == (m in seen) for m in range(45))
        assert all(m >= s.watermark for m in s.above)
        assert s.watermark not in s.above


def test_a_client_proves_a_balance_from_the_beacon_down(world: World) -> None:
    """Beacon root -> shard 1's cross-linked header -> its state root -> B's account."""
    ledgers, links, _, b, result = _cross(world)
    out = ledgers[1].apply_block([ShardTx(claim=world.claim(result, 0, 1))], links)
    links.apply_block(2, [world.certify(out.header)])
    root = links.root()  # what a certified beacon header commits to
    header = out.header
    digest = header_hash(header, HASH)
    assert verify_link(root, 1, header.height, digest, links.link_proof(1), HASH)
    path = ledgers[1].account_proof(b.address)
    balance, nonce = world.balance + 30, 0
    assert verify_account(bytes(header.state_root), b.address, balance, nonce, path, HASH)
    assert not verify_account(bytes(header.state_root), b.address, balance + 1, nonce, path,
                              HASH)
    assert not verify_link(root, 0, header.height, digest, links.link_proof(1), HASH)
    assert not verify_link(root, 1, header.height + 1, digest, links.link_proof(1), HASH)
