"""Threshold BLS signatures on BLS12-381: t-of-n, non-interactive, unique.

Theory of operation. The group secret x is Shamir-shared with a polynomial f of degree t-1
(x = f(0), share i is f(i)); the group key is X = x*g1 (48 bytes, "minimal public key" as in
Ethereum and drand) and each share has a public verification key X_i = f(i)*g1. A partial
signature is an ordinary BLS signature by share i: sigma_i = f(i)*H(m) in G2, so anyone can
check it against X_i with one standard verification, with no interaction between signers.
Any t partials combine by Lagrange interpolation in the exponent, sum(lambda_i * sigma_i),
into x*H(m): *the* BLS signature of the group key, which every BLS verifier accepts and
which does not depend on which t signers took part (so it can serve as a randomness beacon).

Keys come from the project's DKG run over `BLS_G1` (BLS12-381 G1 behind the groups API),
or from a trusted dealer in tests. Combination is optimistic: combine the first t partials
and verify once; only when that fails are partials checked one by one, the invalid ones
named, and the rest recombined.

blspy (Chia's BLST-based binding) signs and verifies; py-arkworks-bls12381 provides the
scalar multiplications that blspy does not expose (Lagrange combination, Feldman
commitments, randomised batch verification). Points are always decoded with subgroup checks.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from enum import Enum
from typing import Annotated, Any

import blspy
import py_arkworks_bls12381 as ark

from xinlian import codec
from xinlian.crypto.primitives.groups import (
    DistributedCryptoError,
    Element,
    Group,
    HashToGroupError,
    IdentityElementError,
    NonCanonicalEncodingError,
    NotOnCurveError,
    Rng,
    SmallSubgroupError,
    evaluate,
    lagrange_coefficient,
    random_polynomial,
)
from xinlian.crypto.primitives.groups import Scalar as GroupScalar
from xinlian.crypto.primitives.groups.xmd import hash_to_field
from xinlian.crypto.threshold.dkg import KeyShare as DkgKeyShare
from xinlian.crypto.threshold.dkg import PublicKeyPackage

ORDER = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
G1_SIZE = 48
G2_SIZE = 96
MAX_PARTIES = 1024


class TblsError(DistributedCryptoError):
    """Threshold BLS failures (840x)."""

    code = 8400
    name = "tbls_error"


class InvalidPointError(TblsError):
    """Bytes that are not a compressed point of the prime-order subgroup."""

    code = 8401
    name = "tbls_invalid_point"


class InvalidShareError(TblsError):
    """A key share or key set that is malformed or inconsistent (index, size, threshold)."""

    code = 8402
    name = "tbls_invalid_share"


class InvalidPartialError(TblsError):
    """A partial signature that is malformed, out of range, or duplicated (replayed)."""

    code = 8403
    name = "tbls_invalid_partial"


class NotEnoughPartialsError(TblsError):
    """Fewer than t valid partial signatures; `culprits` names the signers caught cheating."""

    code = 8404
    name = "tbls_not_enough_partials"

    def __init__(self, message: str, culprits: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.culprits = culprits


class InvalidBeaconError(TblsError):
    """A beacon round whose signature does not verify under the beacon's group key."""

    code = 8405
    name = "tbls_invalid_beacon"


class Scheme(Enum):
    """Which IETF BLS ciphersuite (hash-to-curve domain tag) signatures use."""

    POP = "pop"  # BLS_SIG_..._POP_: certificates, same-message aggregation with PoP keys
    BASIC = "basic"  # BLS_SIG_..._NUL_: drand-compatible randomness beacon

    @property
    def mpl(self) -> type[blspy.BasicSchemeMPL] | type[blspy.PopSchemeMPL]:
        return blspy.PopSchemeMPL if self is Scheme.POP else blspy.BasicSchemeMPL

    @property
    def dst(self) -> bytes:
        tag = b"POP_" if self is Scheme.POP else b"NUL_"
        return b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_" + tag


class KeyShare(codec.Struct):
    """One party's secret share f(index), big-endian, 1 <= index <= n."""

    index: int
    secret: Annotated[bytes, codec.exactly(32)]


class PublicKeySet(codec.Struct):
    """What everyone knows after key generation: t, the group key and each share's key."""

    threshold: int
    group_key: Annotated[bytes, codec.exactly(G1_SIZE)]
    share_keys: list[Annotated[bytes, codec.exactly(G1_SIZE)]]

    @property
    def n(self) -> int:
        return len(self.share_keys)

    def share_key(self, index: int) -> bytes:
        if not 1 <= index <= self.n:
            raise InvalidPartialError(f"signer index {index} outside 1..{self.n}")
        return bytes(self.share_keys[index - 1])


