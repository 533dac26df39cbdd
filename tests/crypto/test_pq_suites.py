"""Composite signatures, hybrid encryption and exchanges on bad input, and the indicators.

A composite signature is valid only if both halves are; malformed keys and signatures get
typed errors or a plain False (never a library exception); random tampering never verifies
(hypothesis, seeded by its own database-free derandomised runs); a post-quantum suite
refuses any algorithm that fails an indicator for its use."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.crypto import composite, encryption, signing
from xinlian.crypto.errors import (
    AlgorithmMismatch,
    DecryptionError,
    IndicatorNotMet,
    InvalidKey,
    KeyExchangeError,
    MalformedShare,
)
from xinlian.crypto.key_exchange import Parties
from xinlian.crypto.keys import AlgId, Ciphertext, PublicKey, Signature
from xinlian.crypto.pq_params import ALGORITHMS, require, require_alg
from xinlian.crypto.suites import Suite, get_suite

COMPOSITES = [(AlgId.SM2_ML_DSA_65, AlgId.SM2, composite.MLDSA65_SM2),
              (AlgId.ED25519_ML_DSA_65, AlgId.ED25519, composite.MLDSA65_ED25519)]
KEYS = {alg: signing.generate_signing_key(alg, b"\x11" * 32) for alg, _, _ in COMPOSITES}
OTHER = {alg: signing.generate_signing_key(alg, b"\x22" * 32) for alg, _, _ in COMPOSITES}
SIGS = {alg: key.sign(b"transfer 7") for alg, key in KEYS.items()}
CUT = composite.MLDSA65_SIGNATURE_SIZE


@pytest.mark.parametrize("alg, classical, combination", COMPOSITES)
def test_a_composite_with_one_valid_half_is_refused(
        alg: AlgId, classical: AlgId, combination: composite.Combination) -> None:
    key, other, sig = KEYS[alg], OTHER[alg], SIGS[alg]
    assert signing.verify(key.public_key, b"transfer 7", sig)
    assert len(sig.data) == combination.signature_size
    foreign = other.sign(b"transfer 7").data
    pq_forged = Signature(alg, foreign[:CUT] + sig.data[CUT:])  # classical half valid
    classical_forged = Signature(alg, sig.data[:CUT] + foreign[CUT:])  # ML-DSA half valid
    for forged in (pq_forged, classical_forged):
        assert not signing.verify(key.public_key, b"transfer 7", forged)
    # Each half is a valid signature of M' by its own algorithm...
    _, classical_public = combination.split_public(key.public_key.data)
    m = combination.representative(b"transfer 7")
    assert signing.verify_raw(classical, classical_public, m, sig.data[CUT:])
    # ... but the classical half is no signature of the message itself (domain separation).
    assert not signing.verify_raw(classical, classical_public, b"transfer 7", sig.data[CUT:])


def test_halves_do_not_move_between_combinations() -> None:
    # Same ML-DSA seed derivation, different labels: the ML-DSA half of one composite does not
    # verify inside the other.
    sm2_key, ed_key = KEYS[AlgId.SM2_ML_DSA_65], KEYS[AlgId.ED25519_ML_DSA_65]
    assert sm2_key.public_key.data[:1952] == ed_key.public_key.data[:1952]
    moved = SIGS[AlgId.SM2_ML_DSA_65].data[:CUT] + ed_key.sign(b"transfer 7").data[CUT:]
    assert not signing.verify(ed_key.public_key, b"transfer 7",
                              Signature(AlgId.ED25519_ML_DSA_65, moved))


@pytest.mark.parametrize("alg, classical, combination", COMPOSITES)
def test_malformed_composite_keys_and_signatures(
        alg: AlgId, classical: AlgId, combination: composite.Combination) -> None:
    key = KEYS[alg]
    for bad in (b"", key.public_key.data[:-1], key.public_key.data + b"\0"):
        with pytest.raises(InvalidKey):
            signing.check_public_key(PublicKey(alg, bad))
        assert not signing.verify(PublicKey(alg, bad), b"transfer 7", SIGS[alg])
    for bad in (b"", SIGS[alg].data[:-1], SIGS[alg].data + b"\0", bytes(len(SIGS[alg].data))):
        assert not signing.verify(key.public_key, b"transfer 7", Signature(alg, bad))
    with pytest.raises(AlgorithmMismatch):
        signing.verify(key.public_key, b"transfer 7", Signature(AlgId.ML_DSA_65, SIGS[alg].data))
    for secret in (b"", bytes(32), bytes(65)):
        with pytest.raises(InvalidKey):
            signing.load_signing_key(alg, secret)
    with pytest.raises(InvalidKey):
        signing.generate_signing_key(alg, b"short seed")


def test_an_sm2_composite_key_off_the_curve_is_invalid() -> None:
    data = bytearray(KEYS[AlgId.SM2_ML_DSA_65].public_key.data)
    data[-1] ^= 1  # the SM2 point's y coordinate
    with pytest.raises(InvalidKey):
        signing.check_public_key(PublicKey(AlgId.SM2_ML_DSA_65, bytes(data)))


def test_malformed_mldsa65_keys_and_signatures() -> None:
    key = signing.generate_signing_key(AlgId.ML_DSA_65, b"\x33" * 32)
    sig = key.sign(b"m")
    for bad in (b"", key.public_key.data[:-1], bytes(1952 + 1)):
        with pytest.raises(InvalidKey):
            signing.check_public_key(PublicKey(AlgId.ML_DSA_65, bad))
    for bad_sig in (b"", sig.data[:-1], sig.data + b"\0", b"\xff" * len(sig.data)):
        assert not signing.verify(key.public_key, b"m", Signature(AlgId.ML_DSA_65, bad_sig))
    with pytest.raises(InvalidKey):
        signing.load_signing_key(AlgId.ML_DSA_65, bytes(31))


@settings(max_examples=60, derandomize=True, deadline=None)
@given(alg=st.sampled_from([AlgId.SM2_ML_DSA_65, AlgId.ED25519_ML_DSA_65]),
       position=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255),
       cut=st.integers(min_value=0, max_value=8))
def test_random_tampering_never_verifies(alg: AlgId, position: int, flip: int,
                                         cut: int) -> None:
    key, sig = KEYS[alg], SIGS[alg]
    data = bytearray(sig.data)
    data[position % len(data)] ^= flip
    assert not signing.verify(key.public_key, b"transfer 7", Signature(alg, bytes(data)))
    if cut:
        assert not signing.verify(key.public_key, b"transfer 7", Signature(alg, sig.data[:-cut]))
    public = bytearray(key.public_key.data)
    public[position % len(public)] ^= flip
    assert not signing.verify(PublicKey(alg, bytes(public)), b"transfer 7", sig)


HYBRID_ENC = [AlgId.SM2_ML_KEM_768_SM4_GCM, AlgId.X25519_ML_KEM_768_AES256_GCM]
DKEYS = {alg: encryption.DecryptionKey.generate(alg) for alg in HYBRID_ENC}


@settings(max_examples=30, derandomize=True, deadline=None)
@given(alg=st.sampled_from(HYBRID_ENC), position=st.integers(min_value=0),
       flip=st.integers(min_value=1, max_value=255))
def test_tampered_hybrid_ciphertexts_never_decrypt(alg: AlgId, position: int, flip: int) -> None:
    key = DKEYS[alg]
    ct = encryption.encrypt(key.public_key, b"medical record", aad=b"h")
    data = bytearray(ct.data)
    data[position % len(data)] ^= flip  # the classical part, the ML-KEM part or the AEAD
    with pytest.raises(DecryptionError):
        key.decrypt(Ciphertext(alg, bytes(data)), aad=b"h")


@pytest.mark.parametrize("alg", HYBRID_ENC)
def test_malformed_hybrid_encryption_keys_and_ciphertexts(alg: AlgId) -> None:
    key = DKEYS[alg]
    with pytest.raises(InvalidKey):
        encryption.encrypt(PublicKey(alg, key.public_key.data[:-1]), b"x")
    with pytest.raises(InvalidKey):
        encryption.DecryptionKey(alg, key.secret[:-1])
    with pytest.raises(DecryptionError):
        key.decrypt(Ciphertext(alg, b"\0" * 40))
    other = encryption.DecryptionKey.generate(alg)
    with pytest.raises(DecryptionError):
        other.decrypt(encryption.encrypt(key.public_key, b"x"))


@pytest.mark.parametrize("name", ["hybrid-sm", "hybrid-intl"])
def test_hybrid_exchange_refuses_malformed_shares(name: str) -> None:
    suite = get_suite(name)
    a, b = suite.generate_signing_key(b"\x01" * 32), suite.generate_signing_key(b"\x02" * 32)
    pa, pb = Parties(a, a.public_key, b.public_key), Parties(b, a.public_key, b.public_key)
    initiator, responder = suite.new_key_exchange(os.urandom), suite.new_key_exchange(os.urandom)
    offer = initiator.offer()
    for bad in (b"", offer[:-1], offer + b"\0"):
        with pytest.raises(MalformedShare):
            suite.new_key_exchange(os.urandom).accept(bad, pb)
    accepted = responder.accept(offer, pb)
    with pytest.raises(MalformedShare):
        initiator.complete(accepted.share[:-1], accepted.confirm, pa)
    if accepted.confirm:  # the SM2 exchange's tag S_B: a wrong one is refused
        with pytest.raises(KeyExchangeError):
            initiator.complete(accepted.share, bytes(len(accepted.confirm)), pa)
    # A tampered ML-KEM ciphertext decapsulates to another secret (implicit rejection): the
    # handshake's finished messages, keyed by the secret, then fail.
    done = suite.new_key_exchange(os.urandom)
    accepted2 = suite.new_key_exchange(os.urandom).accept(done.offer(), pb)
    tampered = bytearray(accepted2.share)
    tampered[-1] ^= 1
    assert done.complete(bytes(tampered), accepted2.confirm, pa).secret != accepted2.secret


def test_catalogue_flags_what_fails_and_suites_refuse_it() -> None:
    failing = {a.name for a in ALGORITHMS if a.static_failures()}
    assert failing == {"ML-DSA-44", "Falcon-512", "SLH-DSA-SHA2-128s", "SLH-DSA-SHA2-128f",
                       "ML-KEM-512", "ML-KEM-1024"}
    for name, use in [("ML-DSA-44", "signature"), ("SLH-DSA-SHA2-128f", "signature"),
                      ("ML-KEM-1024", "encryption"), ("ML-DSA-65", "encryption"),
                      ("SM2", "signature")]:
        with pytest.raises(IndicatorNotMet):
            require(name, use)
    assert require("Falcon-1024", "signature").signature <= 5000
    with pytest.raises(IndicatorNotMet):
        require_alg(AlgId.ED25519, "signature")
    pq = get_suite("pq")
    with pytest.raises(IndicatorNotMet):  # a classical-only signature on a post-quantum suite
        Suite("pq-classical", signature=AlgId.ED25519, hash=pq.hash, aead=pq.aead,
              encryption=pq.encryption, key_exchange=pq.key_exchange, vote=pq.vote,
              post_quantum=True)
    with pytest.raises(IndicatorNotMet):  # X25519 alone: harvest now, decrypt later
        Suite("pq-x25519", signature=pq.signature, hash=pq.hash, aead=pq.aead,
              encryption=AlgId.X25519_AES256_GCM, key_exchange=pq.key_exchange,
              vote=pq.vote, post_quantum=True)


@pytest.mark.parametrize("alg", [AlgId.ML_DSA_65, AlgId.ED25519_ML_DSA_65, AlgId.SM2_ML_DSA_65])
def test_a_replayable_key_signs_ml_dsa_the_same_each_time(alg: AlgId) -> None:
    """Seeded simulations sign with `replayable` keys: FIPS 204's deterministic variant for
    the ML-DSA part, still verifying as the hedged one does; real keys stay hedged."""
    key = signing.generate_signing_key(alg, bytes(range(32)))
    again = signing.replayable(key)
    assert again.public_key == key.public_key and again.to_bytes() == key.to_bytes()
    message = b"block 7"
    hedged = [key.sign(message).data for _ in range(2)]
    fixed = [again.sign(message).data for _ in range(2)]
    mldsa = 3309  # FIPS 204's ML-DSA-65 signature, first in a composite
    assert hedged[0][:mldsa] != hedged[1][:mldsa]
    assert fixed[0][:mldsa] == fixed[1][:mldsa]
    if alg == AlgId.ML_DSA_65:
        assert fixed[0] == fixed[1]
    for data in hedged + fixed:
        assert signing.verify(key.public_key, message, Signature(alg, data))


def test_replayable_leaves_classical_keys_alone() -> None:
    key = signing.generate_signing_key(AlgId.ED25519, bytes(32))
    assert signing.replayable(key) is key
