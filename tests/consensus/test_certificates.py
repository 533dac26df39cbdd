"""Vote signatures and certificates: BLS aggregates (cross-checked with arkworks) and SM2 lists."""

from __future__ import annotations

import py_arkworks_bls12381 as ark
import pytest

from xinlian.consensus.certificates import (
    Cert,
    Meter,
    VoteKey,
    combine,
    verify_cert,
    verify_one,
)
from xinlian.consensus.committee import Committee, Member, bitmap
from xinlian.consensus.errors import InvalidCertificate
from xinlian.consensus.messages import timeout_message, vote_message
from xinlian.crypto.primitives.bls import BlsKey
from xinlian.crypto.suites import get_suite
from xinlian.testing.consensus.committees import local_committee

POP_DST = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_"
MESSAGE = vote_message(0, 3, 2, b"\x11" * 32)


@pytest.mark.parametrize(("suite", "aggregate"), [("intl", True), ("sm", False)])
def test_quorum_certificate_verifies_and_names_its_signers(suite: str, aggregate: bool) -> None:
    committee, keys = local_committee(4, suite=suite, aggregate=aggregate)
    meter = Meter()
    votes = [(i, keys[node].sign(committee, MESSAGE, meter))
             for i, node in enumerate(committee.nodes) if i != 1]
    assert all(verify_one(committee, i, MESSAGE, s, meter) for i, s in votes)
    cert = combine(committee, votes, meter)
    assert verify_cert(committee, cert, lambda i: MESSAGE, committee.quorum, meter) == [0, 2, 3]
    if aggregate:
        assert len(cert.signatures) == 1 and len(cert.signatures[0]) == 96
    else:
        assert len(cert.signatures) == 3



@pytest.mark.parametrize(("suite", "aggregate"), [("intl", True), ("sm", False)])
def test_verified_certificates_are_remembered_per_core(suite: str, aggregate: bool) -> None:
    """One core's checks never let another core skip its own (the cache lives in the meter)."""
    committee, keys = local_committee(4, suite=suite, aggregate=aggregate)
    first, second = Meter(), Meter()
    votes = [(i, keys[node].sign(committee, MESSAGE, first))
             for i, node in enumerate(committee.nodes)]
    cert = combine(committee, votes, first)
    verify_cert(committee, cert, lambda i: MESSAGE, committee.quorum, first)
    assert len(first.verified) == 1 and len(second.verified) == 0
    verify_cert(committee, cert, lambda i: MESSAGE, committee.quorum, second)
    assert len(second.verified) == 1

def test_bls_aggregate_matches_an_independent_pairing_check() -> None:
    committee, keys = local_committee(4)
    meter = Meter()
    votes = [(i, keys[n].sign(committee, MESSAGE, meter)) for i, n in enumerate(committee.nodes)]
    cert = combine(committee, votes, meter)
    key_sum = ark.G1Point.identity()
    for m in committee.members:
        key_sum = key_sum + ark.G1Point.from_compressed_bytes(bytes(m.key))
    sig = ark.G2Point.from_compressed_bytes(bytes(cert.signatures[0]))
    h = ark.G2Point.hash_to_curve(MESSAGE, POP_DST)
    assert ark.GT.pairing_check([-ark.G1Point(), key_sum], [sig, h])


def test_timeout_certificate_with_a_different_message_per_signer() -> None:
    committee, keys = local_committee(7)
    meter = Meter()
    reported = {0: 4, 2: 5, 3: 4, 5: 6, 6: 5}
    votes = [(i, keys[committee.nodes[i]].sign(committee, timeout_message(0, 7, r), meter))
             for i, r in reported.items()]
    cert = combine(committee, votes, meter)
    who = verify_cert(committee, cert, lambda i: timeout_message(0, 7, reported[i]),
                      committee.quorum, meter)
    assert who == sorted(reported)
    lie = {**reported, 2: 6}  # a leader misreporting one signer's high QC round
    with pytest.raises(InvalidCertificate):
        verify_cert(committee, cert, lambda i: timeout_message(0, 7, lie[i]),
                    committee.quorum, meter)


