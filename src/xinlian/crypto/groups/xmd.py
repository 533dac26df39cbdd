"""expand_message_xmd and hash_to_field from RFC 9380 (§5.2, §5.3.1).

Used for hashing to scalars on the short-Weierstrass groups, as RFC 9591's
FROST(secp256k1, SHA-256) ciphersuite requires.
"""

from __future__ import annotations

import hashlib


def expand_message_xmd(msg: bytes, dst: bytes, length: int, hash_name: str) -> bytes:
    """RFC 9380 §5.3.1 with the named hashlib function (sha256, sm3, ...)."""
    h = hashlib.new(hash_name)
    b_len, s_len = h.digest_size, h.block_size
    ell = -(-length // b_len)
    if ell > 255 or length > 65535 or len(dst) > 255:
        raise ValueError("expand_message_xmd: requested length or DST too long")
    dst_prime = dst + bytes([len(dst)])
    msg_prime = bytes(s_len) + msg + length.to_bytes(2, "big") + b"\x00" + dst_prime
    b0 = hashlib.new(hash_name, msg_prime).digest()
    b_i = hashlib.new(hash_name, b0 + b"\x01" + dst_prime).digest()
    out = [b_i]
    for i in range(2, ell + 1):
        mixed = bytes(x ^ y for x, y in zip(b0, b_i, strict=True))
        b_i = hashlib.new(hash_name, mixed + bytes([i]) + dst_prime).digest()
        out.append(b_i)
    return b"".join(out)[:length]


def hash_to_field(msg: bytes, dst: bytes, modulus: int, hash_name: str, length: int = 48) -> int:
    """One field element (count = 1, m = 1) as in RFC 9380 §5.2: L = 48 bytes for 256-bit p."""
    return int.from_bytes(expand_message_xmd(msg, dst, length, hash_name), "big") % modulus
