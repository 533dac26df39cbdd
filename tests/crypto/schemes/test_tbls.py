"""Threshold BLS: combination equals the group key's own signature, cheaters are named."""

from __future__ import annotations

import itertools
import random

import blspy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian import codec
from xinlian.crypto.primitives.bls import Scheme
from xinlian.crypto.primitives.groups import BLS_G1, lagrange_coefficient
from xinlian.crypto.primitives.groups.bls12_381 import ORDER
from xinlian.crypto.threshold import tbls
from xinlian.crypto.threshold.tbls import PartialSignature
from xinlian.testing.mpc.dkg_session import run_parties

MSG = b"block 42 digest"


@pytest.fixture(scope="module")
def committee() -> tuple[tbls.PublicKeySet, list[tbls.KeyShare]]:
    return tbls.deal(7, 5, tbls.seeded(b"committee"))


def group_secret(shares: list[tbls.KeyShare]) -> blspy.PrivateKey:
    """Interpolate the secret (tests only: no protocol step ever does this)."""
    idx = [s.index for s in shares]
    lambdas = [lagrange_coefficient(BLS_G1, idx, i).value for i in idx]
    x = sum(lam * int.from_bytes(s.secret, "big") for lam, s in zip(lambdas, shares, strict=True))
    return blspy.PrivateKey.from_bytes((x % ORDER).to_bytes(32, "big"))


def test_combined_equals_group_key_signature(committee):
    keys, shares = committee
    partials = [tbls.sign_share(s, MSG) for s in shares[:5]]
    combined = tbls.combine(keys, MSG, partials)
    assert combined.culprits == []
    sk = group_secret(shares[:5])
    assert bytes(sk.get_g1()) == keys.group_key
    assert combined.signature == bytes(blspy.PopSchemeMPL.sign(sk, MSG))
    pk = blspy.G1Element.from_bytes(keys.group_key)
    sig = blspy.G2Element.from_bytes(combined.signature)
    assert blspy.PopSchemeMPL.verify(pk, MSG, sig)
    assert tbls.verify(keys.group_key, MSG, combined.signature)
    assert not tbls.verify(keys.group_key, MSG + b"!", combined.signature)


@settings(max_examples=12)
@given(st.data())
def test_any_t_signers_give_the_same_signature(committee, data):
    keys, shares = committee
    subset = data.draw(
        st.lists(st.sampled_from(shares), min_size=5, max_size=7, unique_by=lambda s: s.index)
    )
    partials = [tbls.sign_share(s, MSG) for s in subset]
    expected = tbls.combine(keys, MSG, [tbls.sign_share(s, MSG) for s in shares[:5]]).signature
    assert tbls.combine(keys, MSG, partials).signature == expected


def test_partials_are_standard_signatures_by_share_keys(committee):
    keys, shares = committee
    p = tbls.sign_share(shares[2], MSG)
    assert tbls.verify_share(keys, MSG, p)
    assert not tbls.verify_share(keys, MSG, PartialSignature(index=4, signature=p.signature))
    for s in shares:
        tbls.check_share(keys, s)


def test_bad_partials_are_identified_and_excluded(committee):
    keys, shares = committee
    good = [tbls.sign_share(s, MSG) for s in shares]
    # signer 2 signs another message, signer 4 sends signer 5's partial as its own
    bad2 = PartialSignature(index=2, signature=tbls.sign_share(shares[1], b"other").signature)
    bad4 = PartialSignature(index=4, signature=good[4].signature)
    mixed = [good[0], bad2, good[2], bad4, good[4], good[5], good[6]]
    out = tbls.combine(keys, MSG, mixed)
    assert out.culprits == [2, 4]
    assert tbls.verify(keys.group_key, MSG, out.signature)


def test_t_minus_one_valid_partials_fail_and_name_culprits(committee):
    keys, shares = committee
    good = [tbls.sign_share(s, MSG) for s in shares[:4]]
    forged = PartialSignature(index=6, signature=tbls.sign_share(shares[0], MSG).signature)
    with pytest.raises(tbls.NotEnoughPartialsError) as err:
        tbls.combine(keys, MSG, [*good, forged])
    assert err.value.culprits == (6,)
    assert err.value.code == 8404
    with pytest.raises(tbls.NotEnoughPartialsError):
        tbls.combine(keys, MSG, good)


