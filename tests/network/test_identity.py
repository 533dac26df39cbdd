"""Membership certificates and revocation lists, alone and in the handshake: what verifies,
and the typed error for everything that must not (tampering, expiry, revocation, another
organisation, another chain, a swapped certificate, a classical key on a post-quantum
suite, malformed keys and signatures, a composite signature with one valid half)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian import codec
from xinlian.crypto.composite import MLDSA65_SIGNATURE_SIZE
from xinlian.crypto.keys import PublicKey, Signature
from xinlian.crypto.signing import SigningKey
from xinlian.crypto.suites import Suite, get_suite
from xinlian.network import handshake as hs
from xinlian.network import identity as idn
from xinlian.network.errors import (
    CertificateExpired,
    CertificateRefused,
    CertificateRevoked,
    ClassicalIdentity,
    HandshakeError,
    MalformedFrame,
    NetworkError,
    Unauthenticated,
)
from xinlian.network.membership import Membership, PeerInfo, node_id_of

from .conftest import SUITES, node_keys

DAY_MS = 86_400_000
NOW = 1_800_000_000_000
CHAIN = "identity-test"


@dataclass
class Org:
    """Two organisations of one chain, their admins, three member nodes and certificates."""

    suite: Suite
    admins: dict[str, SigningKey]
    nodes: list[SigningKey]
    certs: list[idn.Certificate]
    policy: idn.IdentityPolicy

    def issue(self, node: int, org: str = "org0", serial: int = 1, *,
              admin: SigningKey | None = None, subject: PublicKey | None = None,
              not_before_ms: int = NOW - DAY_MS, not_after_ms: int = NOW + DAY_MS,
              chain_id: str = CHAIN, role: str = "validator") -> idn.Certificate:
        return idn.issue_certificate(
            admin or self.admins[org], chain_id=chain_id, organisation=org, role=role,
            subject=subject or self.nodes[node].public_key, serial=serial,
            not_before_ms=not_before_ms, not_after_ms=not_after_ms)

    def identity(self, node: int, policy: idn.IdentityPolicy | None = None) -> hs.Identity:
        return hs.Identity(self.certs[node], policy or self.policy)

    def membership(self, organisations: tuple[str, ...] = ("org0", "org0", "org0")
                   ) -> Membership:
        return Membership(self.suite, [PeerInfo(k.public_key, "127.0.0.1", 0, o)
                                       for k, o in zip(self.nodes, organisations, strict=True)])


def make_org(suite_name: str) -> Org:
    suite = get_suite(suite_name)
    admins = {f"org{i}": suite.generate_signing_key(bytes([9, i]) * 16) for i in range(2)}
    nodes = node_keys(suite, 3)
    policy = idn.IdentityPolicy(suite, CHAIN, {o: (k.public_key,) for o, k in admins.items()})
    org = Org(suite, admins, nodes, [], policy)
    org.certs = [org.issue(i, serial=i + 1) for i in range(3)]
    return org


_ORGS: dict[str, Org] = {}


def cached_org(suite_name: str) -> Org:
    """One Org per suite, shared by the tests (fixtures do not reach into @given)."""
    if suite_name not in _ORGS:
        _ORGS[suite_name] = make_org(suite_name)
    return _ORGS[suite_name]


@pytest.fixture(params=SUITES)
def org(request: pytest.FixtureRequest) -> Org:
    return cached_org(request.param)


def handshake(org: Org, ini_identity: hs.Identity | None, res_identity: hs.Identity | None,
              *, membership: Membership | None = None, now_ms: int = NOW,
              peer_organisation: str = "") -> tuple[hs.Session, hs.Session]:
    rng = random.Random(7).randbytes
    target = org.nodes[1].public_key
    ini = hs.Initiator(org.suite, org.nodes[0], node_id_of(org.suite, target), target, rng,
                       identity=ini_identity, now_ms=now_ms,
                       peer_organisation=peer_organisation)
    res = hs.Responder(org.suite, org.nodes[1], membership or org.membership(), rng,
                       identity=res_identity, now_ms=now_ms)
    hello = ini.hello()
    reply = res.reply(hello)
    assert len(hello) <= hs.MAX_HANDSHAKE_FRAME and len(reply) <= hs.MAX_HANDSHAKE_FRAME
    finish, a = ini.finish(reply)
    return a, res.finish(finish)


# -- the certificate alone ------------------------------------------------------------------

def test_a_certificate_round_trips_and_verifies(org: Org) -> None:
    cert = idn.decode_certificate(codec.encode(org.certs[0]))
    body = org.policy.check(cert, org.nodes[0].public_key, NOW)
    assert body == org.certs[0].body
    assert (body.organisation, body.serial, body.subject) == ("org0", 1, org.nodes[0].public_key)
    assert len(codec.encode(cert)) <= idn.MAX_CERTIFICATE


def test_validity_window_with_skew(org: Org) -> None:
    cert, key, skew = org.certs[0], org.nodes[0].public_key, org.policy.skew_ms
    begin, end = cert.body.not_before_ms, cert.body.not_after_ms
    for now in (begin - skew, begin, end, end + skew):
        org.policy.check(cert, key, now)
    for now in (begin - skew - 1, end + skew + 1, 0):
        with pytest.raises(CertificateExpired):
            org.policy.check(cert, key, now)


def test_revocation_list_revokes_only_its_serials(org: Org) -> None:
    crl = idn.revoke(org.admins["org0"], chain_id=CHAIN, organisation="org0", serials=[2, 9],
                     issued_ms=NOW)
    crl = idn.decode_revocations(codec.encode(crl))
    policy = idn.IdentityPolicy(org.suite, CHAIN, org.policy.admins).with_revocations([crl])
    org.policy.check(org.certs[0], org.nodes[0].public_key, NOW)
    policy.check(org.certs[0], org.nodes[0].public_key, NOW)
    with pytest.raises(CertificateRevoked):
        policy.check(org.certs[1], org.nodes[1].public_key, NOW)
    # org1's serial 2 is another certificate: org0's list does not touch it
    other = org.issue(1, "org1", serial=2)
    policy.check(other, org.nodes[1].public_key, NOW)


def test_a_revocation_list_needs_its_own_organisations_admin(org: Org) -> None:
    forged = idn.revoke(org.admins["org1"], chain_id=CHAIN, organisation="org0", serials=[1],
                        issued_ms=NOW)
    with pytest.raises(CertificateRefused):
        org.policy.with_revocations([forged])
    genuine = idn.revoke(org.admins["org0"], chain_id=CHAIN, organisation="org0",
                         serials=[1], issued_ms=NOW)
    widened = idn.RevocationList(
        idn.RevocationBody(genuine.body.version, CHAIN, "org0", NOW, [1, 3],
                           genuine.body.issuer), genuine.signature)
    with pytest.raises(CertificateRefused):
        org.policy.with_revocations([widened])
    with pytest.raises(MalformedFrame):
        idn.decode_revocations(b"\x92\x01")


def test_wrong_organisation_chain_role_or_subject_refused(org: Org) -> None:
    key = org.nodes[0].public_key
    refusals = [
        org.issue(0, "org0", admin=org.admins["org1"]),  # org1's admin signs for org0
        org.issue(0, "org2", admin=org.admins["org0"]),  # an organisation not in genesis
        org.issue(0, chain_id="another-chain"),
        org.issue(0, role="observer"),                   # not admitted by this policy
        org.issue(0, subject=org.nodes[1].public_key),   # certifies another node's key
    ]
    for cert in refusals:
        with pytest.raises(CertificateRefused):
            org.policy.check(cert, key, NOW)
    with pytest.raises(CertificateRefused):
        org.issue(0, role="king")


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(SUITES), st.integers(0, 2**16), st.integers(1, 255))
def test_a_tampered_certificate_never_verifies(suite_name: str, position: int,
                                               flip: int) -> None:
    org = cached_org(suite_name)
    data = codec.encode(org.certs[0])
    i = position % len(data)
    tampered = data[:i] + bytes([data[i] ^ flip]) + data[i + 1:]
    try:
        cert = idn.decode_certificate(tampered)
        org.policy.check(cert, cert.body.subject, NOW)
    except NetworkError:
        return
    # accepted: only if it decodes to the very certificate that was issued
    assert codec.encode(cert) == data



# -- bad input: malformed keys and signatures, one valid half ------------------------------

def test_malformed_keys_and_signatures_are_refused(org: Org) -> None:
    cert = org.certs[0]
    body, sig = cert.body, cert.signature
    short_subject = PublicKey(body.subject.alg, body.subject.data[:-1])
    bad_bodies = [
        idn.CertificateBody(body.version, CHAIN, body.serial, "org0", "validator",
                            short_subject, body.not_before_ms, body.not_after_ms, body.issuer),
        idn.CertificateBody(body.version, CHAIN, body.serial, "org0", "validator",
                            body.subject, body.not_before_ms, body.not_after_ms,
                            PublicKey(body.issuer.alg, body.issuer.data + b"\x00")),
        idn.CertificateBody(2, CHAIN, body.serial, "org0", "validator", body.subject,
                            body.not_before_ms, body.not_after_ms, body.issuer),
    ]
    for bad in bad_bodies:
        with pytest.raises(CertificateRefused):
            org.policy.check(idn.Certificate(bad, sig), bad.subject, NOW)
    for data in (sig.data[:-1], sig.data + b"\x00", b"", bytes(len(sig.data))):
        with pytest.raises(CertificateRefused):
            org.policy.check(idn.Certificate(body, Signature(sig.alg, data)), body.subject, NOW)
    with pytest.raises(MalformedFrame):
        idn.decode_certificate(b"\xc1")
    with pytest.raises(MalformedFrame):
        idn.decode_certificate(b"\x00" * (idn.MAX_CERTIFICATE + 1))


@pytest.mark.parametrize("suite_name", ["hybrid-sm", "hybrid-intl"])
def test_a_composite_certificate_signature_with_one_valid_half_is_refused(
        suite_name: str) -> None:
    org = make_org(suite_name)
    cert = org.certs[0]
    message = idn.certificate_message(cert.body)
    foreign = org.suite.generate_signing_key(b"\x55" * 32).sign(message).data
    genuine = cert.signature.data
    for data in (foreign[:MLDSA65_SIGNATURE_SIZE] + genuine[MLDSA65_SIGNATURE_SIZE:],
                 genuine[:MLDSA65_SIGNATURE_SIZE] + foreign[MLDSA65_SIGNATURE_SIZE:]):
        half = idn.Certificate(cert.body, Signature(cert.signature.alg, data))
        with pytest.raises(CertificateRefused):
            org.policy.check(half, cert.body.subject, NOW)


# -- classical keys on a post-quantum suite -------------------------------------------------

@pytest.mark.parametrize("suite_name", ["pq", "hybrid-sm", "hybrid-intl"])
@pytest.mark.parametrize("classical", ["intl", "sm"])
def test_classical_keys_are_refused_on_a_post_quantum_suite(suite_name: str,
                                                            classical: str) -> None:
    org = make_org(suite_name)
    old = get_suite(classical).generate_signing_key(b"\x31" * 32)
    # an admin of the chain certifies a classical key: the certificate still does not hold
    with pytest.raises(ClassicalIdentity):
        org.policy.check(org.issue(0, subject=old.public_key), old.public_key, NOW)
    # a classical issuer key, even if genesis somehow listed it
    policy = idn.IdentityPolicy(org.suite, CHAIN, {"org0": (old.public_key,)})
    cert = org.issue(0, admin=old)
    with pytest.raises(ClassicalIdentity):
        policy.check(cert, org.nodes[0].public_key, NOW)


def test_a_classical_node_key_cannot_authenticate_on_pq() -> None:
    """The initiator's key is Ed25519 on a `pq` network: refused before any key agreement,
    whether or not a certificate and membership entry vouch for it."""
    org = make_org("pq")
    intl = get_suite("intl")
    old = intl.generate_signing_key(b"\x31" * 32)
    target = org.nodes[1].public_key
    # the hello an Ed25519 node would send, with a certificate a pq admin signed for it
    exchange = org.suite.new_key_exchange(random.Random(1).randbytes)
    hello = hs.Hello(hs.VERSION, "pq", old.public_key, exchange.offer(), b"\x01" * 32,
                     codec.encode(org.issue(0, subject=old.public_key)))
    members = Membership(org.suite, [PeerInfo(old.public_key, "127.0.0.1", 0, "org0"),
                                     PeerInfo(target, "127.0.0.1", 0, "org0")])
    for identity in (org.identity(1), None):
        res = hs.Responder(org.suite, org.nodes[1], members, identity=identity, now_ms=NOW)
        with pytest.raises(ClassicalIdentity):
            res.reply(codec.encode(hello))
    # nor can such a node start a pq handshake of its own
    with pytest.raises(HandshakeError):
        hs.Initiator(org.suite, old, node_id_of(org.suite, target), target)


# -- in the handshake -----------------------------------------------------------------------

def test_mutual_authentication_by_certificate(org: Org) -> None:
    a, b = handshake(org, org.identity(0), org.identity(1), peer_organisation="org0")
    assert a.peer_certificate == org.certs[1].body
    assert b.peer_certificate == org.certs[0].body
    assert a.session_id == b.session_id and a.send_key == b.recv_key
    # the session id is bound to both certificates: other certificates, another session id
    other = hs.Identity(org.issue(0, serial=40), org.policy)
    c, _ = handshake(org, other, org.identity(1))
    assert c.session_id != a.session_id


def test_a_node_without_a_certificate_is_refused(org: Org) -> None:
    with pytest.raises(CertificateRefused):
        handshake(org, None, org.identity(1))
    with pytest.raises(CertificateRefused):
        handshake(org, org.identity(0), None)


def test_expired_or_revoked_peers_are_refused_by_the_clock_and_lists_given(org: Org) -> None:
    with pytest.raises(CertificateExpired):
        handshake(org, org.identity(0), org.identity(1), now_ms=NOW + 2 * DAY_MS)
    crl = idn.revoke(org.admins["org0"], chain_id=CHAIN, organisation="org0", serials=[1],
                     issued_ms=NOW)
    revoking = org.policy.with_revocations([crl])
    with pytest.raises(CertificateRevoked):  # the responder holds the list: node 0 is out
        handshake(org, org.identity(0), org.identity(1, revoking))
    crl2 = idn.revoke(org.admins["org0"], chain_id=CHAIN, organisation="org0", serials=[2],
                      issued_ms=NOW)
    with pytest.raises(CertificateRevoked):  # the initiator holds one revoking node 1
        handshake(org, org.identity(0, org.policy.with_revocations([crl2])), org.identity(1))


def test_the_certificate_must_be_the_membership_organisations(org: Org) -> None:
    with pytest.raises(CertificateRefused):  # the responder's membership says org1
        handshake(org, org.identity(0), org.identity(1),
                  membership=org.membership(("org1", "org0", "org0")))
    with pytest.raises(CertificateRefused):  # the initiator dialled an org1 node
        handshake(org, org.identity(0), org.identity(1), peer_organisation="org1")


def test_own_certificate_must_certify_own_key(org: Org) -> None:
    target = org.nodes[1].public_key
    with pytest.raises(HandshakeError):
        hs.Initiator(org.suite, org.nodes[0], node_id_of(org.suite, target), target,
                     identity=org.identity(2))


@pytest.mark.parametrize("suite_name", SUITES)
def test_a_man_in_the_middle_swapping_a_certificate_fails(suite_name: str) -> None:
    """Another genuine certificate of the same key (say one revoked elsewhere, or of another
    role) swapped in by the network: each side's signature covers the certificates it saw,
    so the swap breaks the handshake instead of passing unnoticed."""
    org = cached_org(suite_name)
    target = org.nodes[1].public_key
    rng = random.Random(3).randbytes
    swapped_i = codec.encode(org.issue(0, serial=77))
    swapped_r = codec.encode(org.issue(1, serial=78))

    def pair() -> tuple[hs.Initiator, hs.Responder]:
        return (hs.Initiator(org.suite, org.nodes[0], node_id_of(org.suite, target), target,
                             rng, identity=org.identity(0), now_ms=NOW),
                hs.Responder(org.suite, org.nodes[1], org.membership(), rng,
                             identity=org.identity(1), now_ms=NOW))

    # the initiator's certificate swapped in the Hello: the responder accepts the (valid)
    # certificate and signs what it saw; the initiator refuses that signature
    ini, res = pair()
    hello = codec.decode(ini.hello(), hs.Hello)
    reply = res.reply(codec.encode(hs.Hello(hello.version, hello.suite, hello.key,
                                            hello.share, hello.nonce, swapped_i)))
    with pytest.raises(Unauthenticated):
        ini.finish(reply)
    # the responder's certificate swapped in the Reply
    ini, res = pair()
    original = codec.decode(res.reply(ini.hello()), hs.Reply)
    body = original.body
    forged = hs.ReplyBody(body.key, body.share, body.nonce, body.confirm, swapped_r)
    with pytest.raises(Unauthenticated):
        ini.finish(codec.encode(hs.Reply(forged, original.signature)))


@pytest.mark.parametrize("suite_name", ["hybrid-sm", "hybrid-intl"])
def test_a_handshake_signature_with_one_valid_half_is_refused(suite_name: str) -> None:
    org = make_org(suite_name)
    target = org.nodes[1].public_key
    rng = random.Random(5).randbytes
    ini = hs.Initiator(org.suite, org.nodes[0], node_id_of(org.suite, target), target, rng,
                       identity=org.identity(0), now_ms=NOW)
    res = hs.Responder(org.suite, org.nodes[1], org.membership(), rng,
                       identity=org.identity(1), now_ms=NOW)
    reply = codec.decode(res.reply(ini.hello()), hs.Reply)
    genuine = reply.signature.data
    foreign = org.nodes[2].sign(b"anything").data
    half = foreign[:MLDSA65_SIGNATURE_SIZE] + genuine[MLDSA65_SIGNATURE_SIZE:]
    with pytest.raises(Unauthenticated):
        ini.finish(codec.encode(hs.Reply(reply.body, Signature(reply.signature.alg, half))))
