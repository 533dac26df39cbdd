"""Disk faults for tests and benchmarks: damage a store's file as a failing disk would."""

from __future__ import annotations

from pathlib import Path


def flip_byte_everywhere(path: Path, needle: bytes, offset: int) -> int:
    """Flip bit 0 of byte `offset` in every copy of `needle` in the file; how many copies.
    LMDB may keep old copies of a record in free pages, so only flipping all of them surely
    hits the live one."""
    data = bytearray(path.read_bytes())
    count, at = 0, data.find(needle)
    while at != -1:
        data[at + offset] ^= 0x01
        count += 1
        at = data.find(needle, at + 1)
    path.write_bytes(bytes(data))
    return count
