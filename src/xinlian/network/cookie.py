"""Stateless handshake cookies: proof that a client can receive at the address it claims.

Why: the first message of a handshake is cheap to send from a forged source address and
expensive to answer (a key agreement and a signature). Under load the responder answers a
Hello that carries no valid cookie with the cookie only -- `HMAC(secret, time slot ||
source)`, as DTLS's HelloVerifyRequest and WireGuard's cookie reply do -- and keeps no
state; a client that really is at that address echoes it in its next Hello, which the
responder checks with one HMAC. A forged source never sees the cookie, so a spoofed flood
costs the responder an HMAC per packet and nothing more.

A cookie is valid in its time slot and the next (`slot_s` each), under the current secret
or the one before it (`rotate`), so a cookie issued just before a slot boundary or a
rotation still works once. Over TCP the connection handshake already proves the address;
there the cookie makes the first message refusable at an HMAC's cost and the per-prefix
accounting in `admission.py` trustworthy; over UDP or QUIC it is what stops spoofing.
Time is an argument (seconds, any monotonic origin); the secret comes from the caller's
CSPRNG.
"""

from __future__ import annotations

import hashlib
import hmac

COOKIE_SIZE = 16
SECRET_SIZE = 32


class CookieJar:
    """Issues and checks cookies for source addresses (bytes: packed IP and port)."""

    def __init__(self, secret: bytes, slot_s: float = 120.0) -> None:
        if len(secret) != SECRET_SIZE:
            raise ValueError("a cookie secret is 32 bytes")
        if slot_s <= 0:
            raise ValueError("the cookie time slot must be positive")
        self.slot_s = slot_s
        self._secret = secret
        self._previous: bytes | None = None

    def rotate(self, secret: bytes) -> None:
        """A new secret; cookies under the last one stay valid until their slot ends."""
        if len(secret) != SECRET_SIZE:
            raise ValueError("a cookie secret is 32 bytes")
        self._previous, self._secret = self._secret, secret

    def _mac(self, secret: bytes, slot: int, source: bytes) -> bytes:
        message = slot.to_bytes(8, "big", signed=True) + len(source).to_bytes(2, "big") + source
        return hmac.new(secret, message, hashlib.sha256).digest()[:COOKIE_SIZE]

    def issue(self, source: bytes, now_s: float) -> bytes:
        return self._mac(self._secret, int(now_s // self.slot_s), source)

    def check(self, source: bytes, cookie: bytes, now_s: float) -> bool:
        """True if `cookie` was issued to `source` in this slot or the one before."""
        if len(cookie) != COOKIE_SIZE:
            return False
        slot = int(now_s // self.slot_s)
        secrets = [self._secret] if self._previous is None else [self._secret, self._previous]
        return any(hmac.compare_digest(self._mac(secret, s, source), cookie)
                   for secret in secrets for s in (slot, slot - 1))