@pytest.mark.parametrize(("suite", "aggregate"), [("intl", True), ("sm", False)])
def test_tampered_certificates_are_refused(suite: str, aggregate: bool) -> None:
    committee, keys = local_committee(4, suite=suite, aggregate=aggregate)
    meter = Meter()
    votes = [(i, keys[n].sign(committee, MESSAGE, meter)) for i, n in enumerate(committee.nodes)]
    good = combine(committee, votes[:3], meter)
    other = vote_message(0, 3, 2, b"\x22" * 32)
    flipped = bytes([good.signatures[0][0] ^ 1]) + good.signatures[0][1:]
    cases = [
        (Cert(bitmap([0, 1], 4), good.signatures), MESSAGE),  # too little power
        (Cert(bitmap([0, 1, 3], 4), good.signatures), MESSAGE),  # signers swapped
        (good, other),  # another block
        (Cert(good.signers, [flipped, *good.signatures[1:]]), MESSAGE),
        (Cert(good.signers, []), MESSAGE),
        (Cert(good.signers + b"\x00", good.signatures), MESSAGE),  # bitmap length
    ]
    for cert, message in cases:
        def message_of(_index: int, m: bytes = message) -> bytes:
            return m
        with pytest.raises(InvalidCertificate):
            verify_cert(committee, cert, message_of, committee.quorum, meter)


def test_meter_counts_the_operations_the_simulator_charges() -> None:
    committee, keys = local_committee(4)
    meter = Meter()
    votes = [(i, keys[n].sign(committee, MESSAGE, meter)) for i, n in enumerate(committee.nodes)]
    cert = combine(committee, votes, meter)
    verify_cert(committee, cert, lambda i: MESSAGE, committee.quorum, meter)
    assert meter["bls_sign"] == 4 and meter["bls_sig_add"] == 4
    assert meter["bls_verify"] == 1 and meter["bls_pairing"] == 2 and meter["bls_pk_add"] == 4


@pytest.mark.parametrize("suite", ["intl", "sm", "pq", "hybrid-sm", "hybrid-intl"])
def test_invalid_malformed_certificate_signatures_are_refused(suite: str) -> None:
    # Bytes from the wire that decode to no point or signature: every one is an
    # InvalidCertificate (or a False vote), and none escapes as a library exception.
    committee, keys = local_committee(4, suite=suite)
    meter = Meter()
    votes = [(i, keys[n].sign(committee, MESSAGE, meter)) for i, n in enumerate(committee.nodes)]
    size = len(votes[0][1])
    identity = b"\xc0" + bytes(size - 1)  # a G2 point on intl, but no vote's signature
    malformed = [b"", b"\x00", bytes(size - 1), bytes(size), b"\xff" * size, bytes(size + 1)]
    for bad in [*malformed, identity]:
        assert not verify_one(committee, 0, MESSAGE, bad, meter)
        signatures = [bad] if committee.aggregate else [bad, *(s for _, s in votes[1:])]
        with pytest.raises(InvalidCertificate):
            verify_cert(committee, Cert(bitmap(range(4), 4), signatures), lambda i: MESSAGE,
                        committee.quorum, meter)
        if committee.aggregate and bad != identity:  # not a point: no certificate at all
            with pytest.raises(InvalidCertificate):
                combine(committee, [(0, bad), *votes[1:]], meter)


def test_a_vote_key_signs_each_epoch_with_its_committees_scheme() -> None:
    """Across a suite migration a member holds its BLS key and its rotated ML-DSA-65 key: an
    `intl` committee gets its BLS vote, the `pq` committee after it its ML-DSA-65 vote, each
    verifying only in its own committee; a scheme it holds no key of is refused."""
    bls = BlsKey.generate(b"\x05" * 32)
    pq_key = get_suite("pq").generate_signing_key(b"\x07" * 32)
    intl = Committee(0, "intl", True, [Member(b"n0", 1, bls.public, bls.pop)])
    pq = Committee(1, "pq", False, [Member(b"n0", 1, pq_key.public_key.data, b"")])
    both = VoteKey(bls_secret=bls.secret, more=[pq_key])
    meter = Meter()
    old, new = both.sign(intl, MESSAGE, meter), both.sign(pq, MESSAGE, meter)
    assert (len(old), len(new)) == (96, 3309)
    assert verify_one(intl, 0, MESSAGE, old, meter) and verify_one(pq, 0, MESSAGE, new, meter)
    assert not verify_one(intl, 0, MESSAGE, new, meter)
    assert not verify_one(pq, 0, MESSAGE, old, meter)
    sm = Committee(1, "sm", False, [Member(b"n0", 1, b"", b"")])
    with pytest.raises(InvalidCertificate):
        both.sign(sm, MESSAGE, meter)
