"""Blob store: write and read MB/s with verification, on local disk and on moto's S3 server.

    python -m benchmarks.data_blobs [--mib 128] [--chunks-kib 256 1024 4096]
                                    [--suites intl sm] [--backends disk disk-nosync s3]

For each suite hash, chunk size and backend, one payload of `--mib` MiB (seeded
pseudo-random, every chunk distinct, so nothing is deduplicated) is:

- written from a stream of 64 KiB pieces (`write_mb_s`: chunked, hashed, stored, manifest);
- read whole and verified chunk by chunk (`read_mb_s`), beside its peer in the same run,
  the same chunks read from the backend without any check (`raw_read_mb_s`), so the cost
  of verifying is their ratio (`verify_cost_ratio`);
- read in `--ranges` random 64 KiB ranges, each verified (manifest span, proof, touched
  chunks): `ranged_reads_per_s`.

Each step runs `--repeats` times (each write a new payload) and reports the best wall time,
and, less sensitive to other jobs on the machine, the least CPU time of this process
(`*_cpu_s_per_gib`, `ranged_read_cpu_ms`).

`disk` fsyncs every object (the default policy), `disk-nosync` does not; reads of either come
from the page cache (the payload was just written), so they measure the store and the
hashing, not the drive. `s3` is moto's S3 server, started here as its own process on a
loopback port: a real HTTP S3 endpoint, in-memory, so its figures are the HTTP path and
moto's request handling, not a production object store's. Chunk puts and gets run
`--parallel` at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from benchmarks.report import MACHINE
from xinlian.crypto.suites import SUITES
from xinlian.storage.blob_backends import BlobBackend, DiskBackend
from xinlian.storage.blob_proof import compute_commitment
from xinlian.storage.blob_s3 import S3Backend
from xinlian.storage.blobs import BlobLimits, BlobStore, chunk_key
from xinlian.storage.proof import Hasher

BENCH = "data_blobs"
PIECE = 64 * 1024
MIB = 1024 * 1024
BUCKET = "bench-blobs"
S3_ENV = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
          "AWS_DEFAULT_REGION": "us-east-1"}


def figure(metric: str, value: float, unit: str, **extra: Any) -> dict[str, Any]:
    return {"bench": BENCH, "metric": metric, "value": round(value, 3), "unit": unit,
            **extra, **MACHINE}


def payload(mib: int, seed: int) -> Iterator[bytes]:
    """`mib` MiB in 64 KiB pieces, each made distinct by its number in its first 8 bytes."""
    base = random.Random(seed).randbytes(PIECE)
    for i in range(mib * MIB // PIECE):
        yield i.to_bytes(8, "big") + base[8:]


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's S3 server as a child process on a free loopback port; its endpoint URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    os.environ.update(S3_ENV)
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=url)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                client.create_bucket(Bucket=BUCKET)
                break
            except (BotoCoreError, ClientError):
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait()


class Timing:
    """The best wall-clock and the least CPU time (all of this process's threads) of the
    repeats of one step: wall time suffers from other jobs on the machine, CPU time much
    less (the S3 server's own CPU, in its own process, is not in it)."""

    def __init__(self) -> None:
        self.wall = self.cpu = float("inf")

    @contextmanager
    def run(self) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        self.wall = min(self.wall, time.perf_counter() - wall)
        self.cpu = min(self.cpu, time.process_time() - cpu)


def measure(store: BlobStore, mib: int, seed: int, ranges: int, repeats: int
            ) -> Iterator[tuple[str, float, str]]:
    write, read, raw, ranged = Timing(), Timing(), Timing(), Timing()
    for r in range(repeats):  # a new payload each time: nothing is deduplicated
        with write.run():
            commitment = store.write(payload(mib, seed + r), "video/mp4")
    for _ in range(repeats):
        with read.run():
            total = sum(len(piece) for piece in store.read(commitment))
        assert total == mib * MIB
    _, leaves = compute_commitment(store.hasher, payload(mib, seed + repeats - 1),
                                   commitment.chunk_size, "video/mp4")
    keys = [chunk_key(leaf) for leaf in leaves]
    with ThreadPoolExecutor(store.parallel) as pool:
        for _ in range(repeats):
            with raw.run():
                assert sum(len(data or b"") for data in pool.map(store.backend.get, keys)) \
                    == total
    rng = random.Random(seed)
    for _ in range(repeats):
        with ranged.run():
            for _ in range(ranges):
                offset = rng.randrange(commitment.size - PIECE)
                assert sum(len(p) for p in store.read(commitment, offset, PIECE)) == PIECE
    gib = mib / 1024
    yield "write_mb_s", mib / write.wall, "MiB/s"
    yield "read_mb_s", mib / read.wall, "MiB/s"
    yield "raw_read_mb_s", mib / raw.wall, "MiB/s"
    yield "verify_cost_ratio", read.wall / raw.wall, "x"
    yield "ranged_reads_per_s", ranges / ranged.wall, "reads/s"
    yield "write_cpu_s_per_gib", write.cpu / gib, "s/GiB"
    yield "read_cpu_s_per_gib", read.cpu / gib, "s/GiB"
    yield "raw_read_cpu_s_per_gib", raw.cpu / gib, "s/GiB"
    yield "ranged_read_cpu_ms", ranged.cpu / ranges * 1000, "ms"


def open_backend(kind: str, root: Path, s3_url: str | None, prefix: str) -> BlobBackend:
    if kind == "s3":
        return S3Backend(BUCKET, prefix=prefix, endpoint_url=s3_url, max_connections=16)
    return DiskBackend(root / prefix, fsync=kind == "disk")


def run(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp, \
            (moto_server() if "s3" in args.backends else _none()) as s3_url:
        for suite in args.suites:
            hasher: Hasher = SUITES[suite].hash_bytes
            for kib in args.chunks_kib:
                for kind in args.backends:
                    prefix = f"{suite}-{kib}-{kind}/"
                    store = BlobStore(open_backend(kind, Path(tmp), s3_url, prefix), hasher,
                                      BlobLimits(chunk_size=kib * 1024), args.parallel)
                    try:
                        for metric, value, unit in measure(store, args.mib, args.seed,
                                                           args.ranges, args.repeats):
                            yield figure(metric, value, unit, backend=kind, suite=suite,
                                         chunk_kib=kib, payload_mib=args.mib,
                                         parallel=args.parallel, repeats=args.repeats)
                    finally:
                        store.close()


@contextmanager
def _none() -> Iterator[None]:
    yield None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mib", type=int, default=128, help="payload size in MiB")
    p.add_argument("--chunks-kib", type=int, nargs="+", default=[256, 1024, 4096])
    p.add_argument("--suites", nargs="+", default=["intl", "sm"], choices=sorted(SUITES))
    p.add_argument("--backends", nargs="+", default=["disk", "disk-nosync", "s3"],
                   choices=["disk", "disk-nosync", "s3"])
    p.add_argument("--parallel", type=int, default=4)
    p.add_argument("--ranges", type=int, default=200, help="random 64 KiB ranged reads")
    p.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    p.add_argument("--seed", type=int, default=1)
    return p


def main() -> None:
    for line in run(parser().parse_args()):
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
