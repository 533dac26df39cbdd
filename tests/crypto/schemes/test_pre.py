"""Threshold proxy re-encryption: any M proxies serve B, fewer cannot, proxies learn nothing."""

from __future__ import annotations

import random

import gmssl_pyx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian import codec
from xinlian.crypto.errors import DecryptionError
from xinlian.crypto.keys import AlgId
from xinlian.crypto.primitives.groups import SM2, GroupError, lagrange_coefficient
from xinlian.crypto.privacy import pre
from xinlian.crypto.signing import generate_signing_key

DATA = "患者病历 / health record #7".encode() * 3


def rng_of(seed: int):
    return random.Random(seed).randbytes


class Party:
    def __init__(self, suite: str, seed: int, label: bytes = b"policy-1") -> None:
        group = pre.get_suite(suite).group
        self.master = group.random_scalar(rng_of(seed))
        self.secret = pre.derive_policy_key(self.master, label)
        self.public = group.base_mul(self.secret)


SIGNERS = {"sm": AlgId.SM2, "intl": AlgId.ED25519}


def setup(suite: str, m: int, n: int, seed: int = 1):
    alice, bob = Party(suite, seed), Party(suite, seed + 1)
    signer = generate_signing_key(SIGNERS[suite], seed=bytes([seed]) * 32)
    kfrags = pre.generate_kfrags(
        suite, alice.secret, bob.public, signer, m, n, rng=rng_of(seed + 2)
    )
    ct = pre.encrypt(suite, alice.public, DATA, rng=rng_of(seed + 3))
    return alice, bob, signer.public_key, kfrags, ct


def reenc(kfrags, ct, alice, bob, vk, seed=0):
    return [
        pre.reencrypt(k, ct, alice.public, bob.public, vk, rng=rng_of(seed + i))
        for i, k in enumerate(kfrags)
    ]


@pytest.mark.parametrize("suite", ["sm", "intl"])
def test_round_trip_through_proxies(suite):
    alice, bob, vk, kfrags, ct = setup(suite, 3, 5)
    assert pre.decrypt(alice.secret, ct) == DATA
    frags = reenc(kfrags[1:4], ct, alice, bob, vk)
    assert pre.decrypt_reencrypted(bob.secret, alice.public, vk, ct, frags, 3) == DATA
    wire = [codec.decode(codec.encode(f), pre.ReEncrypted) for f in frags]
    ct2 = codec.decode(codec.encode(ct), pre.PreCiphertext)
    assert pre.decrypt_reencrypted(bob.secret, alice.public, vk, ct2, wire, 3) == DATA
    with pytest.raises(DecryptionError):
        pre.decrypt(bob.secret, ct)  # B alone, without proxies, cannot decrypt


def test_sm_suite_data_part_is_sm4_gcm_checked_by_gmssl():
    alice, _, _, _, ct = setup("sm", 2, 3)
    suite = pre.get_suite("sm")
    e, v = SM2.decode_element(ct.capsule.e), SM2.decode_element(ct.capsule.v)
    aad = codec.encode(ct.capsule)
    key = pre._kdf(suite, alice.secret * (e + v), aad)
    assert len(key) == 16
    plain = gmssl_pyx.sm4_gcm_decrypt(key, ct.nonce, aad, ct.sealed[:-16], ct.sealed[-16:])
    assert bytes(plain) == DATA


@settings(max_examples=8)
@given(st.data())
def test_any_m_of_n_proxies_suffice(data):
    alice, bob, vk, kfrags, ct = setup("intl", 3, 6, seed=5)
    subset = data.draw(
        st.lists(st.sampled_from(kfrags), min_size=3, max_size=4, unique_by=lambda k: k.id)
    )
    frags = reenc(subset, ct, alice, bob, vk)
    assert pre.decrypt_reencrypted(bob.secret, alice.public, vk, ct, frags, 3) == DATA


