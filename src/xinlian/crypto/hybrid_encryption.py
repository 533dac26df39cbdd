"""Hybrid public-key encryption: a classical key and an ML-KEM-768 key, both in the KDF.

- `SM2_ML_KEM_768_SM4_GCM` (hybrid-sm): SM2 (GB/T 32918.4) encrypts a fresh 32-byte secret,
  ML-KEM-768 encapsulates another; HKDF-SM3 over both secrets, both ciphertext parts and the
  recipient's key gives the SM4-GCM key.
- `X25519_ML_KEM_768_AES256_GCM` (hybrid-intl): ephemeral X25519 and ML-KEM-768;
  HKDF-SHA256 over the same inputs gives the AES-256-GCM key.
The data stays secret while either the classical or the lattice problem holds (a
harvest-now-decrypt-later adversary must break ML-KEM). Keys: public = classical || ML-KEM;
secret = classical (32) || ML-KEM secret || ML-KEM public. Each derived key encrypts one
message, so the fixed nonce is never reused.
"""

from __future__ import annotations

import os

import pqcrypto.kem.ml_kem_768 as _mlkem
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from xinlian.crypto.errors import DecryptionError, InvalidKey
from xinlian.crypto.hashes import hkdf
from xinlian.crypto.keys import AlgId
from xinlian.crypto.primitives import sm2
from xinlian.crypto.primitives.symmetric import open_sealed, seal

HYBRID_ENCRYPTION_ALGS = (AlgId.SM2_ML_KEM_768_SM4_GCM, AlgId.X25519_ML_KEM_768_AES256_GCM)
_ZERO_NONCE = bytes(12)
_SM2_HEAD = 65 + 32 + 32  # C1 || C3 || C2 for a 32-byte secret
# per algorithm: (classical public size, classical ciphertext size, KDF hash, AEAD, key size)
_PARAMS = {
    AlgId.SM2_ML_KEM_768_SM4_GCM: (sm2.PUBLIC_KEY_SIZE, _SM2_HEAD, AlgId.SM3,
                                   AlgId.SM4_GCM, 16),
    AlgId.X25519_ML_KEM_768_AES256_GCM: (32, 32, AlgId.SHA256, AlgId.AES256_GCM, 32),
}


def generate_secret(alg: AlgId) -> bytes:
    classical: bytes = (sm2.SM2PrivateKey.generate().secret
                        if alg == AlgId.SM2_ML_KEM_768_SM4_GCM else os.urandom(32))
    public, secret = _mlkem.keygen()
    return classical + bytes(secret) + bytes(public)


def public_of(alg: AlgId, secret: bytes) -> bytes:
    if len(secret) != 32 + _mlkem.SECRET_KEY_SIZE + _mlkem.PUBLIC_KEY_SIZE:
        raise InvalidKey(f"a {alg.name} private key is classical || ML-KEM secret || public")
    classical: bytes
    if alg == AlgId.SM2_ML_KEM_768_SM4_GCM:
        classical = sm2.SM2PrivateKey(secret[:32]).public_bytes
    else:
        classical = X25519PrivateKey.from_private_bytes(secret[:32]).public_key().public_bytes_raw()
    return classical + secret[32 + _mlkem.SECRET_KEY_SIZE:]


def _key(alg: AlgId, classical_secret: bytes, kem_secret: bytes, head: bytes,
         public: bytes) -> bytes:
    _, _, hash_alg, _, size = _PARAMS[alg]
    return hkdf(hash_alg, classical_secret + kem_secret, salt=head + public,
                info=b"xinlian-pke/" + alg.name.encode(), length=size)


def encrypt(alg: AlgId, public: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """classical part || ML-KEM ciphertext || AEAD(plaintext)."""
    classical_size, _, _, aead, _ = _PARAMS[alg]
    if len(public) != classical_size + _mlkem.PUBLIC_KEY_SIZE:
        raise InvalidKey(f"a {alg.name} public key is {classical_size} + 1184 bytes")
    classical_public, kem_public = public[:classical_size], public[classical_size:]
    if alg == AlgId.SM2_ML_KEM_768_SM4_GCM:
        classical_secret = os.urandom(32)
        classical_ct = sm2.encrypt(classical_public, classical_secret)
    else:
        eph = X25519PrivateKey.generate()
        classical_ct = eph.public_key().public_bytes_raw()
        classical_secret = eph.exchange(X25519PublicKey.from_public_bytes(classical_public))
    try:
        kem_ct, kem_secret = _mlkem.encaps(kem_public)
    except ValueError as exc:
        raise InvalidKey(f"bad ML-KEM-768 key: {exc}") from exc
    head = classical_ct + bytes(kem_ct)
    key = _key(alg, classical_secret, bytes(kem_secret), head, public)
    return head + seal(aead, key, _ZERO_NONCE, plaintext, aad)


def decrypt(alg: AlgId, secret: bytes, public: bytes, data: bytes, aad: bytes) -> bytes:
    _, classical_ct_size, _, aead, _ = _PARAMS[alg]
    head_size = classical_ct_size + _mlkem.CIPHERTEXT_SIZE
    if len(data) < head_size + 16:
        raise DecryptionError(f"a {alg.name} ciphertext is at least {head_size + 16} bytes")
    classical_ct, head = data[:classical_ct_size], data[:head_size]
    if alg == AlgId.SM2_ML_KEM_768_SM4_GCM:
        classical_secret = sm2.SM2PrivateKey(secret[:32]).decrypt(classical_ct)
    else:
        try:
            classical_secret = X25519PrivateKey.from_private_bytes(secret[:32]).exchange(
                X25519PublicKey.from_public_bytes(classical_ct))
        except ValueError as exc:  # a low-order point
            raise DecryptionError(f"bad X25519 part: {exc}") from exc
    try:
        kem_secret = _mlkem.decaps(secret[32:32 + _mlkem.SECRET_KEY_SIZE],
                                   data[classical_ct_size:head_size])
    except ValueError as exc:
        raise DecryptionError(f"bad ML-KEM ciphertext: {exc}") from exc
    key = _key(alg, classical_secret, bytes(kem_secret), head, public)
    return open_sealed(aead, key, _ZERO_NONCE, data[head_size:], aad)
