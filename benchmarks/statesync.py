"""State snapshot: serve, verify and import N accounts, against writing the same state directly.

    python -m benchmarks.statesync [--accounts 200000] [--max-leaves 1024]

A source tree holds N accounts (48-byte values, as in benchmarks/state_tree.py). The
snapshot is read chunk by chunk as a peer serves it (`read_chunk`), each chunk encoded and
decoded as on the wire, verified (`SnapshotImport.add`) and finally written as one tree
version (`SnapshotImport.write` + one LMDB commit). The peer figure is writing the same
accounts into an empty tree by key (`StateTree.apply`, what executing them would end with),
in the same run. Network time is not included (see docs/cluster.md for the protocol).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.report import emit
from xinlian import codec
from xinlian.crypto.hashes import sha256
from xinlian.storage import jmt
from xinlian.storage.kv import Store, WriteBatch
from xinlian.storage.snapshot import Chunk, SnapshotImport, read_chunk

BENCH = "statesync"
LOAD_BLOCK = 50_000


def _value(i: int) -> bytes:
    return (i * 1_000_003).to_bytes(16, "big") + bytes(32)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=200_000)
    parser.add_argument("--max-leaves", type=int, default=1024)
    args = parser.parse_args()
    n = args.accounts
    tmp = Path(tempfile.mkdtemp(prefix="xl-statesync-"))
    try:
        with Store(tmp / "src", sub_dbs=jmt.SUB_DBS) as src_store, \
                Store(tmp / "dst", sub_dbs=jmt.SUB_DBS) as dst_store, \
                Store(tmp / "direct", sub_dbs=jmt.SUB_DBS) as direct_store:
            src = jmt.StateTree(src_store, sha256)
            for version, start in enumerate(range(0, n, LOAD_BLOCK)):
                batch = WriteBatch()
                src.apply(version, {i.to_bytes(20, "big"): _value(i)
                                    for i in range(start, min(n, start + LOAD_BLOCK))}, batch)
                src_store.commit(batch)
            top = src.latest_version()
            assert top is not None
            root = src.root(top)

            serve_s = verify_s = 0.0
            chunks = wire = 0
            snap = SnapshotImport(root, sha256)
            while not snap.done:
                prefix = min(snap.wanted)
                t0 = time.perf_counter()
                data = codec.encode(read_chunk(src, top, prefix, args.max_leaves))
                t1 = time.perf_counter()
                snap.add(codec.decode(data, Chunk))
                verify_s += time.perf_counter() - t1
                serve_s += t1 - t0
                chunks += 1
                wire += len(data)
            dst = jmt.StateTree(dst_store, sha256)
            t0 = time.perf_counter()
            batch = WriteBatch()
            snap.write(dst, top, batch)
            dst_store.commit(batch)
            write_s = time.perf_counter() - t0
            assert dst.root(top) == root

            direct = jmt.StateTree(direct_store, sha256)
            t0 = time.perf_counter()
            batch = WriteBatch()
            direct.apply(0, {i.to_bytes(20, "big"): _value(i) for i in range(n)}, batch)
            direct_store.commit(batch)
            direct_s = time.perf_counter() - t0
            assert direct.root(0) == root
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    common = {"accounts": n, "max_leaves": args.max_leaves}
    emit(BENCH, "chunks", chunks, "chunks", **common)
    emit(BENCH, "wire_bytes_per_account", wire / n, "B", **common)
    emit(BENCH, "serve_rate", n / serve_s, "accounts/s", **common)
    emit(BENCH, "verify_rate", n / verify_s, "accounts/s", **common)
    emit(BENCH, "write_rate", n / write_s, "accounts/s", **common)
    emit(BENCH, "import_total", serve_s + verify_s + write_s, "s", **common)
    emit(BENCH, "direct_write_rate", n / direct_s, "accounts/s", peer="StateTree.apply by key",
         **common)


if __name__ == "__main__":
    main()
