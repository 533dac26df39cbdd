"""The address manager: which peers a node knows of and which it dials (sans-I/O).

Why: a node eclipsed by an attacker -- every outbound connection to the attacker -- sees
only what the attacker lets through. The defence (Bitcoin's addrman, after Heilman et al.,
"Eclipse attacks on Bitcoin's peer-to-peer network", 2015) is to make the table hard to
fill and the choice hard to steer:

- two tables of buckets: *new* (addresses heard of) and *tried* (addresses this node
  connected to itself). Bucket and slot are keyed hashes under a secret `key` the node
  draws at first start and keeps, so an attacker cannot compute where its addresses land;
- an address heard from a source lands in one of `new_buckets_per_source` buckets chosen
  by the source's network group (IPv4 /16, IPv6 /32): a source from one group reaches at
  most that many buckets however many addresses it sends. In *tried* an address's own
  group and organisation choose among `tried_buckets_per_group` buckets;
- a taken slot is not given to a newcomer unless its holder is *terrible* (failed
  `max_failures` times and never connected since): a flood cannot push out addresses the
  node already knows to work. An address moved to *tried* that lands on a taken slot
  sends the holder back to *new* (it is not forgotten);
- selection takes *tried* and *new* with equal chance, then a random non-empty bucket and
  a random entry in it; `select_outbound` keeps at most one outbound peer per network
  group and `max_outbound_per_org` per organisation;
- *anchors*: the outbound peers a node had are persisted (`encode_anchors`) and dialled
  first after a restart, so a restart is not a fresh chance to eclipse the node;
- *feelers*: now and then the node connects briefly to a *new* address
  (`select_feeler`) and, if it answers, moves it to *tried* (`good`), so tried fills with
  addresses that work.

The table holds addresses only; dialling, persistence and time are the caller's. Every
function takes the time as an argument and the randomness from the `rng` passed in.
"""

from __future__ import annotations

import hashlib
import ipaddress
import random
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Annotated

from xinlian.codec import CodecError, Struct, at_most, decode, encode
from xinlian.network.errors import AnchorsCorrupt, BadPeerAddress

KEY_SIZE = 32
MAX_ANCHORS = 16
MAX_HOST = 64
MAX_ORG = 64


class PeerAddress(Struct, frozen=True):
    """Where a peer listens, and the organisation its membership certificate names."""

    host: Annotated[str, at_most(MAX_HOST)]
    port: int
    org: Annotated[str, at_most(MAX_ORG)] = ""


class _Anchors(Struct):
    anchors: Annotated[list[PeerAddress], at_most(MAX_ANCHORS)]


def parse_address(host: str, port: int, org: str = "") -> PeerAddress:
    """A checked address: an IP literal, a port in 1..65535; raises BadPeerAddress."""
    try:
        ipaddress.ip_address(host)
    except ValueError as exc:
        raise BadPeerAddress(f"{host!r} is not an IP address") from exc
    if not 0 < port < 65536:
        raise BadPeerAddress(f"port {port} is out of range")
    if len(org) > MAX_ORG:
        raise BadPeerAddress("organisation name too long")
    return PeerAddress(host, port, org)


@lru_cache(maxsize=1 << 16)
def network_group(host: str) -> bytes:
    """The prefix one operator is likely to hold whole: IPv4 /16, IPv6 /32."""
    ip = ipaddress.ip_address(host)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    packed = ip.packed
    return bytes([4]) + packed[:2] if ip.version == 4 else bytes([6]) + packed[:4]


def encode_anchors(anchors: list[PeerAddress]) -> bytes:
    return encode(_Anchors(anchors[:MAX_ANCHORS]))


def decode_anchors(data: bytes) -> list[PeerAddress]:
    """The anchors persisted by `encode_anchors`; raises AnchorsCorrupt."""
    try:
        anchors = decode(data, _Anchors).anchors
        return [parse_address(a.host, a.port, a.org) for a in anchors]
    except (CodecError, BadPeerAddress) as exc:
        raise AnchorsCorrupt(f"anchors file: {exc}") from exc


@dataclass(frozen=True, slots=True)
class AddrManConfig:
    new_buckets: int = 1024
    tried_buckets: int = 256
    bucket_size: int = 64
    new_buckets_per_source: int = 64
    tried_buckets_per_group: int = 8
    max_failures: int = 3
    max_outbound_per_org: int = 2
    anchors: int = 2


@dataclass(slots=True)
class _Entry:
    address: PeerAddress
    tried: bool = False
    failures: int = 0
    last_success: int | None = None

    def is_terrible(self, max_failures: int) -> bool:
        return self.failures >= max_failures


@dataclass(slots=True)
class _Table:
    buckets: list[dict[int, PeerAddress]]
    nonempty: set[int] = field(default_factory=set)

    def put(self, bucket: int, slot: int, address: PeerAddress) -> None:
        self.buckets[bucket][slot] = address
        self.nonempty.add(bucket)

    def remove(self, bucket: int, slot: int) -> None:
        del self.buckets[bucket][slot]
        if not self.buckets[bucket]:
            self.nonempty.discard(bucket)


