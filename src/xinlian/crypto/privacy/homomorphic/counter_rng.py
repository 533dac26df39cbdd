"""A deterministic source of random bytes: SHA-256 of a 32-byte root and a counter. For
randomness every party must draw alike (a batch's weights on every validator) or draw
again alike (a DKG member's party replayed from its secret seed)."""

from __future__ import annotations

import hashlib
import itertools

from xinlian.crypto.primitives.groups import Rng


def counter_rng(root: bytes) -> Rng:
    """The bytes SHA-256(root || counter) for counter 0, 1, ..., handed out in order."""
    counter = itertools.count()

    def rng(n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(root + next(counter).to_bytes(8, "big")).digest()
        return out[:n]

    return rng
