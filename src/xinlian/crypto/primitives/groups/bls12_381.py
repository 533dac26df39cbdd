"""BLS12-381 G1 on py-arkworks-bls12381, so that the DKG runs over it and a committee keys
threshold BLS without a dealer.

Encodings are the 48-byte compressed points blspy and Ethereum use; decoding checks
canonicity, the identity and subgroup membership with the groups' typed errors.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

import py_arkworks_bls12381 as ark

from xinlian.crypto.primitives.groups.base import Element, Group, Scalar
from xinlian.crypto.primitives.groups.errors import (
    HashToGroupError,
    IdentityElementError,
    NonCanonicalEncodingError,
    NotOnCurveError,
    SmallSubgroupError,
)
from xinlian.crypto.primitives.groups.xmd import hash_to_field

ORDER = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
G1_SIZE = 48


def to_scalar(value: int) -> ark.Scalar:
    """`value` mod the group order as an arkworks scalar."""
    return ark.Scalar.from_be_bytes((value % ORDER).to_bytes(32, "big"))


class Bls12381G1(Group):
    name = "bls12_381_g1"
    order = ORDER
    scalar_size = 32
    element_size = G1_SIZE
    scalar_byteorder: Literal["little", "big"] = "big"

    def _add(self, a: Any, b: Any) -> Any:
        r = a + b
        return None if r == _ZERO else r

    def _neg(self, a: Any) -> Any:
        return -a

    def _mul(self, a: Any, k: int) -> Any:
        return a * to_scalar(k)

    def _base_mul(self, k: int) -> Any:
        return ark.G1Point() * to_scalar(k)

    def _encode(self, a: Any) -> bytes:
        return bytes(a.to_compressed_bytes())

    def _decode(self, data: bytes) -> Any:
        try:
            point = ark.G1Point.from_compressed_bytes_unchecked(data)
        except ValueError:
            raise NotOnCurveError("bytes are not a compressed BLS12-381 G1 point") from None
        if bytes(point.to_compressed_bytes()) != data:
            raise NonCanonicalEncodingError("non-canonical G1 encoding")
        if point == _ZERO:
            raise IdentityElementError("BLS12-381 G1 identity")
        if not point.is_in_subgroup():
            raise SmallSubgroupError("G1 point outside the prime-order subgroup")
        return point

    def digest(self, data: bytes) -> bytes:
        return hashlib.sha256(data).digest()

    def hash_to_scalar(self, dst: bytes, msg: bytes) -> Scalar:
        return Scalar(self, hash_to_field(msg, dst, ORDER, "sha256"))

    def hash_to_element(self, dst: bytes, msg: bytes) -> Element:
        point = ark.G1Point.hash_to_curve(msg, dst)
        if point == _ZERO:
            raise HashToGroupError("hash to G1 gave the identity")
        return Element(self, point)


_ZERO = ark.G1Point.identity()
BLS_G1 = Bls12381G1()
