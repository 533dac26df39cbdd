"""SM2 key exchange against GB/T 32918.3-2016 Annex A and between independent curves."""

from __future__ import annotations

import random
from typing import TypedDict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.crypto.errors import KeyExchangeError
from xinlian.crypto.hashes import sm3
from xinlian.crypto.primitives import sm2
from xinlian.crypto.primitives import sm2_exchange as kx


class AffineCurve(kx.ExchangeCurve):
    """Textbook affine arithmetic in pure Python: the independent implementation."""

    def __init__(self, p: int, a: int, b: int, n: int, g: kx.Point) -> None:
        self.p, self.a, self.b, self.n, self.g = p, a, b, n, g

    def add(self, u: kx.Point | None, v: kx.Point | None) -> kx.Point | None:
        if u is None:
            return v
        if v is None:
            return u
        p = self.p
        if u[0] == v[0]:
            if (u[1] + v[1]) % p == 0:
                return None
            lam = (3 * u[0] * u[0] + self.a) * pow(2 * u[1], -1, p) % p
        else:
            lam = (v[1] - u[1]) * pow(v[0] - u[0], -1, p) % p
        x = (lam * lam - u[0] - v[0]) % p
        return x, (lam * (u[0] - x) - u[1]) % p

    def mul(self, k: int, pt: kx.Point | None) -> kx.Point | None:
        acc = None
        for bit in bin(k)[2:]:
            acc = self.add(acc, acc)
            if bit == "1":
                acc = self.add(acc, pt)
        return acc

    def base_mul(self, k: int) -> kx.Point:
        result = self.mul(k, self.g)
        assert result is not None
        return result

    def mul_sum(self, k: int, p: kx.Point, m: int, r: kx.Point) -> kx.Point | None:
        return self.mul(k, self.add(p, self.mul(m, r)))


def h(s: str) -> int:
    return int(s.replace(" ", ""), 16)


# GB/T 32918.3-2016 Annex A: the 256-bit test curve over F_p and the worked example.
TEST_CURVE = AffineCurve(
    p=h("8542D69E 4C044F18 E8B92435 BF6FF7DE 45728391 5C45517D 722EDB8B 08F1DFC3"),
    a=h("787968B4 FA32C3FD 2417842E 73BBFEFF 2F3C848B 6831D7E0 EC65228B 3937E498"),
    b=h("63E4C6D3 B23B0C84 9CF84241 484BFE48 F61D59A5 B16BA06E 6E12D1DA 27C5249A"),
    n=h("8542D69E 4C044F18 E8B92435 BF6FF7DD 29772063 0485628D 5AE74EE7 C32E79B7"),
    g=(h("421DEBD6 1B62EAB6 746434EB C3CC315E 32220B3B ADD50BDC 4C4E6C14 7FEDD43D"),
       h("0680512B CBB42C07 D47349D2 153B70C4 E5D7FDFC BFA36EA1 A85841B9 E46E09A2")),
)
D_A = h("6FCBA2EF 9AE0AB90 2BC3BDE3 FF915D44 BA4CC78F 88E2F8E7 F8996D3B 8CCEEDEE")
P_A = (h("3099093B F3C137D8 FCBBCDF4 A2AE50F3 B0F216C3 122D7942 5FE03A45 DBFE1655"),
       h("3DF79E8D AC1CF0EC BAA2F2B4 9D51A4B3 87F2EFAF 48233908 6A27A8E0 5BAED98B"))
D_B = h("5E35D7D3 F3C54DBA C72E6181 9E730B01 9A84208C A3A35E4C 2E353DFC CB2A3B53")
P_B = (h("245493D4 46C38D8C C0F11837 4690E7DF 633A8A4B FB3329B5 ECE604B2 B4F37F43"),
       h("53C0869F 4B9E1777 3DE68FEC 45E14904 E0DEA45B F6CECF99 18C85EA0 47C60A4C"))
Z_A = bytes.fromhex("E4D1D0C3CA4C7F11BC8FF8CB3F4C02A78F108FA098E51A668487240F75E20F31")
Z_B = bytes.fromhex("6B4B6D0E276691BD4A11BF72F4FB501AE309FDACB72FA6CC336E6656119ABD67")
R_A_SCALAR = h("83A2C9C8 B96E5AF7 0BD480B4 72409A9A 327257F1 EBB73F5B 073354B2 48668563")
R_A = (h("6CB56338 16F4DD56 0B1DEC45 8310CBCC 6856C095 05324A6D 23150C40 8F162BF0"),
       h("0D6FCF62 F1036C0A 1B6DACCF 57399223 A65F7D7B F2D9637E 5BBBEB85 7961BF1A"))
R_B_SCALAR = h("33FE2194 0342161C 55619C4A 0C060293 D543C80A F19748CE 176D8347 7DE71C80")
R_B = (h("1799B2A2 C7782953 00D9A232 5C686129 B8F2B533 7B3DCF45 14E8BBC1 9D900EE5"),
       h("54C9288C 82733EFD F7808AE7 F27D0E73 2F7C73A7 D9AC98B7 D8740A91 D0DB3CF4"))
