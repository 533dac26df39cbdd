"""Prime-order groups for threshold and privacy protocols: ed25519, secp256k1, SM2, and
BLS12-381 G1 (the DKG's group for threshold BLS; not in `GROUPS`, the curves that FROST, the
ring signatures and the DKG's command line offer by name). ristretto255, the confidential
amounts' group, is imported from its module (`groups.ristretto255`): it opens the system
libsodium, which nothing else here needs.

    from xinlian.crypto.primitives.groups import ED25519 as G
    k = G.random_scalar(); P = G.base_mul(k); Q = G.decode_element(P.encode())
"""

from __future__ import annotations

from xinlian.crypto.primitives.groups.base import Element, Group, Rng, Scalar, transcript
from xinlian.crypto.primitives.groups.bls12_381 import BLS_G1, Bls12381G1
from xinlian.crypto.primitives.groups.ed25519 import ED25519
from xinlian.crypto.primitives.groups.errors import (
    DistributedCryptoError,
    GroupError,
    GroupMismatchError,
    HashToGroupError,
    IdentityElementError,
    InvalidEncodingError,
    InvalidScalarError,
    NonCanonicalEncodingError,
    NotOnCurveError,
    SmallSubgroupError,
)
from xinlian.crypto.primitives.groups.poly import evaluate, lagrange_coefficient, random_polynomial
from xinlian.crypto.primitives.groups.secp256k1 import SECP256K1
from xinlian.crypto.primitives.groups.sm2 import SM2

GROUPS: dict[str, Group] = {g.name: g for g in (ED25519, SECP256K1, SM2)}


def get_group(name: str) -> Group:
    """The group called `name` ("ed25519", "secp256k1" or "sm2")."""
    try:
        return GROUPS[name]
    except KeyError:
        raise GroupError(f"unknown group {name!r}") from None


__all__ = [
    "BLS_G1",
    "ED25519",
    "GROUPS",
    "SECP256K1",
    "SM2",
    "Bls12381G1",
    "DistributedCryptoError",
    "Element",
    "Group",
    "GroupError",
    "GroupMismatchError",
    "HashToGroupError",
    "IdentityElementError",
    "InvalidEncodingError",
    "InvalidScalarError",
    "NonCanonicalEncodingError",
    "NotOnCurveError",
    "Rng",
    "Scalar",
    "SmallSubgroupError",
    "evaluate",
    "get_group",
    "lagrange_coefficient",
    "random_polynomial",
    "transcript",
]
