"""How likely a shard committee is to hold more corrupt members than its BFT core tolerates.

Theory. Each epoch the beacon's randomness deals N nodes, K of them corrupt, into disjoint
committees (assignment.py). A committee of n equal-power members runs the BFT core, whose
quorum is floor(2n/3)+1 (consensus/committee.py): it stays live and safe while at most
f = floor((n-1)/3) members are corrupt. The corrupt count of one committee is hypergeometric
(draws without replacement from N with K marked), so

    P[committee fails] = sum_{x > f} C(K, x) C(N-K, n-x) / C(N, n).

An epoch fails when any committee fails. The committees are disjoint, so the exact figure
is a sum over how the K corrupt nodes spread across them; `epoch_failure` counts the
assignments in which every committee holds at most its f, committee by committee, carrying
the number of corrupt nodes used so far (a dynamic programme over integers).

Everything is exact: counts are Python integers and probabilities `Fraction`s, so a 2^-40
bound is compared without rounding. `log2` of a Fraction is the only float, for display.

Limits (docs/sharding.md, "Security"): the bound is per epoch against a static adversary,
one that chooses whom to corrupt before the epoch's randomness is known. An adaptive
adversary that corrupts members after seeing the assignment defeats any committee size;
the reshuffle every epoch bounds how long it has to do so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from xinlian.sharding.errors import InvalidParameters


def fault_threshold(size: int) -> int:
    """f: the corrupt members a committee of `size` equal-power members survives."""
    return (size - 1) // 3


@lru_cache(maxsize=4096)
def _comb(n: int, k: int) -> int:
    return math.comb(n, k) if 0 <= k <= n else 0


def _check(total: int, corrupt: int, sizes: Sequence[int]) -> None:
    if total < 1 or not 0 <= corrupt <= total:
        raise InvalidParameters(f"need 0 <= corrupt <= total and total >= 1, "
                                f"got {corrupt} of {total}")
    if not sizes or any(s < 1 for s in sizes) or sum(sizes) > total:
        raise InvalidParameters(f"committees of {list(sizes)} do not fit in {total} nodes")


def committee_failure(total: int, corrupt: int, size: int) -> Fraction:
    """P[more than f of a committee of `size` are corrupt], drawn from `total` with
    `corrupt` corrupt nodes."""
    _check(total, corrupt, [size])
    f = fault_threshold(size)
    bad = sum(_comb(corrupt, x) * _comb(total - corrupt, size - x)
              for x in range(f + 1, min(size, corrupt) + 1))
    return Fraction(bad, _comb(total, size))


def epoch_failure(total: int, corrupt: int, sizes: Sequence[int]) -> Fraction:
    """P[some committee holds more than its f corrupt members], for disjoint committees of
    `sizes` dealt uniformly at random from `total` nodes (the rest sit out)."""
    _check(total, corrupt, sizes)
    honest = total - corrupt
    ways = {0: 1}  # corrupt nodes used so far -> ordered ways to fill the committees so far
    used = 0
    for size in sizes:
        nxt: dict[int, int] = {}
        for c, w in ways.items():
            for x in range(min(fault_threshold(size), corrupt - c, size) + 1):
                h = size - x
                if h > honest - (used - c):
                    continue
                count = w * _comb(corrupt - c, x) * _comb(honest - (used - c), h)
                nxt[c + x] = nxt.get(c + x, 0) + count
        ways, used = nxt, used + size
    every = 1
    left = total
    for size in sizes:
        every *= _comb(left, size)
        left -= size
    return 1 - Fraction(sum(ways.values()), every)


def log2(p: Fraction) -> float:
    """log2 of a probability, -inf for 0 (display only)."""
    if p == 0:
        return float("-inf")
    return math.log2(p.numerator) - math.log2(p.denominator)


def corrupt_nodes(total: int, fraction: Fraction) -> int:
    """The corrupt nodes an adversary holding `fraction` of `total` controls (rounded up)."""
    if not 0 <= fraction < 1:
        raise InvalidParameters(f"the adversary fraction must be in [0, 1), got {fraction}")
    return math.ceil(fraction * total)


@dataclass(frozen=True)
class Layout:
    """One epoch's committees: `shards` shard committees and one beacon committee, all of
    `size` members, and the exact probability that any of them fails."""

    total: int
    corrupt: int
    size: int
    shards: int
    failure: Fraction

    @property
    def bits(self) -> float:
        return -log2(self.failure)


def layout(total: int, corrupt: int, size: int, shards: int) -> Layout:
    """The layout of `shards` shard committees plus a beacon committee of `size` each."""
    if shards < 1:
        raise InvalidParameters(f"need at least one shard, got {shards}")
    return Layout(total, corrupt, size, shards,
                  epoch_failure(total, corrupt, [size] * (shards + 1)))


def pick_committee_size(total: int, corrupt: int, bits: int) -> Layout:
    """The smallest committee size whose epoch, with as many shards as the nodes fill
    (floor(total/size) - 1 shard committees and the beacon), fails with probability at
    most 2^-bits. Raises when even two committees of total/2 cannot reach it."""
    if bits < 1:
        raise InvalidParameters(f"need a positive security level, got 2^-{bits}")
    bound = Fraction(1, 2**bits)
    for size in range(4, total // 2 + 1):
        single = committee_failure(total, corrupt, size)
        if single > bound:  # the epoch fails at least as often as one committee
            continue
        shards = total // size - 1
        if (shards + 1) * single <= bound or layout(total, corrupt, size,
                                                      shards).failure <= bound:
            return layout(total, corrupt, size, shards)
    raise InvalidParameters(f"no committee size reaches 2^-{bits} with {corrupt} of {total} "
                            f"nodes corrupt")


def max_corrupt(total: int, size: int, shards: int, bits: int) -> int:
    """The most corrupt nodes a layout of `shards` + 1 committees of `size` survives with
    epoch failure at most 2^-bits (with none corrupt it never fails). Failure grows with
    the corrupt count, so a binary search finds the largest."""
    bound = Fraction(1, 2**bits)
    lo, hi = 0, total  # failure(lo) <= bound; find the largest such
    if layout(total, hi, size, shards).failure <= bound:
        return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if layout(total, mid, size, shards).failure <= bound:
            lo = mid
        else:
            hi = mid
    return lo
