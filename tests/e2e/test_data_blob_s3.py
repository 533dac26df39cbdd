"""A node whose node.toml puts its blob store on S3 (moto's S3 server, started by the tests on
a loopback port): a blob goes up and comes back verified through a real solo node process,
and its chunks and manifest are objects in the configured bucket under the prefix; an
object damaged in the bucket is refused on read, reported missing from then on, and put
back by uploading the blob again."""

from __future__ import annotations

import random
from pathlib import Path

import boto3
import pytest

from xinlian.cli.cluster import NodeProcess
from xinlian.crypto.suites import get_suite
from xinlian.sdk import Client, RpcError
from xinlian.storage.blob_proof import leaf_hash
from xinlian.storage.blobs import chunk_key

from ..storage.test_blob_s3 import BUCKET, CREDENTIALS, endpoint  # noqa: F401 - the fixture
from .cluster import Chain, init_data_dir


def test_a_node_serves_blobs_from_s3(tmp_path: Path, endpoint: str) -> None:  # noqa: F811
    chain = Chain.make("intl", 1)
    data_dir = init_data_dir(chain, tmp_path, 10**9, block_interval_ms=20)
    with (data_dir / "node.toml").open("a", encoding="utf-8") as toml:
        toml.write(f'\n[blobs]\nbackend = "s3"\nbucket = "{BUCKET}"\n'
                   f'endpoint_url = "{endpoint}"\nprefix = "node1/"\n')
    payload = random.Random(5).randbytes(300_000)  # seeded: the same every run
    node = NodeProcess(data_dir, env=CREDENTIALS)
    s3 = boto3.client("s3", endpoint_url=endpoint)

    def chunk_object(chunk: bytes) -> str:
        return "node1/" + chunk_key(leaf_hash(get_suite("intl").hash_bytes, chunk))
    try:
        with Client(node.base_url) as client:
            owner = client.data("videos", wallet=client.wallet(chain.keys[0]))
            owner.declare({"clip": "blob"})
            commitment = owner.put_blob("v1", "clip", payload, "video/mp4",
                                        chunk_size=64 * 1024)
            assert b"".join(owner.get_blob("v1", "clip")) == payload

            damaged = bytearray(payload[64 * 1024:128 * 1024])
            damaged[9] ^= 0x04
            s3.put_object(Bucket=BUCKET, Key=chunk_object(payload[64 * 1024:128 * 1024]),
                          Body=bytes(damaged))
            assert owner.missing_chunks("v1", "clip", commitment) == []  # not read yet
            with pytest.raises(RpcError) as corrupt:
                b"".join(owner.get_blob("v1", "clip"))
            assert corrupt.value.remote_name == "corrupt_blob_chunk"
            assert owner.missing_chunks("v1", "clip", commitment) == [1]  # dropped on read
            assert owner.put_blob("v1", "clip", payload, "video/mp4",
                                  chunk_size=64 * 1024) == commitment  # repairs it
            assert owner.missing_chunks("v1", "clip", commitment) == []
            assert b"".join(owner.get_blob("v1", "clip")) == payload
    finally:
        node.stop()
    listed = s3.list_objects_v2(
        Bucket=BUCKET, Prefix="node1/")
    keys = {item["Key"] for item in listed.get("Contents", [])}
    assert f"node1/m/{commitment.root.hex()}" in keys
    assert sum(key.startswith("node1/c/") for key in keys) == 5  # 300 000 bytes / 64 KiB
    assert not (data_dir / "blobs").exists()  # nothing went to the local disk
