"""A client follows a BFT chain from its genesis committee alone (sdk/headers.py): epoch
changes proven by the committee they end, headers certified by their epoch's committee,
old headers proven in a certified one's history. Forged inputs fail.

The chain comes from whole validators in the simulator (seeded) with epoch changes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from msgspec.structs import replace

from xinlian.consensus.core import Config
from xinlian.consensus.pacemaker import Pacemaker
from xinlian.node.certify import CertifiedHeader, genesis_root
from xinlian.node.history import HeaderProof
from xinlian.node.statesync import EpochProof
from xinlian.sdk.errors import ProofError
from xinlian.sdk.headers import HeaderChain
from xinlian.testing.validators import ValidatorNet

EPOCHS = 3


@dataclass
class Served:
    """What a full node of the simulated chain serves a light client."""

    net: ValidatorNet
    proofs: list[EpochProof]
    checkpoints: dict[int, CertifiedHeader]
    anchor: CertifiedHeader
    old: HeaderProof

    def fresh(self) -> HeaderChain:
        genesis = self.net.genesis
        return HeaderChain(genesis_root(genesis), genesis.chain_id,
                           genesis.crypto_suite().hash_bytes)


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    net = ValidatorNet(4, 21, config=Config(pacemaker=Pacemaker(base_ms=300)))
    try:
        net.load(0, 3200)
        net.new_epochs([500 + 900 * i for i in range(EPOCHS)])
        net.sim.run_until(4000)
        assert net.log.violations == []
        validator = net.validator(net.nodes[0])
        assert validator is not None and validator.consensus.epoch == EPOCHS
        bft = validator.bft
        anchor = bft.latest_certified()
        checkpoints = {e: c for e in range(EPOCHS) if (c := bft.checkpoint(e)) is not None}
        assert anchor is not None and len(checkpoints) == EPOCHS
        old = validator.ledger.chain.header_proof(1, anchor.header.height)
        assert old is not None
        yield Served(net, bft.epoch_proofs(0, 100), checkpoints, anchor, old)
    finally:
        net.close()


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
