"""Disk faults for tests and benchmarks: damage a store's file as a failing disk would."""

from __future__ import annotations

from pathlib import Path

import lmdb


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


def flip_records(path: Path, sub_db: str) -> int:
    """Flip bit 0 of the middle byte of every record of sub-database `sub_db` in the LMDB
    store at `path` (closed), as a failing disk would: the record's bytes change under its
    checksum (storage/kv.py `seal`); how many records."""
    env = lmdb.open(str(path), max_dbs=128, subdir=True)
    try:
        db = env.open_db(sub_db.encode(), create=False)
        with env.begin(write=True) as txn:
            records = list(txn.cursor(db=db))
            for key, value in records:
                damaged = bytearray(value)
                damaged[len(damaged) // 2] ^= 0x01
                txn.put(key, bytes(damaged), db=db)
    finally:
        env.close()
    return len(records)