def test_t_minus_one_shares_cannot_forge():
    """Shares of t-1 signers interpolate to a wrong key: the result is rejected."""
    keys, shares = tbls.deal(5, 3, tbls.seeded(b"forge"))
    for pair in itertools.combinations(shares, 2):
        attempt = group_secret(list(pair))
        assert bytes(attempt.get_g1()) != keys.group_key
        sig = bytes(blspy.PopSchemeMPL.sign(attempt, MSG))
        assert not tbls.verify(keys.group_key, MSG, sig)
        # partials lying about the third index do not help either
        third = min({1, 2, 3, 4, 5} - {s.index for s in pair})
        fake = PartialSignature(index=third, signature=sig)
        partials = [tbls.sign_share(s, MSG) for s in pair] + [fake]
        with pytest.raises(tbls.NotEnoughPartialsError):
            tbls.combine(keys, MSG, partials)


def test_replayed_and_out_of_range_partials_rejected(committee):
    keys, shares = committee
    p = [tbls.sign_share(s, MSG) for s in shares[:5]]
    with pytest.raises(tbls.InvalidPartialError):
        tbls.combine(keys, MSG, [*p, p[0]])
    with pytest.raises(tbls.InvalidPartialError):
        tbls.combine(keys, MSG, [*p[:4], PartialSignature(index=8, signature=p[0].signature)])
    with pytest.raises(tbls.InvalidPartialError):
        tbls.combine(keys, MSG, [*p[:4], PartialSignature(index=0, signature=p[0].signature)])


def test_malformed_and_wrong_group_points(committee):
    keys, shares = committee
    p = [tbls.sign_share(s, MSG) for s in shares[:5]]
    g2_infinity = bytes([0xC0]) + bytes(95)
    junk = [bytes(96), b"\xff" * 96, g2_infinity]
    for bad in junk:
        partial = PartialSignature(index=1, signature=bad)
        assert not tbls.verify_share(keys, MSG, partial)
        with pytest.raises(tbls.NotEnoughPartialsError) as err:
            tbls.combine(keys, MSG, [partial, *p[1:]])
        assert err.value.culprits == (1,)
    assert not tbls.verify(keys.group_key, MSG, bytes(96))
    with pytest.raises(tbls.InvalidPointError):
        tbls.key_set_from_commitments(3, [bytes(48)])
    with pytest.raises(tbls.InvalidPointError):
        tbls.key_set_from_commitments(3, [bytes([0xC0]) + bytes(47)])  # identity
    # a G1 point in G2's slot has the wrong size, an x that is not on the curve is rejected
    with pytest.raises(tbls.InvalidPointError):
        tbls.key_set_from_commitments(3, [keys.group_key[:47]])


def test_not_in_subgroup_point_rejected():
    """A valid curve point outside the prime-order subgroup (cofactor torsion) is rejected."""
    # find an x for which the compressed encoding decodes unchecked but fails the subgroup check
    import py_arkworks_bls12381 as ark

    for x in range(1, 200):
        data = bytes([0x80]) + x.to_bytes(47, "big")
        try:
            p = ark.G1Point.from_compressed_bytes_unchecked(data)
        except ValueError:
            continue
        if not p.is_in_subgroup():
            break
    else:
        pytest.fail("no torsion point found")
    with pytest.raises(tbls.InvalidPointError):
        tbls.key_set_from_commitments(2, [data])


def test_wrong_share_detected(committee):
    keys, shares = committee
    wrong = tbls.KeyShare(index=1, secret=shares[1].secret)
    with pytest.raises(tbls.InvalidShareError):
        tbls.check_share(keys, wrong)
    with pytest.raises(tbls.InvalidShareError):
        tbls.check_share(keys, tbls.KeyShare(index=1, secret=bytes(32)))
    with pytest.raises(tbls.InvalidShareError):
        tbls.deal(3, 4, tbls.seeded(b"t > n"))


def test_codec_round_trip_and_malformed_bytes(committee):
    keys, shares = committee
    p = tbls.sign_share(shares[0], MSG)
    assert codec.decode(codec.encode(keys), tbls.PublicKeySet) == keys
    assert codec.decode(codec.encode(p), PartialSignature) == p
    with pytest.raises(codec.CodecError):
        codec.decode(codec.encode([1, b"short"]), PartialSignature)


