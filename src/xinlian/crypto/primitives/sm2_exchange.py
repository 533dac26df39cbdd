"""SM2 key exchange (GB/T 32918.3-2016, section 6.1), with the optional confirmation tags.

This is the standard's authenticated key agreement, not plain ECDH: each side mixes its
static key d with its ephemeral r into t = d + x̄·r, and the shared point
[h·t](P_peer + [x̄_peer]R_peer) depends on both parties' static and ephemeral keys. The key
is KDF(x || y || Z_A || Z_B) with the SM3-based KDF of GB/T 32918.3 §5.4.3, and the tags
S_B (0x02) and S_A (0x03) confirm that both sides derived the same point.

Roles follow the standard: A is the initiator, B the responder, and Z_A is always the
initiator's identity digest, whichever side computes. The curve is a parameter so that the
tests can run the standard's worked example, which uses its own 256-bit test curve; the
network uses `SM2_CURVE`, the recommended curve on Tongsuo's point arithmetic. Scalars are
Python ints (not constant time), as in xinlian.crypto.primitives.groups.
"""

from __future__ import annotations

import hmac
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from xinlian.crypto.errors import KeyExchangeError
from xinlian.crypto.hashes import sm3
from xinlian.crypto.primitives.groups.base import Element
from xinlian.crypto.primitives.groups.errors import GroupError
from xinlian.crypto.primitives.groups.sm2 import SM2

Point = tuple[int, int]


class ExchangeCurve(ABC):
    """A prime-order short-Weierstrass curve with the two products the exchange needs."""

    p: int
    a: int
    b: int
    n: int
    cofactor = 1

    @abstractmethod
    def base_mul(self, k: int) -> Point:
        """[k]G for 0 < k < n."""

    @abstractmethod
    def mul_sum(self, k: int, p: Point, m: int, r: Point) -> Point | None:
        """[k](P + [m]R), or None for the point at infinity."""

    def mul(self, k: int, pt: Point) -> Point | None:
        """[k]P, or None for the point at infinity."""
        return self.mul_sum(k, pt, 0, pt)

    def on_curve(self, pt: Point) -> bool:
        x, y = pt
        return (0 <= x < self.p and 0 <= y < self.p
                and (y * y - x * x * x - self.a * x - self.b) % self.p == 0)

    def decode_point(self, data: bytes) -> Point:
        """An uncompressed point 04 || x || y that lies on the curve (step B1 / A6)."""
        size = (self.p.bit_length() + 7) // 8
        if len(data) != 1 + 2 * size or data[0] != 4:
            raise KeyExchangeError("an SM2 exchange point is 04 || x || y")
        pt = (int.from_bytes(data[1:1 + size], "big"), int.from_bytes(data[1 + size:], "big"))
        if not self.on_curve(pt):
            raise KeyExchangeError("the exchange point is not on the curve")
        return pt

    def encode_point(self, pt: Point) -> bytes:
        size = (self.p.bit_length() + 7) // 8
        return b"\x04" + pt[0].to_bytes(size, "big") + pt[1].to_bytes(size, "big")


