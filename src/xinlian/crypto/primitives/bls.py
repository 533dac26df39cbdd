"""BLS12-381 validator keys for consensus certificates (the proof-of-possession scheme).

Votes on the same message are aggregated into one signature; that is safe against rogue-key
attacks only when every key comes with a proof that its owner knows the secret, so a key
is accepted only together with a valid proof of possession (IETF BLS draft, POP scheme).
"""

from __future__ import annotations

import os

import blspy

from xinlian.crypto.errors import InvalidKey

PUBLIC_KEY_SIZE = 48
SIGNATURE_SIZE = 96
_IDENTITY = bytes(blspy.G1Element())


class BlsKey:
    """A validator's BLS secret key with its public key and proof of possession."""

    __slots__ = ("_sk", "pop", "public", "secret")

    def __init__(self, secret: bytes) -> None:
        try:
            self._sk = blspy.PrivateKey.from_bytes(secret)
        except (ValueError, RuntimeError) as exc:
            raise InvalidKey("not a BLS12-381 secret key") from exc
        self.secret = bytes(secret)
        self.public = bytes(self._sk.get_g1())
        self.pop = bytes(blspy.PopSchemeMPL.pop_prove(self._sk))

    @classmethod
    def generate(cls, seed: bytes | None = None) -> BlsKey:
        """A new key; from a seed of at least 32 bytes, the same key every time."""
        seed = os.urandom(32) if seed is None else seed
        if len(seed) < 32:
            raise InvalidKey("a BLS key seed is at least 32 bytes")
        return cls(bytes(blspy.PopSchemeMPL.key_gen(seed)))

    def sign(self, message: bytes) -> bytes:
        return bytes(blspy.PopSchemeMPL.sign(self._sk, message))


def check_public_key(public: bytes, pop: bytes) -> None:
    """Raise InvalidKey unless `public` is a G1 point other than the identity and `pop`
    proves possession of its secret."""
    if len(public) != PUBLIC_KEY_SIZE or public == _IDENTITY:
        raise InvalidKey("a BLS public key is a 48-byte G1 point other than the identity")
    if len(pop) != SIGNATURE_SIZE:
        raise InvalidKey("a BLS proof of possession is a 96-byte G2 point")
    try:
        key = blspy.G1Element.from_bytes(public)
        proof = blspy.G2Element.from_bytes(pop)
    except (ValueError, RuntimeError) as exc:
        raise InvalidKey("undecodable BLS key or proof of possession") from exc
    if not blspy.PopSchemeMPL.pop_verify(key, proof):
        raise InvalidKey("the proof of possession does not match the BLS key")
