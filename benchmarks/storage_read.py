"""The read-path cost of record checksums (storage.kv): verified reads against the engine's.

    python -m benchmarks.storage_read [--records 200000] [--reads 200000]

One LMDB store of `--records` records (20-byte keys, 40-byte values: the size of an encoded
account) plus 1 KiB records; `--reads` random reads each, all in one read transaction.
Figures, ns per read (the best of 3 alternating rounds):
- engine: lmdb's own `Transaction.get` under the same read transaction, no check;
- store: `Snapshot.get`, which checks each record's CRC-32 of key and value;
- overhead: store - engine, and as a share of the engine's time; unseal: the check alone;
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

from benchmarks.report import emit
from xinlian.crypto.suites import get_suite
from xinlian.storage import jmt
from xinlian.storage.kv import Store, WriteBatch, unseal


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
            txn, handle = snap._txn, snap._dbs["data"]  # the engine under the same view

            def engine(key: bytes) -> object:
                return txn.get(key, db=handle)

            def checked(key: bytes) -> object:
                return snap.get("data", key)

            stored = [(k, engine(k)) for k in sample[:50_000]]
            _timed(sample, engine)  # warm the page cache
            times: dict[str, list[float]] = {"engine": [], "store": []}
            for _ in range(3):  # alternate, so that both see the same machine
                times["engine"].append(_timed(sample, engine))
                times["store"].append(_timed(sample, checked))
            start = time.perf_counter()
            for key, raw in stored:
                unseal("data", key, raw)
            crc = (time.perf_counter() - start) / len(stored) * 1e9
    best_engine, best_store = min(times["engine"]), min(times["store"])
    emit("storage_read", "record_get", best_store, "ns/read", value_bytes=size,
         engine_ns=round(best_engine), store_ns=round(best_store),
         overhead_ns=round(best_store - best_engine),
         overhead_share=round((best_store - best_engine) / best_engine, 3),
         unseal_ns=round(crc), records=records, reads=reads)


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