K = bytes.fromhex("55B0AC62A6B927BA23703832C853DED4")
S_B = bytes.fromhex("284C8F198F141B502E81250F1581C7E9EEB4CA6990F9E02DF388B45471F5BC5C")
S_A = bytes.fromhex("23444DAF8ED7534366CB901C84B3BDBB63504F4065C1116C91A4C00697E6CF7A")


def test_standard_example_points() -> None:
    assert TEST_CURVE.base_mul(D_A) == P_A
    assert TEST_CURVE.base_mul(D_B) == P_B
    assert TEST_CURVE.base_mul(R_A_SCALAR) == R_A
    assert TEST_CURVE.base_mul(R_B_SCALAR) == R_B


def test_standard_example_key_and_tags() -> None:
    a = kx.agree(TEST_CURVE, initiator=True, static_private=D_A, ephemeral_private=R_A_SCALAR,
                 own_ephemeral=R_A, peer_static=P_B, peer_ephemeral=R_B,
                 z_initiator=Z_A, z_responder=Z_B, key_size=16)
    b = kx.agree(TEST_CURVE, initiator=False, static_private=D_B, ephemeral_private=R_B_SCALAR,
                 own_ephemeral=R_B, peer_static=P_A, peer_ephemeral=R_A,
                 z_initiator=Z_A, z_responder=Z_B, key_size=16)
    assert a.key == b.key == K
    assert a.responder_tag == b.responder_tag == S_B
    assert a.initiator_tag == b.initiator_tag == S_A
    a.check(S_B, from_initiator=False)
    b.check(S_A, from_initiator=True)
    with pytest.raises(KeyExchangeError):
        a.check(S_A, from_initiator=False)


def test_kdf_is_sm3_counter_mode() -> None:
    assert kx.kdf(b"z", 40) == (sm3(b"z\0\0\0\1") + sm3(b"z\0\0\0\2"))[:40]


RECOMMENDED = AffineCurve(sm2.P, sm2.A, sm2.B, sm2.N, (sm2.GX, sm2.GY))


def _pair(seed: int) -> tuple[int, kx.Point]:
    d = random.Random(seed).randrange(1, sm2.N - 1)
    return d, RECOMMENDED.base_mul(d)


@settings(max_examples=15)
@given(st.integers(0, 2**32), st.integers(0, 2**32))
def test_tongsuo_curve_matches_affine_reference(seed_a: int, seed_b: int) -> None:
    d, p = _pair(seed_a)
    m, r = _pair(seed_b)
    assert kx.SM2_CURVE.base_mul(d) == p
    assert kx.SM2_CURVE.mul_sum(d, p, m, r) == RECOMMENDED.mul_sum(d, p, m, r)


class _Identities(TypedDict):
    """The agreement arguments both sides pass alike."""

    z_initiator: bytes
    z_responder: bytes
    key_size: int


def test_recommended_curve_agreement_both_sides() -> None:
    rng = random.Random(7).randbytes
    da, pa = _pair(1)
    db, pb = _pair(2)
    za, zb = sm2.z_a(RECOMMENDED.encode_point(pa)), sm2.z_a(RECOMMENDED.encode_point(pb))
    ra, ra_pt = kx.ephemeral(kx.SM2_CURVE, rng)
    rb, rb_pt = kx.ephemeral(kx.SM2_CURVE, rng)
    common = _Identities(z_initiator=za, z_responder=zb, key_size=32)
    a = kx.agree(kx.SM2_CURVE, initiator=True, static_private=da, ephemeral_private=ra,
                 own_ephemeral=ra_pt, peer_static=pb, peer_ephemeral=rb_pt, **common)
    b = kx.agree(kx.SM2_CURVE, initiator=False, static_private=db, ephemeral_private=rb,
                 own_ephemeral=rb_pt, peer_static=pa, peer_ephemeral=ra_pt, **common)
    ref = kx.agree(RECOMMENDED, initiator=True, static_private=da, ephemeral_private=ra,
                   own_ephemeral=ra_pt, peer_static=pb, peer_ephemeral=rb_pt, **common)
    assert a == b == ref
    # a third party's static key gives another key
    dc, _ = _pair(3)
    c = kx.agree(kx.SM2_CURVE, initiator=False, static_private=dc, ephemeral_private=rb,
                 own_ephemeral=rb_pt, peer_static=pa, peer_ephemeral=ra_pt, **common)
    assert c.key != a.key


def test_bad_points_are_typed_errors() -> None:
    _, p = _pair(4)
    off = (p[0], (p[1] + 1) % sm2.P)
    with pytest.raises(KeyExchangeError):
        kx.SM2_CURVE.decode_point(RECOMMENDED.encode_point(off))
    with pytest.raises(KeyExchangeError):
        kx.SM2_CURVE.decode_point(b"\x02" + bytes(64))
    with pytest.raises(KeyExchangeError):
        kx.SM2_CURVE.decode_point(b"\x04" + bytes(10))
    assert kx.SM2_CURVE.decode_point(RECOMMENDED.encode_point(p)) == p
    with pytest.raises(KeyExchangeError):
        kx.agree(kx.SM2_CURVE, initiator=True, static_private=1, ephemeral_private=1,
                 own_ephemeral=p, peer_static=off, peer_ephemeral=p,
                 z_initiator=b"", z_responder=b"", key_size=16)
