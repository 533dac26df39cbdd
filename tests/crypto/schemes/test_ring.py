"""Ring signatures: linkability per context, accountable opening, revocation, bad input."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian import codec
from xinlian.crypto.primitives.dleq import DleqProof
from xinlian.crypto.primitives.groups import (
    ED25519,
    GROUPS,
    SECP256K1,
    SM2,
    GroupError,
    SmallSubgroupError,
    evaluate,
    random_polynomial,
)
from xinlian.crypto.privacy import ring
from xinlian.crypto.privacy.ring import Openers, RingSignature
from xinlian.crypto.threshold import dkg
from xinlian.testing.mpc.dkg_session import run_parties


def rng_of(seed: int):
    return random.Random(seed).randbytes


def members(group, n, seed=1):
    rng = rng_of(seed)
    secrets_ = [group.random_scalar(rng) for _ in range(n)]
    return secrets_, [group.base_mul(x) for x in secrets_]


@pytest.mark.parametrize("group", [ED25519, SECP256K1, SM2], ids=lambda g: g.name)
def test_sign_verify_each_group(group):
    xs, keys = members(group, 5)
    sig = ring.sign(b"vote yes", b"election-7", keys, xs[3], rng=rng_of(2))
    ring.verify(sig, b"vote yes", keys)
    decoded = codec.decode(codec.encode(sig), RingSignature)
    ring.verify(decoded, b"vote yes", keys)
    with pytest.raises(ring.InvalidRingSignatureError):
        ring.verify(sig, b"vote no", keys)
    with pytest.raises(ring.InvalidRingSignatureError):
        ring.verify(sig, b"vote yes", list(reversed(keys)))


@settings(max_examples=15)
@given(n=st.integers(1, 6), data=st.data())
def test_any_member_signs_and_nobody_else(n, data):
    xs, keys = members(ED25519, n, seed=n)
    pi = data.draw(st.integers(0, n - 1))
    msg = data.draw(st.binary(max_size=40))
    sig = ring.sign(msg, b"ctx", keys, xs[pi], rng=rng_of(pi))
    ring.verify(sig, msg, keys)
    outsider = ED25519.random_scalar(rng_of(99))
    with pytest.raises(ring.InvalidRingError):
        ring.sign(msg, b"ctx", keys, outsider, rng=rng_of(98))


def test_linking_is_per_context():
    xs, keys = members(ED25519, 4)
    a = ring.sign(b"m1", b"epoch-1", keys, xs[0], rng=rng_of(3))
    b = ring.sign(b"m2", b"epoch-1", keys[1:] + keys[:1], xs[0], rng=rng_of(4))
    c = ring.sign(b"m3", b"epoch-2", keys, xs[0], rng=rng_of(5))
    d = ring.sign(b"m1", b"epoch-1", keys, xs[1], rng=rng_of(6))
    assert ring.linked(a, b)  # same key, same context, even with another ring order
    assert not ring.linked(a, c)
    assert not ring.linked(a, d)
    registry = ring.LinkRegistry()
    registry.record(a, b"m1-digest")
    registry.record(c, b"m3-digest")
    registry.record(d, b"m1-digest")
    with pytest.raises(ring.LinkedSignatureError) as err:
        registry.record(b, b"m2-digest")
    assert err.value.code == 8605
    assert len(registry) == 3


def test_key_image_cannot_be_swapped():
    """An attacker replaces its key image by a fresh one to sign twice unlinked: rejected."""
    xs, keys = members(ED25519, 3)
    sig = ring.sign(b"m", b"ctx", keys, xs[0], rng=rng_of(7))
    other_image = ring.key_image(ED25519.random_scalar(rng_of(8)), b"ctx").encode()
    forged = RingSignature(
        group=sig.group,
        context=sig.context,
        key_image=other_image,
        challenge=sig.challenge,
        responses=sig.responses,
    )
    with pytest.raises(ring.InvalidRingSignatureError):
        ring.verify(forged, b"m", keys)
    # nor can the context be changed after signing to escape linking
    moved = RingSignature(sig.group, b"ctx2", sig.key_image, sig.challenge, sig.responses)
    with pytest.raises(ring.InvalidRingSignatureError):
        ring.verify(moved, b"m", keys)


def test_revoked_member_cannot_sign():
    xs, keys = members(ED25519, 4)
    revoked = {keys[2].encode()}
    sig = ring.sign(b"m", b"ctx", keys, xs[2], rng=rng_of(9))
    with pytest.raises(ring.RevokedKeyError):
        ring.verify(sig, b"m", keys, revoked=revoked)
    # the others still sign with the revoked key removed from the ring
    current = [k for k in keys if k.encode() not in revoked]
    ring.verify(
        ring.sign(b"m", b"ctx", current, xs[0], rng=rng_of(10)), b"m", current, revoked=revoked
    )
    with pytest.raises(ring.InvalidRingError):
        ring.sign(b"m", b"ctx", current, xs[2], rng=rng_of(11))


def deal(group, n, t, seed):
    coeffs = random_polynomial(group, t - 1, rng=rng_of(seed))
    shares = {i: evaluate(coeffs, i) for i in range(1, n + 1)}
    openers = Openers(
        threshold=t,
        key=group.base_mul(coeffs[0]).encode(),
        share_keys=[(i, group.base_mul(shares[i]).encode()) for i in range(1, n + 1)],
    )
    return openers, shares


@pytest.mark.parametrize("group", [ED25519, SM2], ids=lambda g: g.name)
def test_threshold_opening_reveals_the_signer(group):
    xs, keys = members(group, 6)
    openers, shares = deal(group, 5, 3, seed=11)
    y = group.decode_element(openers.key)
    sig = ring.sign(b"transfer", b"ctx", keys, xs[4], opener_key=y, rng=rng_of(12))
    ring.verify(sig, b"transfer", keys, opener_key=y)
    partials = [ring.partial_open(sig, i, shares[i], rng_of(i)) for i in (5, 2, 4)]
    opening = ring.open_signature(sig, keys, openers, partials)
    assert opening.signer == keys[4].encode()
    assert ring.verify_opening(sig, keys, openers, opening) == keys[4]
    wire = codec.decode(codec.encode(opening), ring.Opening)
    assert ring.verify_opening(sig, keys, openers, wire) == keys[4]


def test_cheating_opener_is_named_and_cannot_frame():
    xs, keys = members(ED25519, 4)
    openers, shares = deal(ED25519, 4, 2, seed=13)
    y = ED25519.decode_element(openers.key)
    sig = ring.sign(b"m", b"ctx", keys, xs[1], opener_key=y, rng=rng_of(14))
    honest = ring.partial_open(sig, 1, shares[1], rng_of(1))
    # opener 3 uses a wrong share to shift the result onto another member
    liar = ring.partial_open(sig, 3, shares[3] + ED25519.scalar(1), rng_of(3))
    with pytest.raises(ring.InvalidOpeningError) as err:
        ring.open_signature(sig, keys, openers, [honest, liar])
    assert err.value.culprits == (3,)
    # with one more honest opener the opening still succeeds and names the liar's absence
    opening = ring.open_signature(
        sig, keys, openers, [honest, liar, ring.partial_open(sig, 2, shares[2], rng_of(2))]
    )
    assert opening.signer == keys[1].encode()
    # a claimed opening naming someone else is refused
    framed = ring.Opening(signer=keys[0].encode(), partials=opening.partials)
    with pytest.raises(ring.InvalidOpeningError):
        ring.verify_opening(sig, keys, openers, framed)


def test_fewer_than_threshold_openers_learn_nothing_usable():
    xs, keys = members(ED25519, 4)
    openers, shares = deal(ED25519, 4, 3, seed=15)
    y = ED25519.decode_element(openers.key)
    sig = ring.sign(b"m", b"ctx", keys, xs[2], opener_key=y, rng=rng_of(16))
    two = [ring.partial_open(sig, i, shares[i], rng_of(i)) for i in (1, 2)]
    with pytest.raises(ring.InvalidOpeningError):
        ring.open_signature(sig, keys, openers, two)
    # interpolating two shares as if they were enough gives a non-member, not the signer
    lying_set = Openers(threshold=2, key=openers.key, share_keys=openers.share_keys)
    with pytest.raises(ring.InvalidOpeningError):
        ring.open_signature(sig, keys, lying_set, two)


def test_escrow_cannot_name_another_member():
    """Re-encrypting someone else's key into the escrow breaks the ring proof."""
    xs, keys = members(ED25519, 3)
    opener = ED25519.random_scalar(rng_of(17))
    y = ED25519.base_mul(opener)
    sig = ring.sign(b"m", b"ctx", keys, xs[0], opener_key=y, rng=rng_of(18))
    assert sig.escrow is not None
    c1 = ED25519.decode_element(sig.escrow.c1)
    c2 = keys[2] + opener * c1  # same randomness, other member's key
    bad = RingSignature(
        sig.group,
        sig.context,
        sig.key_image,
        sig.challenge,
        sig.responses,
        ring.Escrow(sig.escrow.c1, c2.encode(), sig.escrow.responses),
    )
    with pytest.raises(ring.InvalidRingSignatureError):
        ring.verify(bad, b"m", keys, opener_key=y)
    # an accountable signature is required when an opener is named, and vice versa
    plain = ring.sign(b"m", b"ctx", keys, xs[0], rng=rng_of(19))
    with pytest.raises(ring.MalformedRingSignatureError):
        ring.verify(plain, b"m", keys, opener_key=y)
    with pytest.raises(ring.MalformedRingSignatureError):
        ring.verify(sig, b"m", keys)
    with pytest.raises(ring.MalformedRingSignatureError):
        ring.partial_open(plain, 1, opener, rng_of(1))


