"""The bounded discrete log that turns a decrypted m*P back into m: baby-step giant-step
(privacy/bsgs.py) in base P, with the table sized to the bound.

A table of s = `table_size` baby steps answers a search for m in [0, bound] in at most
bound/s + 1 giant steps. The table costs s additions to build and about 130 bytes an
entry in this process (the encoding as a dict key, the int), so `MAX_TABLE` caps it: 2^20
entries is about 140 MB (docs/privacy.md, section Encrypted aggregates, has the measured
figures). Tables are kept per (group, size), the last few only.
"""

from __future__ import annotations

import functools
import math

from xinlian.crypto.primitives.groups import Element, Group
from xinlian.crypto.privacy import bsgs
from xinlian.crypto.privacy.homomorphic.elgamal import base
from xinlian.crypto.privacy.homomorphic.errors import DiscreteLogBoundError

MIN_TABLE = 1 << 8
MAX_TABLE = 1 << 20
#: The largest bound a search takes: 2^20 giant steps past a full table (seconds, not hours).
MAX_BOUND = MAX_TABLE << 20


@functools.lru_cache(maxsize=2)
def baby_steps(group: Group, size: int) -> dict[bytes, int]:
    """{encoding of j*P: j} for 1 <= j < size (0*P, the identity, has no encoding)."""
    if not 1 <= size <= MAX_TABLE:
        raise DiscreteLogBoundError(f"a table has 1..{MAX_TABLE} entries, not {size}")
    return bsgs.baby_steps(base(group), size)


def table_for(bound: int) -> int:
    """The table that balances building it against the giant steps: the power of two at or
    above sqrt(bound + 1), from MIN_TABLE to MAX_TABLE."""
    return min(MAX_TABLE, max(MIN_TABLE, 1 << (math.isqrt(bound).bit_length())))


def solve(point: Element, bound: int, table_size: int | None = None) -> int:
    """The m in [0, bound] with m*P = point; DiscreteLogBoundError if there is none.
    `table_size` defaults to `table_for(bound)`."""
    group = point.group
    if not 0 <= bound <= MAX_BOUND:
        raise DiscreteLogBoundError(f"a search bound is 0..{MAX_BOUND}, not {bound}")
    size = min(table_for(bound) if table_size is None else table_size, bound + 1)
    found = bsgs.search(point, base(group), baby_steps(group, size), bound)
    if found is None:
        raise DiscreteLogBoundError(f"the aggregate is not in [0, {bound}]")
    return found
