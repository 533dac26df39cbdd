"""The cost model of adaptive indexes (execution/data/plan.py), measured.

    python -m benchmarks.data_plan [--records 20000] [--per-block 1000] [--hash sha256]

Three figures in microseconds of CPU time (time.process_time) per unit, each the best of
three runs, on the node's own structures in a throwaway LMDB store:

- `range_entry_us`: one range entry added or removed (storage/mbtree.py), the record as its
  value, applied and committed a block of `--per-block` entries at a time, half of them
  later removed;
- `keyword_word_us`: one posting (a word of a record's text) added or removed in the
  inverted index (storage/inverted.py), likewise, texts of 8 words from 2,000;
- `scan_record_us`: what a query without an index pays per record of the collection: the
  record read with its state proof (storage/jmt.py) and the proof checked.

The constants RANGE_ENTRY_US, KEYWORD_WORD_US and SCAN_RECORD_US of plan.py are these,
rounded, from a run on the development machine. JSON lines out (benchmarks/report.py).
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.contract_index import HASHES
from benchmarks.report import emit
from xinlian.execution.data import values
from xinlian.execution.data.indexes import KeywordIndex, RangeIndex, attribute_prefix
from xinlian.storage import inverted, jmt, mbtree
from xinlian.storage.kv import Store, WriteBatch
from xinlian.storage.proof import verify_proof

Hasher = Callable[[bytes], bytes]
WORDS = [f"w{i}" for i in range(2000)]


def _best(fn: Callable[[], float]) -> float:
    return min(fn() for _ in range(3))


def _per_update(make: Callable[[Store], Any], sub_dbs: tuple[str, ...],
                blocks: list[dict]) -> float:
    """CPU microseconds per update to apply and commit `blocks` as versions 1, 2, ... into
    the structure `make` opens on a fresh store (the best of three runs)."""
    def run() -> float:
        with tempfile.TemporaryDirectory() as tmp, \
                Store(Path(tmp), sub_dbs=sub_dbs, durable=False) as store:
            structure = make(store)
            start = time.process_time()
            for version, updates in enumerate(blocks, 1):
                batch = WriteBatch()
                structure.apply(version, updates, batch)
                store.commit(batch)
            return time.process_time() - start
    return _best(run) / sum(len(b) for b in blocks) * 1e6


def _blocks(entries: dict[bytes, object], per_block: int) -> list[dict]:
    """The entries added a block at a time, then every other one removed likewise."""
    keys = list(entries)
    adds = [{k: entries[k] for k in keys[i:i + per_block]}
            for i in range(0, len(keys), per_block)]
    gone = keys[::2]
    removes = [dict.fromkeys(gone[i:i + per_block]) for i in range(0, len(gone), per_block)]
    return adds + removes


def range_entry_us(hasher: Hasher, records: int, per_block: int) -> float:
    kind, prefix = RangeIndex(), attribute_prefix(bytes(16), 1)
    entries: dict[bytes, object] = {}
    for i in range(records):
        value = values.encode("number", random.Random(i).randrange(-10**9, 10**9))
        entries.update(kind.entries(prefix, "number", value, i.to_bytes(8, "big"),
                                    bytes(100)))
    return _per_update(lambda store: mbtree.MerkleBTree(store, hasher), mbtree.SUB_DBS,
                       _blocks(entries, per_block))


def keyword_word_us(hasher: Hasher, records: int, per_block: int) -> float:
    kind, prefix = KeywordIndex(), attribute_prefix(bytes(16), 2)
    entries: dict[bytes, object] = {}
    for i in range(records):
        rng = random.Random(i)
        text = " ".join(rng.choice(WORDS) for _ in range(8))
        entries.update({k: b"" for k in kind.entries(prefix, "text", text.encode(),
                                                     i.to_bytes(8, "big"), b"")})
    return _per_update(lambda store: inverted.InvertedIndex(store, hasher), inverted.SUB_DBS,
                       _blocks(entries, per_block * 8))


def scan_record_us(hasher: Hasher, records: int) -> float:
    keys = [b"dr/" + bytes(16) + i.to_bytes(8, "big") for i in range(records)]
    with tempfile.TemporaryDirectory() as tmp, \
            Store(Path(tmp), sub_dbs=jmt.SUB_DBS, durable=False) as store:
        tree = jmt.StateTree(store, hasher)
        batch = WriteBatch()
        tree.apply(1, dict.fromkeys(keys, bytes(100)), batch)
        store.commit(batch)
        root = tree.root(1)

        def run() -> float:
            start = time.process_time()
            for key in keys:
                value, proof = tree.get_with_proof(key, 1)
                assert verify_proof(root, key, value, proof, hasher)
            return time.process_time() - start
        return _best(run) / records * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--per-block", type=int, default=1000)
    parser.add_argument("--hash", choices=sorted(HASHES), default="sha256")
    args = parser.parse_args()
    hasher = HASHES[args.hash]
    load = os.getloadavg()[0]
    common = {"records": args.records, "hash": args.hash, "load_average": round(load, 2)}
    emit("data_plan", "range_entry_us", range_entry_us(hasher, args.records, args.per_block),
         "us/entry", **common)
    emit("data_plan", "keyword_word_us",
         keyword_word_us(hasher, args.records, args.per_block), "us/word", **common)
    emit("data_plan", "scan_record_us", scan_record_us(hasher, args.records), "us/record",
         **common)


if __name__ == "__main__":
    main()