def test_bad_input_is_typed():
    xs, keys = members(ED25519, 3)
    sig = ring.sign(b"m", b"ctx", keys, xs[0], rng=rng_of(20))
    # response count does not match the ring
    short = RingSignature(sig.group, sig.context, sig.key_image, sig.challenge, sig.responses[:2])
    with pytest.raises(ring.MalformedRingSignatureError):
        ring.verify(short, b"m", keys)
    # non-canonical scalar (>= group order)
    big = (ED25519.order + 1).to_bytes(32, "little")
    with pytest.raises(GroupError):
        ring.verify(
            RingSignature(sig.group, sig.context, sig.key_image, big, sig.responses), b"m", keys
        )
    # small-subgroup key image: an order-8 torsion point
    torsion = bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")
    with pytest.raises(SmallSubgroupError):
        ring.verify(
            RingSignature(sig.group, sig.context, torsion, sig.challenge, sig.responses), b"m", keys
        )
    # wrong-curve key image: an SM2 point in an ed25519 signature
    sm2_point = SM2.base_mul(SM2.scalar(5)).encode()
    with pytest.raises(GroupError):
        ring.verify(
            RingSignature(sig.group, sig.context, sm2_point, sig.challenge, sig.responses),
            b"m",
            keys,
        )
    with pytest.raises(ring.MalformedRingSignatureError):
        ring.verify(
            RingSignature("p256", sig.context, sig.key_image, sig.challenge, sig.responses),
            b"m",
            keys,
        )
    # ring problems
    with pytest.raises(ring.InvalidRingError):
        ring.verify(sig, b"m", [])
    with pytest.raises(ring.InvalidRingError):
        ring.verify(sig, b"m", [keys[0], keys[0], keys[1]])
    with pytest.raises(ring.InvalidRingError):
        ring.verify(sig, b"m", [SM2.base_mul(SM2.scalar(3)), *keys[1:]])
    # malformed bytes on the wire
    with pytest.raises(codec.CodecError):
        codec.decode(b"\x93\x01\x02", RingSignature)
    # a tampered opening proof
    openers, shares = deal(ED25519, 3, 2, seed=21)
    y = ED25519.decode_element(openers.key)
    acc = ring.sign(b"m", b"ctx", keys, xs[0], opener_key=y, rng=rng_of(22))
    p1, p2 = (ring.partial_open(acc, i, shares[i], rng_of(i)) for i in (1, 2))
    bad = ring.PartialOpening(p2.index, p2.share, DleqProof(p1.proof.challenge, p2.proof.response))
    with pytest.raises(ring.InvalidOpeningError):
        ring.open_signature(acc, keys, openers, [p1, bad])
    with pytest.raises(ring.InvalidOpeningError):
        ring.open_signature(acc, keys, openers, [p1, p1])  # replayed partial
    out_of_range = ring.PartialOpening(9, p2.share, p2.proof)
    with pytest.raises(ring.InvalidOpeningError):
        ring.open_signature(acc, keys, openers, [p1, out_of_range])


