"""Certified ledger headers (node/certify.py): whole validators in the simulator gather the
committee's certificate of every header, also across a crash; tampering is caught.

Seeded randomness only (the simulation's seed decides every delivery and fault)."""

from __future__ import annotations

import pytest
from msgspec.structs import replace

from xinlian.consensus.core import Config
from xinlian.consensus.pacemaker import Pacemaker
from xinlian.node.certify import CertifiedHeader, genesis_root, verify_certified
from xinlian.node.errors import BadHeaderCertificate
from xinlian.testing.validators import SimValidator, ValidatorNet

CONFIG = Config(pacemaker=Pacemaker(base_ms=300))


def _validators(net: ValidatorNet) -> list[SimValidator]:
    found = [net.validator(n) for n in net.nodes]
    assert all(v is not None for v in found)
    return [v for v in found if v is not None]


def _check_all_certified(net: ValidatorNet, below: int) -> None:
    committee = genesis_root(net.genesis).committee
    hasher = net.genesis.crypto_suite().hash_bytes
    for validator in _validators(net):
        chain = validator.ledger.chain
        for height in range(below + 1):
            certified = validator.bft.certified(height)
            assert certified is not None, (validator.certifier.pending.keys(), height)
            block = chain.block(height)
            assert block is not None and certified.header == block.header
            verify_certified(certified, committee, hasher)


@pytest.mark.parametrize("suite", ["intl", "sm"])
def test_every_header_is_certified_by_the_committee(suite: str) -> None:
    net = ValidatorNet(4, 3, config=CONFIG, suite=suite)
    try:
        net.load(0, 1200)
        net.sim.run_until(3000)
        assert net.log.violations == []
        head = min(v.ledger.chain.height for v in _validators(net))
        assert head > 2
        _check_all_certified(net, head)
        assert all(len(nodes) == 4 for nodes in net.log.certified.values())
    finally:
        net.close()


def test_a_restarted_validator_gets_the_certificates_it_missed() -> None:
    """Node 1 is down while blocks commit and certificates form without it; after the
    restart it applies those blocks, and its votes are answered with the certificates."""
    net = ValidatorNet(4, 11, config=CONFIG)
    try:
        net.load(0, 1500)
        net.sim.crash(net.nodes[1], 300)
        net.sim.restart(net.nodes[1], 1200)
        net.sim.run_until(4000)
        assert net.log.violations == []
        head = min(v.ledger.chain.height for v in _validators(net))
        _check_all_certified(net, head)
        restarted = net.validator(net.nodes[1])
        assert restarted is not None and restarted.certifier.metrics["certified"] > 0
    finally:
        net.close()


def _one_certificate(net: ValidatorNet) -> CertifiedHeader:
    net.load(0, 600)
    net.sim.run_until(1500)
    certified = _validators(net)[0].bft.certified(1)
    assert certified is not None
    return certified


def test_invalid_tampered_certified_headers_fail() -> None:
    net = ValidatorNet(4, 5, config=CONFIG)
    try:
        certified = _one_certificate(net)
        committee = genesis_root(net.genesis).committee
        hasher = net.genesis.crypto_suite().hash_bytes
        verify_certified(certified, committee, hasher)
        header = certified.header
        forged = [
            CertifiedHeader(replace(header, state_root=b"\1" * 32), certified.epoch,
                            certified.cert),
            CertifiedHeader(replace(header, height=header.height + 1), certified.epoch,
                            certified.cert),
            CertifiedHeader(header, certified.epoch + 1, certified.cert),
        ]
        for bad in forged:
            with pytest.raises(BadHeaderCertificate):
                verify_certified(bad, committee, hasher)
        # a certificate by too little power: drop signers from the bitmap
        cert = certified.cert
        short = replace(cert, signers=bytes([cert.signers[0] & 0xC0]))
        with pytest.raises(BadHeaderCertificate):
            verify_certified(CertifiedHeader(header, certified.epoch, short), committee, hasher)
    finally:
        net.close()

