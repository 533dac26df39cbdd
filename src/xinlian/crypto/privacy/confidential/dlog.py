"""The bounded discrete logarithm that ends twisted-ElGamal decryption: v from v*G for v in
[0, 2^32), by baby-step giant-step (privacy/bsgs.py) with a table of 2^16 baby steps (built
once per process and group, about 1.1 s of CPU) and at most 2^16 giant steps."""

from __future__ import annotations

import functools

from xinlian.crypto.primitives.groups import Element, Group
from xinlian.crypto.privacy import bsgs
from xinlian.crypto.privacy.confidential.errors import UndecryptableError
from xinlian.crypto.privacy.confidential.generators import generators

BITS = 32
_STEP = 1 << (BITS // 2)


@functools.cache
def _baby_steps(group: Group) -> dict[bytes, int]:
    return bsgs.baby_steps(generators(group).g, _STEP)


def solve(point: Element) -> int:
    """v with v*G = point and 0 <= v < 2^32; UndecryptableError when there is none."""
    group = point.group
    found = bsgs.search(point, generators(group).g, _baby_steps(group), (1 << BITS) - 1)
    if found is None:
        raise UndecryptableError(f"the amount is not in [0, 2^{BITS}) (or the key is wrong)")
    return found
