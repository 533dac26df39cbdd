"""Ed25519 (RFC 8032) and ML-DSA-65 against vectors and independent implementations (ML-KEM
 against kyber-py and liboqs: test_pq_crosscheck.py)."""

from __future__ import annotations

import fast_mldsa
import pqcrypto.sign.ml_dsa_65 as pq_mldsa
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.crypto import signing
from xinlian.crypto.errors import AlgorithmMismatch, InvalidKey, UnknownAlgorithm
from xinlian.crypto.hashes import keccak256, sha3_256, sha256
from xinlian.crypto.keys import AlgId, PublicKey, Signature

# RFC 8032 section 7.1, tests 1-3: (secret, public, message, signature).
RFC8032 = [
    ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
    ("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
]


@pytest.mark.parametrize(("secret", "public", "message", "sig"), RFC8032)
def test_ed25519_rfc8032_vectors(secret: str, public: str, message: str, sig: str) -> None:
    key = signing.load_signing_key(AlgId.ED25519, bytes.fromhex(secret))
    assert key.public_key == PublicKey(AlgId.ED25519, bytes.fromhex(public))
    assert key.sign(bytes.fromhex(message)).data.hex() == sig
    assert signing.verify(key.public_key, bytes.fromhex(message),
                          Signature(AlgId.ED25519, bytes.fromhex(sig)))


@given(st.binary(max_size=300), st.binary(min_size=32, max_size=32))
def test_ed25519_verifies_in_openssl(message: bytes, seed: bytes) -> None:
    key = signing.generate_signing_key(AlgId.ED25519, seed)
    Ed25519PublicKey.from_public_bytes(key.public_key.data).verify(key.sign(message).data,
                                                                   message)


def test_hash_vectors() -> None:
    assert sha256(b"abc").hex().startswith("ba7816bf8f01cfea")
    assert sha3_256(b"").hex().startswith("a7ffc6f8bf1ed766")
    assert keccak256(b"").hex() == (
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")


@settings(max_examples=10)
@given(st.binary(max_size=200), st.binary(min_size=32, max_size=32))
def test_mldsa65_cross_checks_with_pqclean(message: bytes, seed: bytes) -> None:
    ours = signing.generate_signing_key(AlgId.ML_DSA_65, seed)
    sig = ours.sign(message)
    assert len(sig.data) == 3309 and len(ours.public_key.data) == 1952
    pq_mldsa.verify(ours.public_key.data, message, sig.data)  # raises if invalid
    pk, sk = pq_mldsa.keygen()
    theirs = pq_mldsa.sign(sk, message)
    assert signing.verify(PublicKey(AlgId.ML_DSA_65, pk), message,
                          Signature(AlgId.ML_DSA_65, theirs))
    assert not signing.verify(PublicKey(AlgId.ML_DSA_65, pk), message + b"x",
                              Signature(AlgId.ML_DSA_65, theirs))


def test_mldsa65_key_from_seed_is_deterministic() -> None:
    a = signing.generate_signing_key(AlgId.ML_DSA_65, b"\x07" * 32)
    b = signing.generate_signing_key(AlgId.ML_DSA_65, b"\x07" * 32)
    vk, _ = fast_mldsa.MlDsa65.key_gen(seed=b"\x07" * 32)
    assert a.public_key == b.public_key == PublicKey(AlgId.ML_DSA_65, vk.to_bytes())


@pytest.mark.parametrize("alg", signing.SIGNATURE_ALGS)
def test_signatures_reject_tampering_and_mismatch(alg: AlgId) -> None:
    key = signing.generate_signing_key(alg, b"\x01" * 32)
    sig = key.sign(b"payload")
    assert signing.verify(key.public_key, b"payload", sig)
    assert not signing.verify(key.public_key, b"payloaD", sig)
    flipped = Signature(alg, sig.data[:-1] + bytes([sig.data[-1] ^ 1]))
    assert not signing.verify(key.public_key, b"payload", flipped)
    other = signing.generate_signing_key(alg, b"\x02" * 32)
    assert not signing.verify(other.public_key, b"payload", sig)
    assert not signing.verify(key.public_key, b"payload", Signature(alg, b"short"))
    wrong_alg = next(a for a in signing.SIGNATURE_ALGS if a != alg)
    with pytest.raises(AlgorithmMismatch):
        signing.verify(key.public_key, b"payload", Signature(wrong_alg, sig.data))


def test_bad_keys_are_typed() -> None:
    with pytest.raises(InvalidKey):
        signing.load_signing_key(AlgId.ED25519, b"short")
    with pytest.raises(InvalidKey):
        signing.check_public_key(PublicKey(AlgId.ED25519, b"\0" * 31))
    with pytest.raises(UnknownAlgorithm):
        signing.generate_signing_key(AlgId.SM3)
    with pytest.raises(UnknownAlgorithm):
        signing.verify_raw(99, b"", b"", b"")
