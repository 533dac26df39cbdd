"""expand_message_xmd and hash_to_field from RFC 9380 (§5.2, §5.3.1).

Used for hashing to scalars on the short-Weierstrass groups, as RFC 9591's
FROST(secp256k1, SHA-256) ciphersuite requires. The hash is a one-shot function with
its output and block sizes (SHA-256 and SM3: 32 and 64 bytes).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

Hash = Callable[[bytes], bytes]


def _named(name: str) -> Hash:
    def h(data: bytes) -> bytes:
        return hashlib.new(name, data).digest()

    return h


def expand_message_xmd(msg: bytes, dst: bytes, length: int, h: Hash | str,
                       b_len: int = 32, s_len: int = 64) -> bytes:
    """RFC 9380 §5.3.1 with hash `h` (output b_len bytes, block s_len bytes), or with the
    hashlib function named `h` (its own sizes)."""
    if isinstance(h, str):
        b_len, s_len = hashlib.new(h).digest_size, hashlib.new(h).block_size
        h = _named(h)
    ell = -(-length // b_len)
    if ell > 255 or length > 65535 or len(dst) > 255:
        raise ValueError("expand_message_xmd: requested length or DST too long")
    dst_prime = dst + bytes([len(dst)])
    b0 = h(bytes(s_len) + msg + length.to_bytes(2, "big") + b"\x00" + dst_prime)
    b_i = h(b0 + b"\x01" + dst_prime)
    out = [b_i]
    for i in range(2, ell + 1):
        b_i = h(bytes(x ^ y for x, y in zip(b0, b_i, strict=True)) + bytes([i]) + dst_prime)
        out.append(b_i)
    return b"".join(out)[:length]


def hash_to_field(msg: bytes, dst: bytes, modulus: int, h: Hash | str,
                  length: int = 48) -> int:
    """One field element (count = 1, m = 1) as in RFC 9380 §5.2: L = 48 bytes for 256-bit p."""
    return int.from_bytes(expand_message_xmd(msg, dst, length, h), "big") % modulus
