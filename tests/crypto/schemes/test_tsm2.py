"""Threshold SM2: standard signatures from any t parties, cheaters named, nonces one-time.

Every operation runs the members' protocol cores (`tsm2.core.Tsm2Party`) in the seeded
simulator (`xinlian.testing.mpc.tsm2_committee`); misbehaving members tamper with their own
round messages or skip a stage.
"""

from __future__ import annotations

import random

import gmssl_pyx
import pytest
from gmssl import sm2 as pure_sm2
from hypothesis import given, settings
from hypothesis import strategies as st
from tongsuopy.crypto.asymciphers.utils import encode_dss_signature

from xinlian import codec
from xinlian.crypto.hashes import sm3
from xinlian.crypto.primitives import sm2
from xinlian.crypto.primitives.dleq import DleqProof
from xinlian.crypto.primitives.groups import SECP256K1, SM2, Scalar, lagrange_coefficient
from xinlian.crypto.threshold import tsm2
from xinlian.crypto.threshold.tsm2.core import Keygen, Presign, Refresh, stages
from xinlian.testing.mpc.byzantine import silent_in
from xinlian.testing.mpc.tsm2_committee import Committee

MEMBERS = [1, 2, 3, 4, 5]


def rng_of(seed: int):
    return random.Random(seed).randbytes


def make_parties(members=MEMBERS, t=3, seed=0):
    return [tsm2.Party(i, members, t, rng_of(seed * 100 + i)) for i in members]


def keygen(members=MEMBERS, t=3, seed=0, **faults) -> tuple[Committee, dict[int, tsm2.KeySet]]:
    """A committee (misbehaving members per `faults`) that has run key generation."""
    c = Committee(members, t, seed, **faults)
    c.run(Keygen())
    return c, c.keysets()


def presign(c: Committee, count: int, name: bytes) -> list[tsm2.PresignaturePublic]:
    honest = [i for i in c.members if i not in c.faulty]
    before = {i: len(c.presignatures(i)) for i in honest}
    c.run(Presign(count, name))
    made = {codec.encode(c.presignatures(i)[before[i]:]) for i in honest}
    assert len(made) == 1  # the same presignatures at every well-behaved member
    return c.presignatures(honest[0])[before[honest[0]]:]


@pytest.fixture(scope="module")
def committee():
    c, keysets = keygen()
    keyset = keysets[1]
    assert len(keysets) == 5 and all(k == keyset for k in keysets.values())
    presigs = presign(c, 12, b"batch-1")
    return c, keyset, presigs


def der(sig: bytes) -> bytes:
    return encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))


def test_signature_is_standard_sm2(committee):
    c, keyset, presigs = committee
    message = "转账 100 元".encode()
    sig = c.sign([1, 2, 3], presigs[0], message).signature
    assert sm2.verify(keyset.public_key, message, sig)  # Tongsuo
    assert gmssl_pyx.sm2_verify(keyset.public_key[1:], message, der(sig))  # GmSSL
    pure = pure_sm2.CryptSM2(private_key="", public_key=keyset.public_key[1:].hex())
    e = sm3(sm2.z_a(keyset.public_key) + message)
    assert pure.verify(sig.hex(), e)  # gmssl, pure Python, on the SM3(Z_A || M) digest
    assert not pure.verify(sig.hex(), sm3(b"another digest"))
    assert tsm2.message_scalar(keyset.public_key, message) == int.from_bytes(e, "big")
    assert not sm2.verify(keyset.public_key, message + b"!", sig)


def test_public_key_is_inverse_of_shared_w(committee):
    """P = (w^-1 - 1)*G for the w interpolated from t shares (test-only peek at secrets)."""
    c, keyset, _ = committee
    ids = [1, 3, 5]
    w = SM2.scalar(0)
    for p in c.parties:
        if p.index in ids:
            w = w + lagrange_coefficient(SM2, ids, p.index) * p._w.shares[0]
    d = w.invert() - SM2.scalar(1)
    assert SM2.base_mul(d).encode()[1:] == keyset.public_key[1:33]
    assert SM2.base_mul(w).encode() == keyset.inverse_key
    # and it is an ordinary SM2 key: Tongsuo signs with d, the threshold key verifies
    plain = sm2.SM2PrivateKey(d.encode())
    assert plain.public_bytes == keyset.public_key


_POOL: list[int] = list(range(1, 7))  # presignatures reserved for the property test


@settings(max_examples=6)
@given(st.data())
def test_any_t_parties_sign(committee, data):
    c, keyset, presigs = committee
    signers = data.draw(st.lists(st.sampled_from(MEMBERS), min_size=3, max_size=5, unique=True))
    if not _POOL:
        return  # every reserved nonce has been used (shrinking replays)
    presig = presigs[_POOL.pop()]
    sig = c.sign(signers, presig, b"msg").signature
    assert sm2.verify(keyset.public_key, b"msg", sig)