class AddrMan:
    """See the module docstring. `key`: the node's secret (32 bytes, kept across restarts)."""

    def __init__(self, key: bytes, config: AddrManConfig, rng: random.Random) -> None:
        if len(key) != KEY_SIZE:
            raise ValueError("the address manager's key is 32 bytes")
        self._key = key
        self.config = config
        self._rng = rng
        self._new = _Table([{} for _ in range(config.new_buckets)])
        self._tried = _Table([{} for _ in range(config.tried_buckets)])
        self._entries: dict[PeerAddress, _Entry] = {}
        self._where: dict[PeerAddress, tuple[bool, int, int]] = {}  # tried?, bucket, slot

    def __len__(self) -> int:
        return len(self._entries)

    def counts(self) -> tuple[int, int]:
        """(addresses in new, addresses in tried)."""
        tried = sum(e.tried for e in self._entries.values())
        return len(self._entries) - tried, tried

    def _hash(self, *parts: bytes) -> int:
        """A keyed hash (BLAKE2b in MAC mode) of the parts: unpredictable without the key."""
        mac = hashlib.blake2b(b"\x00".join(parts), digest_size=8, key=self._key).digest()
        return int.from_bytes(mac, "big")

    @staticmethod
    def _addr_key(a: PeerAddress) -> bytes:
        return f"{a.host}|{a.port}".encode()

    def _group_key(self, a: PeerAddress) -> bytes:
        return network_group(a.host) + b"|" + a.org.encode()

    def _new_place(self, a: PeerAddress, source: str) -> tuple[int, int]:
        cfg = self.config
        src = network_group(source)
        spread = self._hash(b"N1", self._group_key(a), src) % cfg.new_buckets_per_source
        bucket = self._hash(b"N2", src, spread.to_bytes(4, "big")) % cfg.new_buckets
        slot = self._hash(b"NS", bucket.to_bytes(4, "big"), self._addr_key(a)) % cfg.bucket_size
        return bucket, slot

    def _tried_place(self, a: PeerAddress) -> tuple[int, int]:
        cfg = self.config
        spread = self._hash(b"T1", self._addr_key(a)) % cfg.tried_buckets_per_group
        bucket = self._hash(b"T2", self._group_key(a),
                            spread.to_bytes(4, "big")) % cfg.tried_buckets
        slot = self._hash(b"TS", bucket.to_bytes(4, "big"), self._addr_key(a)) % cfg.bucket_size
        return bucket, slot

    def add(self, address: PeerAddress, source: str) -> bool:
        """An address heard from `source` (the host that told us); True if it was placed."""
        if address in self._entries:
            return False
        bucket, slot = self._new_place(address, source)
        holder = self._new.buckets[bucket].get(slot)
        if holder is not None:
            if not self._entries[holder].is_terrible(self.config.max_failures):
                return False  # a working address is not pushed out by a newcomer
            self._forget(holder)
        self._entries[address] = _Entry(address)
        self._new.put(bucket, slot, address)
        self._where[address] = (False, bucket, slot)
        return True

    def _forget(self, address: PeerAddress) -> None:
        tried, bucket, slot = self._where.pop(address)
        (self._tried if tried else self._new).remove(bucket, slot)
        del self._entries[address]

    def attempt_failed(self, address: PeerAddress) -> None:
        entry = self._entries.get(address)
        if entry is not None:
            entry.failures += 1

    def good(self, address: PeerAddress, now: int) -> None:
        """We connected to `address` ourselves (outbound or feeler): it moves to tried."""
        entry = self._entries.get(address)
        if entry is None:
            return
        entry.failures = 0
        entry.last_success = now
        if entry.tried:
            return
        _, bucket, slot = self._where[address]
        self._new.remove(bucket, slot)
        t_bucket, t_slot = self._tried_place(address)
        holder = self._tried.buckets[t_bucket].get(t_slot)
        if holder is not None:
            self._tried.remove(t_bucket, t_slot)
            self._entries[holder].tried = False
            del self._where[holder]
            self._back_to_new(holder)
        entry.tried = True
        self._tried.put(t_bucket, t_slot, address)
        self._where[address] = (True, t_bucket, t_slot)

    def _back_to_new(self, address: PeerAddress) -> None:
        """An address evicted from tried goes back to new (with itself as source)."""
        bucket, slot = self._new_place(address, address.host)
        holder = self._new.buckets[bucket].get(slot)
        if holder is not None:
            self._forget(holder)
        self._new.put(bucket, slot, address)
        self._where[address] = (False, bucket, slot)

    def _pick(self, table: _Table) -> PeerAddress | None:
        if not table.nonempty:
            return None
        bucket = table.buckets[self._rng.choice(sorted(table.nonempty))]
        return bucket[self._rng.choice(sorted(bucket))]

    def select(self) -> PeerAddress | None:
        """A random known address: tried or new with equal chance, then a random bucket."""
        first, second = (self._tried, self._new) if self._rng.random() < 0.5 \
            else (self._new, self._tried)
        return self._pick(first) or self._pick(second)

    def select_feeler(self) -> PeerAddress | None:
        """A random address from new, to test with a short-lived connection."""
        return self._pick(self._new)

    def select_outbound(self, count: int, connected: list[PeerAddress],
                        max_tries: int = 200) -> list[PeerAddress]:
        """Up to `count` addresses to dial beside `connected`: one per network group and
        at most `max_outbound_per_org` per organisation."""
        groups = {network_group(a.host) for a in connected}
        orgs: dict[str, int] = {}
        for a in connected:
            orgs[a.org] = orgs.get(a.org, 0) + 1
        orgs.pop("", None)  # no organisation named: only the group rule applies
        chosen: list[PeerAddress] = []
        for _ in range(max_tries):
            if len(chosen) == count:
                break
            pick = self.select()
            if pick is None:
                break
            group = network_group(pick.host)
            if group in groups or (pick.org and orgs.get(pick.org, 0)
                                   >= self.config.max_outbound_per_org):
                continue
            groups.add(group)
            if pick.org:
                orgs[pick.org] = orgs.get(pick.org, 0) + 1
            chosen.append(pick)
        return chosen
