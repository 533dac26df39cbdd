"""The prime-order subgroup of edwards25519 on libsodium (PyNaCl's low-level bindings).

Elements are their canonical 32-byte encodings, the form libsodium's functions take.
libsodium refuses the identity and scalar 0 in its multiplications; `base.Element` keeps
those cases out of these hooks. PyNaCl has no ristretto255, so inputs are checked for the
torsion component instead (`crypto_core_ed25519_is_valid_point`).
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal, cast

import nacl.bindings as sodium

from xinlian.crypto.primitives.groups.base import Element, Group, Scalar
from xinlian.crypto.primitives.groups.errors import (
    HashToGroupError,
    IdentityElementError,
    NonCanonicalEncodingError,
    NotOnCurveError,
    SmallSubgroupError,
)

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
_IDENTITY = b"\x01" + bytes(31)


class Ed25519Group(Group):
    name = "ed25519"
    order = L
    scalar_size = 32
    element_size = 32
    scalar_byteorder: Literal["little", "big"] = "little"

    def _add(self, a: Any, b: Any) -> Any:
        r = sodium.crypto_core_ed25519_add(a, b)
        return None if r == _IDENTITY else r

    def _neg(self, a: Any) -> Any:
        return sodium.crypto_core_ed25519_sub(_IDENTITY, a)

    def _mul(self, a: Any, k: int) -> Any:
        return sodium.crypto_scalarmult_ed25519_noclamp(k.to_bytes(32, "little"), a)

    def _base_mul(self, k: int) -> Any:
        return sodium.crypto_scalarmult_ed25519_base_noclamp(k.to_bytes(32, "little"))

    def _encode(self, a: Any) -> bytes:
        return cast(bytes, a)  # libsodium's points are their 32-byte encodings

    def _decode(self, data: bytes) -> Any:
        y = int.from_bytes(data, "little") & ((1 << 255) - 1)
        if y >= P:
            raise NonCanonicalEncodingError("ed25519 y coordinate is not reduced mod p")
        if y in (1, P - 1) and data[31] & 0x80:
            raise NonCanonicalEncodingError("ed25519 x = 0 encoded with the sign bit set")
        if sodium.crypto_core_ed25519_is_valid_point(data):
            return data
        try:
            sodium.crypto_core_ed25519_add(data, _IDENTITY)
        except RuntimeError:
            raise NotOnCurveError("bytes are not an edwards25519 point") from None
        if data == _IDENTITY:
            raise IdentityElementError("ed25519 identity element")
        raise SmallSubgroupError("ed25519 point has a torsion component")

    def digest(self, data: bytes) -> bytes:
        return hashlib.sha512(data).digest()

    def hash_to_scalar(self, dst: bytes, msg: bytes) -> Scalar:
        """SHA-512(dst || msg) read little-endian mod L (RFC 9591 §6.1 H1/H2/H3)."""
        return Scalar(self, int.from_bytes(hashlib.sha512(dst + msg).digest(), "little"))

    def hash_to_element(self, dst: bytes, msg: bytes) -> Element:
        """Elligator 2 on both halves of a SHA-512 output, added (random-oracle style)."""
        h = hashlib.sha512(len(dst).to_bytes(2, "big") + dst + msg).digest()
        a = sodium.crypto_core_ed25519_from_uniform(h[:32])
        b = sodium.crypto_core_ed25519_from_uniform(h[32:])
        r = sodium.crypto_core_ed25519_add(a, b)
        if r == _IDENTITY:
            raise HashToGroupError("ed25519 hash_to_element hit the identity")
        return Element(self, r)


ED25519 = Ed25519Group()
