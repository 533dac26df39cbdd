"""Data collections (execution/data): ingest through the executor and the chain store, and
range pages served with proofs and verified as the SDK does.

    python -m benchmarks.data_model [--records 100000] [--per-tx 100] [--txs-per-block 20]
                                    [--suite sm] [--page 1000]

Ingest: signed DATA_WRITE transactions of `--per-tx` records each (three range-indexed
attributes per record: a number, a time, a text), decoded, executed and committed block by
block as the node's pipeline does (Executor.execute_block, ChainStore.prepare_block, one
LMDB commit per block); signing and signature checks are left out (they are the mempool's,
and measured elsewhere). Query: pages of `--page` records of a number range, served as
node/data_reads.py does (range walk + proof, encoded) and checked as sdk/data.py does
(decode + verify_range + each entry read back as a record), against a plain LMDB scan of the
`dr/` records of the same collection in the same run. JSON lines out.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.report import line, percentile, print_lines
from xinlian.execution.data import values
from xinlian.execution.data.apply import read_collection
from xinlian.execution.data.model import (
    AttributeDecl,
    DataWrite,
    DeclareCollection,
    Delete,
    Field,
    Put,
    Queries,
    collection_id,
)
from xinlian.execution.data.query import range_query, read_entry
from xinlian.ledger.transaction import TxKind
from xinlian.storage.kv import Store, WriteBatch
from xinlian.storage.mbtree_proof import decode_proof, encode_proof, verify_range
from xinlian.testing.data_blocks import DataChain

BENCH = "data_model"
NAME = "meters"
PLAIN_DB = "plain"


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="benchmarks.data_model")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--per-tx", type=int, default=100)
    parser.add_argument("--txs-per-block", type=int, default=20)
    parser.add_argument("--suite", default="sm")
    parser.add_argument("--page", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="profile the ingest (cProfile) and print its N costliest "
                        "functions by own time; the ingest rate is then profiled too")
    return parser


def _profile_lines(profiler: cProfile.Profile, top: int, **extra: Any
                   ) -> Iterator[dict[str, Any]]:
    """The `top` functions by own time, as their share of the profiled time."""
    stats = pstats.Stats(profiler)
    # (file, line, name) -> (primitive calls, calls, own time, cumulative time, callers)
    rows = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for _, _, tt, _, _ in rows.values())
    ranked = sorted(rows.items(), key=lambda item: item[1][2], reverse=True)[:top]
    for (file, lineno, name), (_, calls, own, cumulative, _) in ranked:
        where = f"{Path(file).parent.name}/{Path(file).name}:{lineno}" if lineno else file
        yield line(BENCH, "ingest_profile_own_time_share", own / total, "fraction",
                   function=f"{where} {name}", calls=calls,
                   cumulative_share=round(cumulative / total, 4), **extra)


def run(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    rng = random.Random(5)  # seeded: the same records every run
    with tempfile.TemporaryDirectory() as path, \
            Store(Path(path) / "plain", sub_dbs=(PLAIN_DB,), durable=False) as plain_store:
        ingester = DataChain(Path(path) / "chain", args.suite)
        suite, chain, signed = ingester.suite, ingester.chain, ingester.signed
        blocks = [[signed(TxKind.DATA_COLLECTION, DeclareCollection(NAME, [
            AttributeDecl("kwh", "number"), AttributeDecl("at", "time"),
            AttributeDecl("meter", "text", "range")]))]]
        n = 0
        while n < args.records:
            block = []
            for _ in range(args.txs_per_block):
                puts: list[Put | Delete | Queries] = [Put(b"r%08d" % (n + i), [
                    Field("kwh", values.encode("number", rng.randrange(-10**6, 10**6))),
                    Field("at", values.encode("time", 1_700_000_000_000 + n + i)),
                    Field("meter", values.encode("text", f"M-{rng.randrange(5000)}"))])
                    for i in range(min(args.per_tx, args.records - n))]
                n += len(puts)
                if puts:
                    block.append(signed(TxKind.DATA_WRITE, DataWrite(NAME, puts)))
            blocks.append(block)
        ingest = 0.0
        profiler = cProfile.Profile()
        cpu0 = time.process_time()
        for raws in blocks:
            if args.profile:
                profiler.enable()
            start = time.perf_counter()
            data_index = ingester.commit(raws)
            ingest += time.perf_counter() - start
            if args.profile:
                profiler.disable()
            copy = WriteBatch()  # the plain peer: the same entries, untimed
            for k, v in data_index.get("range", {}).items():
                assert v is not None
                copy.put(PLAIN_DB, k, v[0])
            plain_store.commit(copy)
        common = {"records": args.records, "suite": suite.name, "per_tx": args.per_tx,
                  "txs_per_block": args.txs_per_block}
        cpu = time.process_time() - cpu0  # the untimed plain copies included: an upper bound
        yield line(BENCH, "ingest_records_per_s", args.records / ingest, "records/s",
                   indexed_attributes=3, profiled=bool(args.profile),
                   cpu_records_per_s=round(args.records / cpu), **common)
        if args.profile:
            yield from _profile_lines(profiler, args.profile, **common)

        cid = collection_id(suite.hash_bytes, NAME)
        collection = read_collection(chain.read, cid)
        assert collection is not None
        root = chain.read(b"dx/range")
        assert root is not None
        query = range_query(collection, cid, "kwh", -500_000, 500_000, limit=args.page)
        assert query is not None
        serve: list[float] = []
        check: list[float] = []
        decode: list[float] = []
        plain: list[float] = []
        sizes: list[int] = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            page, proof = chain.data.range.range(query, chain.height)
            answer = list(zip(page.keys, page.values, strict=True))
            wire = encode_proof(proof)
            t1 = time.perf_counter()
            proven = verify_range(root, query, decode_proof(wire), suite.hash_bytes)
            t2 = time.perf_counter()
            entries = list(zip(proven.keys, proven.values, strict=True))
            records = [read_entry(collection, "kwh", k, v) for k, v in entries]
            t3 = time.perf_counter()
            scanned = plain_store.scan(PLAIN_DB, start=query.lo, stop=query.hi,
                                       limit=query.limit)
            t4 = time.perf_counter()
            assert len(records) == args.page and entries == answer == scanned
            serve.append(t1 - t0)
            check.append(t2 - t1)
            decode.append(t3 - t2)
            plain.append(t4 - t3)
            sizes.append(len(wire))
        extra = {"page": args.page, **common}
        yield line(BENCH, "range_page_served_records_per_s", args.page / percentile(serve, 50),
             "records/s", **extra)
        yield line(BENCH, "range_page_verified_records_per_s", args.page / percentile(check, 50),
             "records/s", **extra)
        yield line(BENCH, "range_page_decoded_records_per_s", args.page / percentile(decode, 50),
             "records/s", **extra)
        yield line(BENCH, "plain_lmdb_scan_records_per_s", args.page / percentile(plain, 50),
             "records/s", **extra)
        yield line(BENCH, "range_cost_vs_plain_scan",
                   (percentile(serve, 50) + percentile(check, 50)) / percentile(plain, 50),
                   "ratio", note="serve + verify time over plain scan time, same page",
                   **extra)
        yield line(BENCH, "proof_bytes_per_record", sizes[0] / args.page, "bytes", **extra)


def main() -> None:
    print_lines(run(parser().parse_args()))


if __name__ == "__main__":
    main()
