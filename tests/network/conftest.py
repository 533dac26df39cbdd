"""Shared fixtures: seeded node keys and memberships for each suite."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from xinlian.crypto.signing import SigningKey
from xinlian.crypto.suites import Suite, get_suite
from xinlian.network.membership import Membership, PeerInfo

SUITES = ("intl", "sm", "pq", "hybrid-sm", "hybrid-intl")


def node_keys(suite: Suite, n: int, tag: int = 0) -> list[SigningKey]:
    return [suite.generate_signing_key(bytes([tag, i]) * 16) for i in range(n)]


def membership(suite: Suite, keys: list[SigningKey], ports: list[int] | None = None,
               ) -> Membership:
    ports = ports or [0] * len(keys)
    return Membership(suite, [PeerInfo(k.public_key, "127.0.0.1", p)
                              for k, p in zip(keys, ports, strict=True)])


@pytest.fixture(params=SUITES)
def suite(request: pytest.FixtureRequest) -> Suite:
    return get_suite(request.param)


@pytest.fixture
def rng() -> Callable[[int], bytes]:
    return random.Random(1234).randbytes
