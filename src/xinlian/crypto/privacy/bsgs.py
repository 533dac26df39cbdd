"""Baby-step giant-step: the bounded discrete log that ends decryption in the schemes whose
plaintexts sit in an exponent (confidential/dlog.py: twisted-ElGamal amounts in base G;
homomorphic/dlog.py: ElGamal aggregates in base P). The base is a parameter and the group's
operations come with it; each caller keeps its own tables and bounds.

A table of the baby steps j*B for 1 <= j < s answers a search for m in [0, bound] in at most
bound/s + 1 giant steps, each one native addition and one encoding.
"""

from __future__ import annotations

from xinlian.crypto.primitives.groups import Element


def baby_steps(base: Element, size: int) -> dict[bytes, int]:
    """{encoding of j*base: j} for 1 <= j < size (0*base, the identity, has no encoding; a
    search tests for it apart)."""
    table: dict[bytes, int] = {}
    point = base
    for j in range(1, size):
        table[point.encode()] = j
        point = point + base
    return table


def search(point: Element, base: Element, table: dict[bytes, int], bound: int) -> int | None:
    """The m in [0, bound] with m*base = point, or None; `table` is baby_steps(base, s),
    s being len(table) + 1."""
    size = len(table) + 1
    giant = -(base * base.group.scalar(size))
    for i in range(bound // size + 1):
        found = 0 if point.is_identity() else table.get(point.encode())
        if found is not None:
            m = i * size + found
            return m if m <= bound else None
        point = point + giant
    return None
