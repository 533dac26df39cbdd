"""Signature schemes by algorithm id: SM2 (GB/T 32918), Ed25519 (RFC 8032), ML-DSA-65 (FIPS 204),
and the composites SM2 + ML-DSA-65 and Ed25519 + ML-DSA-65 (`composite.py`).

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

from xinlian.crypto import composite
from xinlian.crypto.errors import AlgorithmMismatch, InvalidKey, UnknownAlgorithm
from xinlian.crypto.hashes import sha3_256, sm3
from xinlian.crypto.keys import AlgId, PublicKey, Signature
from xinlian.crypto.primitives import sm2

SIGNATURE_ALGS = (AlgId.SM2, AlgId.ED25519, AlgId.ML_DSA_65, AlgId.SM2_ML_DSA_65,
                  AlgId.ED25519_ML_DSA_65)
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


def _mldsa_key(secret: bytes, deterministic: bool = False) -> SigningKey:
    # The stored secret is the 32-byte FIPS 204 key-generation seed (xi).
    if len(secret) != SEED_SIZE:
        raise InvalidKey("an ML-DSA-65 private key is stored as its 32-byte seed")
    vk, sk = fast_mldsa.MlDsa65.key_gen(seed=secret)

    def sign(message: bytes) -> bytes:
        return sk.sign(message, deterministic=deterministic)

    return SigningKey(AlgId.ML_DSA_65, secret, vk.to_bytes(), sign)


# A composite key: the classical algorithm and the label/sizes of its combination.
_COMPOSITES: dict[AlgId, tuple[AlgId, composite.Combination]] = {
    AlgId.SM2_ML_DSA_65: (AlgId.SM2, composite.MLDSA65_SM2),
    AlgId.ED25519_ML_DSA_65: (AlgId.ED25519, composite.MLDSA65_ED25519),
}


def _composite_key(alg: AlgId, deterministic: bool = False) -> Callable[[bytes], SigningKey]:
    classical_alg, combination = _COMPOSITES[alg]

    def load(secret: bytes) -> SigningKey:
        # The stored secret is the classical secret || the 32-byte ML-DSA-65 seed.
        if len(secret) != 2 * SEED_SIZE:
            raise InvalidKey(f"a {alg.name} private key is 64 bytes: classical || ML-DSA seed")
        classical = _LOADERS[classical_alg](secret[:SEED_SIZE])
        vk, sk = fast_mldsa.MlDsa65.key_gen(seed=secret[SEED_SIZE:])

        def sign(message: bytes) -> bytes:
            m = combination.representative(message)
            return (sk.sign(m, ctx=combination.label, deterministic=deterministic)
                    + classical.sign(m).data)

        return SigningKey(alg, secret, vk.to_bytes() + classical.public_key.data, sign)

    return load


_LOADERS: dict[AlgId, Callable[[bytes], SigningKey]] = {
    AlgId.SM2: _sm2_key,
    AlgId.ED25519: _ed25519_key,
    AlgId.ML_DSA_65: _mldsa_key,
}
_LOADERS.update({alg: _composite_key(alg) for alg in _COMPOSITES})


def _loader(alg: AlgId) -> Callable[[bytes], SigningKey]:
    try:
        return _LOADERS[AlgId(alg)]
    except (KeyError, ValueError):
        raise UnknownAlgorithm(f"{alg!r} is not a signature algorithm") from None


def load_signing_key(alg: AlgId, secret: bytes) -> SigningKey:
    return _loader(alg)(bytes(secret))


def replayable(key: SigningKey) -> SigningKey:
    """`key` with its ML-DSA part (alone or in a composite) signing by FIPS 204's
    deterministic variant, for seeded simulations that must replay byte for byte: a hedged
    signature changes the transactions' and blocks' bytes, hence their ids, from run to run.
    Real keys sign hedged. SM2 and Ed25519 are left as they are (Ed25519 is deterministic;
    SM2's nonce comes from Tongsuo, so an `sm` simulation still varies in signature bytes)."""
    if key.alg == AlgId.ML_DSA_65:
        return _mldsa_key(key.secret, deterministic=True)
    if key.alg in _COMPOSITES:
        return _composite_key(key.alg, deterministic=True)(key.secret)
    return key


def generate_signing_key(alg: AlgId, seed: bytes | None = None) -> SigningKey:
    """A new key; with `seed` (32 bytes), the same key every time."""
    loader = _loader(alg)
    seed = os.urandom(SEED_SIZE) if seed is None else seed
    if len(seed) != SEED_SIZE:
        raise InvalidKey("a key seed is 32 bytes")
    return loader(_secret_from_seed(AlgId(alg), seed))


def _secret_from_seed(alg: AlgId, seed: bytes) -> bytes:
    if alg == AlgId.SM2:
        return _sm2_secret_from_seed(seed)
    if alg in _COMPOSITES:
        classical_alg, _ = _COMPOSITES[alg]
        return (_secret_from_seed(classical_alg, seed)
                + sha3_256(b"xinlian-composite-mldsa65" + seed))
    return seed


def classical_part(key: SigningKey) -> SigningKey:
    """The classical component of a composite key (SM2 or Ed25519); other keys unchanged.
    The SM2 key exchange of the `hybrid-sm` suite runs on this part of the static keys."""
    if key.alg not in _COMPOSITES:
        return key
    return _LOADERS[_COMPOSITES[key.alg][0]](key.secret[:SEED_SIZE])


def classical_public(public_key: PublicKey) -> PublicKey:
    """The classical component of a composite public key; other keys unchanged."""
    if public_key.alg not in _COMPOSITES:
        return public_key
    classical_alg, combination = _COMPOSITES[public_key.alg]
    if len(public_key.data) != combination.public_size:
        raise InvalidKey(f"a {public_key.alg.name} public key is {combination.public_size} bytes")
    return PublicKey(classical_alg, combination.split_public(public_key.data)[1])


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


MLDSA65_PUBLIC_KEY_SIZE = composite.MLDSA65_PUBLIC_KEY_SIZE
MLDSA65_SIGNATURE_SIZE = composite.MLDSA65_SIGNATURE_SIZE


def _mldsa_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    if len(public) != MLDSA65_PUBLIC_KEY_SIZE or len(signature) != MLDSA65_SIGNATURE_SIZE:
        return False
    try:
        return bool(_mldsa_verification_key(public).verify(signature, message))
    except ValueError:
        return False


def _composite_verifier(alg: AlgId) -> Callable[[bytes, bytes, bytes], bool]:
    classical_alg, combination = _COMPOSITES[alg]

    def verify(public: bytes, message: bytes, signature: bytes) -> bool:
        # Valid only if both components are: a signature with one good half is refused.
        if (len(public) != combination.public_size
                or len(signature) != combination.signature_size):
            return False
        mldsa_public, classical_public = combination.split_public(public)
        mldsa_sig, classical_sig = combination.split_signature(signature)
        m = combination.representative(message)
        try:
            pq_ok = bool(_mldsa_verification_key(mldsa_public).verify(
                mldsa_sig, m, ctx=combination.label))
        except ValueError:
            return False
        return pq_ok and _VERIFIERS[classical_alg](classical_public, m, classical_sig)

    return verify


_VERIFIERS: dict[int, Callable[[bytes, bytes, bytes], bool]] = {
    AlgId.SM2: sm2.verify,
    AlgId.ED25519: _ed25519_verify,
    AlgId.ML_DSA_65: _mldsa_verify,
}
_VERIFIERS.update({alg: _composite_verifier(alg) for alg in _COMPOSITES})

PUBLIC_KEY_SIZES = {AlgId.SM2: sm2.PUBLIC_KEY_SIZE, AlgId.ED25519: 32,
                    AlgId.ML_DSA_65: MLDSA65_PUBLIC_KEY_SIZE,
                    **{alg: c.public_size for alg, (_, c) in _COMPOSITES.items()}}


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
    classical = classical_public(public_key)
    if classical.alg == AlgId.SM2:
        sm2.check_public_key(classical.data)
