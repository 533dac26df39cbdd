"""Algorithm identifiers and algorithm-tagged values.

Every public key, signature, digest and ciphertext that leaves this package carries the
algorithm that made it, so that a chain can verify old and new suites side by side while
it migrates (DESIGN.md, crypto agility). The ids are part of the canonical encoding: never
renumber them.
"""

from __future__ import annotations

from enum import IntEnum

from xinlian.codec import Struct


class AlgId(IntEnum):
    # signatures
    SM2 = 1
    ED25519 = 2
    ML_DSA_65 = 3
    BLS12_381 = 4  # IETF BLS, min-pk, proof-of-possession scheme: votes that aggregate
    # composite (hybrid) signatures: valid only if both parts are (crypto/composite.py)
    SM2_ML_DSA_65 = 5
    ED25519_ML_DSA_65 = 6
    # hashes
    SM3 = 16
    SHA256 = 17
    SHA3_256 = 18
    KECCAK256 = 19
    # authenticated symmetric encryption
    SM4_GCM = 32
    AES256_GCM = 33
    # public-key encryption
    SM2_ENC = 48
    X25519_AES256_GCM = 49
    ML_KEM_768_AES256_GCM = 50
    SM2_ML_KEM_768_SM4_GCM = 51  # hybrid: SM2 envelope and ML-KEM-768 keys, both in the KDF
    X25519_ML_KEM_768_AES256_GCM = 52  # hybrid: X25519 and ML-KEM-768, both in the KDF
    # key exchange (secure channels)
    X25519 = 64
    ML_KEM_768 = 65
    X25519_ML_KEM_768 = 66  # hybrid: both secrets, safe while either problem stays hard
    SM2_KEY_EXCHANGE = 67  # GB/T 32918.3, authenticated by the parties' static SM2 keys
    SM2_ML_KEM_768 = 68  # hybrid: the SM2 key exchange and ML-KEM-768, both secrets


class PublicKey(Struct):
    alg: AlgId
    data: bytes


class Signature(Struct):
    alg: AlgId
    data: bytes


class Digest(Struct):
    alg: AlgId
    data: bytes


class Ciphertext(Struct):
    alg: AlgId
    data: bytes
