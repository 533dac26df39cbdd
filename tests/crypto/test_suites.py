"""Suites, public-key encryption and batch verification, for every suite."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.crypto import batch, encryption, signing
from xinlian.crypto.errors import DecryptionError, UnknownAlgorithm
from xinlian.crypto.keys import AlgId, Ciphertext
from xinlian.crypto.suites import SUITES, get_suite

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