def test_m_minus_one_fragments_do_not_decrypt():
    alice, bob, vk, kfrags, ct = setup("intl", 3, 5, seed=7)
    frags = reenc(kfrags[:2], ct, alice, bob, vk)
    with pytest.raises(pre.NotEnoughFragmentsError):
        pre.decrypt_reencrypted(bob.secret, alice.public, vk, ct, frags, 3)
    # pretending the threshold is 2 interpolates the wrong value: the capsule check fails
    with pytest.raises(pre.NotEnoughFragmentsError):
        pre.decrypt_reencrypted(bob.secret, alice.public, vk, ct, frags, 2)
    # a replayed fragment counts once
    with pytest.raises(pre.NotEnoughFragmentsError):
        pre.decrypt_reencrypted(bob.secret, alice.public, vk, ct, [*frags, frags[0]], 3)


def test_reencryptions_are_randomised_and_unlinkable():
    alice, bob, vk, kfrags, ct = setup("intl", 2, 3, seed=9)
    a = pre.reencrypt(kfrags[0], ct, alice.public, bob.public, vk, rng=rng_of(1))
    b = pre.reencrypt(kfrags[0], ct, alice.public, bob.public, vk, rng=rng_of(2))
    assert a.ephemeral != b.ephemeral and a.sealed != b.sealed
    wire = codec.encode(a)
    for part in (ct.capsule.e, ct.capsule.v, ct.capsule.s, kfrags[0].commitment, kfrags[0].id):
        assert part not in wire
    # only B can unwrap: another party holding the same fragments gets nothing
    carol = Party("intl", 77)
    with pytest.raises(pre.NotEnoughFragmentsError) as err:
        pre.decrypt_reencrypted(carol.secret, alice.public, vk, ct, [a, b], 2)
    assert err.value.culprits == (0, 1)


def test_proxies_together_without_b_cannot_decrypt():
    """All N proxies pool their fragments: without B's DH secret d the key stays hidden."""
    alice, bob, _, kfrags, ct = setup("intl", 3, 4, seed=11)
    group = pre.get_suite("intl").group
    precursor = group.decode_element(kfrags[0].precursor)
    xs = [pre._share_x(group, k.id, alice.public, bob.public, precursor) for k in kfrags[:3]]
    f0 = group.scalar(0)
    for x, k in zip(xs, kfrags[:3], strict=True):
        f0 = f0 + lagrange_coefficient(group, xs, x) * group.decode_scalar(k.rk)
    e, v = group.decode_element(ct.capsule.e), group.decode_element(ct.capsule.v)
    with pytest.raises(DecryptionError):
        pre._open_data(pre.get_suite("intl"), ct, f0 * (e + v))
    assert f0 != alice.secret


def test_collusion_with_b_reveals_only_the_policy_key():
    """M proxies + B recover a/d * d = the policy key, never the master or other policies."""
    alice, bob, _, kfrags, _ = setup("intl", 2, 3, seed=13)
    group = pre.get_suite("intl").group
    precursor = group.decode_element(kfrags[0].precursor)
    xs = [pre._share_x(group, k.id, alice.public, bob.public, precursor) for k in kfrags[:2]]
    f0 = group.scalar(0)
    for x, k in zip(xs, kfrags[:2], strict=True):
        f0 = f0 + lagrange_coefficient(group, xs, x) * group.decode_scalar(k.rk)
    d = pre._dh_scalar(group, precursor, bob.public, bob.secret * precursor)
    recovered = f0 * d
    assert recovered == alice.secret  # the delegated policy key (as in Umbral)
    assert recovered != alice.master
    other_policy = pre.derive_policy_key(alice.master, b"policy-2")
    other = pre.encrypt("intl", group.base_mul(other_policy), b"other data", rng=rng_of(1))
    with pytest.raises(DecryptionError):
        pre.decrypt(recovered, other)


