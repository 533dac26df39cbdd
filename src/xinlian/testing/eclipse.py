"""Eclipse attacks on the address manager, in simulation: how often does a restarted node
end up with every outbound peer in the attacker's hands?

One trial: a victim learns `honest` addresses (a quarter of them offline) from honest
sources, dials its outbound peers and runs `feelers` feeler connections. Then the
attacker, holding addresses in `attacker_groups` /16 prefixes and `attacker_orgs`
organisations, floods the victim with enough addresses that they are `fraction` of all
addresses it heard of (each heard from one of the attacker's own hosts); the victim runs
`feelers` more feelers (which may now reach attacker addresses), then restarts and fills
`outbound` slots. The attack succeeds when all of them are the attacker's. Attacker
hosts always answer; offline honest ones never do.

Schemes: `naive` (one flat table of `naive_capacity`, random eviction, uniform choice,
no diversity rules: the "before"), `buckets` (the address manager without anchors) and
`anchors` (the address manager with its anchor connections dialled first after the
restart: the "after").
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from xinlian.network.addrman import AddrMan, AddrManConfig, PeerAddress

SCHEMES = ("naive", "buckets", "anchors")


@dataclass(frozen=True)
class EclipseScenario:
    honest: int = 500
    honest_groups: int = 400
    honest_orgs: int = 40
    honest_offline: float = 0.25
    attacker_groups: int = 32
    attacker_orgs: int = 8
    outbound: int = 8
    feelers: int = 30
    trials: int = 100
    seed: int = 1
    naive_capacity: int = 20_000
    # A quarter of Bitcoin's tables, for speed; the ratios are Bitcoin's.
    addrman: AddrManConfig = field(default_factory=lambda: AddrManConfig(
        new_buckets=256, tried_buckets=64, bucket_size=64, new_buckets_per_source=16,
        tried_buckets_per_group=2))


class NaiveTable:
    """The undefended baseline: a flat list, random eviction when full, uniform choice."""

    def __init__(self, capacity: int, rng: random.Random) -> None:
        self.capacity = capacity
        self._rng = rng
        self._items: list[PeerAddress] = []
        self._known: set[PeerAddress] = set()

    def add(self, address: PeerAddress, source: str) -> bool:
        if address in self._known:
            return False
        if len(self._items) >= self.capacity:
            k = self._rng.randrange(len(self._items))
            self._known.discard(self._items[k])
            self._items[k] = address
        else:
            self._items.append(address)
        self._known.add(address)
        return True

    def select_outbound(self, count: int, connected: list[PeerAddress]) -> list[PeerAddress]:
        return [self._rng.choice(self._items) for _ in range(count)] if self._items else []


def _addresses(rng: random.Random, n: int, groups: list[tuple[int, int]],
               orgs: list[str]) -> list[PeerAddress]:
    out = []
    for _ in range(n):
        a, b = rng.choice(groups)
        host = f"{a}.{b}.{rng.randrange(256)}.{1 + rng.randrange(254)}"
        out.append(PeerAddress(host, 7400, rng.choice(orgs)))
    return out


_PREFIXES = [(a, b) for a in range(1, 224) for b in range(256)]  # IPv4 unicast /16s


def _trial(s: EclipseScenario, scheme: str, fraction: float, rng: random.Random) -> bool:
    prefixes = rng.sample(_PREFIXES, s.honest_groups + s.attacker_groups)
    honest = _addresses(rng, s.honest, prefixes[:s.honest_groups],
                        [f"org{k}" for k in range(s.honest_orgs)])
    offline = set(rng.sample(honest, round(s.honest_offline * s.honest)))
    n_attack = round(fraction / (1 - fraction) * s.honest)
    attacker = _addresses(rng, n_attack, prefixes[s.honest_groups:],
                          [f"attacker{k}" for k in range(s.attacker_orgs)])
    evil = set(attacker)
    table: AddrMan | NaiveTable
    if scheme == "naive":
        table = NaiveTable(s.naive_capacity, rng)
    else:
        table = AddrMan(rng.randbytes(32), s.addrman, rng)
    for a in honest:
        table.add(a, rng.choice(honest).host)

    def fill(connected: list[PeerAddress]) -> list[PeerAddress]:
        for _ in range(50):
            need = s.outbound - len(connected)
            if need == 0:
                break
            for a in table.select_outbound(need, connected):
                if a in offline:
                    if isinstance(table, AddrMan):
                        table.attempt_failed(a)
                    continue
                if isinstance(table, AddrMan):
                    table.good(a, 0)
                if a not in connected and len(connected) < s.outbound:
                    connected.append(a)
        return connected

    def feel() -> None:
        if not isinstance(table, AddrMan):
            return
        for _ in range(s.feelers):
            a = table.select_feeler()
            if a is None:
                return
            if a in offline:
                table.attempt_failed(a)
            else:
                table.good(a, 0)

    before = fill([])
    feel()
    for a in attacker:
        table.add(a, rng.choice(attacker).host)
    feel()
    anchors = before[:s.addrman.anchors] if scheme == "anchors" else []
    after = fill(list(anchors))
    return len(after) == s.outbound and all(a in evil for a in after)


def success_probability(s: EclipseScenario, scheme: str, fraction: float) -> float:
    """The fraction of `s.trials` seeded trials in which the victim was eclipsed."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}")
    rng = random.Random(f"{s.seed}-{scheme}-{fraction}")
    return sum(_trial(s, scheme, fraction, rng) for _ in range(s.trials)) / s.trials
