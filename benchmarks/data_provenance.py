"""Provenance pages and block-filter windows: records/s served with proofs and verified,
proof bytes per record, against a plain LMDB scan of the same records in the same run.

    python -m benchmarks.data_provenance [--keys 1000] [--blocks 1000] [--page 1000]
                                         [--hash sm3] [--pages 400]

Loads `--blocks` blocks, each writing every one of `--keys` keys once (so each key's
history holds `--blocks` versions; keys * blocks records in all), one committed LMDB batch
per block as a node writes them, into the provenance store and, in the same batches, a
plain sub-database holding the same 77-byte records under (key, height). Each block also
touches `--terms` terms drawn from a vocabulary of `--vocabulary` (keyword terms), whose
Bloom filter is appended to the block-filter MMR. Then times, on pages of `--page`
consecutive versions of random keys: the server (read + proof + encode), the client
(decode + verify against the key's committed peaks), both in one process per core on 2
cores, and the plain scan; "as of height" point answers; and window queries over every
block for one term. The state proof of the peaks (one per page, not per record) is not
in these figures. JSON lines out; `run(args)` yields the same lines as dicts.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

from benchmarks.report import emit, sub_db_bytes
from xinlian import codec
from xinlian.crypto.hashes import sha256, sm3
from xinlian.storage import bloom, provenance
from xinlian.storage.bloom_proof import WindowPage, WindowQuery, verify_window
from xinlian.storage.kv import Store, WriteBatch
from xinlian.storage.provenance import Provenance, Write
from xinlian.storage.provenance_proof import (
    RECORD,
    HistoryPage,
    HistoryQuery,
    verify_as_of,
    verify_history,
)

BENCH = "data_provenance"
HASHES: dict[str, Callable[[bytes], bytes]] = {"sha256": sha256, "sm3": sm3}
PLAIN_DB = "plain"
SUB_DBS = (*provenance.SUB_DBS, *bloom.SUB_DBS, PLAIN_DB)
Line = dict[str, Any]


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--blocks", type=int, default=1000)
    parser.add_argument("--page", type=int, default=1000)
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument("--terms", type=int, default=200)
    parser.add_argument("--vocabulary", type=int, default=20_000)
    parser.add_argument("--hash", choices=sorted(HASHES), default="sm3")
    return parser.parse_args(argv)


def _line(metric: str, value: float, unit: str, **extra: Any) -> Line:
    return {"bench": BENCH, "metric": metric, "value": value, "unit": unit, **extra}


class _Clock:
    """Wall and CPU time (this process) of the blocks timed with it, summed: on a machine
    shared with other jobs the CPU time shows what the work costs, the wall time what it
    took."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def __enter__(self) -> None:
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def __exit__(self, *exc: object) -> None:
        self.wall += time.perf_counter() - self._wall
        self.cpu += time.process_time() - self._cpu

    def rate(self, metric: str, count: float, unit: str, **extra: Any) -> Line:
        return _line(metric, count / self.wall, unit,
                     per_cpu_second=round(count / self.cpu, 1), **extra)


def _key(k: int) -> bytes:
    return b"coll-1/record-%08d" % k


