"""The Merkle B+-tree (storage/mbtree.py): records returned with proofs and verified, per
second, over a time-series store, against a plain LMDB scan of the same data in the same run.

    python -m benchmarks.data_btree [--records 1000000] [--page 1000] [--hash sm3]

Loads `--records` readings of one time attribute (key: collection | attribute | timestamp |
record id; value: a 32-byte record hash; measure: the reading in fixed point), one
committed batch per million as a node writes them, the same entries into a plain sub-db.
Then, over random pages of `--page` records: the server's time to walk and encode the proof
(the records travel inside it), the client's time to decode and verify it, proof bytes per
record, and the plain scan of the same keys. `two_core_*` runs server and client work in two
processes at once over disjoint pages (what the 2-core machine returns and verifies). Also
aggregates (count/sum/min/max over random windows, with proof) and the cost of one block of
random updates. JSON lines out; `run(args)` yields the same figures as dicts.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import struct
import tempfile
import time
from collections.abc import Callable, Iterator
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any

from benchmarks.report import line, print_lines, sub_db_bytes
from xinlian.crypto.hashes import sha256, sm3
from xinlian.storage import mbtree
from xinlian.storage.keys import signed_key, time_key
from xinlian.storage.kv import Store, WriteBatch
from xinlian.storage.mbtree_proof import (
    RangeQuery,
    decode_proof,
    encode_proof,
    verify_aggregate,
    verify_range,
)

BENCH = "data_btree"
HASHES: dict[str, Callable[[bytes], bytes]] = {"sha256": sha256, "sm3": sm3}
PLAIN_DB = "plain"
PREFIX = b"\x00\x00\x00\x07" + b"\x00\x03"  # collection 7, attribute 3
START_MS = 1_700_000_000_000
STEP_MS = 10
LOAD_BATCH = 1_000_000
_measure = struct.Struct(">q")


def _key(i: int) -> bytes:
    return PREFIX + time_key(START_MS + i * STEP_MS) + signed_key(i)


def _entries(lo: int, hi: int, rng: random.Random) -> dict[bytes, tuple[bytes, int]]:
    return {_key(i): (sha256(i.to_bytes(8, "big")), rng.randrange(-10**6, 10**6))
            for i in range(lo, hi)}


def _pages(rng: random.Random, records: int, page: int, count: int) -> list[RangeQuery]:
    """Random pages wholly inside the data (each returns `page` records)."""
    starts = [rng.randrange(0, records - page) for _ in range(count)]
    return [RangeQuery(_key(s), None, page, False) for s in starts]


def _serve_and_verify(tree: mbtree.MerkleBTree, root: bytes, queries: list[RangeQuery]
                      ) -> tuple[int, list[float], list[float], int]:
    """Records; seconds to serve, to verify, to cut the verified pages into key, value and
    measure lists, by the wall clock and by this process's CPU clock; proof bytes."""
    records, size = 0, 0
    wall, cpu = [0.0] * 3, [0.0] * 3
    for query in queries:
        marks = [(time.perf_counter(), time.process_time())]
        wire = encode_proof(tree.prove_range(query))
        marks.append((time.perf_counter(), time.process_time()))
        page = verify_range(root, query, decode_proof(wire), tree.hasher)
        marks.append((time.perf_counter(), time.process_time()))
        page.columns()
        marks.append((time.perf_counter(), time.process_time()))
        for step in range(3):
            wall[step] += marks[step + 1][0] - marks[step][0]
            cpu[step] += marks[step + 1][1] - marks[step][1]
        records += len(page)
        size += len(wire)
    return records, wall, cpu, size


def _worker(path: str, hash_name: str, root: bytes, queries: list[RangeQuery],
            ready: Barrier, out: Queue[tuple[int, float]]) -> None:
    """`_serve_and_verify` in a process of its own, reading the store another one wrote,
    once every worker is ready: puts its records and the (monotonic) instant it finished."""
    with Store(path, sub_dbs=(*mbtree.SUB_DBS, PLAIN_DB), readonly=True) as store:
        tree = mbtree.MerkleBTree(store, HASHES[hash_name])
        _serve_and_verify(tree, root, queries[:1])  # warm: imports, first reads
        ready.wait()
        records = _serve_and_verify(tree, root, queries)[0]  # lists cut too
        out.put((records, time.monotonic()))


