"""Octet encodings of BBS values (draft 4.2.4), decoded with every check the draft asks.

Points are compressed (48 bytes in G1, 96 in G2); scalars are 32-byte big-endian integers;
counts and indexes are 8-byte big-endian integers. Decoding rejects, with typed errors, wrong
lengths, scalars that are 0 or >= r, points off the curve or outside the subgroup, and the
identity point.
"""

from __future__ import annotations

from dataclasses import dataclass

from xinlian.crypto.errors import CryptoError
from xinlian.crypto.primitives import bls
from xinlian.crypto.primitives.bls import G1Point, G2Point
from xinlian.crypto.privacy.bbs.errors import BbsPointError, MalformedBbsInputError
from xinlian.crypto.privacy.bbs.suite import POINT_LEN, SCALAR_LEN, R

G2_POINT_LEN = 96
SIGNATURE_LEN = POINT_LEN + SCALAR_LEN
PROOF_FLOOR = 3 * POINT_LEN + 4 * SCALAR_LEN


@dataclass(frozen=True)
class Signature:
    """A decoded signature (A, e)."""

    a: G1Point
    e: int


@dataclass(frozen=True)
class Proof:
    """A decoded proof (Abar, Bbar, D, e^, r1^, r3^, (m^_j), c)."""

    a_bar: G1Point
    b_bar: G1Point
    d: G1Point
    e_hat: int
    r1_hat: int
    r3_hat: int
    m_hats: tuple[int, ...]
    challenge: int


def g1_to_bytes(point: G1Point) -> bytes:
    return bls.encode_point(point)


def scalar_to_bytes(value: int) -> bytes:
    return value.to_bytes(SCALAR_LEN, "big")


def serialize(*items: G1Point | int) -> bytes:
    """Concatenate compressed G1 points and 32-byte scalars."""
    return b"".join(g1_to_bytes(x) if isinstance(x, G1Point) else scalar_to_bytes(x) for x in items)


def decode_g1(data: bytes) -> G1Point:
    if len(data) != POINT_LEN:
        raise MalformedBbsInputError(f"G1 point of {len(data)} bytes (expected {POINT_LEN})")
    try:  # canonical, on the curve, in the subgroup, not the identity
        return bls.decode_g1(data)
    except CryptoError as exc:
        raise BbsPointError(f"bad G1 point: {exc}") from None


def decode_public_key(data: bytes) -> G2Point:
    """octets_to_pubkey: a G2 point in the subgroup, not the identity."""
    if len(data) != G2_POINT_LEN:
        raise MalformedBbsInputError(f"public key of {len(data)} bytes (expected {G2_POINT_LEN})")
    try:  # canonical, on the curve, in the subgroup
        point = bls.decode_g2(data)
    except CryptoError as exc:
        raise BbsPointError(f"public key: {exc}") from None
    if point == bls.G2_IDENTITY:
        raise BbsPointError("public key is the identity point of G2")
    return point


def decode_scalar(data: bytes) -> int:
    """A nonzero scalar below r."""
    value = int.from_bytes(data, "big")
    if value == 0 or value >= R:
        raise MalformedBbsInputError("scalar is 0 or not below the group order")
    return value


def decode_secret_key(data: bytes) -> int:
    if len(data) != SCALAR_LEN:
        raise MalformedBbsInputError(f"secret key of {len(data)} bytes (expected {SCALAR_LEN})")
    return decode_scalar(data)


def encode_signature(sig: Signature) -> bytes:
    return serialize(sig.a, sig.e)


def decode_signature(data: bytes) -> Signature:
    if len(data) != SIGNATURE_LEN:
        raise MalformedBbsInputError(f"signature of {len(data)} bytes (expected {SIGNATURE_LEN})")
    return Signature(decode_g1(data[:POINT_LEN]), decode_scalar(data[POINT_LEN:]))


def encode_proof(proof: Proof) -> bytes:
    return serialize(
        proof.a_bar,
        proof.b_bar,
        proof.d,
        proof.e_hat,
        proof.r1_hat,
        proof.r3_hat,
        *proof.m_hats,
        proof.challenge,
    )


def decode_proof(data: bytes) -> Proof:
    if len(data) < PROOF_FLOOR or (len(data) - PROOF_FLOOR) % SCALAR_LEN:
        raise MalformedBbsInputError(
            f"proof of {len(data)} bytes (expected {PROOF_FLOOR} + 32 per hidden message)"
        )
    a_bar, b_bar, d = (decode_g1(data[i : i + POINT_LEN]) for i in (0, POINT_LEN, 2 * POINT_LEN))
    offsets = range(3 * POINT_LEN, len(data), SCALAR_LEN)
    s = [decode_scalar(data[i : i + SCALAR_LEN]) for i in offsets]
    return Proof(a_bar, b_bar, d, s[0], s[1], s[2], tuple(s[3:-1]), s[-1])


def proof_hidden_count(proof_len: int) -> int:
    """U, the number of undisclosed messages a proof of this length answers for."""
    return max(0, (proof_len - PROOF_FLOOR) // SCALAR_LEN)