def test_feldman_commitments_give_the_same_key_set():
    keys, shares = tbls.deal(4, 3, tbls.seeded(b"feldman"))
    # re-derive from the dealer's commitments: X_i must equal share_i * g1
    for s in shares:
        assert keys.share_key(s.index) == bytes(blspy.PrivateKey.from_bytes(s.secret).get_g1())


def test_batch_verification_catches_one_bad_item(committee):
    keys, shares = committee
    other_keys, other_shares = tbls.deal(4, 3, tbls.seeded(b"other"))
    items = []
    for i, (ks, sh) in enumerate([(keys, shares[:5]), (other_keys, other_shares[:3])] * 2):
        m = b"cert %d" % i
        sig = tbls.combine(ks, m, [tbls.sign_share(s, m) for s in sh]).signature
        items.append((ks.group_key, m, sig))
    assert tbls.verify_batch(items)
    # swapping two valid signatures keeps their sum but must still fail
    swapped = [
        items[0],
        items[1],
        (items[2][0], items[2][1], items[0][2]),
        (items[3][0], items[3][1], items[2][2]),
    ]
    assert not tbls.verify_batch(swapped)
    assert not tbls.verify_batch([*items[:3], (items[3][0], b"x", items[3][2])])
    assert tbls.verify_batch([])


def test_drand_mainnet_round_1337_vector():
    """League of Entropy mainnet (a real threshold BLS beacon), round 1337."""
    pk = bytes.fromhex(
        "868f005eb8e6e4ca0a47c8a77ceaa5309a47978a7c71bc5cce96366b5d7a5699"
        "37c529eeda66c7293784a9402801af31"
    )
    prev = bytes.fromhex(
        "80d95247ddf1bb3acf5738497a5f10406be283144603f63d714bb1a44ff6b932"
        "85ae2697fffeb50c68862bd9fbecd4b204b1798d2686b4ac5d573615031d9d67"
        "e6168bde9a7adf1161430a498ca701a25c216aee3e38ffd5290369034fa050a2"
    )
    sig = bytes.fromhex(
        "945b08dcb30e24da281ccf14a646f0630ceec515af5c5895e18cc1b19edd65d1"
        "56b71c776a369af3487f1bc6af1062500b059e01095cc0eedce91713977d7735"
        "cac675554edfa0d0481bb991ed93d333d08286192c05bf6b65d20f23a37fc7bb"
    )
    randomness = tbls.verify_beacon(pk, 1337, prev, sig)
    assert randomness.hex() == "2660664f8d4bc401194d80d81da20a1e79480f65b8e2d205aecbd143b5bfb0d3"
    with pytest.raises(tbls.InvalidBeaconError):
        tbls.verify_beacon(pk, 1338, prev, sig)


def test_own_beacon_chain_is_unique_per_round():
    keys, shares = tbls.deal(5, 3, tbls.seeded(b"beacon"))
    prev = b""
    outputs = []
    for rnd in range(1, 4):
        m = tbls.beacon_message(rnd, prev)
        a = tbls.combine(
            keys, m, [tbls.sign_share(s, m, Scheme.BASIC) for s in shares[:3]], Scheme.BASIC
        )
        b = tbls.combine(
            keys, m, [tbls.sign_share(s, m, Scheme.BASIC) for s in shares[2:]], Scheme.BASIC
        )
        assert a.signature == b.signature  # any signer set: the same, unbiasable value
        outputs.append(tbls.verify_beacon(keys.group_key, rnd, prev, a.signature))
        prev = a.signature
    assert len(set(outputs)) == 3
    # a POP-scheme signature is not a beacon signature (domain separation)
    m = tbls.beacon_message(1, b"")
    pop = tbls.combine(keys, m, [tbls.sign_share(s, m) for s in shares[:3]]).signature
    with pytest.raises(tbls.InvalidBeaconError):
        tbls.verify_beacon(keys.group_key, 1, b"", pop)


def test_torsion_points_rejected_on_every_path(committee):
    """Curve points with a cofactor component, found by search, in G1 and G2 slots."""
    import py_arkworks_bls12381 as ark

    def torsion(size: int, decode) -> bytes:
        for x in range(1, 1000):
            data = bytes([0x80]) + x.to_bytes(size - 1, "big")
            try:
                point = decode(data)
            except ValueError:
                continue
            if not point.is_in_subgroup():
                return data
        raise AssertionError("no torsion point found")

    keys, shares = committee
    g2_bad = torsion(96, ark.G2Point.from_compressed_bytes_unchecked)
    g1_bad = torsion(48, ark.G1Point.from_compressed_bytes_unchecked)
    assert not tbls.verify_share(keys, MSG, PartialSignature(index=1, signature=g2_bad))
    assert not tbls.verify(keys.group_key, MSG, g2_bad)
    assert not tbls.verify(g1_bad, MSG, tbls.sign_share(shares[0], MSG).signature)
    assert not tbls.verify_batch([(g1_bad, MSG, g2_bad)])


