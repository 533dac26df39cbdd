"""Suites (every field of every suite resolves to a working algorithm), public-key
encryption and batch verification, for every suite."""

from __future__ import annotations

import dataclasses
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.crypto import batch, encryption, signing
from xinlian.crypto.errors import DecryptionError, InvalidKey, UnknownAlgorithm
from xinlian.crypto.key_exchange import Parties
from xinlian.crypto.keys import AlgId, Ciphertext
from xinlian.crypto.primitives import bls
from xinlian.crypto.primitives.symmetric import KEY_SIZES, open_sealed, seal
from xinlian.crypto.suites import SUITES, Suite, get_suite

SUITE_NAMES = sorted(SUITES)


@pytest.mark.parametrize("name", SUITE_NAMES)
def test_suite_keys_sign_and_verify(name: str) -> None:
    suite = get_suite(name)
    key = suite.generate_signing_key(b"\x05" * 32)
    assert key.public_key.alg == suite.signature
    restored = suite.load_signing_key(key.to_bytes())
    assert restored.public_key == key.public_key
    assert signing.verify(key.public_key, b"m", restored.sign(b"m"))
    assert suite.digest(b"m").alg == suite.hash and len(suite.hash_bytes(b"m")) == 32


@pytest.mark.parametrize("name", SUITE_NAMES)
@settings(max_examples=5)
@given(plaintext=st.binary(max_size=2000), aad=st.binary(max_size=20))
def test_encryption_round_trip_and_tamper(name: str, plaintext: bytes, aad: bytes) -> None:
    key = get_suite(name).generate_encryption_key()
    ct = encryption.encrypt(key.public_key, plaintext, aad)
    assert ct.alg == get_suite(name).encryption
    assert key.decrypt(ct, aad) == plaintext
    tampered = Ciphertext(ct.alg, ct.data[:-1] + bytes([ct.data[-1] ^ 1]))
    with pytest.raises(DecryptionError):
        key.decrypt(tampered, aad)
    with pytest.raises(DecryptionError):
        key.decrypt(ct, aad + b"!")


@pytest.mark.parametrize("name", SUITE_NAMES)
def test_encryption_to_the_wrong_key_fails(name: str) -> None:
    suite = get_suite(name)
    a, b = suite.generate_encryption_key(), suite.generate_encryption_key()
    with pytest.raises(DecryptionError):
        b.decrypt(encryption.encrypt(a.public_key, b"secret"))
    with pytest.raises(DecryptionError):
        a.decrypt(Ciphertext(a.alg, b"\x00" * 8))


def test_unknown_suite_is_typed() -> None:
    with pytest.raises(UnknownAlgorithm):
        get_suite("rot13")


@pytest.mark.parametrize("name", SUITE_NAMES)
def test_batch_verify_flags_exactly_the_bad_items(name: str) -> None:
    suite = get_suite(name)
    key = suite.generate_signing_key(b"\x09" * 32)
    items = []
    for i in range(80):
        msg = b"tx-%d" % i
        sig = key.sign(msg).data
        if i % 7 == 3:
            msg += b"!"  # signature no longer matches
        items.append((int(key.alg), key.public_key.data, msg, sig))
    items.append((99, b"", b"", b""))  # unknown algorithm is invalid, not a crash
    expected = [i % 7 != 3 for i in range(80)] + [False]
    assert batch.verify_batch(items) == expected
    assert batch.verify_batch(items, parallel=False) == expected


def test_algorithm_ids_are_stable() -> None:
    # Ids are part of the canonical encoding of every key and signature on chain.
    assert (AlgId.SM2, AlgId.ED25519, AlgId.ML_DSA_65) == (1, 2, 3)
    assert (AlgId.SM3, AlgId.SHA256, AlgId.SHA3_256) == (16, 17, 18)
    assert int(AlgId.BLS12_381) == 4
    assert (AlgId.X25519, AlgId.ML_KEM_768, AlgId.X25519_ML_KEM_768,
            AlgId.SM2_KEY_EXCHANGE, AlgId.SM2_ML_KEM_768) == (64, 65, 66, 67, 68)
    assert (AlgId.SM2_ML_DSA_65, AlgId.ED25519_ML_DSA_65) == (5, 6)
    assert (AlgId.SM2_ML_KEM_768_SM4_GCM, AlgId.X25519_ML_KEM_768_AES256_GCM) == (51, 52)


