"""Crypto suites: the algorithms a chain chooses at genesis.

A suite names one algorithm for each job: `signature` (transactions, node identities),
`hash`, `aead` (channel records), `encryption` (public-key encryption), `key_exchange`
(secure channels) and `vote` (consensus votes and the certificates that combine them).
Code above `crypto/` asks its chain's suite and never names an algorithm; verification
dispatches on the algorithm id carried by each key, so keys of another suite stay
verifiable during a migration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from xinlian.crypto import pq_params, votes
from xinlian.crypto.encryption import DecryptionKey
from xinlian.crypto.errors import UnknownAlgorithm
from xinlian.crypto.hashes import hasher, hkdf
from xinlian.crypto.key_exchange import KeyExchange, Rng, new_key_exchange
from xinlian.crypto.keys import AlgId, Digest
from xinlian.crypto.signing import SigningKey, generate_signing_key, load_signing_key


@dataclass(frozen=True)
class Suite:
    name: str
    signature: AlgId
    hash: AlgId
    aead: AlgId
    encryption: AlgId
    key_exchange: AlgId
    vote: AlgId
    # A post-quantum suite offers only algorithms that meet the indicators (pq_params).
    post_quantum: bool = False
    # The suite's raw 32-byte hash function, bound once: it runs on every hot path.
    hash_bytes: Callable[[bytes], bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hash_bytes", hasher(self.hash))
        if self.post_quantum:  # IndicatorNotMet for any algorithm not offered for its use
            for alg, use in ((self.signature, "signature"), (self.vote, "signature"),
                             (self.encryption, "encryption"),
                             (self.key_exchange, "key_exchange")):
                pq_params.require_alg(alg, use)

    def digest(self, data: bytes) -> Digest:
        return Digest(self.hash, self.hash_bytes(data))

    def derive_keys(self, secret: bytes, *, salt: bytes, info: bytes, length: int) -> bytes:
        """HKDF over the suite's hash: `length` bytes of keys from a key-exchange secret."""
        return hkdf(self.hash, secret, salt=salt, info=info, length=length)

    def generate_signing_key(self, seed: bytes | None = None) -> SigningKey:
        return generate_signing_key(self.signature, seed)

    def load_signing_key(self, secret: bytes) -> SigningKey:
        return load_signing_key(self.signature, secret)

    def generate_encryption_key(self) -> DecryptionKey:
        return DecryptionKey.generate(self.encryption)

    def new_key_exchange(self, rng: Rng) -> KeyExchange:
        """One side's fresh channel key exchange, its ephemeral secrets drawn from `rng`."""
        return new_key_exchange(self.key_exchange, rng)

    @property
    def aggregate_votes(self) -> bool:
        """Whether a certificate is one aggregate signature (else one signature per signer)."""
        return votes.is_aggregate(self.vote)

    def generate_vote_key(self, seed: bytes | None = None) -> votes.VoteKeyPair:
        return votes.generate_vote_key(self.vote, seed)

    def check_vote_key(self, public: bytes, pop: bytes) -> None:
        """Raise InvalidKey unless `public` (with its proof `pop`, if the scheme has one)
        is a valid vote key of this suite."""
        votes.check_vote_key(self.vote, public, pop)


SUITES: dict[str, Suite] = {
    "sm": Suite("sm", signature=AlgId.SM2, hash=AlgId.SM3, aead=AlgId.SM4_GCM,
                encryption=AlgId.SM2_ENC, key_exchange=AlgId.SM2_KEY_EXCHANGE,
                vote=AlgId.SM2),
    "intl": Suite("intl", signature=AlgId.ED25519, hash=AlgId.SHA256, aead=AlgId.AES256_GCM,
                  encryption=AlgId.X25519_AES256_GCM, key_exchange=AlgId.X25519,
                  vote=AlgId.BLS12_381),
    # ML-DSA-65 votes keep consensus post-quantum; the channel's hybrid exchange stays safe
    # while either X25519 or ML-KEM holds.
    "pq": Suite("pq", signature=AlgId.ML_DSA_65, hash=AlgId.SHA3_256, aead=AlgId.AES256_GCM,
                encryption=AlgId.ML_KEM_768_AES256_GCM,
                key_exchange=AlgId.X25519_ML_KEM_768, vote=AlgId.ML_DSA_65, post_quantum=True),
    # Hybrids: every signature is a composite (valid only if both halves are), every channel
    # and envelope secret needs both the classical and the ML-KEM-768 part; votes are
    # composite signatures listed per signer, as on `pq`.
    "hybrid-sm": Suite("hybrid-sm", signature=AlgId.SM2_ML_DSA_65, hash=AlgId.SM3,
                       aead=AlgId.SM4_GCM, encryption=AlgId.SM2_ML_KEM_768_SM4_GCM,
                       key_exchange=AlgId.SM2_ML_KEM_768, vote=AlgId.SM2_ML_DSA_65,
                       post_quantum=True),
    "hybrid-intl": Suite("hybrid-intl", signature=AlgId.ED25519_ML_DSA_65, hash=AlgId.SHA256,
                         aead=AlgId.AES256_GCM, encryption=AlgId.X25519_ML_KEM_768_AES256_GCM,
                         key_exchange=AlgId.X25519_ML_KEM_768, vote=AlgId.ED25519_ML_DSA_65,
                         post_quantum=True),
}


def get_suite(name: str) -> Suite:
    try:
        return SUITES[name]
    except KeyError:
        raise UnknownAlgorithm(f"unknown suite {name!r}; choose one of {sorted(SUITES)}") from None
