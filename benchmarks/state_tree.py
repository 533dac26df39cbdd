"""State tree at scale: load N accounts in blocks, then proof latency, update rate, proof size.

    python -m benchmarks.state_tree [--accounts 10000000] [--load-block 100000] [--hash sha256]
                                    [--store DIR [--migrate]]

Every block is applied and committed as a node does it (one synced LMDB transaction per
block); versions older than the last `--keep` are pruned in separate batches (every 10 load
blocks, after each run of update blocks), and pruning is timed apart. JSON lines out.

`state_tree_updates` is the headline: account updates per second with commit, in blocks of
10,000, by the CPU time of apply + commit (so a shared machine does not distort it; the
wall-clock rate and the load average are printed beside it).

`--store DIR` keeps the loaded store in DIR and reuses it on the next run (the load of 10
million accounts takes minutes); without it the store is a temporary directory. `--migrate`
first rewrites a kept store's version-1 internal nodes (written before they held their leaf
paths) as version 2 with `jmt.migrate_leaf_paths`, timed; without it they are rewritten as
blocks touch them. Runs on a kept store with one `--seed` update the same accounts, whose
nodes the previous run left in the page cache; give each run its own seed.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import tempfile
import time
from collections.abc import Callable

from benchmarks.report import emit, percentile
from xinlian.crypto.hashes import sha3_256, sha256, sm3
from xinlian.storage import jmt
from xinlian.storage.kv import Store, WriteBatch
from xinlian.storage.proof import encode_proof, verify_proof

BENCH = "state_tree"
HASHES: dict[str, Callable[[bytes], bytes]] = {"sha256": sha256, "sm3": sm3, "sha3_256": sha3_256}


def account_key(i: int) -> bytes:
    return i.to_bytes(20, "big")  # a 20-byte address; the tree hashes it to its path


def account_value(i: int, nonce: int) -> bytes:
    return (i * 1_000_003).to_bytes(16, "big") + nonce.to_bytes(8, "big") + bytes(24)


def disk_bytes(path: str) -> int:
    total = 0
    for name in os.listdir(path):
        total += os.stat(os.path.join(path, name)).st_blocks * 512
    return total


class Chain:
    """A tree on a store, committing one block per version; pruning is a separate batch."""

    def __init__(self, path: str, hasher: Callable[[bytes], bytes], keep: int,
                 cache_nodes: int) -> None:
        self.store = Store(path, sub_dbs=jmt.SUB_DBS, map_size=1 << 32)
        self.tree = jmt.StateTree(self.store, hasher, cache_nodes=cache_nodes)
        self.version = self.tree.latest_version() or 0
        self.keep = keep
        self.cpu = [0.0, 0.0]  # CPU seconds of apply and of commit, summed over blocks

    def block(self, updates: dict[bytes, bytes | None]) -> tuple[float, float]:
        """Apply and commit one block; returns (apply seconds, commit seconds) and adds
        the CPU seconds of both to `cpu`."""
        self.version += 1
        batch = WriteBatch()
        c0 = time.process_time()
        t0 = time.perf_counter()
        self.tree.apply(self.version, updates, batch)
        t1 = time.perf_counter()
        c1 = time.process_time()
        self.store.commit(batch)
        self.cpu[0] += c1 - c0
        self.cpu[1] += time.process_time() - c1
        return t1 - t0, time.perf_counter() - t1

    def prune(self) -> float:
        """Delete the nodes only versions older than the last `keep` use; returns seconds."""
        if self.version <= self.keep:
            return 0.0
        t0 = time.perf_counter()
        batch = WriteBatch()
        self.tree.prune(self.version - self.keep + 1, batch)
        self.store.commit(batch)
        return time.perf_counter() - t0


def load(chain: Chain, accounts: int, block: int, hash_name: str) -> None:
    start = time.perf_counter()
    cpu = time.process_time()
    apply_s = commit_s = prune_s = 0.0
    for first in range(0, accounts, block):
        last = min(accounts, first + block)
        a, c = chain.block({account_key(i): account_value(i, 0) for i in range(first, last)})
        apply_s += a
        commit_s += c
        if (first // block) % 10 == 9:
            prune_s += chain.prune()
            emit(BENCH, "load_progress", last, "accounts", hash=hash_name,
                 elapsed_s=round(time.perf_counter() - start, 1),
                 last_block_accounts_per_s=round((last - first) / (a + c)))
    total = time.perf_counter() - start
    cpu = time.process_time() - cpu
    emit(BENCH, "load_accounts_per_s", accounts / total, "accounts/s", hash=hash_name,
         accounts=accounts, block=block, seconds=round(total, 1), cpu_s=round(cpu, 1),
         accounts_per_cpu_s=round(accounts / cpu), apply_s=round(apply_s, 1),
         commit_s=round(commit_s, 1), prune_s=round(prune_s, 1))
    emit(BENCH, "disk_size", disk_bytes(str(chain.store.path)) / 2**20, "MiB", hash=hash_name,
         accounts=accounts, kept_versions=chain.keep)


def lookups(chain: Chain, accounts: int, count: int, hash_name: str, rng: random.Random) -> None:
    tree = chain.tree
    root = tree.root()
    hasher = tree.hasher
    for kind in ("present", "absent"):
        keys = [account_key(rng.randrange(accounts) if kind == "present"
                            else accounts + rng.randrange(1 << 60)) for _ in range(count)]
        for key in keys[:200]:  # one pass over a few keys first, like a node that has run
            tree.get_with_proof(key)
        lat, cpu, sizes, verify = [], [], [], []
        for key in keys:
            c0 = time.thread_time_ns()
            t0 = time.perf_counter_ns()
            value, proof = tree.get_with_proof(key)
            t1 = time.perf_counter_ns()
            c1 = time.thread_time_ns()
            ok = verify_proof(root, key, value, proof, hasher)
            t2 = time.perf_counter_ns()
            assert ok and (value is not None) == (kind == "present")
            lat.append((t1 - t0) / 1000)
            cpu.append((c1 - c0) / 1000)
            verify.append((t2 - t1) / 1000)
            sizes.append(len(encode_proof(proof)))
        for p in (50, 99):
            # wall clock, and this thread's CPU time (which leaves out time the scheduler
            # gave to other processes on a shared machine, but keeps page-fault handling)
            emit(BENCH, f"proof_lookup_p{p}", percentile(lat, p), "us", hash=hash_name,
                 accounts=accounts, keys=kind, samples=count,
                 cpu_us=round(percentile(cpu, p), 1))
        emit(BENCH, "proof_verify_p50", percentile(verify, 50), "us", hash=hash_name,
             keys=kind)
        emit(BENCH, "proof_size_mean", sum(sizes) / len(sizes), "bytes", hash=hash_name,
             accounts=accounts, keys=kind, max=max(sizes))
    keys = [account_key(rng.randrange(accounts)) for _ in range(count)]
    lat = []
    for key in keys:
        t0 = time.perf_counter_ns()
        tree.get(key)
        lat.append((time.perf_counter_ns() - t0) / 1000)
    emit(BENCH, "get_p50", percentile(lat, 50), "us", hash=hash_name, accounts=accounts)
    emit(BENCH, "get_p99", percentile(lat, 99), "us", hash=hash_name, accounts=accounts)


def updates(chain: Chain, accounts: int, sizes: list[int], blocks: int, hash_name: str,
            rng: random.Random) -> None:
    for size in sizes:
        apply_s = commit_s = 0.0
        cpu = time.process_time()
        chain.cpu = [0.0, 0.0]
        for b in range(blocks):
            ups: dict[bytes, bytes | None] = {}
            for _ in range(size):
                i = rng.randrange(accounts)
                ups[account_key(i)] = account_value(i, chain.version + b + 1)
            a, c = chain.block(ups)
            apply_s += a
            commit_s += c
        apply_cpu, commit_cpu = chain.cpu
        prune_s = chain.prune()
        cpu = time.process_time() - cpu
        n = size * blocks
        if size == 10_000:
            emit(BENCH, "state_tree_updates", n / (apply_cpu + commit_cpu), "updates/cpu-s",
                 hash=hash_name, accounts=accounts, block=size, blocks=blocks,
                 apply_cpu_ms_per_block=round(1000 * apply_cpu / blocks, 1),
                 commit_cpu_ms_per_block=round(1000 * commit_cpu / blocks, 1),
                 wall_updates_per_s=round(n / (apply_s + commit_s)),
                 load_average=round(os.getloadavg()[0], 2))
        emit(BENCH, "update_apply_accounts_per_s", n / apply_s, "accounts/s", hash=hash_name,
             accounts=accounts, block=size, blocks=blocks,
             apply_ms_per_block=round(1000 * apply_s / blocks, 1))
        emit(BENCH, "update_commit_accounts_per_s", n / (apply_s + commit_s), "accounts/s",
             hash=hash_name, accounts=accounts, block=size, blocks=blocks,
             commit_ms_per_block=round(1000 * commit_s / blocks, 1))
        emit(BENCH, "update_with_prune_accounts_per_s", n / (apply_s + commit_s + prune_s),
             "accounts/s", hash=hash_name, accounts=accounts, block=size, blocks=blocks,
             prune_ms_per_block=round(1000 * prune_s / blocks, 1),
             accounts_per_cpu_s=round(n / cpu))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000_000)
    parser.add_argument("--load-block", type=int, default=100_000)
    parser.add_argument("--hash", choices=sorted(HASHES), default="sha256")
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--update-blocks", type=int, default=10)
    parser.add_argument("--keep", type=int, default=2, help="versions kept by pruning")
    parser.add_argument("--cache-nodes", type=int, default=500_000)
    parser.add_argument("--dir", default=None, help="where to put the store (deleted after)")
    parser.add_argument("--store", default=None,
                        help="a store to keep and reuse (loaded only if it is empty)")
    parser.add_argument("--seed", type=int, default=1,
                        help="of the accounts looked up and updated (vary it on a kept store)")
    parser.add_argument("--migrate", action="store_true",
                        help="first migrate the store's tree nodes to record version 2")
    args = parser.parse_args()
    path = args.store or tempfile.mkdtemp(prefix="xinlian-bench-", dir=args.dir)
    rng = random.Random(args.seed)
    try:
        chain = Chain(path, HASHES[args.hash], args.keep, args.cache_nodes)
        if chain.version == 0:
            load(chain, args.accounts, args.load_block, args.hash)
        if args.migrate:
            cpu, start = time.process_time(), time.perf_counter()
            rewritten = jmt.migrate_leaf_paths(chain.store)
            emit(BENCH, "migrate_leaf_paths", rewritten, "nodes", hash=args.hash,
                 accounts=args.accounts, seconds=round(time.perf_counter() - start, 1),
                 cpu_s=round(time.process_time() - cpu, 1))
        lookups(chain, args.accounts, args.lookups, args.hash, rng)
        updates(chain, args.accounts, [1_000, 10_000], args.update_blocks, args.hash, rng)
        emit(BENCH, "max_rss", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "MiB",
             hash=args.hash, accounts=args.accounts, cache_nodes=args.cache_nodes)
        chain.store.close()
    finally:
        if args.store is None:
            shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
