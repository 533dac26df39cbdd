"""Signature schemes by algorithm id: SM2 (GB/T 32918), Ed25519 (RFC 8032), ML-DSA-65 (FIPS 204).

Keys are typed objects (`SigningKey.sign`, `verify(public_key, message, signature)`), and
every public key and signature carries its algorithm id. `verify_raw` is the plain-bytes
form that batch verification ships to worker processes, and `verify_many_raw` its batch:
SM2 checks a whole batch in one call to the native verifier.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import lru_cache

import fast_mldsa
import nacl.exceptions
import nacl.signing

from xinlian.crypto.errors import AlgorithmMismatch, InvalidKey, UnknownAlgorithm
from xinlian.crypto.hashes import sm3
from xinlian.crypto.keys import AlgId, PublicKey, Signature
from xinlian.crypto.primitives import sm2

SIGNATURE_ALGS = (AlgId.SM2, AlgId.ED25519, AlgId.ML_DSA_65)
SEED_SIZE = 32


class SigningKey:
    """A private signing key of one algorithm. `to_bytes` gives the secret to store."""

    __slots__ = ("_sign", "alg", "public_key", "secret")

    def __init__(self, alg: AlgId, secret: bytes, public: bytes,
                 sign: Callable[[bytes], bytes]) -> None:
        self.alg = alg
        self.secret = secret
        self.public_key = PublicKey(alg, public)
        self._sign = sign

    def sign(self, message: bytes) -> Signature:
        return Signature(self.alg, self._sign(message))

    def to_bytes(self) -> bytes:
        return self.secret

    def __repr__(self) -> str:
        return f"SigningKey({self.alg.name}, public={self.public_key.data.hex()[:16]}...)"


def _sm2_key(secret: bytes) -> SigningKey:
    key = sm2.SM2PrivateKey(secret)
    return SigningKey(AlgId.SM2, secret, key.public_bytes, key.sign)


def _sm2_secret_from_seed(seed: bytes) -> bytes:
    # Map 32 seed bytes into [1, n-2] deterministically (hash, then reduce).
    d = int.from_bytes(sm3(b"xinlian-sm2-keygen" + seed), "big") % (sm2.N - 2) + 1
    return d.to_bytes(32, "big")


def _ed25519_key(secret: bytes) -> SigningKey:
    if len(secret) != SEED_SIZE:
        raise InvalidKey("an Ed25519 private key is a 32-byte seed")
    key = nacl.signing.SigningKey(secret)
    return SigningKey(AlgId.ED25519, secret, bytes(key.verify_key),
                      lambda m: key.sign(m).signature)


def _mldsa_key(secret: bytes) -> SigningKey:
    # The stored secret is the 32-byte FIPS 204 key-generation seed (xi).
    if len(secret) != SEED_SIZE:
        raise InvalidKey("an ML-DSA-65 private key is stored as its 32-byte seed")
    vk, sk = fast_mldsa.MlDsa65.key_gen(seed=secret)
    return SigningKey(AlgId.ML_DSA_65, secret, vk.to_bytes(), sk.sign)


_LOADERS: dict[AlgId, Callable[[bytes], SigningKey]] = {
    AlgId.SM2: _sm2_key,
    AlgId.ED25519: _ed25519_key,
    AlgId.ML_DSA_65: _mldsa_key,
}


def _loader(alg: AlgId) -> Callable[[bytes], SigningKey]:
    try:
        return _LOADERS[AlgId(alg)]
    except (KeyError, ValueError):
        raise UnknownAlgorithm(f"{alg!r} is not a signature algorithm") from None


def load_signing_key(alg: AlgId, secret: bytes) -> SigningKey:
    return _loader(alg)(bytes(secret))


def generate_signing_key(alg: AlgId, seed: bytes | None = None) -> SigningKey:
    """A new key; with `seed` (32 bytes), the same key every time."""
    loader = _loader(alg)
    seed = os.urandom(SEED_SIZE) if seed is None else seed
    if len(seed) != SEED_SIZE:
        raise InvalidKey("a key seed is 32 bytes")
    secret = _sm2_secret_from_seed(seed) if alg == AlgId.SM2 else seed
    return loader(secret)


@lru_cache(maxsize=65536)
def _ed25519_verify_key(data: bytes) -> nacl.signing.VerifyKey:
    return nacl.signing.VerifyKey(data)


def _ed25519_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    if len(public) != 32 or len(signature) != 64:
        return False
    try:
        _ed25519_verify_key(public).verify(message, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError):
        return False
    return True


@lru_cache(maxsize=4096)
def _mldsa_verification_key(data: bytes) -> fast_mldsa.VerificationKey:
    return fast_mldsa.VerificationKey.from_bytes(data)


MLDSA65_PUBLIC_KEY_SIZE = 1952
MLDSA65_SIGNATURE_SIZE = 3309


def _mldsa_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    if len(public) != MLDSA65_PUBLIC_KEY_SIZE or len(signature) != MLDSA65_SIGNATURE_SIZE:
        return False
    try:
        return bool(_mldsa_verification_key(public).verify(signature, message))
    except ValueError:
        return False


_VERIFIERS: dict[int, Callable[[bytes, bytes, bytes], bool]] = {
    AlgId.SM2: sm2.verify,
    AlgId.ED25519: _ed25519_verify,
    AlgId.ML_DSA_65: _mldsa_verify,
}

PUBLIC_KEY_SIZES = {AlgId.SM2: sm2.PUBLIC_KEY_SIZE, AlgId.ED25519: 32,
                    AlgId.ML_DSA_65: MLDSA65_PUBLIC_KEY_SIZE}


def verify_raw(alg: int, public: bytes, message: bytes, signature: bytes) -> bool:
    """True iff `signature` is valid for `message` under `public`, all of algorithm `alg`."""
    verifier = _VERIFIERS.get(alg)
    if verifier is None:
        raise UnknownAlgorithm(f"{alg!r} is not a signature algorithm")
    return verifier(public, message, signature)


_BATCH_VERIFIERS: dict[int, Callable[[Sequence[tuple[bytes, bytes, bytes]]], list[bool]]] = {
    AlgId.SM2: sm2.verify_many,
}


def verify_many_raw(alg: int, items: Sequence[tuple[bytes, bytes, bytes]]) -> list[bool]:
    """`verify_raw` for each (public, message, signature) of one algorithm, in order."""
    batch = _BATCH_VERIFIERS.get(alg)
    if batch is not None:
        return batch(items)
    return [verify_raw(alg, *item) for item in items]


def verify(public_key: PublicKey, message: bytes, signature: Signature) -> bool:
    if public_key.alg != signature.alg:
        raise AlgorithmMismatch(
            f"{signature.alg!r} signature presented for a {public_key.alg!r} key")
    return verify_raw(public_key.alg, public_key.data, message, signature.data)


def check_public_key(public_key: PublicKey) -> None:
    """Raise InvalidKey unless the key decodes as a valid key of its algorithm."""
    size = PUBLIC_KEY_SIZES.get(public_key.alg)
    if size is None:
        raise UnknownAlgorithm(f"{public_key.alg!r} is not a signature algorithm")
    if len(public_key.data) != size:
        raise InvalidKey(f"a {public_key.alg.name} public key is {size} bytes")
    if public_key.alg == AlgId.SM2:
        sm2.check_public_key(public_key.data)
