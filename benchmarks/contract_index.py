"""The ordered index of contract data: query latency with proof, verification, proof size.

    python -m benchmarks.contract_index [--transfers 10000] [--per-block 100] [--hash sm3]

Loads the entries of `--transfers` token Transfer events (three entries each: by sender,
by recipient, by position), made by execution/indexing.py from ABI-encoded events among
1,000 accounts, one committed LMDB batch per block as a node writes them, then times
queries as the node serves them (range walk + proof, encoded) and as the SDK checks them
(decode + verify_range), each against a plain LMDB scan of the same keys in the same
run. JSON lines out.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable

from benchmarks.report import emit, percentile
from xinlian.crypto.hashes import sha256, sm3
from xinlian.execution.indexing import IndexSpec, event_entries
from xinlian.lang import abi, indexkeys
from xinlian.ledger.block import Event
from xinlian.storage import mst
from xinlian.storage.kv import Store, WriteBatch
from xinlian.storage.mst_proof import (
    RangeQuery,
    decode_range_proof,
    encode_range_proof,
    verify_range,
)

BENCH = "contract_index"
HASHES: dict[str, Callable[[bytes], bytes]] = {"sha256": sha256, "sm3": sm3}
CONTRACT = bytes.fromhex("c0" * 20)
ABI = {"events": [{"name": "Transfer", "params": [
    {"name": "from", "type": "address", "indexed": True},
    {"name": "to", "type": "address", "indexed": True},
    {"name": "amount", "type": "u256", "indexed": False}]}]}
ADDRESS, U256 = abi.type_from_json("address"), abi.type_from_json("u256")
PLAIN_DB = "plain"


def _event(rng: random.Random, people: list[bytes]) -> Event:
    data = (abi.encode(ADDRESS, rng.choice(people)) + abi.encode(ADDRESS, rng.choice(people))
            + abi.encode(U256, rng.randrange(1, 10**20)))
    return Event(CONTRACT.hex(), "Transfer", data)


def _query(name: str, people: list[bytes]) -> RangeQuery:
    sender = indexkeys.event_index(CONTRACT, "Transfer", "from")
    found = {
        "equality_page20": indexkeys.key_range(sender, people[7], people[7]),
        "range_page100": indexkeys.key_range(indexkeys.event_index(CONTRACT, "Transfer", "to"),
                                             people[100], people[199]),
        "absent": indexkeys.key_range(sender, bytes(20), bytes(20)),
        "newest_page20": indexkeys.key_range(indexkeys.event_index(CONTRACT, "Transfer")),
    }[name]
    assert found is not None
    return RangeQuery(found[0], found[1], True, 100 if name.startswith("range") else 20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--transfers", type=int, default=10_000)
    parser.add_argument("--per-block", type=int, default=100)
    parser.add_argument("--hash", choices=sorted(HASHES), default="sm3")
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    hasher = HASHES[args.hash]
    rng = random.Random(11)  # seeded: the same data every run
    people = sorted(rng.randbytes(20) for _ in range(1000))
    spec = IndexSpec.from_abi(ABI)
    with tempfile.TemporaryDirectory() as path, \
            Store(path, sub_dbs=(*mst.SUB_DBS, PLAIN_DB)) as store:
        index = mst.OrderedIndex(store, hasher)
        apply_s, entries = 0.0, 0
        for height in range(1, args.transfers // args.per_block + 1):
            updates: dict[bytes, bytes | None] = {}
            for tx in range(args.per_block):
                updates.update(event_entries(lambda c: spec, height, tx, [_event(rng, people)]))
            batch = WriteBatch()
            start = time.perf_counter()
            root = index.apply(height, updates, batch)
            apply_s += time.perf_counter() - start
            for key, value in updates.items():
                assert value is not None
                batch.put(PLAIN_DB, key, value)
            store.commit(batch)
            entries += len(updates)
        common = {"entries": entries, "transfers": args.transfers, "hash": args.hash}
        emit(BENCH, "index_apply_entries_per_s", entries / apply_s, "entries/s",
             per_block=args.per_block * 3, **common)
        for name in ("equality_page20", "range_page100", "absent", "newest_page20"):
            query = _query(name, people)
            serve, check, plain, sizes = [], [], [], []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                answer, proof = index.query(query)
                wire = encode_range_proof(proof)
                t1 = time.perf_counter()
                verified = verify_range(root, decode_range_proof(wire), query, hasher)
                t2 = time.perf_counter()
                scanned = store.scan(PLAIN_DB, start=query.lo, stop=query.hi, reverse=True,
                                     limit=query.limit)
                t3 = time.perf_counter()
                assert verified == answer == scanned
                serve.append(t1 - t0)
                check.append(t2 - t1)
                plain.append(t3 - t2)
                sizes.append(len(wire))
            extra = {"query": name, "returned": len(answer), **common}
            emit(BENCH, f"{name}_serve_with_proof_p50", percentile(serve, 50) * 1e6, "us",
                 **extra)
            emit(BENCH, f"{name}_verify_p50", percentile(check, 50) * 1e6, "us", **extra)
            emit(BENCH, f"{name}_plain_scan_p50", percentile(plain, 50) * 1e6, "us", **extra)
            emit(BENCH, f"{name}_proof_bytes", sizes[0], "bytes", **extra)


if __name__ == "__main__":
    main()
