"""Child process of the crash test: commits seeded blocks forever, saying "begin V" before
each commit and "done V" after it.

Run as `python storage_crash_writer.py PATH SEED`; the parent SIGKILLs it at a seeded moment.
"""

from __future__ import annotations

import hashlib
import random
import sys

from xinlian.storage import jmt
from xinlian.storage.kv import Store, WriteBatch

LOG_DB = "log"
SUB_DBS = (*jmt.SUB_DBS, LOG_DB)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def updates_for(seed: int, version: int) -> dict[bytes, bytes | None]:
    """Block `version`'s state updates: a function of the seed and version only."""
    rng = random.Random(seed * 1_000_003 + version)
    return {rng.randrange(3000).to_bytes(4, "big"):
            None if rng.random() < 0.2 else rng.randbytes(rng.randrange(1, 64))
            for _ in range(300)}


def main(path: str, seed: int) -> None:
    store = Store(path, sub_dbs=SUB_DBS, map_size=1 << 22)  # small: growth happens too
    tree = jmt.StateTree(store, sha256)
    version = (tree.latest_version() or 0) + 1
    while True:
        batch = WriteBatch()
        root = tree.apply(version, updates_for(seed, version), batch)
        batch.put(LOG_DB, b"last", version.to_bytes(8, "big"))
        batch.put(LOG_DB, b"root%08d" % version, root)
        for i in range(200):  # bulk in the same transaction, so kills land mid-commit too
            batch.put(LOG_DB, b"pad%08d-%03d" % (version, i), root * 8)
        print("begin", version, flush=True)
        store.commit(batch)
        print("done", version, flush=True)
        version += 1


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
