"""Blob attributes on a real solo node process, through the SDK: a payload of a few MiB goes
up in 1 MiB chunks and comes back verified chunk by chunk; only the collection's readers may
download it (a stranger is refused with a typed error); a chunk damaged on the node's disk
is refused by the node on read and never served; a chunk lost from its disk, or found
damaged on read, is reported missing and put back by uploading again; a chunk altered
between node and client is refused by the client."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from xinlian.cli.cluster import NodeProcess
from xinlian.sdk import Client, RpcError
from xinlian.sdk.calls import Call
from xinlian.storage.blob_proof import leaf_hash
from xinlian.storage.blobs import MIB
from xinlian.storage.errors import CorruptChunkError
from xinlian.storage.proof import Hasher

from .cluster import Chain, init_data_dir


def chunk_file(data_dir: Path, chunk: bytes, hasher: Hasher) -> Path:
    """Where the node's disk store holds `chunk` (storage/blob_backends.py DiskBackend)."""
    leaf = leaf_hash(hasher, chunk)
    return data_dir / "blobs" / "c" / leaf.hex()[:2] / leaf.hex()


def test_blob_round_trip_permissions_and_damage(tmp_path: Path) -> None:
    chain = Chain.make("sm", 3)
    data_dir = init_data_dir(chain, tmp_path, 10**9, block_interval_ms=20)
    payload = random.Random(13).randbytes(3 * MIB + 12_345)  # seeded: the same every run
    chunks = [payload[i:i + MIB] for i in range(0, len(payload), MIB)]
    node = NodeProcess(data_dir)
    try:
        with Client(node.base_url) as client:
            owner_wallet, reader_wallet, stranger_wallet = (
                client.wallet(chain.keys[i]) for i in range(3))
            owner = client.data("scans", wallet=owner_wallet)
            owner.declare({"label": "text", "scan": "blob"},
                          readers=[reader_wallet.address])
            owner.put({"r1": {"label": "chest"}})
            commitment = owner.put_blob("r1", "scan", payload, "image/png")
            assert (commitment.size, commitment.chunk_size) == (len(payload), MIB)
            record = owner.get("r1")
            assert record is not None
            assert record.values == {"label": "chest", "scan": commitment}

            reader = client.data("scans", wallet=reader_wallet)
            assert b"".join(reader.get_blob("r1", "scan")) == payload
            assert reader.missing_chunks("r1", "scan", commitment) == []

            stranger = client.data("scans", wallet=stranger_wallet)
            with pytest.raises(RpcError) as refused:
                next(stranger.get_blob("r1", "scan"))
            assert refused.value.remote_name == "blob_access_denied"
            with pytest.raises(RpcError) as refused:  # a stranger cannot upload another blob
                stranger.put_blob("r1", "scan", b"x" * 5000, "image/png")
            assert refused.value.remote_name == "blob_access_denied"

            hasher = owner_wallet.suite.hash_bytes
            chunk_file(data_dir, chunks[2], hasher).unlink()
            assert reader.missing_chunks("r1", "scan", commitment) == [2]
            with pytest.raises(RpcError) as lost:
                b"".join(reader.get_blob("r1", "scan"))
            assert lost.value.remote_name == "missing_blob_chunk"
            assert owner.put_blob("r1", "scan", payload, "image/png") == commitment  # repairs
            assert reader.missing_chunks("r1", "scan", commitment) == []
            assert b"".join(reader.get_blob("r1", "scan")) == payload

            damaged = chunk_file(data_dir, chunks[1], hasher)
            raw = bytearray(damaged.read_bytes())
            raw[100] ^= 0x01
            damaged.write_bytes(bytes(raw))
            served = []
            with pytest.raises(RpcError) as corrupt:
                for piece in reader.get_blob("r1", "scan"):
                    served.append(piece)
            assert corrupt.value.remote_name == "corrupt_blob_chunk"
            assert served == chunks[:1]  # nothing of the damaged chunk, nor after it
            assert reader.missing_chunks("r1", "scan", commitment) == [1]  # dropped on read
            assert owner.put_blob("r1", "scan", payload, "image/png") == commitment  # repairs
            assert reader.missing_chunks("r1", "scan", commitment) == []
            assert b"".join(reader.get_blob("r1", "scan")) == payload

            # a node that lies: its answers altered on the way, the client refuses the chunk
            honest = client.call

            def lying(call: Call[Any]) -> Any:
                result = honest(call)
                if call.method == "xl_blobGetChunk":
                    data = bytearray.fromhex(result["data"][2:])
                    data[0] ^= 0xFF
                    result["data"] = "0x" + data.hex()
                return result

            client.call = lying  # type: ignore[method-assign]
            with pytest.raises(CorruptChunkError) as caught:
                next(reader.get_blob("r1", "scan"))
            assert caught.value.index == 0
    finally:
        node.stop()