class PartialSignature(codec.Struct):
    """sigma_i = f(i) * H(m): a standard BLS signature by share `index`."""

    index: int
    signature: Annotated[bytes, codec.exactly(G2_SIZE)]


class Combined(codec.Struct):
    """The group signature and the signers whose partials failed verification."""

    signature: Annotated[bytes, codec.exactly(G2_SIZE)]
    culprits: list[int]


# --- small helpers -------------------------------------------------------------------------


def _scalar(value: int) -> ark.Scalar:
    return ark.Scalar.from_be_bytes((value % ORDER).to_bytes(32, "big"))


def _g1(data: bytes) -> ark.G1Point:
    if len(data) != G1_SIZE:
        raise InvalidPointError(f"G1 point must be {G1_SIZE} bytes, got {len(data)}")
    try:
        point = ark.G1Point.from_compressed_bytes(bytes(data))
    except ValueError as exc:
        raise InvalidPointError(f"not a G1 subgroup point: {exc}") from None
    if bytes(point.to_compressed_bytes()) != bytes(data):
        raise InvalidPointError("non-canonical G1 encoding")
    if point == ark.G1Point.identity():
        raise InvalidPointError("identity is not a valid key")
    return point


def _g2(data: bytes) -> ark.G2Point:
    if len(data) != G2_SIZE:
        raise InvalidPointError(f"G2 point must be {G2_SIZE} bytes, got {len(data)}")
    try:
        point = ark.G2Point.from_compressed_bytes(bytes(data))
    except ValueError as exc:
        raise InvalidPointError(f"not a G2 subgroup point: {exc}") from None
    if bytes(point.to_compressed_bytes()) != bytes(data):
        raise InvalidPointError("non-canonical G2 encoding")
    return point


_G1_IDENTITY = bytes(blspy.G1Element())


def _bls_g1(data: bytes) -> blspy.G1Element:
    """A key for blspy: blst checks encoding, curve and subgroup; the identity is refused."""
    if len(data) != G1_SIZE:
        raise InvalidPointError(f"G1 point must be {G1_SIZE} bytes, got {len(data)}")
    if bytes(data) == _G1_IDENTITY:
        raise InvalidPointError("identity is not a valid key")
    try:
        return blspy.G1Element.from_bytes(bytes(data))
    except ValueError as exc:
        raise InvalidPointError(f"not a G1 subgroup point: {exc}") from None


def _bls_g2(data: bytes) -> blspy.G2Element:
    if len(data) != G2_SIZE:
        raise InvalidPointError(f"G2 point must be {G2_SIZE} bytes, got {len(data)}")
    try:
        return blspy.G2Element.from_bytes(bytes(data))
    except ValueError as exc:
        raise InvalidPointError(f"not a G2 subgroup point: {exc}") from None


# --- BLS12-381 G1 as a group of the groups API ----------------------------------------------


class Bls12381G1(Group):
    """BLS12-381 G1 (arkworks) behind the `groups.Group` API, so that `xinlian.crypto.threshold.dkg`
    runs over it and a committee keys threshold BLS without a dealer.

    Encodings are the 48-byte compressed points blspy and Ethereum use; decoding checks
    canonicity, the identity and subgroup membership with the groups' typed errors.
    """

    name = "bls12_381_g1"
    order = ORDER
    scalar_size = 32
    element_size = G1_SIZE
    scalar_byteorder = "big"

    def _add(self, a: Any, b: Any) -> Any:
        r = a + b
        return None if r == _G1_ZERO else r

    def _neg(self, a: Any) -> Any:
        return -a

    def _mul(self, a: Any, k: int) -> Any:
        return a * _scalar(k)

    def _base_mul(self, k: int) -> Any:
        return ark.G1Point() * _scalar(k)

    def _encode(self, a: Any) -> bytes:
        return bytes(a.to_compressed_bytes())

    def _decode(self, data: bytes) -> Any:
        try:
            point = ark.G1Point.from_compressed_bytes_unchecked(data)
        except ValueError:
            raise NotOnCurveError("bytes are not a compressed BLS12-381 G1 point") from None
        if bytes(point.to_compressed_bytes()) != data:
            raise NonCanonicalEncodingError("non-canonical G1 encoding")
        if point == _G1_ZERO:
            raise IdentityElementError("BLS12-381 G1 identity")
        if not point.is_in_subgroup():
            raise SmallSubgroupError("G1 point outside the prime-order subgroup")
        return point

    def digest(self, data: bytes) -> bytes:
        return hashlib.sha256(data).digest()

    def hash_to_scalar(self, dst: bytes, msg: bytes) -> GroupScalar:
        return GroupScalar(self, hash_to_field(msg, dst, ORDER, "sha256"))

    def hash_to_element(self, dst: bytes, msg: bytes) -> Element:
        point = ark.G1Point.hash_to_curve(msg, dst)
        if point == _G1_ZERO:
            raise HashToGroupError("hash to G1 gave the identity")
        return Element(self, point)


