"""Group laws, canonical encodings, rejection of bad points, and cross-checks of every
backend against fastecdsa (an independent implementation of all three curves)."""

from __future__ import annotations

import hashlib

import pytest
from fastecdsa.rust import Curve, Ed25519Point, Point
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.crypto.primitives.groups import (
    ED25519,
    GROUPS,
    SECP256K1,
    SM2,
    Group,
    GroupMismatchError,
    IdentityElementError,
    InvalidEncodingError,
    InvalidScalarError,
    NonCanonicalEncodingError,
    NotOnCurveError,
    SmallSubgroupError,
    evaluate,
    lagrange_coefficient,
    random_polynomial,
)
from xinlian.crypto.primitives.groups.xmd import expand_message_xmd

ALL = list(GROUPS.values())
ids = [g.name for g in ALL]
ints = st.integers(min_value=0, max_value=2**256)


@pytest.mark.parametrize("G", ALL, ids=ids)
@settings(max_examples=25, deadline=None)
@given(a=ints, b=ints, c=ints)
def test_group_laws(G: Group, a: int, b: int, c: int) -> None:
    A, B, C = (G.base_mul(G.scalar(v)) for v in (a, b, c))
    zero = G.identity()
    assert (A + B) + C == A + (B + C)
    assert A + B == B + A
    assert A + zero == A and zero + A == A
    assert (A - A).is_identity() and (A + (-A)).is_identity()
    ka, kb = G.scalar(a), G.scalar(b)
    assert (ka + kb) * C == ka * C + kb * C
    assert ka * (B + C) == ka * B + ka * C
    assert (ka * kb) * C == ka * (kb * C)
    assert G.msm([ka, kb], [B, C]) == ka * B + kb * C
    assert G.sum([A, B, -A]) == B
    if not ka.is_zero():
        assert ka.invert() * (ka * C) == C
        assert ka * ka.invert() == G.scalar(1)


@pytest.mark.parametrize("G", ALL, ids=ids)
@settings(max_examples=25, deadline=None)
@given(k=st.integers(min_value=1, max_value=2**256))
def test_round_trip(G: Group, k: int) -> None:
    s = G.scalar(k)
    assert G.decode_scalar(s.encode()) == s
    if s.is_zero():
        return
    P = G.base_mul(s)
    data = P.encode()
    assert len(data) == G.element_size
    assert G.decode_element(data) == P
    assert hash(G.decode_element(data)) == hash(P)


@pytest.mark.parametrize("G", ALL, ids=ids)
def test_scalar_rejections(G: Group) -> None:
    with pytest.raises(InvalidEncodingError):
        G.decode_scalar(bytes(31))
    with pytest.raises(InvalidScalarError):
        G.decode_scalar(G.order.to_bytes(32, G.scalar_byteorder))
    with pytest.raises(InvalidScalarError):
        G.scalar(0).invert()
    assert "hidden" in repr(G.scalar(5))


@pytest.mark.parametrize("G", ALL, ids=ids)
def test_identity_and_lengths(G: Group) -> None:
    with pytest.raises(IdentityElementError):
        G.identity().encode()
    for n in (0, G.element_size - 1, G.element_size + 1):
        with pytest.raises(InvalidEncodingError):
            G.decode_element(bytes(n))
    assert (G.scalar(0) * G.generator()).is_identity()
    assert G.base_mul(G.scalar(G.order - 1)) == -G.generator()


def test_group_mismatch() -> None:
    with pytest.raises(GroupMismatchError):
        _ = ED25519.generator() + SM2.generator()
    with pytest.raises(GroupMismatchError):
        _ = SM2.scalar(2) * SECP256K1.generator()
    with pytest.raises(GroupMismatchError):
        _ = SM2.scalar(2) + SECP256K1.scalar(1)
    with pytest.raises(GroupMismatchError):
        SM2.sum([SECP256K1.generator()])


# -- ed25519: non-canonical, off-curve, torsion ---------------------------------------------

P25519 = 2**255 - 19
ORDER8 = bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")


def test_ed25519_rejections() -> None:
    with pytest.raises(IdentityElementError):
        ED25519.decode_element(b"\x01" + bytes(31))
    with pytest.raises(NonCanonicalEncodingError):  # identity with the sign bit set
        ED25519.decode_element(b"\x01" + bytes(30) + b"\x80")
    with pytest.raises(NonCanonicalEncodingError):  # y = p + 1, i.e. a second encoding of y = 1
        ED25519.decode_element((P25519 + 1).to_bytes(32, "little"))
    with pytest.raises(NotOnCurveError):  # y = 2 has no x
        ED25519.decode_element((2).to_bytes(32, "little"))
    for torsion in (bytes(32), P25519.__sub__(1).to_bytes(32, "little"), ORDER8):
        with pytest.raises(SmallSubgroupError):
            ED25519.decode_element(torsion)
    # a prime-order point plus an order-8 point: on the curve, outside the subgroup
    mixed = (Ed25519Point.decode(ED25519.generator().encode()) + Ed25519Point.decode(ORDER8))
    with pytest.raises(SmallSubgroupError):
        ED25519.decode_element(mixed.encode())


def test_ed25519_non_canonical_y_of_real_point() -> None:
    # y in [p, 2^255) can only be non-canonical encodings of y - p in {0..18}
    for y in range(P25519, 2**255):
        with pytest.raises(NonCanonicalEncodingError):
            ED25519.decode_element(y.to_bytes(32, "little"))


# -- short Weierstrass: format byte, x >= p, wrong curve ------------------------------------


