"""BLS12-381 signatures, IETF proof-of-possession scheme (min-pk: 48-byte G1 keys, 96-byte
G2 signatures), over blspy (blst). The one module that speaks to blspy.

Votes on the same message are aggregated into one signature; that is safe against rogue-key
attacks only when every key comes with a proof that its owner knows the secret, so a key
is accepted only together with a valid proof of possession (IETF BLS draft, POP scheme).

Consensus verifies certificates on its hot path, so the point forms are exposed as they
are: decode a committee's keys once (`decode_public_key`), a signature once
(`decode_signature`), and verify against the decoded points without further copies.
blspy reports undecodable bytes with ValueError (blst's encoding, curve and subgroup checks)
and RuntimeError; both become InvalidKey / InvalidSignature here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TypeAlias

import blspy

from xinlian.crypto.errors import InvalidKey, InvalidSignature

PUBLIC_KEY_SIZE = 48
SIGNATURE_SIZE = 96
PublicPoint: TypeAlias = blspy.G1Element
SignaturePoint: TypeAlias = blspy.G2Element
_IDENTITY = bytes(blspy.G1Element())
_MPL = blspy.PopSchemeMPL


class BlsKey:
    """A validator's BLS secret key with its public key and (on demand) proof of possession."""

    __slots__ = ("_pop", "_sk", "public", "secret")

    def __init__(self, secret: bytes) -> None:
        try:
            self._sk = blspy.PrivateKey.from_bytes(bytes(secret))
        except (ValueError, RuntimeError) as exc:
            raise InvalidKey("not a BLS12-381 secret key") from exc
        self.secret = bytes(secret)
        self.public = bytes(self._sk.get_g1())
        self._pop: bytes | None = None

    @classmethod
    def generate(cls, seed: bytes | None = None) -> BlsKey:
        """A new key; from a seed of at least 32 bytes, the same key every time."""
        seed = os.urandom(32) if seed is None else seed
        if len(seed) < 32:
            raise InvalidKey("a BLS key seed is at least 32 bytes")
        return cls(bytes(_MPL.key_gen(seed)))

    @property
    def pop(self) -> bytes:
        """The proof of possession of this key (a signature on the public key)."""
        if self._pop is None:
            self._pop = bytes(_MPL.pop_prove(self._sk))
        return self._pop

    def sign(self, message: bytes) -> bytes:
        return bytes(_MPL.sign(self._sk, message))


def decode_public_key(public: bytes) -> PublicPoint:
    """A G1 point other than the identity; raise InvalidKey otherwise. Does not check a proof
    of possession: use it for keys that `check_public_key` has admitted."""
    if len(public) != PUBLIC_KEY_SIZE or public == _IDENTITY:
        raise InvalidKey("a BLS public key is a 48-byte G1 point other than the identity")
    try:
        return blspy.G1Element.from_bytes(bytes(public))
    except (ValueError, RuntimeError) as exc:
        raise InvalidKey("undecodable BLS public key") from exc


def decode_signature(signature: bytes) -> SignaturePoint:
    """A G2 point in the prime-order subgroup; raise InvalidSignature otherwise."""
    if len(signature) != SIGNATURE_SIZE:
        raise InvalidSignature("a BLS signature is a 96-byte G2 point")
    try:
        return blspy.G2Element.from_bytes(bytes(signature))
    except (ValueError, RuntimeError) as exc:
        raise InvalidSignature("undecodable BLS signature") from exc


def check_public_key(public: bytes, pop: bytes) -> None:
    """Raise InvalidKey unless `public` is a G1 point other than the identity and `pop`
    proves possession of its secret."""
    key = decode_public_key(public)
    try:
        proof = decode_signature(pop)
    except InvalidSignature as exc:
        raise InvalidKey(f"bad BLS proof of possession: {exc.message}") from exc
    if not _MPL.pop_verify(key, proof):
        raise InvalidKey("the proof of possession does not match the BLS key")


def verify(public: PublicPoint, message: bytes, signature: SignaturePoint) -> bool:
    return bool(_MPL.verify(public, message, signature))


def sum_public_keys(keys: Sequence[PublicPoint]) -> PublicPoint:
    """The aggregate key of signers of one message (admitted keys only: rogue-key safety
    rests on their proofs of possession)."""
    total = keys[0]
    for key in keys[1:]:
        total = total + key
    return total


def aggregate(signatures: Sequence[SignaturePoint]) -> bytes:
    """One 96-byte signature that stands for all of `signatures`."""
    return bytes(_MPL.aggregate(list(signatures)))


def aggregate_verify(keys: Sequence[PublicPoint], messages: Sequence[bytes],
                     signature: SignaturePoint) -> bool:
    """Check an aggregate of signatures by `keys[i]` on distinct `messages[i]`."""
    if len(keys) == 1:
        return verify(keys[0], messages[0], signature)
    return bool(_MPL.aggregate_verify(list(keys), list(messages), signature))