_G1_ZERO = ark.G1Point.identity()
BLS_G1 = Bls12381G1()


# --- key generation ------------------------------------------------------------------------


def _check_params(n: int, t: int) -> None:
    if not 1 <= t <= n <= MAX_PARTIES:
        raise InvalidShareError(f"need 1 <= t <= n <= {MAX_PARTIES}, got t={t}, n={n}")


def seeded(seed: bytes) -> Rng:
    """A reproducible byte stream (SHAKE-256 of the seed) for test and benchmark dealings."""
    stream = hashlib.shake_256(b"xinlian/tbls/deal/" + seed)
    taken = 0

    def take(k: int) -> bytes:
        nonlocal taken
        out = stream.digest(taken + k)[taken:]
        taken += k
        return out

    return take


def deal(n: int, t: int, rng: Rng) -> tuple[PublicKeySet, list[KeyShare]]:
    """A trusted dealer's t-of-n sharing (single-operator setups and tests).

    Without a dealer, run the DKG over `BLS_G1` and use `key_set_from_package`. `rng` draws
    the polynomial: the OS CSPRNG for real keys, `seeded(seed)` for reproducible test and
    benchmark dealings (never for real keys).
    """
    _check_params(n, t)
    coeffs = random_polynomial(BLS_G1, t - 1, rng=rng)
    shares = [KeyShare(index=i, secret=evaluate(coeffs, i).encode()) for i in range(1, n + 1)]
    return key_set_from_commitments(n, [BLS_G1.base_mul(c).encode() for c in coeffs]), shares


def key_set_from_commitments(n: int, commitments: Sequence[bytes]) -> PublicKeySet:
    """The public key set from Feldman commitments C_k = a_k * g1 to f's coefficients.

    X_i = sum_k i^k * C_k, so a DKG (whose output is such commitments) yields the keys that
    partial signatures are checked against.
    """
    t = len(commitments)
    _check_params(n, t)
    points = [_g1(c) for c in commitments]
    share_keys = []
    for i in range(1, n + 1):
        powers = [_scalar(pow(i, k, ORDER)) for k in range(t)]
        key = ark.G1Point.multiexp_unchecked(points, powers)
        share_keys.append(bytes(key.to_compressed_bytes()))
    return PublicKeySet(threshold=t, group_key=bytes(commitments[0]), share_keys=share_keys)


def check_share(key_set: PublicKeySet, share: KeyShare) -> None:
    """Raise InvalidShareError unless share.secret * g1 is the published key for its index."""
    if not 1 <= share.index <= key_set.n:
        raise InvalidShareError(f"share index {share.index} outside 1..{key_set.n}")
    value = int.from_bytes(share.secret, "big")
    if not 0 < value < ORDER:
        raise InvalidShareError("share secret is not a non-zero scalar")
    if bytes(blspy.PrivateKey.from_bytes(share.secret).get_g1()) != key_set.share_key(share.index):
        raise InvalidShareError(f"share {share.index} does not match its public key")


def key_set_from_package(package: PublicKeyPackage) -> PublicKeySet:
    """The public key set of a DKG run over `BLS_G1` whose members are 1..n."""
    if package.group is not BLS_G1:
        raise InvalidShareError(f"a {package.group.name} key is not a BLS12-381 G1 key")
    n = len(package.members)
    if list(package.members) != list(range(1, n + 1)):
        raise InvalidShareError("threshold BLS numbers members 1..n")
    return key_set_from_commitments(n, [c.encode() for c in package.commitment])


def key_share_from_dkg(share: DkgKeyShare) -> KeyShare:
    """A member's DKG share as a threshold-BLS signing share."""
    if share.group is not BLS_G1:
        raise InvalidShareError(f"a {share.group.name} share is not a BLS12-381 share")
    return KeyShare(index=share.identifier, secret=share.secret.encode())


# --- signing and verification --------------------------------------------------------------


def sign_share(share: KeyShare, message: bytes, scheme: Scheme = Scheme.POP) -> PartialSignature:
    """Partial signature of `message` by one share (no interaction with other signers)."""
    if not 0 < int.from_bytes(share.secret, "big") < ORDER:
        raise InvalidShareError("share secret is not a non-zero scalar")
    sig = scheme.mpl.sign(blspy.PrivateKey.from_bytes(share.secret), message)
    return PartialSignature(index=share.index, signature=bytes(sig))


