"""Queries of several conditions (execution/data/select.py): words of a text AND a number
range AND a time window, served with proofs and verified, by each driver.

    python -m benchmarks.data_select [--records 10000] [--limit 100] [--scan 1000]
                                     [--repeats 5] [--suite sm]

A collection of `--records` records (a text of 1 to 3 of 7 words, keyword-indexed; a price
from 0 to 999 and a time, range-indexed) is ingested through the executor and the chain
store (xinlian/testing/data_blocks.py `DataChain`). The query "title holds steel AND price in
[100, 199] AND time in the middle half" is read page by page, every page, as the node
serves it (node/data_reads.py `DataReader.select`: the driver's page and proof, each
candidate's record) and as the SDK checks it (sdk/data_select.py: the driver's proof, a
words driver's state proof per candidate, every condition on every candidate), once per
driver: the words, the price range, the time window, and the node's choice (`auto`),
`--repeats` times (the figures are over all of them).
The answer is checked against a brute-force filter of the same records. The per-page
header, collection and index-root state proofs (three a page) are left out of the client's
time. CPU time (time.process_time), so a loaded machine slows the rates less than wall
time would. JSON lines out.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.report import line, print_lines
from xinlian import codec
from xinlian.execution.data import values
from xinlian.execution.data.apply import read_collection
from xinlian.execution.data.model import (
    AttributeDecl,
    Collection,
    DataWrite,
    DeclareCollection,
    Delete,
    Field,
    Put,
    Queries,
    collection_id,
)
from xinlian.execution.data.select import Condition, select_query
from xinlian.ledger.transaction import TxKind
from xinlian.node.data_reads import DataReader
from xinlian.node.interface import DataSearchAnswer
from xinlian.sdk.data_select import page
from xinlian.storage.proof import Hasher
from xinlian.storage.tokenize import terms
from xinlian.testing.data_blocks import DataChain

BENCH = "data_select"
NAME = "items"
WORDS = ("steel", "pipe", "copper", "wire", "rust", "coated", "bolt")
T0 = 1_796_000_000_000


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="benchmarks.data_select")
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--limit", type=int, default=100, help="matches per page")
    parser.add_argument("--scan", type=int, default=1000, help="candidates per page")
    parser.add_argument("--per-tx", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5, help="reads of every page set")
    parser.add_argument("--suite", default="sm")
    return parser


def run(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    rng = random.Random(17)  # seeded: the same records every run
    rows = [(" ".join(rng.sample(WORDS, rng.randint(1, 3))), rng.randrange(1000), T0 + i)
            for i in range(args.records)]
    with tempfile.TemporaryDirectory() as path:
        ingest = DataChain(Path(path) / "chain", args.suite)
        chain, hasher = ingest.chain, ingest.suite.hash_bytes
        ingest.commit([ingest.signed(TxKind.DATA_COLLECTION, DeclareCollection(NAME, [
            AttributeDecl("title", "text"), AttributeDecl("price", "number"),
            AttributeDecl("at", "time")]))])
        txs = []
        for start in range(0, len(rows), args.per_tx):
            puts: list[Put | Delete | Queries] = [Put(b"p%08d" % i, [
                Field("title", values.encode("text", title)),
                Field("price", values.encode("number", price)),
                Field("at", values.encode("time", at))])
                for i, (title, price, at) in enumerate(rows[start:start + args.per_tx],
                                                       start)]
            txs.append(ingest.signed(TxKind.DATA_WRITE, DataWrite(NAME, puts)))
        for start in range(0, len(txs), 20):  # 20 transactions a block
            ingest.commit(txs[start:start + 20])

        reader = ingest.reader()
        cid = collection_id(hasher, NAME)
        collection = read_collection(chain.read, cid)
        assert collection is not None
        window = (T0 + args.records // 4, T0 + 3 * args.records // 4)
        where = [Condition("title", words=("steel",)), Condition("price", 100, 199),
                 Condition("at", *window)]
        want = sorted(b"p%08d" % i for i, (title, price, at) in enumerate(rows)
                      if "steel" in terms(title) and 100 <= price <= 199
                      and window[0] <= at <= window[1])
        common = {"records": args.records, "limit": args.limit, "scan": args.scan,
                  "suite": args.suite, "matches": len(want)}
        for drive, name in ((0, "words"), (1, "price"), (2, "time"), (None, "auto")):
            runs = [_pages(reader, collection, cid, where, drive, args, hasher, chain.height)
                    for _ in range(args.repeats)]
            assert all(sorted(r.found) == want for r in runs), name
            served, verified = sum(r.served for r in runs), sum(r.verified for r in runs)
            found, candidates = len(want) * len(runs), runs[0].candidates * len(runs)
            extra = {**common, "driver": name, "repeats": args.repeats,
                     "driven_by": where[runs[0].drive].attribute,
                     "candidates": runs[0].candidates}
            yield line(BENCH, "select_served_records_per_cpu_s", found / served,
                       "records/s", **extra)
            yield line(BENCH, "select_verified_records_per_cpu_s", found / verified,
                       "records/s", **extra)
            yield line(BENCH, "select_verified_candidates_per_cpu_s", candidates / verified,
                       "candidates/s", **extra)
            yield line(BENCH, "select_proof_bytes_per_record", runs[0].size / len(want),
                       "bytes", bytes_per_candidate=round(runs[0].size / runs[0].candidates, 1),
                       **extra)


@dataclass
class PageSet:
    """One query read page by page: CPU seconds served and verified, bytes of the
    answers, candidates, the matches' ids and the driver."""

    served: float = 0.0
    verified: float = 0.0
    size: int = 0
    candidates: int = 0
    found: list[bytes] = field(default_factory=list)
    drive: int = 0


def _pages(reader: DataReader, collection: Collection, cid: bytes, where: list[Condition],
           drive: int | None, args: argparse.Namespace, hasher: Hasher, height: int
           ) -> PageSet:
    out = PageSet()
    cursor: bytes | None = None
    while True:
        t0 = time.process_time()
        answer = reader.select(NAME, where, drive, False, args.limit, args.scan, cursor,
                               height)
        wire = codec.encode(answer)
        t1 = time.process_time()
        out.drive = answer.drive
        selection = select_query(collection, cid, where, drive=answer.drive,
                                 limit=args.limit, scan=args.scan, cursor=cursor)
        part = answer.keyword or answer.range
        assert part is not None and part.root.value is not None
        records, cursor = page(collection, cid, selection, where, answer, part.root.value,
                               hasher, True)
        out.candidates += len(part.ids if isinstance(part, DataSearchAnswer)
                              else part.entries)
        out.verified += time.process_time() - t1
        out.served += t1 - t0
        out.size += len(wire)
        out.found += [r.id for r in records]
        if cursor is None:
            return out


def main() -> None:
    print_lines(run(parser().parse_args()))


if __name__ == "__main__":
    main()