def test_t_minus_one_partials_cannot_sign(committee):
    c, keyset, presigs = committee
    parties = c.parties
    presig = presigs[7]
    partials = [p.sign(presig.id, b"m") for p in parties[:2]]
    with pytest.raises(tsm2.AbortError):
        tsm2.combine(keyset, presig, b"m", partials)
    # a forged third partial (a made-up value) is named, not accepted
    forged = tsm2.PartialSignature(presig.id, 4, SM2.scalar(12345).encode())
    with pytest.raises(tsm2.AbortError) as err:
        tsm2.combine(keyset, presig, b"m", [*partials, forged])
    assert err.value.culprits == (4,)
    assert err.value.code == 8501


def test_bad_partial_is_named_and_others_finish(committee):
    c, keyset, presigs = committee
    parties = c.parties
    presig = presigs[8]
    partials = [p.sign(presig.id, b"m") for p in parties]
    bad = tsm2.PartialSignature(
        presig.id, 2, (SM2.decode_scalar(partials[1].value) + SM2.scalar(1)).encode()
    )
    out = tsm2.combine(keyset, presig, b"m", [partials[0], bad, *partials[2:]])
    assert sm2.verify(keyset.public_key, b"m", out.signature)
    assert out.culprits == [2]
    # a partial made for another message does not pass either
    with pytest.raises(tsm2.AbortError) as err:
        tsm2.combine(keyset, presig, b"other", partials[:3])
    assert err.value.culprits == (1, 2, 3)


def test_presignatures_are_one_time(committee):
    c, keyset, presigs = committee
    parties = c.parties
    presig = presigs[9]
    parties[0].sign(presig.id, b"first")
    with pytest.raises(tsm2.PresignatureError):
        parties[0].sign(presig.id, b"second")
    with pytest.raises(tsm2.PresignatureError):
        parties[0].sign(b"\x00" * 32, b"m")
    with pytest.raises(tsm2.InvalidMessageError):
        tsm2.combine(keyset, presig, b"m", [parties[1].sign(presig.id, b"m")] * 3)


def test_replayed_session_and_out_of_order_calls(committee):
    c, _, _ = committee
    parties = c.parties
    with pytest.raises(tsm2.InvalidMessageError):
        parties[0].presign_deal(c.session + b"/batch-1", 1, MEMBERS)
    fresh = make_parties(seed=9)
    with pytest.raises(tsm2.InvalidMessageError):
        fresh[0].keygen_open([], [])
    with pytest.raises(tsm2.InvalidMessageError):
        fresh[0].sign(b"x" * 32, b"m")
    with pytest.raises(tsm2.InvalidParametersError):
        tsm2.Party(1, [1, 2, 3, 4], 3, rng_of(1))  # 2t - 1 = 5 > 4
    with pytest.raises(tsm2.InvalidParametersError):
        tsm2.Party(6, MEMBERS, 3, rng_of(1))


def corrupt_share(message: tsm2.PrivateShares) -> tsm2.PrivateShares:
    wrong = (SM2.decode_scalar(message.shares[0]) + SM2.scalar(1)).encode()
    return tsm2.PrivateShares(
        message.session, message.dealer, message.recipient, [wrong, *message.shares[1:]]
    )


def test_dealer_sending_a_bad_share_and_lying_in_public_is_disqualified():

    def tamper(stage, sender, message):
        if sender == 4 and stage == "keygen/private" and message.recipient == 2:
            return corrupt_share(message)
        if sender == 4 and stage == "keygen/reveal":
            return corrupt_share(message)  # the public answer is wrong too
        return message

    c, keysets = keygen(seed=2, tamper=tamper, tampered=[4])
    parties = c.parties
    assert len(keysets) == 5 and len({codec.encode(k) for k in keysets.values()}) == 1
    assert parties[0]._phase is None
    presigs = presign(c, 1, b"p")
    sig = c.sign([3, 4, 5], presigs[0], b"m").signature
    assert sm2.verify(keysets[1].public_key, b"m", sig)
    assert all(p.culprits == {4} for p in parties if p.index != 4)


def test_complaint_answered_correctly_keeps_the_dealer():

    def tamper(stage, sender, message):
        if sender == 1 and stage == "keygen/private" and message.recipient == 5:
            return None  # never delivered; the dealer answers the complaint in public
        return message

    c, keysets = keygen(seed=3, tamper=tamper, tampered=[1])
    presigs = presign(c, 1, b"p")
    sig = c.sign([1, 5, 3], presigs[0], b"m")
    assert sm2.verify(keysets[5].public_key, b"m", sig.signature)
    assert all(p.culprits == set() for p in c.parties)


def test_cheating_multiplier_is_identified():
    """A party whose product resharing does not match its proof is named in the abort."""
    # n = 5 = 2t - 1: every resharing is needed

    def tamper(stage, sender, message):
        if sender == 3 and stage == "keygen-mul/dealing":
            lane = [SECP256K1.base_mul(SECP256K1.scalar(1)).encode(), *message.commitments[0][1:]]
            return tsm2.Dealing(message.session, 3, [lane], message.proofs)
        return message

    with pytest.raises(tsm2.AbortError) as err:
        keygen(seed=4, tamper=tamper, tampered=[3])
    assert err.value.culprits == (3,)