def test_bad_fragments_are_named_and_skipped():
    alice, bob, vk, kfrags, ct = setup("sm", 2, 4, seed=15)
    good = reenc(kfrags[:3], ct, alice, bob, vk)
    # a proxy that computes with the wrong rk but re-uses the honest commitment and signature
    group = SM2
    bad_kfrag = pre.KFrag(
        suite="sm",
        id=kfrags[3].id,
        rk=(group.decode_scalar(kfrags[3].rk) + group.scalar(1)).encode(),
        precursor=kfrags[3].precursor,
        commitment=kfrags[3].commitment,
        signature=kfrags[3].signature,
    )
    with pytest.raises(pre.InvalidKFragError):
        pre.reencrypt(bad_kfrag, ct, alice.public, bob.public, vk, rng_of(0))
    corrupted = pre.ReEncrypted(
        good[1].suite,
        good[1].ephemeral,
        good[1].nonce,
        bytes([good[1].sealed[0] ^ 1]) + good[1].sealed[1:],
    )
    out = pre.decrypt_reencrypted(
        bob.secret, alice.public, vk, ct, [corrupted, good[0], good[2]], 2
    )
    assert out == DATA
    with pytest.raises(pre.NotEnoughFragmentsError) as err:
        pre.decrypt_reencrypted(bob.secret, alice.public, vk, ct, [corrupted, good[0]], 2)
    assert err.value.culprits == (0,)


def test_kfrag_must_be_signed_by_the_owner_for_this_receiver():
    alice, bob, vk, kfrags, ct = setup("intl", 2, 3, seed=17)
    mallory = generate_signing_key(AlgId.ED25519, seed=b"m" * 32)
    with pytest.raises(pre.InvalidKFragError):
        pre.reencrypt(kfrags[0], ct, alice.public, bob.public, mallory.public_key, rng_of(0))
    carol = Party("intl", 99)
    with pytest.raises(pre.InvalidKFragError):
        pre.reencrypt(kfrags[0], ct, alice.public, carol.public, vk, rng_of(0))
    sm_key = generate_signing_key(AlgId.SM2, seed=b"s" * 32)
    with pytest.raises(pre.InvalidKFragError):  # wrong algorithm: a typed refusal, not a crash
        pre.reencrypt(kfrags[0], ct, alice.public, bob.public, sm_key.public_key, rng_of(0))


def test_bad_capsules_and_points_are_typed():
    alice, bob, vk, kfrags, ct = setup("intl", 2, 3, seed=19)
    group = pre.get_suite("intl").group
    s = group.decode_scalar(ct.capsule.s) + group.scalar(1)
    bad = pre.PreCiphertext(
        ct.suite, pre.Capsule(ct.capsule.e, ct.capsule.v, s.encode()), ct.nonce, ct.sealed
    )
    with pytest.raises(pre.InvalidCapsuleError):
        pre.reencrypt(kfrags[0], bad, alice.public, bob.public, vk, rng_of(0))
    with pytest.raises(pre.InvalidCapsuleError):
        pre.decrypt(alice.secret, bad)
    # an SM2-curve point inside a secp256k1 capsule, and a point off the curve
    wrong_curve = SM2.base_mul(SM2.scalar(7)).encode()
    off_curve = b"\x02" + (5).to_bytes(32, "big")
    for point in (wrong_curve, off_curve, b"\x04" + bytes(32)):
        mangled = pre.PreCiphertext(
            ct.suite, pre.Capsule(point, ct.capsule.v, ct.capsule.s), ct.nonce, ct.sealed
        )
        with pytest.raises((GroupError, pre.InvalidCapsuleError)):
            pre.reencrypt(kfrags[0], mangled, alice.public, bob.public, vk, rng_of(0))
    with pytest.raises(pre.UnknownSuiteError):
        pre.encrypt("pq", alice.public, b"x", rng_of(0))
    with pytest.raises(pre.InvalidKFragError):
        pre.generate_kfrags(
            "intl", alice.secret, bob.public, generate_signing_key(AlgId.ED25519), 4, 3, rng_of(0)
        )
    with pytest.raises(pre.InvalidPreKeyError):
        pre.encrypt("sm", alice.public, b"x", rng_of(0))  # a secp256k1 key in the sm suite
    with pytest.raises(pre.InvalidPreKeyError):
        pre.generate_kfrags("sm", alice.secret, bob.public, generate_signing_key(AlgId.SM2), 2, 3,
                            rng_of(0))
    tampered = pre.PreCiphertext(
        ct.suite, ct.capsule, ct.nonce, ct.sealed[:-1] + bytes([ct.sealed[-1] ^ 1])
    )
    with pytest.raises(DecryptionError):
        pre.decrypt(alice.secret, tampered)