def dkg_committee(n: int, t: int, seed: int):
    """A dealerless threshold-BLS committee: the project's DKG run over BLS12-381 G1."""
    from xinlian.crypto.threshold import dkg

    g = BLS_G1
    rng = random.Random(seed).randbytes
    ids = list(range(1, n + 1))
    transport = {i: g.random_scalar(rng) for i in ids}
    pubs = {i: g.base_mul(transport[i]) for i in ids}
    config = dkg.DkgConfig.keygen(g, b"bls-committee", ids, t, pubs)
    run = run_parties({i: dkg.DkgParty(config, i, transport[i], rng=rng) for i in ids})
    assert not run.aborted
    return run, transport, pubs


def test_dkg_keyed_committee_signs_without_a_dealer():
    from xinlian.crypto.threshold import dkg

    run, transport, pubs = dkg_committee(4, 3, seed=41)
    package = run.results[1].public
    keys = tbls.key_set_from_package(package)
    shares = [tbls.key_share_from_dkg(run.results[i].key_share) for i in (1, 2, 3, 4)]
    for s in shares:
        tbls.check_share(keys, s)
    out = tbls.combine(keys, MSG, [tbls.sign_share(s, MSG) for s in shares[1:]])
    pk = blspy.G1Element.from_bytes(keys.group_key)
    assert blspy.PopSchemeMPL.verify(pk, MSG, blspy.G2Element.from_bytes(out.signature))
    # proactive refresh by the DKG: new shares, same group key, same signatures
    config = dkg.DkgConfig.refresh(package, b"bls-refresh", pubs)
    parties = {
        i: dkg.DkgParty(config, i, transport[i], key_share=run.results[i].key_share,
                     rng=random.Random(50 + i).randbytes)
        for i in (1, 2, 3, 4)
    }
    refreshed = run_parties(parties)
    assert not refreshed.aborted
    new_keys = tbls.key_set_from_package(refreshed.results[1].public)
    assert new_keys.group_key == keys.group_key and new_keys.share_keys != keys.share_keys
    dkg_shares = [share for i in (1, 2, 4)
                  if (share := refreshed.results[i].key_share) is not None]
    assert len(dkg_shares) == 3
    new_shares = [tbls.key_share_from_dkg(s) for s in dkg_shares]
    again = tbls.combine(new_keys, MSG, [tbls.sign_share(s, MSG) for s in new_shares])
    assert again.signature == out.signature
    # an old share is useless against the refreshed key set
    assert not tbls.verify_share(new_keys, MSG, tbls.sign_share(shares[0], MSG))


def test_bls_g1_group_rejects_bad_points():
    from xinlian.crypto.primitives.groups import (
        IdentityElementError,
        NonCanonicalEncodingError,
        NotOnCurveError,
        SmallSubgroupError,
    )

    g = BLS_G1
    p = g.base_mul(g.scalar(5))
    assert g.decode_element(p.encode()) == p
    assert g.hash_to_element(b"dst", b"m") != g.hash_to_element(b"dst", b"n")
    with pytest.raises(IdentityElementError):
        g.decode_element(bytes([0xC0]) + bytes(47))
    with pytest.raises((NotOnCurveError, NonCanonicalEncodingError)):
        g.decode_element(b"\xff" * 48)
    for x in range(1, 200):
        data = bytes([0x80]) + x.to_bytes(47, "big")
        try:
            g.decode_element(data)
        except SmallSubgroupError:
            break
        except (NotOnCurveError, NonCanonicalEncodingError):
            continue
    else:
        pytest.fail("no torsion point met")
    with pytest.raises(tbls.InvalidShareError):
        from xinlian.crypto.primitives.groups import ED25519
        from xinlian.crypto.threshold.dkg import PublicKeyPackage

        tbls.key_set_from_package(PublicKeyPackage(ED25519, 1, (1,), (ED25519.generator(),)))