def _two_cores(path: str, hash_name: str, root: bytes, queries: list[RangeQuery]
               ) -> tuple[int, float]:
    """Records served and verified by two processes at once, and the seconds it took."""
    ctx = multiprocessing.get_context("spawn")
    ready, out = ctx.Barrier(3), ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(path, hash_name, root, part, ready, out))
               for part in (queries[0::2], queries[1::2])]
    for worker in workers:
        worker.start()
    ready.wait()
    start = time.monotonic()
    done = [out.get() for _ in workers]
    for worker in workers:
        worker.join()
    return sum(records for records, _ in done), max(end for _, end in done) - start


def _plain_scan(store: Store, queries: list[RangeQuery]) -> tuple[int, float, float]:
    """Records, wall and CPU seconds to read the same pages from the plain sub-db."""
    records, spent, cpu = 0, 0.0, 0.0
    for query in queries:
        t0, c0 = time.perf_counter(), time.process_time()
        with store.snapshot() as snap:
            keys, values, measures = [], [], []
            for key, stored in snap.items(PLAIN_DB, start=query.lo, limit=query.limit):
                keys.append(key)
                values.append(stored[8:])
                measures.append(_measure.unpack_from(stored)[0])
        spent += time.perf_counter() - t0
        cpu += time.process_time() - c0
        records += len(keys)
    return records, spent, cpu


