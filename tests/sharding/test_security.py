"""The committee failure analysis: exact hypergeometric tails, checked against published
values, against enumeration, and the epoch figure against its bounds."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xinlian.sharding.errors import InvalidParameters
from xinlian.sharding.security import (
    committee_failure,
    corrupt_nodes,
    epoch_failure,
    fault_threshold,
    layout,
    max_corrupt,
    pick_committee_size,
)


def test_fault_threshold_matches_the_bft_quorum() -> None:
    # a committee survives f corrupt members while n - quorum >= f, quorum = 2n//3 + 1
    for n in range(1, 200):
        assert fault_threshold(n) == n - (2 * n // 3 + 1)


def test_fishers_tea_tasting_values() -> None:
    """Fisher (1935): 8 cups, 4 with milk first, the lady picks 4. P[all 4 right] = 1/70,
    P[3 or more right] = 17/70. A committee of 4 fails with 2 or more marked (f = 1)."""
    assert committee_failure(8, 4, 4) == 1 - Fraction(1, 70) - Fraction(16, 70)
    # f = 2 for a committee of 7 drawn from 8: fails with 3 or more of the 4 marked
    assert committee_failure(8, 4, 7) == 1  # 7 of 8 always holds at least 3 marked
    assert committee_failure(10, 3, 4) == Fraction(70, 210)  # C(3,2)C(7,2) + C(3,3)C(7,1)


def test_binomial_limit() -> None:
    """With a million nodes, drawing without replacement is close to with replacement:
    P[Bin(4, 1/4) >= 2] = 67/256."""
    p = committee_failure(1_000_000, 250_000, 4)
    assert abs(p - Fraction(67, 256)) < Fraction(1, 10**5)


def _enumerate(total: int, corrupt: int, sizes: list[int]) -> Fraction:
    """Every ordered deal of distinct nodes into the committees, counted by brute force."""
    bad_nodes = set(range(corrupt))
    failed = every = 0
    for perm in itertools.permutations(range(total), sum(sizes)):
        at, ok = 0, True
        for size in sizes:
            members = perm[at:at + size]
            at += size
            if len(bad_nodes.intersection(members)) > fault_threshold(size):
                ok = False
        every += 1
        failed += not ok
    # permutations count each committee's internal orders alike in both counts
    return Fraction(failed, every)


@given(st.integers(1, 7).flatmap(lambda total: st.tuples(
    st.just(total), st.integers(0, total),
    st.lists(st.integers(1, 4), min_size=1, max_size=3).filter(lambda s: sum(s) <= total))))
def test_epoch_failure_matches_enumeration(case: tuple[int, int, list[int]]) -> None:
    total, corrupt, sizes = case
    assert epoch_failure(total, corrupt, sizes) == _enumerate(total, corrupt, sizes)


@given(st.integers(8, 60).flatmap(lambda total: st.tuples(
    st.just(total), st.integers(0, total), st.integers(1, total))))
def test_one_committee_epoch_is_the_hypergeometric_tail(case: tuple[int, int, int]) -> None:
    total, corrupt, size = case
    assert epoch_failure(total, corrupt, [size]) == committee_failure(total, corrupt, size)


def test_epoch_failure_sits_between_one_committee_and_the_union_bound() -> None:
    total, corrupt, size, shards = 512, 52, 30, 16
    single = committee_failure(total, corrupt, size)
    epoch = layout(total, corrupt, size, shards).failure
    assert single < epoch < (shards + 1) * single


def test_picked_sizes_meet_their_bound_and_a_smaller_one_does_not() -> None:
    for total, fraction in ((512, Fraction(1, 10)), (1024, Fraction(1, 20))):
        corrupt = corrupt_nodes(total, fraction)
        for bits in (20, 40):
            picked = pick_committee_size(total, corrupt, bits)
            assert picked.failure <= Fraction(1, 2**bits)
            assert picked.shards == total // picked.size - 1
            smaller = picked.size - 1
            assert layout(total, corrupt, smaller, total // smaller - 1).failure > \
                Fraction(1, 2**bits) or committee_failure(total, corrupt, smaller) > \
                Fraction(1, 2**bits)


def test_max_corrupt_is_the_edge() -> None:
    total, size, shards = 512, 30, 16
    edge = max_corrupt(total, size, shards, 20)
    assert layout(total, edge, size, shards).failure <= Fraction(1, 2**20)
    assert layout(total, edge + 1, size, shards).failure > Fraction(1, 2**20)


def test_invalid_parameters_are_refused() -> None:
    with pytest.raises(InvalidParameters):
        committee_failure(10, 11, 4)
    with pytest.raises(InvalidParameters):
        epoch_failure(10, 2, [6, 6])
    with pytest.raises(InvalidParameters):
        corrupt_nodes(10, Fraction(1))
    with pytest.raises(InvalidParameters):
        pick_committee_size(512, 128, 20)  # a quarter corrupt: no layout of 512 reaches it
