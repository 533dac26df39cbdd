"""Vote (certificate) keys by algorithm id: what a validator signs its consensus votes with.

Two kinds, chosen by the suite's `vote` algorithm:
- `BLS12_381` aggregates: every vote on one message folds into one 96-byte signature,
  checked with one pairing against the sum of the signers' keys. Each key carries a proof of
  possession (`pop`), which rules out rogue-key attacks on that sum.
- any signature algorithm (SM2, ML-DSA-65, Ed25519): a certificate lists one signature per
  signer; the key is an ordinary public key of that algorithm and has no proof.
"""

from __future__ import annotations

from dataclasses import dataclass

from xinlian.crypto.errors import InvalidKey
from xinlian.crypto.keys import AlgId, PublicKey
from xinlian.crypto.primitives import bls
from xinlian.crypto.signing import check_public_key, generate_signing_key

_AGGREGATE = frozenset({AlgId.BLS12_381})


@dataclass(frozen=True, slots=True)
class VoteKeyPair:
    """A new vote key: the secret to store, and the public key and proof to publish."""

    secret: bytes
    public: bytes
    pop: bytes


def is_aggregate(alg: AlgId) -> bool:
    """Whether votes of `alg` aggregate into one signature per certificate."""
    return alg in _AGGREGATE


def generate_vote_key(alg: AlgId, seed: bytes | None = None) -> VoteKeyPair:
    """A new vote key of `alg`; from a 32-byte seed, the same key every time."""
    if alg == AlgId.BLS12_381:
        key = bls.BlsKey.generate(seed)
        return VoteKeyPair(key.secret, key.public, key.pop)
    signing_key = generate_signing_key(alg, seed)
    return VoteKeyPair(signing_key.to_bytes(), signing_key.public_key.data, b"")


def check_vote_key(alg: AlgId, public: bytes, pop: bytes) -> None:
    """Raise InvalidKey (or UnknownAlgorithm) unless `public` is a valid vote key of `alg`
    and `pop` is its proof of possession (empty where the algorithm has none)."""
    if alg == AlgId.BLS12_381:
        bls.check_public_key(public, pop)
        return
    if pop:
        raise InvalidKey(f"a {alg.name} vote key carries no proof of possession")
    check_public_key(PublicKey(alg, public))
