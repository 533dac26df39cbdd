"""Proofs that several elements share one discrete logarithm (Chaum-Pedersen, Fiat-Shamir).

A `DleqProof` shows knowledge of x with Y_j = x * B_j for every pair (B_j, Y_j) without
revealing x: the tool that makes openings of ring signatures, partial decryptions,
re-encryption fragments and threshold-SM2 products publicly checkable. Proofs are bound to
a domain tag and a caller-supplied context, so a proof made for one protocol step cannot be
replayed in another.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from xinlian import codec
from xinlian.crypto.primitives.groups import Element, Group, Rng, Scalar, transcript


class DleqProof(codec.Struct):
    """Challenge and response, each a canonical scalar encoding of the proof's group."""

    challenge: bytes
    response: bytes


def _challenge(
    group: Group,
    dst: bytes,
    context: bytes,
    bases: Sequence[Element],
    images: Sequence[Element],
    commitments: Sequence[Element],
) -> Scalar:
    parts = [context, *(e.encode() for e in (*bases, *images, *commitments))]
    return group.hash_to_scalar(dst, transcript(*parts))


def prove(
    dst: bytes,
    secret: Scalar,
    bases: Sequence[Element],
    images: Sequence[Element],
    context: bytes = b"",
    rng: Rng = os.urandom,
) -> DleqProof:
    """Prove log_{B_j}(Y_j) = secret for all j (the caller ensures Y_j = secret * B_j)."""
    group = secret.group
    k = group.random_scalar(rng)
    commitments = [k * b for b in bases]
    c = _challenge(group, dst, context, bases, images, commitments)
    z = k - c * secret
    return DleqProof(challenge=c.encode(), response=z.encode())


def verify(
    group: Group,
    dst: bytes,
    bases: Sequence[Element],
    images: Sequence[Element],
    proof: DleqProof,
    context: bytes = b"",
) -> bool:
    """True when the proof holds; raises GroupError for non-canonical scalars."""
    if len(bases) != len(images) or not bases:
        return False
    c = group.decode_scalar(proof.challenge)
    z = group.decode_scalar(proof.response)
    commitments = [z * b + c * y for b, y in zip(bases, images, strict=True)]
    if any(e.is_identity() for e in commitments):
        return False
    return _challenge(group, dst, context, bases, images, commitments) == c