def test_cheating_multiplier_is_excluded_when_enough_remain():
    members = [1, 2, 3, 4, 5, 6, 7]
    presign_deal = len(stages([Keygen()]))  # the slot of the presigning dealings

    def tamper(stage, sender, message):
        if sender == 6 and stage == "presign-mul/dealing":
            proof = message.proofs[0]
            bad = DleqProof(
                proof.challenge, (SM2.decode_scalar(proof.response) + SM2.scalar(1)).encode()
            )
            return tsm2.Dealing(message.session, 6, message.commitments, [bad])
        return message

    # member 2 deals nothing when presigning: a silent dealer
    c, keysets = keygen(members, t=3, seed=5, tamper=tamper, tampered=[6],
                        wrappers={2: silent_in([presign_deal])})
    presigs = presign(c, 1, b"p")
    sig = c.sign([5, 6, 7], presigs[0], b"m")
    assert sm2.verify(keysets[1].public_key, b"m", sig.signature)
    assert c.parties[0].culprits == {2, 6}


def test_bad_opening_share_is_named_and_skipped():

    def tamper(stage, sender, message):
        if sender == 2 and stage == "keygen/open":
            return tsm2.OpenShare(message.session, 2, SM2.scalar(7).encode())
        return message

    c, keysets = keygen(seed=6, tamper=tamper, tampered=[2])
    assert len(keysets) == 5 and len({codec.encode(k) for k in keysets.values()}) == 1
    assert c.parties[0].culprits == {2}


def test_messages_round_trip_and_reject_garbage(committee):
    c, keyset, presigs = committee
    parties = c.parties
    assert codec.decode(codec.encode(keyset), tsm2.KeySet) == keyset
    assert codec.decode(codec.encode(presigs[0]), tsm2.PresignaturePublic) == presigs[0]
    with pytest.raises(codec.CodecError):
        codec.decode(b"\x92\x01", tsm2.Dealing)
    # a non-canonical scalar in a partial signature counts as invalid, typed as abort
    presig = presigs[10]
    partials = [p.sign(presig.id, b"m") for p in parties[:3]]
    junk = tsm2.PartialSignature(presig.id, 1, b"\xff" * 32)
    with pytest.raises(tsm2.AbortError) as err:
        tsm2.combine(keyset, presig, b"m", [junk, *partials[1:]])
    assert err.value.culprits == (1,)


def _w_share(party: tsm2.Party) -> Scalar:
    """A party's share of w, which key generation has set."""
    assert party._w is not None
    return party._w.shares[0]


def test_refresh_changes_every_share_but_not_the_key():
    c, keysets = keygen(seed=7)
    parties, before = c.parties, keysets[1]
    old_presig = presign(c, 1, b"before")[0]
    old_shares = {p.index: _w_share(p) for p in parties}
    c.run(Refresh(b"refresh-1"))
    after = c.keysets()
    keyset = after[1]
    assert len(after) == 5 and all(k == keyset for k in after.values())
    assert keyset.public_key == before.public_key and keyset.inverse_key == before.inverse_key
    assert all(_w_share(p) != old_shares[p.index] for p in parties)
    assert set(keyset.share_keys).isdisjoint(before.share_keys)
    # a presignature from before the refresh and one from after both sign
    sig = c.sign([1, 2, 3], old_presig, b"m").signature
    assert sm2.verify(keyset.public_key, b"m", sig)
    new_presig = presign(c, 1, b"after")[0]
    sig = c.sign([3, 4, 5], new_presig, b"m2").signature
    assert sm2.verify(keyset.public_key, b"m2", sig)
    # an old share mixed with new ones interpolates to garbage, not to w
    ids = [1, 2, 3]
    mixed = {1: old_shares[1], 2: _w_share(parties[1]), 3: _w_share(parties[2])}
    w_mixed = SM2.scalar(0)
    for i in ids:
        w_mixed = w_mixed + lagrange_coefficient(SM2, ids, i) * mixed[i]
    assert SM2.base_mul(w_mixed).encode() != keyset.inverse_key
    with pytest.raises(tsm2.InvalidMessageError):
        parties[0].refresh_deal(c.session + b"/refresh-1")  # replayed session


def test_refresh_dealer_with_a_non_zero_constant_is_disqualified():
    """A dealer that tries to shift the key by dealing a sharing of 1 is caught."""

    def shift(message):
        one = (SM2.decode_scalar(message.shares[0]) + SM2.scalar(1)).encode()
        return type(message)(message.session, message.dealer, message.recipient, [one])

    def tamper(stage, sender, message):
        if sender == 5 and stage in ("refresh/private", "refresh/reveal"):
            return shift(message)
        return message

    c, keysets = keygen(seed=8, tamper=tamper, tampered=[5])  # honest until the refresh
    keyset = keysets[1]
    c.run(Refresh(b"r"))
    after = c.keysets()[1]
    assert after.public_key == keyset.public_key
    assert c.parties[0].culprits == {5}
    presig = presign(c, 1, b"p")[0]
    sig = c.sign([1, 2, 3], presig, b"m").signature
    assert sm2.verify(after.public_key, b"m", sig)