def test_partial_opening_is_bound_to_its_signature():
    """A partial opening replayed for another signature fails its proof."""
    xs, keys = members(ED25519, 3)
    openers, shares = deal(ED25519, 3, 2, seed=23)
    y = ED25519.decode_element(openers.key)
    a = ring.sign(b"a", b"ctx", keys, xs[0], opener_key=y, rng=rng_of(24))
    b = ring.sign(b"b", b"ctx", keys, xs[1], opener_key=y, rng=rng_of(25))
    pa = [ring.partial_open(a, i, shares[i], rng_of(i)) for i in (1, 2)]
    with pytest.raises(ring.InvalidOpeningError):
        ring.open_signature(b, keys, openers, pa)


def test_group_registry_covers_three_groups():
    assert set(GROUPS) == {"ed25519", "secp256k1", "sm2"}


def test_opener_committee_from_the_dkg():
    """Three regulators run the project's DKG; any two of them open, one cannot."""
    ids = [1, 2, 3]
    rng = rng_of(31)
    transport = {i: SM2.random_scalar(rng) for i in ids}  # members' encryption keys
    config = dkg.DkgConfig.keygen(
        SM2, b"regulators", ids, 2, {i: SM2.base_mul(transport[i]) for i in ids}
    )
    parties = {i: dkg.DkgParty(config, i, transport[i], rng=rng_of(40 + i)) for i in ids}
    run = run_parties(parties)
    assert not run.aborted
    results = run.results
    package = results[1].public
    openers = Openers.from_package(package)
    y = package.group_public_key
    xs, keys = members(SM2, 5, seed=32)
    sig = ring.sign(b"report", b"ctx", keys, xs[2], opener_key=y, rng=rng_of(33))
    ring.verify(sig, b"report", keys, opener_key=y)
    shares = [share for i in (1, 3) if (share := results[i].key_share) is not None]
    assert len(shares) == 2
    parts = [ring.partial_open(sig, s.identifier, s.secret, rng_of(s.identifier))
             for s in shares]
    opening = ring.open_signature(sig, keys, openers, parts)
    assert ring.verify_opening(sig, keys, openers, opening) == keys[2]
    with pytest.raises(ring.InvalidOpeningError):
        ring.open_signature(sig, keys, openers, parts[:1])


