"""BLS12-381 signatures (min-pk: 48-byte G1 keys, 96-byte G2 signatures), IETF
proof-of-possession or basic scheme, over blspy (blst), and the point arithmetic threshold BLS
needs beyond signing, over py-arkworks-bls12381. With `groups.bls12_381` (G1 as a group), the
one place that speaks to either binding.

Votes on the same message are aggregated into one signature; that is safe against rogue-key
attacks only when every key comes with a proof that its owner knows the secret, so a key
is accepted only together with a valid proof of possession (IETF BLS draft, POP scheme).

Consensus verifies certificates on its hot path, so the point forms are exposed as they
are: decode a committee's keys once (`decode_public_key`), a signature once
(`decode_signature`), and verify against the decoded points without further copies.
blspy reports undecodable bytes with ValueError (blst's encoding, curve and subgroup checks)
and RuntimeError; both become InvalidKey / InvalidSignature here.

blspy does not expose scalar multiplication of signatures, multi-scalar multiplication or
pairings; threshold BLS needs them to combine partial signatures (Lagrange interpolation in
the exponent) and to verify many signatures with one multi-pairing. Those take arkworks
points (`G1Point`, `G2Point`), decoded strictly: canonical bytes in the prime-order subgroup.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from enum import Enum
from typing import TypeAlias, TypeVar

import blspy
import py_arkworks_bls12381 as ark

from xinlian.crypto.errors import CryptoError, InvalidKey, InvalidSignature
from xinlian.crypto.primitives.groups.bls12_381 import to_scalar

PUBLIC_KEY_SIZE = 48
SIGNATURE_SIZE = 96
PublicPoint: TypeAlias = blspy.G1Element
SignaturePoint: TypeAlias = blspy.G2Element
G1Point: TypeAlias = ark.G1Point
G2Point: TypeAlias = ark.G2Point
Point = TypeVar("Point", G1Point, G2Point)
_IDENTITY = bytes(blspy.G1Element())
_MPL = blspy.PopSchemeMPL


class Scheme(Enum):
    """Which IETF BLS ciphersuite (hash-to-curve domain tag) signatures use."""

    POP = "pop"  # BLS_SIG_..._POP_: certificates, same-message aggregation with PoP keys
    BASIC = "basic"  # BLS_SIG_..._NUL_: drand-compatible randomness beacon

    @property
    def dst(self) -> bytes:
        tag = b"POP_" if self is Scheme.POP else b"NUL_"
        return b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_" + tag


_MPLS: dict[Scheme, type[blspy.PopSchemeMPL] | type[blspy.BasicSchemeMPL]] = {
    Scheme.POP: blspy.PopSchemeMPL,
    Scheme.BASIC: blspy.BasicSchemeMPL,
}


class BlsKey:
    """A BLS secret key with its public key and proof of possession (both on demand)."""

    __slots__ = ("_pop", "_public", "_sk", "secret")

    def __init__(self, secret: bytes) -> None:
        try:
            self._sk = blspy.PrivateKey.from_bytes(bytes(secret))
        except (ValueError, RuntimeError) as exc:
            raise InvalidKey("not a BLS12-381 secret key") from exc
        self.secret = bytes(secret)
        self._public: bytes | None = None
        self._pop: bytes | None = None

    @property
    def public(self) -> bytes:
        """The 48-byte public key (computed once: a threshold share signing need not)."""
        if self._public is None:
            self._public = bytes(self._sk.get_g1())
        return self._public

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

    def sign(self, message: bytes, scheme: Scheme = Scheme.POP) -> bytes:
        return bytes(_MPLS[scheme].sign(self._sk, message))


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


def verify(public: PublicPoint, message: bytes, signature: SignaturePoint,
           scheme: Scheme = Scheme.POP) -> bool:
    return bool(_MPLS[scheme].verify(public, message, signature))


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


# --- arkworks points: what threshold BLS needs beyond signing ------------------------------


def decode_g1(data: bytes) -> G1Point:
    """A canonical G1 point of the prime-order subgroup other than the identity; raise
    InvalidKey otherwise."""
    point = _decode_strict(ark.G1Point, "G1", PUBLIC_KEY_SIZE, InvalidKey, data)
    if point == _G1_ZERO:
        raise InvalidKey("identity is not a valid key")
    return point


def decode_g2(data: bytes) -> G2Point:
    """A canonical G2 point of the prime-order subgroup; raise InvalidSignature otherwise."""
    return _decode_strict(ark.G2Point, "G2", SIGNATURE_SIZE, InvalidSignature, data)


def _decode_strict(kind: type[Point], name: str, size: int, error: type[CryptoError],
                   data: bytes) -> Point:
    if len(data) != size:
        raise error(f"{name} point must be {size} bytes, got {len(data)}")
    try:
        point = kind.from_compressed_bytes(bytes(data))
    except ValueError as exc:
        raise error(f"not a {name} subgroup point: {exc}") from None
    if bytes(point.to_compressed_bytes()) != bytes(data):
        raise error(f"non-canonical {name} encoding")
    return point


def encode_point(point: G1Point | G2Point) -> bytes:
    """The compressed encoding (48 bytes for G1, 96 for G2)."""
    return bytes(point.to_compressed_bytes())


def g1_multiexp(points: Sequence[G1Point], scalars: Sequence[int]) -> G1Point:
    """sum(scalars[i] * points[i]) for points that were decoded with `decode_g1`."""
    return ark.G1Point.multiexp_unchecked(list(points), [to_scalar(k) for k in scalars])


def g2_multiexp(points: Sequence[G2Point], scalars: Sequence[int]) -> G2Point:
    """sum(scalars[i] * points[i]) for points that were decoded with `decode_g2`."""
    return ark.G2Point.multiexp_unchecked(list(points), [to_scalar(k) for k in scalars])


def verify_weighted(keys: Sequence[G1Point], messages: Sequence[bytes],
                    signatures: Sequence[G2Point], weights: Sequence[int],
                    scheme: Scheme = Scheme.POP) -> bool:
    """One multi-pairing: e(g1, sum w_i*sigma_i) == prod e(w_i*X_i, H(m_i)).

    With fresh random weights from the caller, invalid signatures cannot cancel each other
    out; every signature verifies except with probability about 1/(smallest weight range).
    """
    scalars = [to_scalar(w) for w in weights]
    weighted = [k * w for k, w in zip(keys, scalars, strict=True)]
    hashes = [ark.G2Point.hash_to_curve(m, scheme.dst) for m in messages]
    total = ark.G2Point.multiexp_unchecked(list(signatures), scalars)
    return bool(ark.GT.pairing_check([-ark.G1Point(), *weighted], [total, *hashes]))


_G1_ZERO = ark.G1Point.identity()
G2_GENERATOR = encode_point(ark.G2Point())


# --- arkworks: what BBS signatures need beyond that ---------------------------------------

G1_IDENTITY: G1Point = _G1_ZERO
G2_IDENTITY: G2Point = ark.G2Point.identity()
G2_BASE: G2Point = ark.G2Point()


def multiply(point: Point, k: int) -> Point:
    """k * point (k reduced mod the group order)."""
    return point * to_scalar(k)


def pairing_check(g1s: Sequence[G1Point], g2s: Sequence[G2Point]) -> bool:
    """Whether the product of e(g1s[i], g2s[i]) is the identity of GT (one multi-pairing)."""
    return bool(ark.GT.pairing_check(list(g1s), list(g2s)))


def hash_to_g1(message: bytes, dst: bytes) -> G1Point:
    """RFC 9380 hash_to_curve, suite BLS12381G1_XMD:SHA-256_SSWU_RO_."""
    return ark.G1Point.hash_to_curve(message, dst)


def map_to_g1(element: int) -> G1Point:
    """RFC 9380 map_to_curve (simplified SWU and the 11-isogeny) of one base-field element,
    then clear_cofactor: the per-element step that hash_to_curve suites other than the
    XMD one (such as BBS's SHAKE-256 suite) compose with their own hash_to_field."""
    return ark.G1Point.map_from_fp_be(element.to_bytes(48, "big"))
