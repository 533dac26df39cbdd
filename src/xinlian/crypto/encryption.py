"""Public-key encryption, one KEM + AEAD construction per suite.

- `SM2_ENC` (sm): a digital envelope. SM2 (GB/T 32918.4, C1||C3||C2) encrypts a fresh
  16-byte SM4 key; SM4-GCM encrypts the data with the SM2 part as associated data.
- `X25519_AES256_GCM` (intl): ephemeral X25519, HKDF-SHA256 over the shared secret and both
  public keys, AES-256-GCM.
- `ML_KEM_768_AES256_GCM` (pq): ML-KEM-768 (FIPS 203) encapsulation, HKDF-SHA256 over the
  shared secret and the KEM ciphertext, AES-256-GCM.
- the hybrids `SM2_ML_KEM_768_SM4_GCM` and `X25519_ML_KEM_768_AES256_GCM`
  (`hybrid_encryption.py`).
Each derived key encrypts exactly one message, so the fixed AEAD nonce is never reused.
"""

from __future__ import annotations

import os

import pqcrypto.kem.ml_kem_768 as _mlkem
from cryptography.hazmat.primitives import hashes as _hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from xinlian.crypto import hybrid_encryption
from xinlian.crypto.errors import DecryptionError, InvalidKey, UnknownAlgorithm
from xinlian.crypto.keys import AlgId, Ciphertext, PublicKey
from xinlian.crypto.primitives import sm2
from xinlian.crypto.primitives.symmetric import open_sealed, seal

_ZERO_NONCE = bytes(12)
_SM2_KEY_PART = 65 + 32 + 16  # C1 || C3 || C2 for a 16-byte SM4 key
MLKEM768_PUBLIC_KEY_SIZE = 1184
MLKEM768_CIPHERTEXT_SIZE = 1088


def _hkdf(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=_hashes.SHA256(), length=32, salt=None,
                info=b"xinlian-pke/" + info).derive(secret)


