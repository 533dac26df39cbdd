"""The inverted index: keyword, AND, AND-NOT and OR pages served with proofs and verified.

    python -m benchmarks.data_inverted [--records 200000] [--page 10000] [--hash sm3]

Builds the index of `--records` records (u64 ids in order, as a collection's records
arrive), each with a short text: words drawn from a Zipf-distributed vocabulary of 2,000
English words and Chinese phrases (so each Chinese phrase gives its bigrams), one committed
LMDB batch per block of `--per-block` records as a node writes them; then edits random
records (their text replaced: postings removed and added). Then, for each query kind, walks
every page (`--page` ids each, resumed by cursor) as the node serves them (query + proof,
encoded) and as the SDK checks them (decode + verify_text), in records returned per second,
and proof bytes per record returned. Against it, in the same run:

- `plain_scan`: the same postings as plain LMDB keys (term | id), a page read by a scan;
- `mst_per_posting`: one search-tree entry per posting (the tree of storage/mst.py on its
  own, keys term | id), a page as a range query with its proof, served and verified.

JSON lines out (benchmarks/report.py).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

from benchmarks.contract_index import HASHES
from benchmarks.report import emit, sub_db_bytes
from xinlian.storage import inverted, mst
from xinlian.storage.inverted_proof import (
    TextQuery,
    decode_text_proof,
    encode_text_proof,
    posting_entry,
    text_entries,
    verify_text,
)
from xinlian.storage.kv import Store, WriteBatch
from xinlian.storage.mst_proof import (
    RangeQuery,
    decode_range_proof,
    encode_range_proof,
    verify_range,
)

BENCH = "data_inverted"
SCOPE = bytes(16) + b"\x00\x01"  # collection id | attribute position
PLAIN_DB = "plain"
CHINESE = ("区块链", "金融", "数据共享", "碳排放", "医疗健康", "供应链", "智能合约", "监管",
           "隐私计算", "跨链")
# the queries: (name, terms, excluded, any_of); "common" is in every other record
QUERIES = (
    ("keyword", ("common",), (), False),
    ("keyword_chinese", ("区块",), (), False),
    ("and", ("common", "w1"), (), False),
    ("and_not", ("common",), ("w1",), False),
    ("or", ("w2", "w3"), (), True),
)


def _vocabulary() -> list[str]:
    words = [f"w{i}" for i in range(2000)]
    for i, phrase in enumerate(CHINESE):
        words[i * 7 + 5] = phrase
    return words


def _text(rng: random.Random, words: list[str], weights: list[float], number: int) -> str:
    picked = rng.choices(words, weights, k=6)
    return " ".join(picked + (["common"] if number % 2 == 0 else []))


class _Clock:
    """CPU and wall time of a block: rates are per CPU second of this process (the
    code is single-threaded; the machine is shared), with the wall-clock rate beside."""

    def __enter__(self) -> _Clock:
        self._cpu, self._wall = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.cpu = time.process_time() - self._cpu
        self.wall = time.perf_counter() - self._wall

    def rate(self, metric: str, count: int, **extra: Any) -> dict[str, Any]:
        return {"metric": metric, "value": count / max(self.cpu, 1e-9),
                "unit": "records/cpu-s", "records": count,
                "wall_records_per_s": round(count / max(self.wall, 1e-9)), **extra}


def _pages(query: TextQuery, step: Callable[[TextQuery], tuple[int, bytes | None]]
           ) -> int:
    """Walk every page of `query` through `step` (ids returned, cursor); ids in all."""
    total = 0
    while True:
        count, cursor = step(query)
        total += count
        if cursor is None:
            return total
        query = TextQuery(query.scope, query.terms, query.exclude, query.any_of, cursor,
                          query.limit)


def run(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    hasher = HASHES[args.hash]
    rng = random.Random(13)  # seeded: the same data every run
    words = _vocabulary()
    weights = [1 / (i + 1) for i in range(len(words))]
    with tempfile.TemporaryDirectory() as path, \
            Store(path, sub_dbs=(*inverted.SUB_DBS, *mst.SUB_DBS, PLAIN_DB)) as store:
        index = inverted.InvertedIndex(store, hasher)
        texts: dict[bytes, str] = {}
        apply_s, postings = 0.0, 0
        version = 0
        for start in range(0, args.records, args.per_block):
            updates: dict[bytes, bytes | None] = {}
            plain = WriteBatch()
            for number in range(start, min(args.records, start + args.per_block)):
                record_id = number.to_bytes(8, "big")
                texts[record_id] = _text(rng, words, weights, number)
                entries = text_entries(SCOPE, record_id, texts[record_id])
                updates.update(entries)
                for entry in entries:
                    plain.put(PLAIN_DB, entry[1 + len(SCOPE):], b"")
            batch = WriteBatch()
            with _Clock() as clock:
                index.apply(version, updates, batch)
                store.commit(batch)
            apply_s += clock.cpu
            store.commit(plain)
            postings += len(updates)
            version += 1
        yield {"metric": "build_records_per_s", "value": args.records / apply_s,
               "unit": "records/cpu-s", "records": args.records, "postings": postings,
               "per_block": args.per_block}
        yield {"metric": "store_bytes_per_record",
               "value": sub_db_bytes(store, inverted.SUB_DBS) / args.records, "unit": "B",
               "per_posting": round(sub_db_bytes(store, inverted.SUB_DBS) / postings, 2),
               "plain_bytes_per_record": round(sub_db_bytes(store, [PLAIN_DB]) / args.records, 2),
               "note": "LMDB pages of the index (every node version written) against plain "
               "term|id keys"}
        edits = min(args.edits, args.records)
        changed = 0
        with _Clock() as clock:
            for start in range(0, edits, args.per_block):
                updates = {}
                for _ in range(min(args.per_block, edits - start)):
                    record_id = rng.randrange(args.records).to_bytes(8, "big")
                    new = _text(rng, words, weights, int.from_bytes(record_id, "big"))
                    updates.update(dict.fromkeys(text_entries(SCOPE, record_id,
                                                              texts[record_id])))
                    updates.update(text_entries(SCOPE, record_id, new))
                    texts[record_id] = new
                batch = WriteBatch()
                index.apply(version, updates, batch)
                store.commit(batch)
                changed += len(updates)
                version += 1
        yield clock.rate("edit_records_per_s", edits, posting_changes=changed)
        root = index.root()
        del texts
        seen: dict[str, float] = {}
        for name, terms, exclude, any_of in QUERIES:
            query = TextQuery(SCOPE, terms, exclude, any_of, None, args.page)
            for line in _measure(name, index, query, root, hasher):
                seen[line["metric"]] = line["value"]
                yield line
        for line in _baselines(store, SCOPE, args.page, hasher):
            seen[line["metric"]] = line["value"]
            yield line
        cpu = [1 / seen[f"keyword_{side}_records_per_s"] for side in ("server", "client")]
        yield {"metric": "keyword_cost_vs_plain_scan",
               "value": sum(cpu) * seen["plain_scan_records_per_s"], "unit": "ratio",
               "note": "server + client CPU seconds per id over the plain scan's, the same "
               "'common' postings"}


def _measure(name: str, index: inverted.InvertedIndex, query: TextQuery, root: bytes,
             hasher: Callable[[bytes], bytes]) -> Iterator[dict[str, Any]]:
    served: list[tuple[TextQuery, Any, bytes]] = []

    def serve(q: TextQuery) -> tuple[int, bytes | None]:
        page, proof = index.query(q)
        served.append((q, page, encode_text_proof(proof)))
        return len(page.ids), page.next_after

    with _Clock() as server:
        total = _pages(query, serve)
    proof_bytes = sum(len(p) for _, _, p in served)
    with _Clock() as client:
        for q, page, raw in served:
            verify_text(root, q, page, decode_text_proof(raw), hasher)
    common = {"query": name, "records": total, "pages": len(served)}
    yield server.rate(f"{name}_server_records_per_s", total, **common)
    yield client.rate(f"{name}_client_records_per_s", total, **common)
    yield {"metric": f"{name}_proof_bytes_per_record", "value": proof_bytes / max(1, total),
           "unit": "B", **common}


def _baselines(store: Store, scope: bytes, page: int,
               hasher: Callable[[bytes], bytes]) -> Iterator[dict[str, Any]]:
    """The "common" list as plain LMDB keys, and as one search-tree entry per posting."""
    prefix = posting_entry(scope, "common", b"")[1 + len(scope):]
    with _Clock() as scan:
        total, start = 0, prefix
        while True:
            found = store.scan(PLAIN_DB, start=start, stop=prefix[:-1] + b"\x01", limit=page)
            total += len(found)
            if len(found) < page:
                break
            start = found[-1][0] + b"\x00"
    yield scan.rate("plain_scan_records_per_s", total)
    tree = mst.OrderedIndex(store, hasher)
    keys = [k for k, _ in store.scan(PLAIN_DB, start=prefix, stop=prefix[:-1] + b"\x01")]
    began = time.perf_counter()
    for start in range(0, len(keys), 50_000):
        batch = WriteBatch()
        tree.apply(start, dict.fromkeys(keys[start:start + 50_000], b""), batch)
        store.commit(batch)
    build_s = time.perf_counter() - began
    root = tree.root()
    served = []
    with _Clock() as server:
        lo = prefix
        while True:
            query = RangeQuery(lo, prefix[:-1] + b"\x01", False, page)
            answer, proof = tree.query(query)
            served.append((query, encode_range_proof(proof)))
            if len(answer) < page:
                break
            lo = answer[-1][0] + b"\x00"
    with _Clock() as client:
        for query, raw in served:
            verify_range(root, decode_range_proof(raw), query, hasher)
    size = sum(len(r) for _, r in served)
    extra = {"build_s": round(build_s, 3)}
    yield server.rate("mst_per_posting_server_records_per_s", len(keys), **extra)
    yield client.rate("mst_per_posting_client_records_per_s", len(keys), **extra)
    yield {"metric": "mst_per_posting_proof_bytes_per_record",
           "value": size / max(1, len(keys)), "unit": "B", **extra}


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="benchmarks.data_inverted")
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--per-block", type=int, default=10_000)
    parser.add_argument("--edits", type=int, default=20_000)
    parser.add_argument("--page", type=int, default=10_000)
    parser.add_argument("--hash", choices=sorted(HASHES), default="sm3")
    return parser


def main() -> None:
    args = parser().parse_args()
    for line in run(args):
        metric, value, unit = line.pop("metric"), line.pop("value"), line.pop("unit")
        emit(BENCH, metric, value, unit, hash=args.hash, **line)


if __name__ == "__main__":
    main()
