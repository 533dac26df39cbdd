"""SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed 64-bit PRF for short ids.

Compact blocks name transactions by 6-byte short ids; keying the hash per link and block
means nobody can precompute two transactions whose short ids collide on a victim's link
(see docs/network.md, "Relay at scale"). Python's hashlib has no SipHash, so this is the
reference algorithm in Python, checked against the paper's 64 test vectors.
"""

from __future__ import annotations

MASK = 0xFFFFFFFFFFFFFFFF
KEY_SIZE = 16


def siphash24(key: bytes, data: bytes) -> int:
    """SipHash-2-4 of `data` under the 16-byte `key`, as an unsigned 64-bit integer."""
    if len(key) != KEY_SIZE:
        raise ValueError("a SipHash key is 16 bytes")
    k0 = int.from_bytes(key[:8], "little")
    k1 = int.from_bytes(key[8:], "little")
    return _sip(k0, k1, data)


def siphash24_many(key: bytes, items: list[bytes]) -> list[int]:
    """SipHash-2-4 of each item under one key (the key is split once)."""
    if len(key) != KEY_SIZE:
        raise ValueError("a SipHash key is 16 bytes")
    k0 = int.from_bytes(key[:8], "little")
    k1 = int.from_bytes(key[8:], "little")
    return [_sip(k0, k1, item) for item in items]


def _sip(k0: int, k1: int, data: bytes) -> int:
    v0 = k0 ^ 0x736F6D6570736575
    v1 = k1 ^ 0x646F72616E646F6D
    v2 = k0 ^ 0x6C7967656E657261
    v3 = k1 ^ 0x7465646279746573
    n = len(data)
    tail = n & ~7
    last = ((n & 0xFF) << 56) | int.from_bytes(data[tail:], "little")
    words = [int.from_bytes(data[i:i + 8], "little") for i in range(0, tail, 8)]
    words.append(last)
    for w in words:
        v0, v1, v2, v3 = _rounds(v0, v1, v2, v3 ^ w, 2)
        v0 ^= w
    v0, v1, v2, v3 = _rounds(v0, v1, v2 ^ 0xFF, v3, 4)
    return v0 ^ v1 ^ v2 ^ v3


def _rounds(v0: int, v1: int, v2: int, v3: int, count: int) -> tuple[int, int, int, int]:
    """`count` SipRounds over the state (2 per message word, 4 to finish)."""
    m = MASK
    for _ in range(count):
        v0 = (v0 + v1) & m
        v1 = ((v1 << 13) | (v1 >> 51)) & m ^ v0
        v0 = ((v0 << 32) | (v0 >> 32)) & m
        v2 = (v2 + v3) & m
        v3 = ((v3 << 16) | (v3 >> 48)) & m ^ v2
        v0 = (v0 + v3) & m
        v3 = ((v3 << 21) | (v3 >> 43)) & m ^ v0
        v2 = (v2 + v1) & m
        v1 = ((v1 << 17) | (v1 >> 47)) & m ^ v2
        v2 = ((v2 << 32) | (v2 >> 32)) & m
    return v0, v1, v2, v3
