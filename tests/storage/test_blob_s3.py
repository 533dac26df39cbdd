"""The S3-compatible backend against a real HTTP S3 endpoint: moto's S3 server, started by
these tests on a free loopback port (moto.server.ThreadedMotoServer). Payloads are seeded
pseudo-random bytes."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from xinlian.storage.blob_config import blob_config_from, open_blob_store
from xinlian.storage.blob_proof import compute_commitment, verify_chunk
from xinlian.storage.blob_s3 import S3Backend
from xinlian.storage.blobs import BlobLimits, BlobStore, chunk_key, manifest_key
from xinlian.storage.errors import (
    BlobBackendError,
    BlobNotFoundError,
    CorruptChunkError,
    MissingChunkError,
)

CS = 4096
BUCKET = "xinlian-blobs"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
               "AWS_DEFAULT_REGION": "us-east-1"}


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    saved = pytest.MonkeyPatch()
    for name, value in CREDENTIALS.items():  # moto's server accepts any credentials
        saved.setenv(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=url).create_bucket(Bucket=BUCKET)
    yield url
    server.stop()
    saved.undo()


@pytest.fixture
def s3(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint)


def s3_store(endpoint: str, prefix: str, parallel: int = 4) -> BlobStore:
    return BlobStore(S3Backend(BUCKET, prefix=prefix, endpoint_url=endpoint), sha,
                     BlobLimits(chunk_size=CS), parallel)


@pytest.mark.parametrize("size", [0, 1, CS, 5 * CS, 9 * CS + 17])
def test_round_trip_and_ranges(endpoint: str, size: int) -> None:
    data = random.Random(size).randbytes(size)
    store = s3_store(endpoint, f"rt{size}/")
    commitment = store.write([data], "video/mp4")
    assert commitment == compute_commitment(sha, [data], CS, "video/mp4")[0]
    assert b"".join(store.read(commitment)) == data
    if size > 2:
        assert b"".join(store.read(commitment, 1, size - 2)) == data[1:-1]
    store.close()


def test_objects_are_content_addressed(endpoint: str, s3: Any) -> None:
    backend = S3Backend(BUCKET, prefix="ca/", endpoint_url=endpoint)
    key = chunk_key(sha(b"\x00hello"))
    assert backend.get(key) is None and not backend.has(key)
    assert backend.put(key, b"hello")
    assert not backend.put(key, b"hello")  # If-None-Match: the object is not sent again
    assert backend.has(key)
    assert backend.get(key, 1, 3) == b"ell" and backend.get(key, 2) == b"llo"
    assert backend.get(key, 1, 0) == b""
    assert s3.get_object(Bucket=BUCKET, Key="ca/" + key)["Body"].read() == b"hello"
    with pytest.raises(BlobBackendError):
        backend.put("../etc/passwd", b"x")


def test_damaged_objects_are_caught(endpoint: str, s3: Any) -> None:
    data = random.Random(1).randbytes(6 * CS + 5)
    store = s3_store(endpoint, "dmg/")
    commitment = store.write([data], "image/png")

    def object_of(index: int) -> str:
        return "dmg/" + chunk_key(sha(b"\x00" + data[index * CS:(index + 1) * CS]))

    raw = bytearray(data[2 * CS:3 * CS])
    raw[100] ^= 0x40
    s3.put_object(Bucket=BUCKET, Key=object_of(2), Body=bytes(raw))
    s3.delete_object(Bucket=BUCKET, Key=object_of(4))
    got = bytearray()
    with pytest.raises(CorruptChunkError) as corrupt:
        for piece in store.read(commitment):
            got += piece
    assert corrupt.value.index == 2 and bytes(got) == data[:2 * CS]
    with pytest.raises(MissingChunkError) as missing:
        b"".join(store.read(commitment, 3 * CS))
    assert missing.value.index == 4
    assert b"".join(store.read(commitment, 5 * CS)) == data[5 * CS:]
    assert store.missing(commitment) == [2, 4]  # the damaged one was dropped on read
    assert store.put_chunk(commitment, 2, data[2 * CS:3 * CS])  # an upload repairs it
    assert store.missing(commitment) == [4]
    assert b"".join(store.read(commitment, 0, 4 * CS)) == data[:4 * CS]
    s3.delete_object(Bucket=BUCKET, Key="dmg/" + manifest_key(commitment.root))
    with pytest.raises(BlobNotFoundError):
        store.read(commitment)
    store.close()


def test_upload_by_chunks_and_client_verification(endpoint: str) -> None:
    data = random.Random(2).randbytes(4 * CS + 1)
    commitment, leaves = compute_commitment(sha, [data], CS, "video/mp4")
    store = s3_store(endpoint, "up/", parallel=1)
    store.put_manifest(commitment, leaves)
    for i in (4, 0, 2, 1, 3):
        store.put_chunk(commitment, i, data[i * CS:(i + 1) * CS])
    assert store.missing(commitment) == []
    for i in range(5):
        chunk, proof = store.get_chunk(commitment, i)
        verify_chunk(sha, commitment, i, chunk, proof)
    store.close()


def test_node_config_opens_the_s3_backend(endpoint: str, tmp_path: Any) -> None:
    config = blob_config_from({"backend": "s3", "bucket": BUCKET, "endpoint_url": endpoint,
                               "prefix": "node/", "chunk_size": CS}, tmp_path)
    store = open_blob_store(config, sha)
    commitment = store.write([b"x" * (3 * CS)], "application/octet-stream")
    assert b"".join(store.read(commitment)) == b"x" * (3 * CS)
    store.close()


def test_an_unreachable_server_is_a_backend_error() -> None:
    store = BlobStore(S3Backend(BUCKET, endpoint_url="http://127.0.0.1:9",
                                region="us-east-1"), sha, BlobLimits(chunk_size=CS))
    with pytest.raises(BlobBackendError):
        store.write([b"abc"], "text/plain")


def test_writing_again_repairs_a_damaged_object(endpoint: str, s3: Any) -> None:
    data = random.Random(3).randbytes(3 * CS)
    store = s3_store(endpoint, "fix/")
    commitment = store.write([data], "image/png")
    name = "fix/" + chunk_key(sha(b"\x00" + data[CS:2 * CS]))
    s3.put_object(Bucket=BUCKET, Key=name, Body=b"rot")
    with pytest.raises(CorruptChunkError):
        b"".join(store.read(commitment))
    store.write([data], "image/png")
    assert b"".join(store.read(commitment)) == data
    store.close()