# The fields a suite names, each exercised by a test below; a new field fails this list.
SUITE_FIELDS = {"name", "signature", "hash", "aead", "encryption", "key_exchange", "vote",
                "post_quantum", "hash_bytes"}


def test_every_suite_field_is_covered() -> None:
    assert {f.name for f in dataclasses.fields(Suite)} == SUITE_FIELDS


def test_certificates_aggregate_only_on_intl() -> None:
    # BLS12-381 aggregates on intl; sm, pq and the hybrids list suite signatures (SM2,
    # ML-DSA-65 and the composites, so that pq and hybrid consensus stay post-quantum).
    assert {n: s.aggregate_votes for n, s in SUITES.items()} == {
        "intl": True, "sm": False, "pq": False, "hybrid-sm": False, "hybrid-intl": False}
    assert get_suite("sm").vote == AlgId.SM2 and get_suite("pq").vote == AlgId.ML_DSA_65
    assert all(s.vote == s.signature for n, s in SUITES.items() if n.startswith("hybrid"))


@pytest.mark.parametrize("name", SUITE_NAMES)
def test_suite_aead_round_trip(name: str) -> None:
    suite = get_suite(name)
    key, nonce = bytes(range(KEY_SIZES[suite.aead])), b"\x01" * 12
    sealed = seal(suite.aead, key, nonce, b"record", b"head")
    assert open_sealed(suite.aead, key, nonce, sealed, b"head") == b"record"
    with pytest.raises(DecryptionError):
        open_sealed(suite.aead, key, nonce, sealed, b"other head")


@pytest.mark.parametrize("name", SUITE_NAMES)
def test_suite_key_exchange_agrees_on_both_sides(name: str) -> None:
    suite = get_suite(name)
    rng = random.Random(name).randbytes
    a, b = suite.generate_signing_key(b"\x0a" * 32), suite.generate_signing_key(b"\x0b" * 32)
    initiator, responder = suite.new_key_exchange(rng), suite.new_key_exchange(rng)
    assert initiator.alg == suite.key_exchange
    accepted = responder.accept(initiator.offer(), Parties(b, a.public_key, b.public_key))
    completed = initiator.complete(accepted.share, accepted.confirm,
                                   Parties(a, a.public_key, b.public_key))
    responder.check_finish(completed.confirm)
    assert completed.secret == accepted.secret
    keys = suite.derive_keys(completed.secret, salt=b"s", info=b"i", length=64)
    assert len(keys) == 64 and keys != suite.derive_keys(accepted.secret, salt=b"t", info=b"i",
                                                         length=64)


@pytest.mark.parametrize("name", SUITE_NAMES)
def test_suite_vote_sign_aggregate_verify(name: str) -> None:
    suite = get_suite(name)
    pairs = [suite.generate_vote_key(bytes([i]) * 32) for i in range(4)]
    for p in pairs:
        suite.check_vote_key(p.public, p.pop)
    message = b"vote"
    if suite.aggregate_votes:
        signatures = [bls.decode_signature(bls.BlsKey(p.secret).sign(message)) for p in pairs]
        aggregate = bls.decode_signature(bls.aggregate(signatures))
        keys = [bls.decode_public_key(p.public) for p in pairs]
        assert bls.aggregate_verify([bls.sum_public_keys(keys)], [message], aggregate)
        assert not bls.aggregate_verify([bls.sum_public_keys(keys[:3])], [message], aggregate)
        with pytest.raises(InvalidKey):
            suite.check_vote_key(pairs[0].public, pairs[1].pop)  # someone else's proof
    else:
        for p in pairs:
            signature = signing.load_signing_key(suite.vote, p.secret).sign(message)
            assert signing.verify_raw(suite.vote, p.public, message, signature.data)
            assert not signing.verify_raw(suite.vote, p.public, b"other", signature.data)
        with pytest.raises(InvalidKey):
            suite.check_vote_key(pairs[0].public, b"\x01")  # no proofs on list suites
