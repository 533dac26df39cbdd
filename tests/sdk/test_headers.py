"""A client follows a BFT chain from its genesis committee alone (sdk/headers.py): epoch
changes proven by the committee they end, headers certified by their epoch's committee,
old headers proven in a certified one's history. Forged inputs fail.

The chain comes from whole validators in the simulator (seeded) with epoch changes."""

from __future__ import annotations

import pytest
from msgspec.structs import replace

from xinlian.sdk.errors import ProofError

from .conftest import EPOCHS, Served


@pytest.fixture
def served(bft_chain: Served) -> Served:
    return bft_chain


def test_a_client_follows_every_epoch_from_genesis(served: Served) -> None:
    chain = served.fresh()
    assert chain.follow(served.proofs) == EPOCHS and chain.epoch == EPOCHS
    for epoch, certified in served.checkpoints.items():
        chain.accept_checkpoint(epoch, certified)
    chain.accept(served.anchor)
    assert chain.anchor == served.anchor and served.anchor.epoch == EPOCHS
    chain.prove(served.old)
    assert chain.is_accepted(served.old.header)
    assert [served.checkpoints[e].epoch for e in range(EPOCHS)] == list(range(EPOCHS))


def test_invalid_epoch_proofs_fail(served: Served) -> None:
    chain = served.fresh()
    with pytest.raises(ProofError):
        chain.follow(served.proofs[1:])  # an epoch skipped
    first = served.proofs[0]
    cert = first.qc.cert
    forged = [
        replace(first, qc=replace(first.qc, cert=replace(cert, signatures=[
            bytes(reversed(cert.signatures[0]))]))),
        replace(first, qc=replace(first.qc, round=first.qc.round + 1)),
        replace(first, blocks=first.blocks[:-1]),
    ]
    for bad in forged:
        with pytest.raises(ProofError):
            served.fresh().follow([bad])
    assert chain.epoch == 0  # nothing was learnt from a bad proof


def test_invalid_certified_headers_fail(served: Served) -> None:
    chain = served.fresh()
    with pytest.raises(ProofError):  # its epoch's committee is not known yet
        chain.accept(served.anchor)
    chain.follow(served.proofs)
    anchor, other = served.anchor, served.checkpoints[1]
    forged = [
        replace(anchor, epoch=anchor.epoch - 1),  # checked against another committee
        replace(anchor, cert=other.cert),  # another header's certificate
        replace(anchor, header=replace(anchor.header, state_root=bytes(32))),
        replace(anchor, header=replace(anchor.header, chain_id="another")),
    ]
    for bad in forged:
        with pytest.raises(ProofError):
            chain.accept(bad)
    assert chain.anchor is None
    with pytest.raises(ProofError):  # a checkpoint of an epoch later than its certifier's
        chain.accept_checkpoint(0, anchor)


def test_invalid_old_header_proofs_fail(served: Served) -> None:
    chain = served.fresh()
    with pytest.raises(ProofError):  # nothing certified to prove against
        chain.prove(served.old)
    chain.follow(served.proofs)
    chain.accept(served.anchor)
    old = served.old
    for bad in (replace(old, header=replace(old.header, timestamp_ms=1)),
                replace(old, anchor=old.anchor - 1)):
        with pytest.raises(ProofError):
            chain.prove(bad)
    assert not chain.is_accepted(replace(old.header, timestamp_ms=1))


def test_what_a_light_node_keeps_is_served_back(served: Served) -> None:
    """`held`, `proofs_from` and `prove(against=)`: what a light node answers from
    (api/light_api.py) is what it verified, and another client follows from it."""
    chain = served.fresh()
    chain.follow(served.proofs)
    for epoch, certified in served.checkpoints.items():
        chain.accept_checkpoint(epoch, certified)
    chain.accept(served.anchor)
    assert chain.held(served.anchor.header.height) == served.anchor
    for certified in served.checkpoints.values():
        assert chain.held(certified.header.height) == certified
    assert chain.held(served.old.header.height) is None  # not kept: asked of a full node
    assert chain.proofs_from(0, 100) == served.proofs
    assert chain.proofs_from(1, 1) == served.proofs[1:2]
    assert chain.proofs_from(EPOCHS, 100) == []
    follower = served.fresh()
    assert follower.follow(chain.proofs_from(0, 100)) == EPOCHS
    follower.accept(served.anchor)
    assert follower.prove(served.old, served.anchor) == chain.prove(served.old)


def test_invalid_proof_against_a_header_not_accepted(served: Served) -> None:
    chain = served.fresh()
    chain.follow(served.proofs)
    with pytest.raises(ProofError):  # the anchor named was never accepted
        chain.prove(served.old, served.anchor)
    chain.accept(served.checkpoints[0])
    with pytest.raises(ProofError):  # accepted, but not the header the proof is under
        chain.prove(served.old, served.checkpoints[0])
