"""Admission of inbound connections: limits per source, per prefix and in total, a cookie
under load, and room kept for known members (sans-I/O).

Why: a node's expensive step is the handshake (a key agreement and a signature), and its
scarce resources are connection slots. `Admission.on_hello` decides, before any of that
work, what to do with a new connection's first message:

1. under load (at least `load_handshakes` handshakes in progress) a Hello without a valid
   cookie gets `CHALLENGE`: answer with `cookie_for(source)` and forget it (`cookie.py`);
2. a source over its prefix's connection cap, or over the total less the slots reserved
   for members, gets `REFUSE`;
3. so does one over its prefix's handshake rate or the node's total handshake rate
   (token buckets);
4. otherwise `ACCEPT`; the caller reports `started`, `finished` and `closed`.

*Known members* -- sources whose address is in the membership (`known`) -- skip the
per-prefix limits and may use the `reserved_for_members` slots, so a flood from strangers
cannot lock the committee out. Under load they too must show a cookie: their address is
what the cookie proves. Prefix = network group (IPv4 /16, IPv6 /32, `addrman`).
Time is an argument (seconds); nothing here touches a socket.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from xinlian.network.addrman import network_group
from xinlian.network.cookie import CookieJar
from xinlian.network.limits import TokenBucket


class Verdict(Enum):
    ACCEPT = "accept"
    CHALLENGE = "challenge"  # answer with a cookie, keep nothing
    REFUSE = "refuse"


@dataclass(frozen=True, slots=True)
class AdmissionConfig:
    max_connections: int = 512
    reserved_for_members: int = 64
    max_per_prefix: int = 8
    handshakes_per_s: float = 200.0
    handshakes_per_s_per_prefix: float = 10.0
    burst_s: float = 2.0
    load_handshakes: int = 16
    max_prefixes: int = 65_536  # prefix buckets kept (the idle ones are dropped first)

    def __post_init__(self) -> None:
        if not 0 <= self.reserved_for_members < self.max_connections:
            raise ValueError("reserved member slots must be fewer than all connections")


def source_bytes(host: str, port: int) -> bytes:
    """A source address as the cookie binds it: packed IP and 2-byte port."""
    return ipaddress.ip_address(host).packed + port.to_bytes(2, "big")


class Admission:
    """See the module docstring. `known(host)`: is this the address of a member?"""

    def __init__(self, config: AdmissionConfig, cookies: CookieJar,
                 known: Callable[[str], bool], now_s: float) -> None:
        self.config = config
        self.cookies = cookies
        self.known = known
        c = config
        self._total_rate = TokenBucket(c.handshakes_per_s, c.handshakes_per_s * c.burst_s, now_s)
        self._prefix_rate: dict[bytes, TokenBucket] = {}
        self._prefix_conns: dict[bytes, int] = {}
        self.connections = 0
        self.member_connections = 0
        self.handshakes = 0
        self.refused: dict[str, int] = {}

    def cookie_for(self, host: str, port: int, now_s: float) -> bytes:
        return self.cookies.issue(source_bytes(host, port), now_s)

    def _refuse(self, why: str) -> Verdict:
        self.refused[why] = self.refused.get(why, 0) + 1
        return Verdict.REFUSE

    def on_hello(self, host: str, port: int, cookie: bytes | None, now_s: float) -> Verdict:
        c = self.config
        if self.handshakes >= c.load_handshakes and (
                cookie is None
                or not self.cookies.check(source_bytes(host, port), cookie, now_s)):
            self.refused["challenged"] = self.refused.get("challenged", 0) + 1
            return Verdict.CHALLENGE
        member = self.known(host)
        prefix = network_group(host)
        if not member:
            if self._prefix_conns.get(prefix, 0) >= c.max_per_prefix:
                return self._refuse("prefix_connections")
            strangers = self.connections - self.member_connections
            if strangers >= c.max_connections - c.reserved_for_members:
                return self._refuse("connections")
            if not self._prefix_bucket(prefix, now_s).take(1, now_s):
                return self._refuse("prefix_rate")
        elif self.connections >= c.max_connections:
            return self._refuse("connections")
        if not self._total_rate.take(1, now_s):
            return self._refuse("rate")
        return Verdict.ACCEPT

    def _prefix_bucket(self, prefix: bytes, now_s: float) -> TokenBucket:
        bucket = self._prefix_rate.get(prefix)
        if bucket is None:
            c = self.config
            if len(self._prefix_rate) >= c.max_prefixes:
                self._prefix_rate.pop(next(iter(self._prefix_rate)))
            rate = c.handshakes_per_s_per_prefix
            bucket = self._prefix_rate[prefix] = TokenBucket(rate, rate * c.burst_s, now_s)
        return bucket

    def started(self) -> None:
        """An accepted Hello's handshake began (the expensive part)."""
        self.handshakes += 1

    def finished(self, host: str, ok: bool) -> None:
        """The handshake ended; if `ok`, the connection is now open and counted."""
        self.handshakes = max(0, self.handshakes - 1)
        if ok:
            self.connections += 1
            self.member_connections += self.known(host)
            prefix = network_group(host)
            self._prefix_conns[prefix] = self._prefix_conns.get(prefix, 0) + 1

    def closed(self, host: str) -> None:
        self.connections = max(0, self.connections - 1)
        if self.known(host):
            self.member_connections = max(0, self.member_connections - 1)
        prefix = network_group(host)
        left = self._prefix_conns.get(prefix, 0) - 1
        if left > 0:
            self._prefix_conns[prefix] = left
        else:
            self._prefix_conns.pop(prefix, None)