class DecryptionKey:
    """The private half of an encryption key pair."""

    __slots__ = ("alg", "public_key", "secret")

    def __init__(self, alg: AlgId, secret: bytes) -> None:
        self.alg = alg
        self.secret = secret
        if alg == AlgId.SM2_ENC:
            public = sm2.SM2PrivateKey(secret).public_bytes
        elif alg == AlgId.X25519_AES256_GCM:
            if len(secret) != 32:
                raise InvalidKey("an X25519 private key is 32 bytes")
            public = X25519PrivateKey.from_private_bytes(secret).public_key().public_bytes_raw()
        elif alg == AlgId.ML_KEM_768_AES256_GCM:
            if len(secret) != _mlkem.SECRET_KEY_SIZE + MLKEM768_PUBLIC_KEY_SIZE:
                raise InvalidKey("an ML-KEM-768 private key is stored as secret || public")
            public = secret[_mlkem.SECRET_KEY_SIZE:]
        elif alg in hybrid_encryption.HYBRID_ENCRYPTION_ALGS:
            public = hybrid_encryption.public_of(alg, secret)
        else:
            raise UnknownAlgorithm(f"{alg!r} is not a public-key encryption algorithm")
        self.public_key = PublicKey(alg, public)

    @classmethod
    def generate(cls, alg: AlgId) -> DecryptionKey:
        if alg == AlgId.SM2_ENC:
            return cls(alg, sm2.SM2PrivateKey.generate().secret)
        if alg == AlgId.ML_KEM_768_AES256_GCM:
            pk, sk = _mlkem.keygen()
            return cls(alg, bytes(sk) + bytes(pk))
        if alg in hybrid_encryption.HYBRID_ENCRYPTION_ALGS:
            return cls(alg, hybrid_encryption.generate_secret(alg))
        return cls(alg, os.urandom(32))

    def decrypt(self, ciphertext: Ciphertext, aad: bytes = b"") -> bytes:
        if ciphertext.alg != self.alg:
            raise DecryptionError(f"{ciphertext.alg!r} ciphertext for a {self.alg!r} key")
        data = ciphertext.data
        if self.alg in hybrid_encryption.HYBRID_ENCRYPTION_ALGS:
            return hybrid_encryption.decrypt(self.alg, self.secret, self.public_key.data,
                                             data, aad)
        if self.alg == AlgId.SM2_ENC:
            if len(data) < _SM2_KEY_PART + 16:
                raise DecryptionError("SM2 envelope too short")
            key = sm2.SM2PrivateKey(self.secret).decrypt(data[:_SM2_KEY_PART])
            if len(key) != 16:
                raise DecryptionError("SM2 envelope carries a wrong-size key")
            return open_sealed(AlgId.SM4_GCM, key, _ZERO_NONCE, data[_SM2_KEY_PART:],
                               data[:_SM2_KEY_PART] + aad)
        if self.alg == AlgId.X25519_AES256_GCM:
            if len(data) < 32 + 16:
                raise DecryptionError("X25519 ciphertext too short")
            eph = data[:32]
            shared = X25519PrivateKey.from_private_bytes(self.secret).exchange(
                X25519PublicKey.from_public_bytes(eph))
            key = _hkdf(shared + eph + self.public_key.data, b"x25519")
            return open_sealed(AlgId.AES256_GCM, key, _ZERO_NONCE, data[32:], aad)
        if len(data) < MLKEM768_CIPHERTEXT_SIZE + 16:
            raise DecryptionError("ML-KEM ciphertext too short")
        kem_ct = data[:MLKEM768_CIPHERTEXT_SIZE]
        shared = _mlkem.decaps(self.secret[:_mlkem.SECRET_KEY_SIZE], kem_ct)
        key = _hkdf(bytes(shared) + kem_ct, b"ml-kem-768")
        return open_sealed(AlgId.AES256_GCM, key, _ZERO_NONCE,
                           data[MLKEM768_CIPHERTEXT_SIZE:], aad)


def encrypt(public_key: PublicKey, plaintext: bytes, aad: bytes = b"") -> Ciphertext:
    """Encrypt to `public_key`; `aad` is authenticated but not encrypted."""
    alg, pub = public_key.alg, public_key.data
    if alg == AlgId.SM2_ENC:
        key = os.urandom(16)
        head = sm2.encrypt(pub, key)
        return Ciphertext(alg, head + seal(AlgId.SM4_GCM, key, _ZERO_NONCE, plaintext,
                                           head + aad))
    if alg == AlgId.X25519_AES256_GCM:
        if len(pub) != 32:
            raise InvalidKey("an X25519 public key is 32 bytes")
        eph = X25519PrivateKey.generate()
        eph_pub = eph.public_key().public_bytes_raw()
        shared = eph.exchange(X25519PublicKey.from_public_bytes(pub))
        key = _hkdf(shared + eph_pub + pub, b"x25519")
        return Ciphertext(alg, eph_pub + seal(AlgId.AES256_GCM, key, _ZERO_NONCE,
                                              plaintext, aad))
    if alg == AlgId.ML_KEM_768_AES256_GCM:
        if len(pub) != MLKEM768_PUBLIC_KEY_SIZE:
            raise InvalidKey("an ML-KEM-768 public key is 1184 bytes")
        kem_ct, shared = _mlkem.encaps(pub)
        key = _hkdf(bytes(shared) + bytes(kem_ct), b"ml-kem-768")
        return Ciphertext(alg, bytes(kem_ct) + seal(AlgId.AES256_GCM, key, _ZERO_NONCE,
                                                    plaintext, aad))
    if alg in hybrid_encryption.HYBRID_ENCRYPTION_ALGS:
        return Ciphertext(alg, hybrid_encryption.encrypt(alg, pub, plaintext, aad))
    raise UnknownAlgorithm(f"{alg!r} is not a public-key encryption algorithm")
