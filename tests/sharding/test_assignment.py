"""Accounts to shards and nodes to committees from a verified threshold-BLS beacon."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xinlian.crypto.primitives.bls import Scheme
from xinlian.crypto.threshold import tbls
from xinlian.sharding.assignment import _Stream, assign, epoch_randomness, movers, shard_of, shuffle
from xinlian.sharding.errors import InvalidParameters
from xinlian.testing.sharding.world import HASH

NODES = [b"node-%04d" % i for i in range(100)]


def _beacon(epoch: int, previous: bytes) -> tuple[bytes, bytes]:
    """Group key and beacon round `epoch`'s signature from a seeded 5-of-9 dealing."""
    key_set, shares = tbls.deal(9, 5, tbls.seeded(b"assignment-tests"))
    message = tbls.beacon_message(epoch, previous)
    partials = [tbls.sign_share(s, message, Scheme.BASIC) for s in shares[2:7]]
    return bytes(key_set.group_key), tbls.combine(key_set, message, partials,
                                                  Scheme.BASIC).signature


def test_randomness_comes_from_a_verified_beacon_round() -> None:
    group_key, sig1 = _beacon(1, b"")
    r1 = epoch_randomness(group_key, 1, b"", bytes(sig1))
    assert r1 == tbls.beacon_randomness(bytes(sig1))
    with pytest.raises(tbls.InvalidBeaconError):
        epoch_randomness(group_key, 2, b"", bytes(sig1))  # round 1's signature for round 2


def test_assignment_partitions_the_nodes_and_is_deterministic() -> None:
    a = assign(3, NODES, b"r" * 32, shards=5, size=16)
    assert a == assign(3, list(reversed(NODES)), b"r" * 32, shards=5, size=16)
    placed = list(a.beacon) + [n for s in a.shards for n in s] + list(a.standby)
    assert sorted(placed) == sorted(NODES)
    assert len(a.beacon) == 16 and all(len(s) == 16 for s in a.shards)
    assert a != assign(4, NODES, b"r" * 32, shards=5, size=16)  # the epoch enters the seed
    b = assign(3, NODES, b"s" * 32, shards=5, size=16)
    moved = movers(a, b)
    assert moved and all(b.shard_of_node(n) == s != a.shard_of_node(n) for n, s in moved.items())
    assert movers(a, a) == {}


def test_invalid_layouts_are_refused() -> None:
    with pytest.raises(InvalidParameters):
        assign(0, NODES, b"r", shards=6, size=16)  # 7 committees of 16 > 100
    with pytest.raises(InvalidParameters):
        assign(0, NODES + NODES[:1], b"r", shards=2, size=4)
    with pytest.raises(InvalidParameters):
        shard_of(b"a", 0, HASH)


@given(st.integers(1, 300))
def test_stream_draws_stay_below_their_bound(bound: int) -> None:
    stream = _Stream(b"%d" % bound)
    assert all(0 <= stream.below(bound) < bound for _ in range(20))


def test_shuffle_is_a_permutation_with_even_positions() -> None:
    """Over 6,000 seeds, each of 3 items lands in each of 3 places about a third of the
    time (a biased index draw would skew this well past the 5-sigma margin used)."""
    counts: Counter[tuple[bytes, int]] = Counter()
    for seed in range(6000):
        for place, item in enumerate(shuffle([b"a", b"b", b"c"], b"%d" % seed)):
            counts[item, place] += 1
    assert len(counts) == 9
    assert all(abs(c - 2000) < 5 * 36.5 for c in counts.values())  # sd = sqrt(6000*2/9)


def test_accounts_spread_over_shards() -> None:
    homes = Counter(shard_of(b"%d" % i, 16, HASH) for i in range(16_000))
    assert set(homes) == set(range(16)) and all(800 < c < 1200 for c in homes.values())
