"""A node's blob store from the `[blobs]` table of its node.toml (all keys optional):

    [blobs]
    backend = "disk"            # or "s3"
    path = "blobs"              # disk: a directory, relative to the data directory
    fsync = true                # disk: durable puts (see blob_backends.DiskBackend)
    chunk_size = 1048576        # of the blobs this node writes
    max_blob_size = 17179869184 # caps on any blob this node stores or serves
    max_chunks = 65536
    parallel = 4                # chunk puts/gets in flight at once
    bucket = "xinlian-blobs"    # s3: required
    endpoint_url = "http://127.0.0.1:9000"   # s3: omit for AWS itself
    region = "us-east-1"
    prefix = ""                 # s3: key prefix inside the bucket

S3 credentials are read by boto3 from its usual places (environment, ~/.aws), never from
this file. Every bad value is a BlobError naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from xinlian.storage.blob_backends import BlobBackend, DiskBackend
from xinlian.storage.blob_proof import check_chunk_size
from xinlian.storage.blobs import BlobLimits, BlobStore
from xinlian.storage.errors import BadCommitmentError, BlobError
from xinlian.storage.proof import Hasher

DEFAULT_PARALLEL = 4
_INTS = ("chunk_size", "max_blob_size", "max_chunks", "parallel")
_TEXTS = ("backend", "path", "bucket", "endpoint_url", "region", "prefix")


@dataclass(frozen=True)
class BlobConfig:
    backend: str = "disk"
    path: Path = Path("blobs")
    fsync: bool = True
    limits: BlobLimits = field(default_factory=BlobLimits)
    parallel: int = DEFAULT_PARALLEL
    bucket: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    prefix: str = ""


def blob_config_from(table: Mapping[str, object], data_dir: Path) -> BlobConfig:
    """The blob store's settings from node.toml's `[blobs]` table."""
    unknown = set(table) - {*_INTS, *_TEXTS, "fsync"}
    if unknown:
        raise BlobError(f"unknown [blobs] setting(s) {sorted(unknown)}")
    ints: dict[str, int] = {}
    for key in _INTS:
        value = table.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise BlobError(f"[blobs] {key} must be a positive integer, not {value!r}")
            ints[key] = value
    texts: dict[str, str] = {}
    for key in _TEXTS:
        value = table.get(key)
        if value is not None:
            if not isinstance(value, str):
                raise BlobError(f"[blobs] {key} must be a string, not {value!r}")
            texts[key] = value
    fsync = table.get("fsync", True)
    if not isinstance(fsync, bool):
        raise BlobError(f"[blobs] fsync must be true or false, not {fsync!r}")
    backend = texts.get("backend", "disk")
    if backend not in ("disk", "s3"):
        raise BlobError(f"[blobs] backend must be \"disk\" or \"s3\", not {backend!r}")
    if backend == "s3" and not texts.get("bucket"):
        raise BlobError("[blobs] backend \"s3\" needs a bucket")
    limits = BlobLimits(**{k: v for k, v in ints.items() if k != "parallel"})
    try:
        check_chunk_size(limits.chunk_size)
    except BadCommitmentError as exc:
        raise BlobError(f"[blobs] {exc.message}") from None
    return BlobConfig(backend=backend, path=data_dir / texts.get("path", "blobs"),
                      fsync=fsync, limits=limits,
                      parallel=ints.get("parallel", DEFAULT_PARALLEL),
                      bucket=texts.get("bucket", ""), endpoint_url=texts.get("endpoint_url"),
                      region=texts.get("region"), prefix=texts.get("prefix", ""))


def open_blob_store(config: BlobConfig, hasher: Hasher) -> BlobStore:
    """The store a node owns (close it on shutdown); `hasher` is the chain's suite hash."""
    backend: BlobBackend
    if config.backend == "s3":
        from xinlian.storage.blob_s3 import S3Backend  # boto3 is loaded only when used

        backend = S3Backend(config.bucket, prefix=config.prefix,
                            endpoint_url=config.endpoint_url, region=config.region,
                            max_connections=max(config.parallel, 10))
    else:
        backend = DiskBackend(config.path, fsync=config.fsync)
    return BlobStore(backend, hasher, config.limits, config.parallel)