@pytest.mark.parametrize("G", [SECP256K1, SM2], ids=["secp256k1", "sm2"])
def test_weierstrass_rejections(G: Group) -> None:
    P = G.generator().encode()
    for prefix in (0, 1, 4, 5):
        with pytest.raises(InvalidEncodingError):
            G.decode_element(bytes([prefix]) + P[1:])
    with pytest.raises(NonCanonicalEncodingError):
        G.decode_element(b"\x02" + G.p.to_bytes(32, "big"))  # type: ignore[attr-defined]
    x = 0
    while True:  # the first x with no point on this curve
        rhs = (x**3 + G.a * x + G.b) % G.p  # type: ignore[attr-defined]
        if pow(rhs, (G.p - 1) // 2, G.p) not in (0, 1):  # type: ignore[attr-defined]
            break
        x += 1
    with pytest.raises(NotOnCurveError):
        G.decode_element(b"\x02" + x.to_bytes(32, "big"))


def test_wrong_curve_points_rejected() -> None:
    # points of one curve are not points of the other (for these, no y exists)
    rejected = 0
    for k in range(1, 40):
        for src, dst in ((SECP256K1, SM2), (SM2, SECP256K1)):
            try:
                dst.decode_element(src.base_mul(src.scalar(k)).encode())
            except NotOnCurveError:
                rejected += 1
    assert rejected > 20  # about half of all x are not on the other curve
    with pytest.raises(InvalidEncodingError):
        SM2.decode_element(ED25519.generator().encode())
    with pytest.raises(InvalidEncodingError):
        ED25519.decode_element(SM2.generator().encode())


# -- cross-checks against fastecdsa ---------------------------------------------------------

FE_SM2 = Curve("sm2", SM2.p, SM2.a, SM2.b, SM2.order, SM2.gx, SM2.gy)
FE_K1 = Curve.secp256k1()


def _sec1(pt: Point) -> bytes:
    return bytes([2 + (pt.y & 1)]) + pt.x.to_bytes(32, "big")


@settings(max_examples=20, deadline=None)
@given(a=st.integers(min_value=1, max_value=2**252), b=st.integers(min_value=1, max_value=2**252))
def test_cross_check_fastecdsa(a: int, b: int) -> None:
    for G, fe in ((SECP256K1, FE_K1), (SM2, FE_SM2)):
        A = G.base_mul(G.scalar(a))
        assert A.encode() == _sec1(fe.G * a)
        assert (G.scalar(b) * A).encode() == _sec1((fe.G * a) * b)
        assert (A + G.generator()).encode() == _sec1(fe.G * a + fe.G)
    A = ED25519.base_mul(ED25519.scalar(a))
    assert A.encode() == (Ed25519Point.g() * a).encode()
    assert (ED25519.scalar(b) * A).encode() == (Ed25519Point.g() * (a * b)).encode()
    assert (A + ED25519.generator()).encode() == (Ed25519Point.g() * (a + 1)).encode()


def test_sm2_generator_is_the_standard_one() -> None:
    G = SM2.generator().encode()
    assert G[1:] == SM2.gx.to_bytes(32, "big")
    assert G[0] == 2 + (SM2.gy & 1)


# -- hashing --------------------------------------------------------------------------------


def test_expand_message_xmd_rfc9380_vectors() -> None:
    dst = b"QUUX-V01-CS02-with-expander-SHA256-128"
    def sha256(m: bytes) -> bytes:
        return hashlib.sha256(m).digest()

    assert expand_message_xmd(b"", dst, 0x20, sha256).hex() == (
        "68a985b87eb6b46952128911f2a4412bbc302a9d759667f87f7a21d803f07235")
    assert expand_message_xmd(b"abc", dst, 0x20, sha256).hex() == (
        "d8ccab23b5985ccea865c6c97b6e5b8350e794e603b4b97902f53a8a0d605615")


def test_sm2_group_hash_is_sm3() -> None:
    from gmssl import sm3 as pure_sm3  # pure-Python GB/T 32905, an independent SM3
    data = b"abc" * 30
    assert SM2.digest(data).hex() == pure_sm3.sm3_hash(list(data))


@pytest.mark.parametrize("G", ALL, ids=ids)
def test_hash_domain_separation(G: Group) -> None:
    assert G.hash_to_scalar(b"A", b"m") == G.hash_to_scalar(b"A", b"m")
    assert G.hash_to_scalar(b"A", b"m") != G.hash_to_scalar(b"B", b"m")
    h = G.hash_to_element(b"A", b"m")
    assert not h.is_identity()
    assert G.hash_to_element(b"A", b"m") == h
    assert G.hash_to_element(b"B", b"m") != h
    assert G.decode_element(h.encode()) == h  # lands in the prime-order group


# -- polynomials ----------------------------------------------------------------------------


@pytest.mark.parametrize("G", ALL, ids=ids)
def test_shamir_interpolation(G: Group) -> None:
    import random
    rng = random.Random(7).randbytes
    secret = G.random_scalar(rng)
    f = random_polynomial(G, 2, secret, rng)
    for subset in ([1, 2, 3], [2, 4, 5], [1, 3, 5]):
        got = G.scalar(0)
        for i in subset:
            got = got + lagrange_coefficient(G, subset, i) * evaluate(f, i)
        assert got == secret
    with pytest.raises(InvalidScalarError):
        lagrange_coefficient(G, [1, 1, 2], 1)
    with pytest.raises(InvalidScalarError):
        lagrange_coefficient(G, [1, 2], 3)
