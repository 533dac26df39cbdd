"""Nothing-up-my-sleeve generators: Pedersen's G and H and the Bulletproofs vectors.

Every generator is `group.hash_to_element(SEED, label)` with the public seed
`SEED = b"XINLIAN-CONFIDENTIAL-V1-GENERATORS"` and the labels `b"G"`, `b"H"`,
`b"Gi" || i` and `b"Hi" || i` (i as 4 bytes big-endian). Hashing to the group gives
elements nobody knows a discrete-log relation between, which is what binding and soundness
rest on; docs/privacy.md documents the derivation so anyone can recompute it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from xinlian.crypto.primitives.groups import Element, Group

SEED = b"XINLIAN-CONFIDENTIAL-V1-GENERATORS"
#: The longest vectors a proof uses: 16 values of 64 bits.
MAX_VECTOR = 16 * 64


@dataclass(frozen=True)
class Generators:
    """G (the value base), H (the blinding base) and the G_i, H_i vectors of one group, with
    the -H_i the prover adds for zero bits (so committing to bits costs the same whatever
    they are)."""

    group: Group
    g: Element
    h: Element
    gi: tuple[Element, ...]
    hi: tuple[Element, ...]
    hi_neg: tuple[Element, ...]


@functools.cache
def generators(group: Group) -> Generators:
    """The generators of `group`, derived once per process (2 * MAX_VECTOR + 2 hashes)."""

    def at(label: bytes) -> Element:
        return group.hash_to_element(SEED, label)

    hi = tuple(at(b"Hi" + i.to_bytes(4, "big")) for i in range(MAX_VECTOR))
    return Generators(
        group, at(b"G"), at(b"H"),
        tuple(at(b"Gi" + i.to_bytes(4, "big")) for i in range(MAX_VECTOR)),
        hi, tuple(-h for h in hi))
