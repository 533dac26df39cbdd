"""hash_items: many short messages per call, natively for SM3, the same digests as one call
each (the proof verifiers rely on it: storage/mmr.py)."""

from __future__ import annotations

import random

import pytest

from xinlian.crypto.hashes import hash_items, sha256, sm3
from xinlian.crypto.primitives import _sm3many


def test_native_sm3_matches_gbt32905_examples() -> None:
    assert _sm3many.hash_items(b"", b"abc", 3).hex() == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")
    assert _sm3many.hash_items(b"abcd" * 4, b"abcd" * 24, 48).hex() == 2 * (
        "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732")


@pytest.mark.parametrize("hasher", [sm3, sha256])
def test_each_item_is_hashed_with_the_prefix(hasher: object) -> None:
    rng = random.Random(3)  # seeded: the same lengths every run
    for prefix_len in (0, 1, 9, 64):
        # sizes around the padding boundaries (55/56 bytes of message fill one block)
        for size in (1, 32, 54, 55, 56, 63, 64, 65, 77, 119, 120, 128, 4096):
            prefix, packed = rng.randbytes(prefix_len), rng.randbytes(size * 5)
            want = b"".join(hasher(prefix + packed[i:i + size])  # type: ignore[operator]
                            for i in range(0, len(packed), size))
            assert hash_items(hasher, prefix, packed, size) == want  # type: ignore[arg-type]
    assert hash_items(sm3, b"\x00", b"", 77) == b""


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError):
        _sm3many.hash_items(b"", bytes(10), 3)  # not a whole number of items
    with pytest.raises(ValueError):
        _sm3many.hash_items(bytes(65), bytes(3), 3)  # prefix over 64 bytes
    with pytest.raises(ValueError):
        _sm3many.hash_items(b"", b"", 0)