@pytest.mark.parametrize("group", [ED25519, SM2], ids=lambda g: g.name)
def test_traceable_double_use_reveals_the_signer(group):
    xs, keys = members(group, 6, seed=50)
    a = ring.sign_traceable(b"spend coin 9 to A", b"coin-9", keys, xs[4], rng=rng_of(51))
    b = ring.sign_traceable(b"spend coin 9 to B", b"coin-9", keys, xs[4], rng=rng_of(52))
    ring.verify_traceable(a, b"spend coin 9 to A", keys)
    ring.verify_traceable(
        codec.decode(codec.encode(b), ring.TraceableSignature), b"spend coin 9 to B", keys
    )
    kind, key = ring.trace((a, b"spend coin 9 to A"), (b, b"spend coin 9 to B"), keys)
    assert kind is ring.Trace.TRACED and key == keys[4]
    # the same message twice is linked but stays anonymous
    again = ring.sign_traceable(b"spend coin 9 to A", b"coin-9", keys, xs[4], rng=rng_of(53))
    assert ring.trace((a, b"spend coin 9 to A"), (again, b"spend coin 9 to A"), keys) == (
        ring.Trace.LINKED,
        None,
    )
    # other signers, or another context, are independent
    other = ring.sign_traceable(b"spend coin 9 to B", b"coin-9", keys, xs[1], rng=rng_of(54))
    assert ring.trace((a, b"spend coin 9 to A"), (other, b"spend coin 9 to B"), keys) == (
        ring.Trace.INDEPENDENT,
        None,
    )
    elsewhere = ring.sign_traceable(b"spend coin 9 to B", b"coin-10", keys, xs[4], rng=rng_of(55))
    assert (
        ring.trace((a, b"spend coin 9 to A"), (elsewhere, b"spend coin 9 to B"), keys)[0]
        is ring.Trace.INDEPENDENT
    )


@settings(max_examples=10)
@given(n=st.integers(2, 6), data=st.data())
def test_traceable_any_member_signs_and_forgeries_fail(n, data):
    xs, keys = members(ED25519, n, seed=60 + n)
    pi = data.draw(st.integers(0, n - 1))
    sig = ring.sign_traceable(b"m", b"ctx", keys, xs[pi], rng=rng_of(pi))
    ring.verify_traceable(sig, b"m", keys)
    with pytest.raises(ring.InvalidRingSignatureError):
        ring.verify_traceable(sig, b"m2", keys)
    with pytest.raises(ring.InvalidRingSignatureError):
        ring.verify_traceable(sig, b"m", list(reversed(keys)))
    # a signer cannot escape tracing by moving its line: a different A_1 breaks the proof
    shifted = ring.TraceableSignature(
        sig.group,
        sig.context,
        (ED25519.decode_element(sig.a1) + ED25519.generator()).encode(),
        sig.challenges,
        sig.responses,
    )
    with pytest.raises(ring.InvalidRingSignatureError):
        ring.verify_traceable(shifted, b"m", keys)
    with pytest.raises(ring.MalformedRingSignatureError):
        ring.verify_traceable(
            ring.TraceableSignature(
                sig.group, sig.context, sig.a1, sig.challenges[1:], sig.responses
            ),
            b"m",
            keys,
        )
    with pytest.raises(ring.InvalidRingError):
        ring.sign_traceable(b"m", b"ctx", keys, ED25519.random_scalar(rng_of(7)), rng_of(8))
