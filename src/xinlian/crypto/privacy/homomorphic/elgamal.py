"""Exponential (additively homomorphic) EC-ElGamal: Enc_Y(m; r) = (r*P, m*P + r*Y).

P is the group's standard generator and Y the aggregate key, the group public key of a DKG
(`crypto/threshold/dkg.py`) whose secret x nobody holds whole. The message sits in the
exponent, so ciphertexts add: Enc(a; r) + Enc(b; s) = Enc(a + b; r + s), which anyone can
compute; decryption gives only m*P, and a small m comes back by a bounded discrete log
(dlog.py). Semantic security (IND-CPA) rests on DDH in the group: on the SM2 curve, the
GB/T 32918 parameters.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass

from xinlian.crypto.primitives.groups import Element, Group, GroupError, Rng, Scalar
from xinlian.crypto.privacy.homomorphic.errors import (
    AggregateStatementError,
    MalformedAggregateInputError,
)


@dataclass(frozen=True)
class Ciphertext:
    """(R, C) = (r*P, m*P + r*Y). Either part may be the identity (a sum can cancel), so the
    encoding marks it: one flag byte per part, then the element (or nothing)."""

    r: Element
    c: Element

    @property
    def group(self) -> Group:
        return self.r.group

    def __add__(self, other: Ciphertext) -> Ciphertext:
        return Ciphertext(self.r + other.r, self.c + other.c)

    def __sub__(self, other: Ciphertext) -> Ciphertext:
        return Ciphertext(self.r - other.r, self.c - other.c)

    def encode(self) -> bytes:
        return _element_bytes(self.r) + _element_bytes(self.c)


def _element_bytes(e: Element) -> bytes:
    return b"\x00" if e.is_identity() else b"\x01" + e.encode()


def _element_from(group: Group, data: bytes, at: int) -> tuple[Element, int]:
    if at >= len(data) or data[at] not in (0, 1):
        raise MalformedAggregateInputError("ciphertext part: flag byte 0 or 1 expected")
    if data[at] == 0:
        return group.identity(), at + 1
    end = at + 1 + group.element_size
    if end > len(data):
        raise MalformedAggregateInputError("ciphertext is truncated")
    try:
        return group.decode_element(data[at + 1:end]), end
    except GroupError as exc:
        raise MalformedAggregateInputError(f"ciphertext: {exc}") from exc


def decode(group: Group, data: bytes) -> Ciphertext:
    """A ciphertext from its encoding; anything else is MalformedAggregateInputError."""
    r, at = _element_from(group, data, 0)
    c, at = _element_from(group, data, at)
    if at != len(data):
        raise MalformedAggregateInputError(f"ciphertext has {len(data) - at} trailing bytes")
    return Ciphertext(r, c)


@functools.cache
def base(group: Group) -> Element:
    """P, the group's standard generator (the DKG's base: Y = x*P), made once per group."""
    return group.generator()


def encrypt(key: Element, value: int, rng: Rng = os.urandom) -> tuple[Ciphertext, Scalar]:
    """Encrypt `value` (reduced mod the order) under `key`; returns the ciphertext and its
    randomness r (which the proofs of contribution.py need and nobody else may see)."""
    group = key.group
    if key.is_identity():
        raise AggregateStatementError("the identity is not an encryption key")
    r = group.random_scalar(rng)
    return encrypt_with(key, value, r), r


def encrypt_with(key: Element, value: int, r: Scalar) -> Ciphertext:
    """Enc_key(value; r) for a given r (the prover's and the tests' path)."""
    group = key.group
    return Ciphertext(group.base_mul(r), group.msm([group.scalar(value), r],
                                                   [base(group), key]))


def total(ciphertexts: Iterable[Ciphertext], group: Group) -> Ciphertext:
    """The homomorphic sum: one native batch addition per part. The empty sum is Enc(0; 0)."""
    items = list(ciphertexts)
    if any(ct.group is not group for ct in items):
        raise AggregateStatementError(f"a ciphertext of another group in a {group.name} sum")
    return Ciphertext(group.sum(ct.r for ct in items), group.sum(ct.c for ct in items))


def decrypt_point(secret: Scalar, ct: Ciphertext) -> Element:
    """m*P = C - x*R with the whole secret x (a single-key holder's path; the aggregate
    key's x is never whole: threshold.py combines shares instead)."""
    return ct.c - ct.r * secret
