"""The read-path cost of record checksums (storage.kv): verified reads against the engine's.

    python -m benchmarks.storage_read [--records 200000] [--reads 200000]

One LMDB store of `--records` records (20-byte keys, 40-byte values: the size of an encoded
account) plus 1 KiB records; `--reads` random reads each, all in one read transaction.
Figures, ns per read:
- engine: lmdb's own `Transaction.get` on the same file (the store closed first), no check;
- store: `Snapshot.get`, which checks each record's CRC-32 of key and value;
- overhead: store - engine, and as a share of the engine's time;
- state: `StateTree.get` of an account-sized value on a tree of the same records (several
  checked records per read: the walk from the root), for scale.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import lmdb

from benchmarks.report import emit
from xinlian.crypto.suites import get_suite
from xinlian.storage import jmt
from xinlian.storage.kv import Store, WriteBatch


def _fill(path: Path, records: int, size: int) -> list[bytes]:
    rng = random.Random(size)
    keys = [rng.randbytes(20) for _ in range(records)]
    with Store(path, sub_dbs=("data",)) as store:
        for start in range(0, records, 50_000):
            batch = WriteBatch()
            for key in keys[start:start + 50_000]:
                batch.put("data", key, rng.randbytes(size))
            store.commit(batch)
    return keys


def _timed(reads: list[bytes], get: Callable[[bytes], object]) -> float:
    start = time.perf_counter()
    for key in reads:
        get(key)
    return (time.perf_counter() - start) / len(reads) * 1e9


def bench_records(records: int, reads: int, size: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s"
        keys = _fill(path, records, size)
        sample = random.Random(1).choices(keys, k=reads)
        with Store(path, sub_dbs=("data",)) as store, store.snapshot() as snap:
            _timed(sample[:10_000], lambda k: snap.get("data", k))  # warm the page cache
            checked = min(_timed(sample, lambda k: snap.get("data", k)) for _ in range(3))
        env = lmdb.open(str(path), max_dbs=1, subdir=True, lock=True)
        try:
            db = env.open_db(b"data")
            with env.begin(buffers=False) as txn:
                engine = min(_timed(sample, lambda k: txn.get(k, db=db)) for _ in range(3))
        finally:
            env.close()
    emit("storage_read", "record_get", checked, "ns/read", value_bytes=size,
         engine_ns=round(engine), store_ns=round(checked), overhead_ns=round(checked - engine),
         overhead_share=round((checked - engine) / engine, 3), records=records, reads=reads)


def bench_state(records: int, reads: int) -> None:
    hasher = get_suite("intl").hash_bytes
    rng = random.Random(7)
    keys = [rng.randbytes(20) for _ in range(records)]
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "s", sub_dbs=jmt.SUB_DBS) as store:
        tree = jmt.StateTree(store, hasher)
        batch = WriteBatch()
        tree.apply(0, {k: rng.randbytes(40) for k in keys}, batch)
        store.commit(batch)
        tree = jmt.StateTree(store, hasher)  # a fresh node cache
        sample = random.Random(2).choices(keys, k=reads)
        per_read = _timed(sample, tree.get)
    emit("storage_read", "state_get", per_read, "ns/read", records=records, reads=reads,
         note="cold node cache, every record read checked")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--reads", type=int, default=200_000)
    args = parser.parse_args()
    for size in (40, 1024):
        bench_records(args.records, args.reads, size)
    bench_state(args.records, args.reads)


if __name__ == "__main__":
    main()
