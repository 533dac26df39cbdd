"""Pedersen commitments C = v*G + r*H: perfectly hiding (r uniform makes C uniform),
computationally binding under the discrete-log assumption (nobody knows log_G H, see
generators.py), additively homomorphic."""

from __future__ import annotations

import os

from xinlian.crypto.primitives.groups import Element, Group, GroupError, Rng, Scalar
from xinlian.crypto.privacy.confidential.errors import MalformedProofError
from xinlian.crypto.privacy.confidential.generators import generators


def commit(group: Group, value: int, blinding: Scalar) -> Element:
    """v*G + r*H for an amount `value` (reduced mod the group order)."""
    gens = generators(group)
    return group.msm([group.scalar(value), blinding], [gens.g, gens.h])


def random_blinding(group: Group, rng: Rng = os.urandom) -> Scalar:
    """A fresh uniform non-zero blinding factor (from the OS CSPRNG unless told)."""
    return group.random_scalar(rng)


def decode_commitment(group: Group, data: bytes) -> Element:
    """A commitment from its canonical encoding; anything else is a MalformedProofError."""
    try:
        return group.decode_element(data)
    except GroupError as exc:
        raise MalformedProofError(f"commitment: {exc}") from exc
