"""What the two short-Weierstrass backends share: SEC1 compressed encoding checks and
try-and-increment hashing to the curve (cofactor 1, so every curve point is in the group)."""

from __future__ import annotations

from typing import Literal

from xinlian.crypto.primitives.groups.base import Element, Group, Scalar
from xinlian.crypto.primitives.groups.errors import (
    HashToGroupError,
    InvalidEncodingError,
    NonCanonicalEncodingError,
)
from xinlian.crypto.primitives.groups.xmd import Hash, hash_to_field


class WeierstrassGroup(Group):
    """A prime-order short-Weierstrass curve y^2 = x^3 + ax + b over F_p, cofactor 1."""

    p: int
    a: int
    b: int
    hash: Hash  # 32-byte output, 64-byte block (SHA-256, SM3)
    scalar_size = 32
    element_size = 33
    scalar_byteorder: Literal["little", "big"] = "big"

    def check_sec1(self, data: bytes) -> int:
        """Check the format byte and reducedness of a compressed point; return x."""
        if data[0] not in (2, 3):
            raise InvalidEncodingError(f"{self.name} element must be SEC1 compressed (02/03)")
        x = int.from_bytes(data[1:], "big")
        if x >= self.p:
            raise NonCanonicalEncodingError(f"{self.name} x coordinate is not reduced mod p")
        return x

    def digest(self, data: bytes) -> bytes:
        return self.hash(data)

    def hash_to_scalar(self, dst: bytes, msg: bytes) -> Scalar:
        """RFC 9380 hash_to_field with expand_message_xmd, L = 48 (RFC 9591 §6.5)."""
        return Scalar(self, hash_to_field(msg, dst, self.order, self.hash))

    def hash_to_element(self, dst: bytes, msg: bytes) -> Element:
        """Try-and-increment on x with even y; variable time, so hash only public data."""
        for counter in range(256):
            x = hash_to_field(msg + bytes([counter]), dst, self.p, self.hash)
            rhs = (x * x * x + self.a * x + self.b) % self.p
            if pow(rhs, (self.p - 1) // 2, self.p) == 1:
                return self.decode_element(b"\x02" + x.to_bytes(32, "big"))
        raise HashToGroupError(f"{self.name} hash_to_element found no point")
