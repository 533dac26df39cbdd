"""Shared fixtures of the garbled-circuit tests: seeded randomness and cached circuits."""

from __future__ import annotations

import functools
import random

from xinlian.crypto.primitives.groups import Rng
from xinlian.crypto.privacy.garbled.builder import aes128
from xinlian.crypto.privacy.garbled.circuit import Circuit

FIPS197_KEY = bytes(range(16))
FIPS197_PLAIN = bytes.fromhex("00112233445566778899aabbccddeeff")
FIPS197_CIPHER = bytes.fromhex("69c4e0d86a7b0430d8cdb78070b4c55a")


def seeded(seed: int) -> Rng:
    """A deterministic byte source (tests only)."""
    return random.Random(seed).randbytes


@functools.cache
def aes() -> Circuit:
    return aes128()


def block(data: bytes) -> int:
    return int.from_bytes(data, "big")