def _load(store: Store, args: argparse.Namespace) -> Iterator[Line]:
    hasher = HASHES[args.hash]
    history = Provenance(store, hasher)
    filters = bloom.BlockFilters(store, hasher)
    rng = random.Random(7)  # seeded: the same data every run
    keys = [_key(k) for k in range(args.keys)]
    key_ids = [history.key_id(k) for k in keys]
    prov_s = plain_s = filter_s = commit_s = 0.0
    for height in range(1, args.blocks + 1):
        tx_hashes = [hasher(b"tx %d %d" % (height, i)) for i in range(args.keys)]
        writes = [Write(key, hasher(b"value %d %d" % (height, i)), i, tx_hashes[i])
                  for i, key in enumerate(keys)]
        terms = [b"term-%d" % rng.randrange(args.vocabulary) for _ in range(args.terms)]
        batch = WriteBatch()
        start = time.perf_counter()
        history.apply(height, writes, batch)
        prov_s += time.perf_counter() - start
        start = time.perf_counter()
        for i, write in enumerate(writes):
            batch.put(PLAIN_DB, key_ids[i] + height.to_bytes(8, "big"),
                      RECORD.pack(height, i, 1, write.value_hash, write.tx_hash))
        plain_s += time.perf_counter() - start
        start = time.perf_counter()
        filters.apply(height, terms, batch)
        filter_s += time.perf_counter() - start
        start = time.perf_counter()
        store.commit(batch)
        commit_s += time.perf_counter() - start
    records = args.keys * args.blocks
    yield _line("ingest_history_records_per_s", records / prov_s, "records/s",
                note="apply only: MMR append, records and nodes into the batch")
    yield _line("ingest_plain_records_per_s", records / plain_s, "records/s",
                note="the same records put into a plain sub-database")
    yield _line("ingest_filter_blocks_per_s", args.blocks / filter_s, "blocks/s",
                terms=args.terms)
    yield _line("ingest_commit_records_per_s", records / commit_s, "records/s",
                note="LMDB commit of everything above, durable")
    yield _line("store_bytes_per_record", sub_db_bytes(store, provenance.SUB_DBS) / records,
                "bytes", plain_bytes_per_record=round(sub_db_bytes(store, [PLAIN_DB]) / records, 2),
                filter_bytes_per_block=round(sub_db_bytes(store, bloom.SUB_DBS) / args.blocks),
                note="LMDB pages of the histories (chunks, MMR nodes, peaks) against the plain "
                "sub-database of the same 77-byte records")


def _pages(args: argparse.Namespace, seed: int, count: int) -> list[tuple[bytes, int]]:
    rng = random.Random(seed)
    top = max(1, args.blocks - args.page + 1)
    return [(_key(rng.randrange(args.keys)), rng.randrange(top)) for _ in range(count)]


def _serve_and_verify(path: str, args: argparse.Namespace, seed: int, count: int
                      ) -> tuple[int, float, float]:
    """One core's share: serve each page, encode, decode and verify it; (records, wall s,
    CPU s)."""
    hasher = HASHES[args.hash]
    with Store(path, sub_dbs=SUB_DBS, readonly=True) as store:
        history = Provenance(store, hasher)
        pages = _pages(args, seed, count)
        peaks = {key: history.peaks(key) for key, _ in pages}
        records = 0
        clock = _Clock()
        with clock:
            for key, first in pages:
                query = HistoryQuery(first, first + args.page, args.page)
                _, page = history.history(key, query)
                wire = codec.encode(page)
                records += len(verify_history(peaks[key], query,
                                              codec.decode(wire, HistoryPage), hasher))
        return records, clock.wall, clock.cpu


