"""Shared fixtures of the garbled-circuit tests: seeded randomness and cached circuits."""

from __future__ import annotations

import functools
import random

from xinlian.crypto.primitives.groups import Rng
from xinlian.crypto.privacy.garbled.builder import aes128, sha256_compress
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


SHA256_IV = bytes.fromhex("6a09e667bb67ae853c6ef372a54ff53a510e527f9b05688c1f83d9ab5be0cd19")


@functools.cache
def sha256() -> Circuit:
    return sha256_compress()


def padded(message: bytes) -> bytes:
    """A message of at most 55 bytes padded to one SHA-256 block (FIPS 180-4 5.1.1)."""
    assert len(message) <= 55
    return message + b"\x80" + bytes(55 - len(message)) + (8 * len(message)).to_bytes(8, "big")


def block(data: bytes) -> int:
    return int.from_bytes(data, "big")
