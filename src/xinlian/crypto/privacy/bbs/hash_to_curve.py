"""RFC 9380 expand_message (XMD with SHA-256, XOF with SHAKE-256) and hash_to_curve on G1.

The XMD suite `BLS12381G1_XMD:SHA-256_SSWU_RO_` is arkworks' native hash_to_curve (through
`crypto.primitives.bls`). The XOF
suite `BLS12381G1_XOF:SHAKE-256_SSWU_RO_` (defined by the BBS draft, appendix A.1) shares
every step but expand_message, so it is built here from the same native parts: hash_to_field
in Python (two field elements, L = 64 bytes each), then arkworks' simplified SWU map with the
11-isogeny and cofactor clearing on each element, and the sum. Clearing the cofactor is a
group endomorphism, so clear(Q0) + clear(Q1) = clear(Q0 + Q1) as RFC 9380 section 3 writes it.
"""

from __future__ import annotations

import hashlib

from xinlian.crypto.primitives import bls
from xinlian.crypto.privacy.bbs.errors import MalformedBbsInputError

# The BLS12-381 base field modulus.
P = int(
    "1A0111EA397FE69A4B1BA7B6434BACD764774B84F38512BF"
    "6730D2A0F6B0F6241EABFFFEB153FFFFB9FEFFFFFFFFAAAB",
    16,
)
_L = 64  # ceil((ceil(log2(p)) + k) / 8) with k = 128


def _dst_prime(dst: bytes) -> bytes:
    if len(dst) > 255:
        raise MalformedBbsInputError(f"domain separation tag of {len(dst)} bytes (at most 255)")
    return dst + bytes([len(dst)])


def expand_message_xmd(msg: bytes, dst: bytes, length: int) -> bytes:
    """RFC 9380 section 5.3.1 with SHA-256."""
    ell = -(-length // 32)
    if ell > 255 or length > 65535:
        raise MalformedBbsInputError(f"expand_message_xmd cannot give {length} bytes")
    dst_prime = _dst_prime(dst)
    b0 = hashlib.sha256(bytes(64) + msg + length.to_bytes(2, "big") + b"\x00" + dst_prime).digest()
    b = hashlib.sha256(b0 + b"\x01" + dst_prime).digest()
    out = [b]
    for i in range(2, ell + 1):
        b = hashlib.sha256(
            bytes(x ^ y for x, y in zip(b0, b, strict=True)) + bytes([i]) + dst_prime
        ).digest()
        out.append(b)
    return b"".join(out)[:length]


def expand_message_xof(msg: bytes, dst: bytes, length: int) -> bytes:
    """RFC 9380 section 5.3.2 with SHAKE-256."""
    if length > 65535:
        raise MalformedBbsInputError(f"expand_message_xof cannot give {length} bytes")
    return hashlib.shake_256(msg + length.to_bytes(2, "big") + _dst_prime(dst)).digest(length)


def hash_to_curve_g1_xmd(msg: bytes, dst: bytes) -> bls.G1Point:
    """`BLS12381G1_XMD:SHA-256_SSWU_RO_` (native)."""
    _dst_prime(dst)
    return bls.hash_to_g1(msg, dst)


def hash_to_curve_g1_xof(msg: bytes, dst: bytes) -> bls.G1Point:
    """`BLS12381G1_XOF:SHAKE-256_SSWU_RO_`: hash_to_field by XOF, native map and clearing."""
    uniform = expand_message_xof(msg, dst, 2 * _L)
    return map_fields_to_g1(uniform)


def map_fields_to_g1(uniform: bytes) -> bls.G1Point:
    """Map 2 * L uniform bytes (hash_to_field's input, count = 2) to a point of G1."""
    u0 = int.from_bytes(uniform[:_L], "big") % P
    u1 = int.from_bytes(uniform[_L:], "big") % P
    return bls.map_to_g1(u0) + bls.map_to_g1(u1)