def verify_share(
    key_set: PublicKeySet, message: bytes, partial: PartialSignature, scheme: Scheme = Scheme.POP
) -> bool:
    """True when the partial is share `index`'s signature of `message`; false on bad points."""
    try:
        key = _bls_g1(key_set.share_key(partial.index))
        sig = _bls_g2(partial.signature)
    except (InvalidPointError, InvalidPartialError):
        return False
    return bool(scheme.mpl.verify(key, message, sig))


def verify(group_key: bytes, message: bytes, signature: bytes, scheme: Scheme = Scheme.POP) -> bool:
    """Standard BLS verification of a combined signature under the group key."""
    try:
        key, sig = _bls_g1(group_key), _bls_g2(signature)
    except InvalidPointError:
        return False
    return bool(scheme.mpl.verify(key, message, sig))


def _interpolate(partials: Sequence[PartialSignature]) -> bytes:
    ids = [p.index for p in partials]
    lambdas = [lagrange_coefficient(BLS_G1, ids, i).value for i in ids]
    points = [_g2(p.signature) for p in partials]
    combined = ark.G2Point.multiexp_unchecked(points, [_scalar(v) for v in lambdas])
    return bytes(combined.to_compressed_bytes())


def _distinct(
    key_set: PublicKeySet, partials: Sequence[PartialSignature]
) -> list[PartialSignature]:
    seen: set[int] = set()
    for p in partials:
        key_set.share_key(p.index)  # range check
        if p.index in seen:
            raise InvalidPartialError(f"two partial signatures from signer {p.index}")
        seen.add(p.index)
    return list(partials)


def combine(
    key_set: PublicKeySet,
    message: bytes,
    partials: Sequence[PartialSignature],
    scheme: Scheme = Scheme.POP,
) -> Combined:
    """The group signature from any t valid partials, naming signers whose partials fail.

    Raises InvalidPartialError for an out-of-range or duplicated signer index and
    NotEnoughPartialsError (with the culprits) when fewer than t partials are valid.
    """
    t = key_set.threshold
    candidates = _distinct(key_set, partials)
    if len(candidates) < t:
        raise NotEnoughPartialsError(f"{len(candidates)} partials, need {t}")
    try:
        first = _interpolate(candidates[:t])
        if verify(key_set.group_key, message, first, scheme):
            return Combined(signature=first, culprits=[])
    except InvalidPointError:
        pass  # a malformed point among the first t: fall through to the per-partial check
    good = [p for p in candidates if verify_share(key_set, message, p, scheme)]
    culprits = sorted({p.index for p in candidates} - {p.index for p in good})
    if len(good) < t:
        raise NotEnoughPartialsError(
            f"{len(good)} valid partials, need {t}; invalid from {culprits}", tuple(culprits)
        )
    return Combined(signature=_interpolate(good[:t]), culprits=culprits)


def verify_batch(items: Sequence[tuple[bytes, bytes, bytes]], scheme: Scheme = Scheme.POP) -> bool:
    """Verify many (group_key, message, signature) triples with one multi-pairing.

    Each signature is weighted by a fresh random 128-bit scalar, so invalid signatures cannot
    cancel each other out (the check fails except with probability ~2^-128 per attempt).
    """
    if not items:
        return True
    try:
        keys = [_g1(k) for k, _, _ in items]
        sigs = [_g2(s) for _, _, s in items]
    except InvalidPointError:
        return False
    weights = [_scalar(1 + secrets.randbits(128)) for _ in items]
    weighted_keys = [k * w for k, w in zip(keys, weights, strict=True)]
    hashes = [ark.G2Point.hash_to_curve(m, scheme.dst) for _, m, _ in items]
    sig_sum = ark.G2Point.multiexp_unchecked(sigs, weights)
    return bool(ark.GT.pairing_check([-ark.G1Point(), *weighted_keys], [sig_sum, *hashes]))


# --- randomness beacon (drand "pedersen-bls-chained" layout) ------------------------------


def beacon_message(round_number: int, previous_signature: bytes) -> bytes:
    """What round r signs: SHA-256(previous signature || r as 8 bytes big-endian)."""
    if not 0 <= round_number < 2**64:
        raise InvalidBeaconError("beacon round must fit in 64 bits")
    return hashlib.sha256(previous_signature + round_number.to_bytes(8, "big")).digest()


def beacon_randomness(signature: bytes) -> bytes:
    """The round's 32-byte random value: SHA-256 of its (unique) threshold signature."""
    return hashlib.sha256(signature).digest()


def verify_beacon(
    group_key: bytes, round_number: int, previous_signature: bytes, signature: bytes
) -> bytes:
    """Check one chained beacon round and return its randomness; raise if it is invalid."""
    message = beacon_message(round_number, previous_signature)
    if not verify(group_key, message, signature, Scheme.BASIC):
        raise InvalidBeaconError(f"beacon round {round_number} signature does not verify")
    return beacon_randomness(signature)