def run(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    hasher = HASHES[args.hash]
    rng = random.Random(13)  # seeded: the same data and pages every run
    common = {"records": args.records, "hash": args.hash}
    with tempfile.TemporaryDirectory() as path, \
            Store(path, sub_dbs=(*mbtree.SUB_DBS, PLAIN_DB), durable=False) as store:
        tree = mbtree.MerkleBTree(store, hasher)
        tree_s = plain_s = 0.0
        version = 0
        for lo in range(0, args.records, LOAD_BATCH):
            entries = _entries(lo, min(args.records, lo + LOAD_BATCH), rng)
            version += 1
            t0 = time.perf_counter()
            batch = WriteBatch()
            root = tree.apply(version, entries, batch)
            store.commit(batch)
            t1 = time.perf_counter()
            plain = WriteBatch()
            for key, (value, measure) in entries.items():
                plain.put(PLAIN_DB, key, _measure.pack(measure) + value)
            store.commit(plain)
            tree_s += t1 - t0
            plain_s += time.perf_counter() - t1
        yield line(BENCH, "load_records_per_s", args.records / tree_s, "records/s",
                    batch=LOAD_BATCH, **common)
        yield line(BENCH, "plain_load_records_per_s", args.records / plain_s, "records/s",
                    batch=LOAD_BATCH, **common)
        yield line(BENCH, "store_bytes_per_record",
                   sub_db_bytes(store, mbtree.SUB_DBS) / args.records, "bytes",
                   plain_bytes_per_record=round(sub_db_bytes(store, [PLAIN_DB]) / args.records, 2),
                   note="LMDB pages of the tree (every node version written) against the plain "
                   "sub-database of the same entries", **common)

        queries = _pages(rng, args.records, args.page, args.pages)
        records, wall, cpu, size = _serve_and_verify(tree, root, queries)
        extra = {"page": args.page, **common}
        raw = len(_key(0)) + 32 + 8
        scanned, *plain_times = _plain_scan(store, queries)
        for clock, (serve_s, check_s, cut_s), plain_spent in (("wall", wall, plain_times[0]),
                                                              ("cpu", cpu, plain_times[1])):
            timed = {"clock": clock, **extra}
            yield line(BENCH, "range_server_records_per_s", records / serve_s, "records/s", **timed)
            yield line(BENCH, "range_verify_records_per_s", records / check_s, "records/s",
                        note="verified pages, records left in the leaf buffers", **timed)
            yield line(BENCH, "range_verify_and_cut_records_per_s", records / (check_s + cut_s),
                        "records/s", note="verified and cut into key/value/measure lists",
                        **timed)
            yield line(BENCH, "range_one_core_records_per_s", records / (serve_s + check_s + cut_s),
                        "records/s", note="server and client on one core, lists cut",
                        **timed)
            yield line(BENCH, "plain_scan_records_per_s", scanned / plain_spent, "records/s",
                        **timed)
            yield line(BENCH, "range_cost_vs_plain_scan",
                        (serve_s + check_s + cut_s) / plain_spent, "ratio",
                        note="server + client seconds (lists cut) over plain scan seconds",
                        **timed)
        yield line(BENCH, "range_proof_bytes_per_record", size / records, "bytes/record",
                    raw_record_bytes=raw, **extra)

        both, wall = _two_cores(path, args.hash, root, queries)
        yield line(BENCH, "two_core_records_per_s", both / wall, "records/s",
                    note="2 processes at once, each serving and verifying its pages",
                    **extra)

        yield from _aggregates(tree, store, root, hasher, rng, args)
        yield from _block_updates(tree, store, rng, args, version)


def _aggregates(tree: mbtree.MerkleBTree, store: Store, root: bytes,
                hasher: Callable[[bytes], bytes], rng: random.Random,
                args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    width = args.records // 10
    serve = check = plain = 0.0
    size = 0
    for _ in range(args.aggregates):
        start = rng.randrange(0, args.records - width)
        lo, hi = _key(start), _key(start + width)
        t0 = time.perf_counter()
        found, proof = tree.aggregate(lo, hi)
        wire = encode_proof(proof)
        t1 = time.perf_counter()
        checked = verify_aggregate(root, lo, hi, decode_proof(wire), hasher)
        t2 = time.perf_counter()
        with store.snapshot() as snap:
            measures = [_measure.unpack_from(v)[0]
                        for _, v in snap.items(PLAIN_DB, start=lo, stop=hi)]
        t3 = time.perf_counter()
        assert checked == found and found.count == len(measures) == width
        assert found.total == sum(measures)
        serve += t1 - t0
        check += t2 - t1
        plain += t3 - t2
        size += len(wire)
    n = args.aggregates
    extra = {"records": args.records, "hash": args.hash, "window_records": width}
    yield line(BENCH, "aggregate_serve_us", serve / n * 1e6, "us", **extra)
    yield line(BENCH, "aggregate_verify_us", check / n * 1e6, "us", **extra)
    yield line(BENCH, "aggregate_proof_bytes", size / n, "bytes", **extra)
    yield line(BENCH, "plain_scan_aggregate_us", plain / n * 1e6, "us", **extra)


def _block_updates(tree: mbtree.MerkleBTree, store: Store, rng: random.Random,
                   args: argparse.Namespace, version: int) -> Iterator[dict[str, Any]]:
    """Blocks of random inserts (late readings), value changes and deletes."""
    spent = 0.0
    blocks = 20
    for _ in range(blocks):
        updates: dict[bytes, tuple[bytes, int] | None] = {}
        for _ in range(args.block):
            i = rng.randrange(args.records)
            kind = rng.random()
            key = _key(i) if kind < 0.5 else _key(i)[:-8] + signed_key(-1 - i)
            updates[key] = None if kind < 0.1 else (rng.randbytes(32), rng.randrange(10**6))
        version += 1
        t0 = time.perf_counter()
        batch = WriteBatch()
        tree.apply(version, updates, batch)
        store.commit(batch)
        spent += time.perf_counter() - t0
    yield line(BENCH, "block_apply_ms", spent / blocks * 1e3, "ms", block_updates=args.block,
                records=args.records, hash=args.hash)
    yield line(BENCH, "block_apply_updates_per_s", blocks * args.block / spent, "updates/s",
                block_updates=args.block, records=args.records, hash=args.hash)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="benchmarks.data_btree")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--page", type=int, default=1000)
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument("--aggregates", type=int, default=100)
    parser.add_argument("--block", type=int, default=1000)
    parser.add_argument("--hash", choices=sorted(HASHES), default="sm3")
    return parser


def main() -> None:
    print_lines(run(parser().parse_args()))


if __name__ == "__main__":
    main()
