"""What a party holds when its core is built: its own secrets and everyone's public keys.

A protocol's setup says which keys a party generates (`Setup.generate(party, rng)` returns
its secrets and their public forms, by name). The runners call it once per party with that
party's own random source and hand each core only its own secrets plus the public forms
of everyone's (the membership):

- in simulation the source is seeded per party, so a run replays from its seed (seeded
  keys: for simulation only, and the report says `"secrets": "seeded"`);
- with one OS process per party, each process draws its secrets from the OS CSPRNG,
  prints only their public forms, and learns the others' from the launcher
  (`"secrets": "os-random"`): no process can compute another party's secret.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from xinlian import codec
from xinlian.crypto.keys import PublicKey
from xinlian.crypto.primitives.groups import Element, Group, Rng, Scalar
from xinlian.crypto.signing import SEED_SIZE, SigningKey
from xinlian.crypto.suites import get_suite
from xinlian.crypto.threshold import broadcast


@dataclass(frozen=True)
class OwnKeys:
    """One party's freshly generated secrets and their public forms, by name."""

    secret: dict[str, bytes] = field(default_factory=dict)
    public: dict[str, bytes] = field(default_factory=dict)

    def held(self) -> list[str]:
        """SHA-256 of each secret: what a party reports to show which secrets it holds."""
        return sorted(hashlib.sha256(s).hexdigest() for s in self.secret.values())


@dataclass(frozen=True)
class Keys:
    """What a core is built from: this party's secrets, every party's public keys, and
    this party's random source for the protocol's own randomness (nonces, polynomials)."""

    own: Mapping[str, bytes]
    public: Mapping[int, Mapping[str, bytes]]
    rng: Rng

    def signing_key(self, name: str) -> SigningKey:
        return get_suite(broadcast.SUITE).generate_signing_key(self.own[name])

    def verifying_keys(self, name: str, parties: Iterable[int]) -> dict[int, PublicKey]:
        return {i: codec.decode(self.public[i][name], PublicKey) for i in parties}

    def scalar(self, group: Group, name: str) -> Scalar:
        return group.decode_scalar(self.own[name])

    def elements(self, group: Group, name: str, parties: Iterable[int]) -> dict[int, Element]:
        return {i: group.decode_element(self.public[i][name]) for i in parties}


def new_signing_key(keys: OwnKeys, name: str, rng: Rng) -> None:
    """A broadcast signing key (the consistent broadcast's suite) into `keys`."""
    seed = rng(SEED_SIZE)
    key = get_suite(broadcast.SUITE).generate_signing_key(seed)
    keys.secret[name], keys.public[name] = seed, codec.encode(key.public_key)


def new_scalar_key(keys: OwnKeys, name: str, group: Group, rng: Rng) -> None:
    """A secret scalar x and its public point x * G into `keys`."""
    x = group.random_scalar(rng)
    keys.secret[name], keys.public[name] = x.encode(), group.base_mul(x).encode()


def seeded_signing_keys(seed: int, label: str, parties: Iterable[int]) -> dict[int, SigningKey]:
    """Broadcast signing keys derived from a seed: for tests of the broadcast layer only."""
    suite = get_suite(broadcast.SUITE)
    return {i: suite.generate_signing_key(hashlib.sha256(
        b"xinlian/mpc/broadcast-key/%d/%s/%d" % (seed, label.encode(), i)).digest())
        for i in parties}
