"""Shared fixtures for the DKG, FROST and ROAST tests: parties with seeded randomness,
and dealers that cheat in the ways the tests need."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

import msgspec

from xinlian import codec
from xinlian.crypto.primitives.groups import Element, Group, Scalar
from xinlian.crypto.threshold import dkg
from xinlian.crypto.threshold.dkg import Deal, DkgConfig, DkgParty, KeyShare
from xinlian.testing.mpc.dkg_session import run_parties


def enc_keys(group: Group, ids: Sequence[int], seed: int) -> tuple[dict[int, Scalar],
                                                                    dict[int, Element]]:
    rng = random.Random(seed * 7919 + 1).randbytes
    secrets = {i: group.random_scalar(rng) for i in ids}
    return secrets, {i: group.base_mul(s) for i, s in secrets.items()}


def keygen_parties(group: Group, n: int, t: int, seed: int = 0,
                   classes: Mapping[int, type[DkgParty]] | None = None,
                   session: bytes = b"test-session") -> dict[int, DkgParty]:
    ids = list(range(1, n + 1))
    secrets, pubs = enc_keys(group, ids, seed)
    cfg = DkgConfig.keygen(group, session, ids, t, pubs)
    classes = classes or {}
    return {i: classes.get(i, DkgParty)(cfg, i, secrets[i],
                                         rng=random.Random(seed * 1000 + i).randbytes)
            for i in ids}


def run_keygen(group: Group, n: int, t: int, seed: int = 0) -> dict[int, KeyShare]:
    run = run_parties(keygen_parties(group, n, t, seed))
    assert not run.aborted
    return {i: r.key_share for i, r in run.results.items() if r.key_share is not None}


def tamper(deal: Deal, **changes: object) -> Deal:
    return msgspec.structs.replace(deal, **changes)


def bump(group: Group, data: bytes) -> bytes:
    """A scalar encoding plus one: a wrong but well-formed share."""
    return (group.decode_scalar(data) + group.scalar(1)).encode()


def bad_share_to(*victims: int, delta: int = 1) -> type[DkgParty]:
    """A dealer whose encrypted shares to `victims` are off by `delta`."""

    class BadShareDealer(DkgParty):
        def _make_deal(self) -> Deal:
            d = super()._make_deal()
            shares = list(d.shares)
            for v in victims:
                k = self.config.receivers.index(v)
                shares[k] = (self.group.decode_scalar(shares[k])
                             + self.group.scalar(delta)).encode()
            return tamper(d, shares=shares)

    return BadShareDealer


def decoded(data: bytes) -> dkg.Message:
    return codec.decode(data, dkg.Message)
