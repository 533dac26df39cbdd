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

Signing, verification and the point arithmetic (Lagrange combination, Feldman commitments,
randomised batch verification) go through `crypto.primitives.bls`, the one BLS wrapper.
Points are always decoded with subgroup checks.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from typing import Annotated

from xinlian import codec
from xinlian.crypto.errors import InvalidKey, InvalidSignature
from xinlian.crypto.primitives import bls
from xinlian.crypto.primitives.bls import Scheme
from xinlian.crypto.primitives.groups import (
    BLS_G1,
    DistributedCryptoError,
    Rng,
    evaluate,
    lagrange_coefficient,
    random_polynomial,
)
from xinlian.crypto.primitives.groups.bls12_381 import ORDER
from xinlian.crypto.threshold.dkg import KeyShare as DkgKeyShare
from xinlian.crypto.threshold.dkg import PublicKeyPackage

G1_SIZE = bls.PUBLIC_KEY_SIZE
G2_SIZE = bls.SIGNATURE_SIZE
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


# --- points --------------------------------------------------------------------------------


def _g1(data: bytes) -> bls.G1Point:
    try:
        return bls.decode_g1(data)
    except InvalidKey as exc:
        raise InvalidPointError(exc.message) from None


def _g2(data: bytes) -> bls.G2Point:
    try:
        return bls.decode_g2(data)
    except InvalidSignature as exc:
        raise InvalidPointError(exc.message) from None


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
    share_keys = [bls.encode_point(bls.g1_multiexp(points, [pow(i, k, ORDER) for k in range(t)]))
                  for i in range(1, n + 1)]
    return PublicKeySet(threshold=t, group_key=bytes(commitments[0]), share_keys=share_keys)


def check_share(key_set: PublicKeySet, share: KeyShare) -> None:
    """Raise InvalidShareError unless share.secret * g1 is the published key for its index."""
    if not 1 <= share.index <= key_set.n:
        raise InvalidShareError(f"share index {share.index} outside 1..{key_set.n}")
    value = int.from_bytes(share.secret, "big")
    if not 0 < value < ORDER:
        raise InvalidShareError("share secret is not a non-zero scalar")
    if bls.BlsKey(share.secret).public != key_set.share_key(share.index):
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
    signature = bls.BlsKey(share.secret).sign(message, scheme)
    return PartialSignature(index=share.index, signature=signature)


def verify_share(
    key_set: PublicKeySet, message: bytes, partial: PartialSignature, scheme: Scheme = Scheme.POP
) -> bool:
    """True when the partial is share `index`'s signature of `message`; false on bad points."""
    try:
        key = bls.decode_public_key(key_set.share_key(partial.index))
        sig = bls.decode_signature(partial.signature)
    except (InvalidKey, InvalidSignature, InvalidPartialError):
        return False
    return bls.verify(key, message, sig, scheme)


def verify(group_key: bytes, message: bytes, signature: bytes, scheme: Scheme = Scheme.POP) -> bool:
    """Standard BLS verification of a combined signature under the group key."""
    try:
        key, sig = bls.decode_public_key(group_key), bls.decode_signature(signature)
    except (InvalidKey, InvalidSignature):
        return False
    return bls.verify(key, message, sig, scheme)


def _interpolate(partials: Sequence[PartialSignature]) -> bytes:
    ids = [p.index for p in partials]
    lambdas = [lagrange_coefficient(BLS_G1, ids, i).value for i in ids]
    points = [_g2(p.signature) for p in partials]
    return bls.encode_point(bls.g2_multiexp(points, lambdas))


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
    weights = [1 + secrets.randbits(128) for _ in items]
    return bls.verify_weighted(keys, [m for _, m, _ in items], sigs, weights, scheme)


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