def _history(store: Store, path: str, args: argparse.Namespace) -> Iterator[Line]:
    hasher = HASHES[args.hash]
    history = Provenance(store, hasher)
    pages = _pages(args, 1, args.pages)
    peaks = {key: history.peaks(key) for key, _ in pages}
    served: list[tuple[bytes, HistoryQuery, bytes]] = []
    records = plain = 0
    server, client, scan = _Clock(), _Clock(), _Clock()
    with server:
        for key, first in pages:
            query = HistoryQuery(first, first + args.page, args.page)
            answer, page = history.history(key, query)
            served.append((key, query, codec.encode(page)))
            records += len(answer)
    with client:
        for key, query, wire in served:
            verify_history(peaks[key], query, codec.decode(wire, HistoryPage), hasher)
    with scan:
        for key, first in pages:
            key_id = history.key_id(key)
            rows = store.scan(PLAIN_DB, prefix=key_id,
                              start=key_id + (first + 1).to_bytes(8, "big"), limit=args.page)
            plain += len(b"".join(v for _, v in rows)) // RECORD.size
    wire_bytes = sum(len(w) for _, _, w in served)
    common = {"page": args.page, "hash": args.hash, "store_records": args.keys * args.blocks}
    yield server.rate("history_server_records_per_s", records, "records/s", **common)
    yield client.rate("history_verify_records_per_s", records, "records/s", **common)
    yield _line("history_one_core_records_per_s", records / (server.wall + client.wall),
                "records/s", per_cpu_second=round(records / (server.cpu + client.cpu), 1),
                note="served and verified, one after the other", **common)
    yield scan.rate("plain_scan_records_per_s", plain, "records/s", **common)
    yield _line("history_cost_vs_plain_scan", (server.wall + client.wall) / scan.wall, "ratio",
                cpu_ratio=round((server.cpu + client.cpu) / scan.cpu, 3),
                note="(serve + verify) time over plain scan time, same records", **common)
    yield _line("history_bytes_per_record", wire_bytes / records, "bytes/record",
                proof_bytes_per_record=round((wire_bytes - records * RECORD.size) / records, 3),
                **common)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        shares = pool.starmap(_serve_and_verify, [(path, args, 2, args.pages // 2),
                                                  (path, args, 3, args.pages // 2)])
    total = sum(r for r, _, _ in shares)
    yield _line("history_2cores_records_per_s", total / max(w for _, w, _ in shares),
                "records/s", per_2_cpu_seconds=round(2 * total / sum(c for _, _, c in shares), 1),
                note="2 processes at once, each serving and verifying its pages; over the "
                "slower one's time (process start and store open excluded)", **common)
    server, client = _Clock(), _Clock()
    with server:
        answers = [(key, first, history.as_of(key, first)[1]) for key, first in pages]
    with client:
        for key, first, page in answers:
            verify_as_of(peaks[key], first, page, hasher)
    yield server.rate("as_of_server_per_s", len(answers), "answers/s", **common)
    yield client.rate("as_of_verify_per_s", len(answers), "answers/s", **common)


def _windows(store: Store, args: argparse.Namespace) -> Iterator[Line]:
    hasher = HASHES[args.hash]
    filters = bloom.BlockFilters(store, hasher)
    peaks = filters.root()
    rng = random.Random(5)
    blocks = candidates = pages = wire_bytes = 0
    server, client = _Clock(), _Clock()
    for _ in range(20):
        terms, first = (b"term-%d" % rng.randrange(args.vocabulary),), 0
        while first <= args.blocks:
            query = WindowQuery(first, args.blocks + 1, terms)
            with server:
                _, page = filters.window(query)
                wire = codec.encode(page)
            with client:
                checked = verify_window(peaks, query, codec.decode(wire, WindowPage), hasher)
            blocks += checked.stop - checked.first
            candidates += len(checked.candidates)
            pages += 1
            wire_bytes += len(wire)
            first = checked.stop
    holding = 1 - (1 - 1 / args.vocabulary) ** args.terms
    yield server.rate("window_server_blocks_per_s", blocks, "blocks/s",
                      terms_per_block=args.terms, pages=pages)
    yield client.rate("window_verify_blocks_per_s", blocks, "blocks/s",
                      terms_per_block=args.terms)
    yield _line("window_bytes_per_block", wire_bytes / blocks, "bytes/block",
                terms_per_block=args.terms)
    yield _line("window_blocks_left_to_read", candidates / blocks, "fraction",
                expected_holding=round(holding, 5),
                note="blocks a client must still read: those holding the term plus false "
                "positives (target 2^-7 of the rest)")


def run(args: argparse.Namespace) -> Iterator[Line]:
    with tempfile.TemporaryDirectory() as path, \
            Store(path, sub_dbs=SUB_DBS, map_size=1 << 32) as store:
        yield from _load(store, args)
        yield from _history(store, path, args)
        yield from _windows(store, args)


def main() -> None:
    for line in run(parse()):
        emit(line.pop("bench"), line.pop("metric"), line.pop("value"), line.pop("unit"),
             **line)


if __name__ == "__main__":
    main()