class _Sm2RecommendedCurve(ExchangeCurve):
    """The GB/T 32918.5 curve on xinlian.crypto.primitives.groups.sm2 (Tongsuo EC_POINT)."""

    p, a, b, n = SM2.p, SM2.a, SM2.b, SM2.order

    def _element(self, pt: Point) -> Element:
        if not self.on_curve(pt):
            raise KeyExchangeError("the exchange point is not on the curve")
        try:
            return SM2.decode_element(bytes([2 + (pt[1] & 1)]) + pt[0].to_bytes(32, "big"))
        except GroupError as exc:
            raise KeyExchangeError(str(exc)) from exc

    def _point(self, e: Element) -> Point:
        enc = e.encode()
        x = int.from_bytes(enc[1:], "big")
        y = pow((x * x * x + self.a * x + self.b) % self.p, (self.p + 1) // 4, self.p)
        if (y & 1) != (enc[0] & 1):
            y = self.p - y
        return x, y

    def base_mul(self, k: int) -> Point:
        return self._point(SM2.base_mul(SM2.scalar(k)))

    def mul_sum(self, k: int, p: Point, m: int, r: Point) -> Point | None:
        total = self._element(p) + self._element(r) * SM2.scalar(m)
        result = total * SM2.scalar(k)
        return None if result.is_identity() else self._point(result)


SM2_CURVE: ExchangeCurve = _Sm2RecommendedCurve()


def x_bar(x: int, n: int) -> int:
    """x̄ = 2^w + (x mod 2^w), w = ceil(ceil(log2 n) / 2) - 1 (step A4 / B3)."""
    w = ((n - 1).bit_length() + 1) // 2 - 1
    return (1 << w) + (x & ((1 << w) - 1))


def kdf(z: bytes, size: int) -> bytes:
    """The SM3 key-derivation function of GB/T 32918.3 §5.4.3, for `size` bytes."""
    out = b"".join(sm3(z + ct.to_bytes(4, "big")) for ct in range(1, (size + 31) // 32 + 1))
    return out[:size]


def ephemeral(curve: ExchangeCurve = SM2_CURVE,
              rng: Callable[[int], bytes] = os.urandom) -> tuple[int, Point]:
    """A fresh ephemeral pair (r, R = [r]G) with r uniform in [1, n-1] (step A1-A2 / B1-B2)."""
    while True:
        r = int.from_bytes(rng(48), "big") % curve.n
        if r:
            return r, curve.base_mul(r)


@dataclass(frozen=True, slots=True)
class Agreement:
    key: bytes
    responder_tag: bytes  # S_B, which B sends and A checks as S_1
    initiator_tag: bytes  # S_A, which A sends and B checks as S_2

    def check(self, tag: bytes, *, from_initiator: bool) -> None:
        """Raise KeyExchangeError unless `tag` is the peer's correct confirmation tag."""
        expected = self.initiator_tag if from_initiator else self.responder_tag
        if not hmac.compare_digest(tag, expected):
            raise KeyExchangeError("SM2 key confirmation failed")


def agree(curve: ExchangeCurve, *, initiator: bool, static_private: int,
          ephemeral_private: int, own_ephemeral: Point, peer_static: Point,
          peer_ephemeral: Point, z_initiator: bytes, z_responder: bytes,
          key_size: int) -> Agreement:
    """One side's steps A4-A10 (initiator) or B3-B10 (responder)."""
    n = curve.n
    if not (curve.on_curve(peer_static) and curve.on_curve(peer_ephemeral)):
        raise KeyExchangeError("the peer's points are not on the curve")
    if not (0 < static_private < n and 0 < ephemeral_private < n):
        raise KeyExchangeError("private scalars must lie in [1, n-1]")
    t = (static_private + x_bar(own_ephemeral[0], n) * ephemeral_private) % n
    shared = curve.mul_sum(curve.cofactor * t % n, peer_static,
                           x_bar(peer_ephemeral[0], n), peer_ephemeral)
    if shared is None:
        raise KeyExchangeError("the shared point is at infinity")
    size = (curve.p.bit_length() + 7) // 8
    xs, ys = (v.to_bytes(size, "big") for v in shared)
    ra, rb = (own_ephemeral, peer_ephemeral) if initiator else (peer_ephemeral, own_ephemeral)
    coords = b"".join(v.to_bytes(size, "big") for v in (*ra, *rb))
    inner = sm3(xs + z_initiator + z_responder + coords)
    return Agreement(
        key=kdf(xs + ys + z_initiator + z_responder, key_size),
        responder_tag=sm3(b"\x02" + ys + inner),
        initiator_tag=sm3(b"\x03" + ys + inner),
    )
