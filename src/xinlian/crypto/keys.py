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
    # key exchange (secure channels)
    X25519 = 64
    ML_KEM_768 = 65
    X25519_ML_KEM_768 = 66  # hybrid: both secrets, safe while either problem stays hard
    SM2_KEY_EXCHANGE = 67  # GB/T 32918.3, authenticated by the parties' static SM2 keys


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
