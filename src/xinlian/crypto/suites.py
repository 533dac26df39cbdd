"""Crypto suites: the algorithms a chain chooses at genesis.

Code above `crypto/` asks its chain's suite for hashing, keys and encryption and never names
an algorithm; verification dispatches on the algorithm id carried by each key, so keys of
another suite stay verifiable during a migration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from xinlian.crypto.encryption import DecryptionKey
from xinlian.crypto.errors import UnknownAlgorithm
from xinlian.crypto.hashes import hasher
from xinlian.crypto.keys import AlgId, Digest
from xinlian.crypto.signing import SigningKey, generate_signing_key, load_signing_key


@dataclass(frozen=True)
class Suite:
    name: str
    signature: AlgId
    hash: AlgId
    aead: AlgId
    encryption: AlgId
    # The suite's raw 32-byte hash function, bound once: it runs on every hot path.
    hash_bytes: Callable[[bytes], bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hash_bytes", hasher(self.hash))

    def digest(self, data: bytes) -> Digest:
        return Digest(self.hash, self.hash_bytes(data))

    def generate_signing_key(self, seed: bytes | None = None) -> SigningKey:
        return generate_signing_key(self.signature, seed)

    def load_signing_key(self, secret: bytes) -> SigningKey:
        return load_signing_key(self.signature, secret)

    def generate_encryption_key(self) -> DecryptionKey:
        return DecryptionKey.generate(self.encryption)


SUITES: dict[str, Suite] = {
    "sm": Suite("sm", AlgId.SM2, AlgId.SM3, AlgId.SM4_GCM, AlgId.SM2_ENC),
    "intl": Suite("intl", AlgId.ED25519, AlgId.SHA256, AlgId.AES256_GCM,
                  AlgId.X25519_AES256_GCM),
    "pq": Suite("pq", AlgId.ML_DSA_65, AlgId.SHA3_256, AlgId.AES256_GCM,
                AlgId.ML_KEM_768_AES256_GCM),
}


def get_suite(name: str) -> Suite:
    try:
        return SUITES[name]
    except KeyError:
        raise UnknownAlgorithm(f"unknown suite {name!r}; choose one of {sorted(SUITES)}") from None
