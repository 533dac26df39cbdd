"""A spoofed handshake flood against one responder, in simulation (a queueing model).

What is simulated: a responder whose CPU does one handshake (key agreement and
signature) in `handshake_ms` and refuses or challenges a Hello in `cheap_us`. Honest
clients (`honest_per_s`, each from its own address, `rtt_ms` away) open connections; an
attacker sends `spoofed_per_s` Hellos from random forged IPv4 addresses, which never see
a reply, so their handshakes hang until `timeout_s`. Admission decisions are the real
`Admission` and `CookieJar`; with `cookies=False` the cookie threshold is never reached
(the responder does the expensive work for every Hello its rate limits let through).
An honest client that is challenged sends its Hello again with the cookie one round trip
later; one that is refused tries again after `retry_s`, until `deadline_s`. The figure is
the fraction of honest clients connected by the deadline.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass

from xinlian.network.admission import Admission, AdmissionConfig, Verdict
from xinlian.network.cookie import CookieJar


@dataclass(frozen=True)
class FloodScenario:
    honest_per_s: float = 20.0
    spoofed_per_s: float = 2_000.0
    duration_s: float = 10.0
    handshake_ms: float = 2.0
    cheap_us: float = 5.0
    rtt_ms: float = 100.0
    timeout_s: float = 5.0
    retry_s: float = 1.0
    deadline_s: float = 3.0
    cookies: bool = True
    seed: int = 1


@dataclass
class FloodResult:
    honest: int
    connected: int
    cpu_on_spoofed_s: float
    challenged: int

    @property
    def connected_fraction(self) -> float:
        return self.connected / max(1, self.honest)


_HELLO, _DONE = 0, 1


def run_flood(s: FloodScenario) -> FloodResult:
    rng = random.Random(s.seed)
    config = AdmissionConfig(max_connections=100_000, max_per_prefix=100_000,
                             load_handshakes=16 if s.cookies else 10**9)
    admission = Admission(config, CookieJar(rng.randbytes(32)), lambda host: False, 0.0)
    events: list[tuple[float, int, int, tuple[str, int, bool, float, bytes | None]]] = []
    seq = 0

    def push(at: float, kind: int, hello: tuple[str, int, bool, float, bytes | None]) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (at, seq, kind, hello))

    honest = 0
    t = 0.0
    while True:  # honest clients: (host, port, honest, first try, cookie)
        t += rng.expovariate(s.honest_per_s)
        if t >= s.duration_s:
            break
        honest += 1
        host = f"{1 + honest % 223}.{honest // 223 % 256}.7.1"  # a /16 of its own
        push(t, _HELLO, (host, 7400, True, t, None))
    t = 0.0
    while True:
        t += rng.expovariate(s.spoofed_per_s)
        if t >= s.duration_s:
            break
        host = f"{1 + rng.randrange(223)}.{rng.randrange(256)}.{rng.randrange(256)}.1"
        push(t, _HELLO, (host, rng.randrange(1024, 65536), False, t, None))
    busy_until = 0.0
    connected = 0
    spoofed_cpu = 0.0
    while events:
        at, _, kind, (host, port, is_honest, first, cookie) = heapq.heappop(events)
        if kind == _DONE:
            admission.finished(host, ok=is_honest)
            if is_honest:
                admission.closed(host)
                connected += at - first <= s.deadline_s
            continue
        verdict = admission.on_hello(host, port, cookie, at)
        cost = s.cheap_us / 1e6 if verdict is not Verdict.ACCEPT else s.handshake_ms / 1e3
        busy_until = max(busy_until, at) + cost
        if not is_honest:
            spoofed_cpu += cost
        if verdict is Verdict.ACCEPT:
            admission.started()
            done = busy_until + s.rtt_ms / 1e3 if is_honest else at + s.timeout_s
            push(done, _DONE, (host, port, is_honest, first, None))
        elif is_honest and verdict is Verdict.CHALLENGE:
            fresh = admission.cookie_for(host, port, at)
            push(busy_until + s.rtt_ms / 1e3, _HELLO, (host, port, True, first, fresh))
        elif is_honest and at + s.retry_s - first <= s.deadline_s:
            push(at + s.retry_s, _HELLO, (host, port, True, first, None))
    return FloodResult(honest, connected, spoofed_cpu,
                       admission.refused.get("challenged", 0))
