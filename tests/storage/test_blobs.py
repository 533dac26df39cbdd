"""The blob store on local disk: round trips, ranged reads, uploads by chunk, caps, and every
kind of damage to the stored bytes caught at the chunk it hits. Payloads are seeded
pseudo-random bytes (random.Random(seed)), so every run is the same."""

from __future__ import annotations

import hashlib
import io
import random
import tempfile
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.storage.blob_backends import DiskBackend
from xinlian.storage.blob_config import BlobConfig, blob_config_from, open_blob_store
from xinlian.storage.blob_proof import (
    BlobCommitment,
    compute_commitment,
    verify_chunk,
)
from xinlian.storage.blobs import BlobLimits, BlobStore, chunk_key, manifest_key
from xinlian.storage.errors import (
    BadCommitmentError,
    BlobError,
    BlobNotFoundError,
    BlobProofError,
    BlobRangeError,
    BlobTooLargeError,
    CorruptChunkError,
    MissingChunkError,
)

CS = 4096


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def disk_store(root: Path, parallel: int = 1, fsync: bool = False, **limits: int
               ) -> BlobStore:
    return BlobStore(DiskBackend(root, fsync=fsync), sha, BlobLimits(chunk_size=CS, **limits),
                     parallel)


def chunk_path(store: BlobStore, data: bytes, index: int) -> Path:
    backend = store.backend
    assert isinstance(backend, DiskBackend)
    return backend.path(chunk_key(sha(b"\x00" + data[index * CS:(index + 1) * CS])))


def read_until_error(store: BlobStore, commitment: BlobCommitment,
                     offset: int = 0, length: int | None = None
                     ) -> tuple[bytes, Exception | None]:
    """What a reader received before the read failed, and the failure."""
    got = bytearray()
    try:
        for piece in store.read(commitment, offset, length):
            got += piece
    except BlobError as exc:
        return bytes(got), exc
    return bytes(got), None


sizes = st.one_of(st.integers(0, 6 * CS + 1), st.integers(0, 6).map(lambda k: k * CS))


@settings(max_examples=60, deadline=None)
@given(size=sizes, seed=st.integers(0, 2**32), parallel=st.sampled_from([1, 3]))
def test_round_trip_and_commitment_match_the_client_side(size: int, seed: int,
                                                         parallel: int) -> None:
    data = payload(size, seed)
    with tempfile.TemporaryDirectory() as tmp:
        store = disk_store(Path(tmp), parallel)
        pieces = [data[i:i + 1000] for i in range(0, len(data), 1000)]
        commitment = store.write(iter(pieces), "video/mp4")
        assert commitment == compute_commitment(sha, [data], CS, "video/mp4")[0]
        assert b"".join(store.read(commitment)) == data
        assert all(0 < len(p) <= CS for p in store.read(commitment))
        store.close()


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 6 * CS + 1), seed=st.integers(0, 2**32),
       spot=st.floats(0, 1, exclude_max=True), damage=st.sampled_from(["flip", "drop", "swap"]))
def test_any_damaged_chunk_is_caught_at_that_chunk(size: int, seed: int, spot: float,
                                                   damage: str) -> None:
    data = payload(size, seed)
    n = -(-size // CS)
    index = int(spot * n)
    with tempfile.TemporaryDirectory() as tmp:
        store = disk_store(Path(tmp))
        commitment = store.write([data], "image/png")
        path = chunk_path(store, data, index)
        if damage == "flip":
            raw = bytearray(path.read_bytes())
            raw[seed % len(raw)] ^= 1 << (seed % 8)
            path.write_bytes(bytes(raw))
        elif damage == "drop":
            path.unlink()
        else:  # another chunk of the blob put in its place
            if n == 1:
                return
            other = chunk_path(store, data, (index + 1) % n)
            path.write_bytes(other.read_bytes())
        got, error = read_until_error(store, commitment)
        expected = MissingChunkError if damage == "drop" else CorruptChunkError
        assert isinstance(error, expected) and error.index == index
        assert got == data[:index * CS]  # every verified chunk before it, nothing after
        assert store.missing(commitment) == [index]  # found damaged: held no longer
        assert store.put_chunk(commitment, index, data[index * CS:(index + 1) * CS])
        assert store.missing(commitment) == []
        assert b"".join(store.read(commitment)) == data


def test_ranged_reads_touch_only_their_chunks() -> None:
    data = payload(10 * CS + 123, 1)
    with tempfile.TemporaryDirectory() as tmp:
        store = disk_store(Path(tmp))
        commitment = store.write([data], "video/mp4")
        chunk_path(store, data, 0).unlink()
        chunk_path(store, data, 9).write_bytes(b"garbage")
        for offset, length in [(CS, 8 * CS), (CS + 1, 1), (2 * CS - 1, 2), (5 * CS, CS)]:
            assert b"".join(store.read(commitment, offset, length)) == \
                data[offset:offset + length]
        assert b"".join(store.read(commitment, 10 * CS)) == data[10 * CS:]
        got, error = read_until_error(store, commitment, 3 * CS + 5, 7 * CS)
        assert isinstance(error, CorruptChunkError) and error.index == 9
        assert got == data[3 * CS + 5:9 * CS]
        with pytest.raises(MissingChunkError):
            b"".join(store.read(commitment, CS - 1, 2))
        assert list(store.read(commitment, 7, 0)) == []


def test_invalid_ranges() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = disk_store(Path(tmp))
        commitment = store.write([b"abc"], "text/plain")
        for offset, length in [(-1, 1), (0, 4), (4, None), (2, -1)]:
            with pytest.raises(BlobRangeError):
                store.read(commitment, offset, length)
        with pytest.raises(BlobRangeError):
            store.get_chunk(commitment, 1)


def test_tampered_manifest_is_caught() -> None:
    data = payload(5 * CS, 2)
    with tempfile.TemporaryDirectory() as tmp:
        store = disk_store(Path(tmp))
        commitment = store.write([data], "image/png")
        backend = store.backend
        assert isinstance(backend, DiskBackend)
        path = backend.path(manifest_key(commitment.root))
        raw = bytearray(path.read_bytes())
        raw[32 * 2] ^= 1  # leaf 2
        path.write_bytes(bytes(raw))
        assert b"".join(store.read(commitment, 0, 2 * CS)) == data[:2 * CS]
        with pytest.raises(BlobProofError):
            store.read(commitment, 2 * CS, 1)
        with pytest.raises(BlobProofError):  # leaf 2's sibling is leaf 3
            store.read(commitment, 3 * CS, 1)
        path.write_bytes(bytes(raw[:100]))
        with pytest.raises(BlobProofError):
            store.read(commitment, 4 * CS, 1)
        assert store.write([data], "image/png") == commitment  # writing again repairs it
        assert b"".join(store.read(commitment)) == data


def test_unknown_blob_and_lying_commitments() -> None:
    data = payload(3 * CS, 3)
    with tempfile.TemporaryDirectory() as tmp:
        store = disk_store(Path(tmp))
        c = store.write([data], "image/png")
        with pytest.raises(BlobNotFoundError):
            store.read(BlobCommitment(sha(b"other"), c.size, c.chunk_size, c.media_type))
        with pytest.raises(BlobProofError):  # the right root, another size
            store.read(BlobCommitment(c.root, c.size - 1, c.chunk_size, c.media_type))
        with pytest.raises(BadCommitmentError):
            store.read(BlobCommitment(c.root, c.size, c.chunk_size, "nonsense"))
        empty = store.write([], "text/plain")
        assert list(store.read(empty)) == []
        with pytest.raises(BlobProofError):
            store.read(BlobCommitment(c.root, 0, CS, "text/plain"))


def test_same_chunks_are_stored_once() -> None:
    block = payload(CS, 4)
    with tempfile.TemporaryDirectory() as tmp:
        store = disk_store(Path(tmp))
        a = store.write([block * 3, payload(100, 5)], "image/png")
        b = store.write([block * 5], "video/mp4")
        files = [p for p in (Path(tmp) / "c").rglob("*") if p.is_file()]
        assert len(files) == 2  # the repeated block, and the 100-byte tail
        assert b"".join(store.read(a)) == block * 3 + payload(100, 5)
        assert b"".join(store.read(b)) == block * 5
        assert store.write([block * 3, payload(100, 5)], "image/gif").root == a.root


def test_upload_by_chunks_in_any_order() -> None:
    data = payload(7 * CS + 9, 6)
    commitment, leaves = compute_commitment(sha, [data], CS, "video/mp4")
    chunks = [data[i:i + CS] for i in range(0, len(data), CS)]
    with tempfile.TemporaryDirectory() as tmp:
        store = disk_store(Path(tmp), parallel=2)
        with pytest.raises(BlobNotFoundError):
            store.put_chunk(commitment, 0, chunks[0])
        with pytest.raises(BlobProofError):
            store.put_manifest(commitment, leaves[::-1])
        with pytest.raises(BlobProofError):
            store.put_manifest(commitment, leaves[:-1])
        store.put_manifest(commitment, leaves)
        assert store.missing(commitment) == list(range(8))
        with pytest.raises(CorruptChunkError):
            store.put_chunk(commitment, 3, chunks[4])
        with pytest.raises(BlobRangeError):
            store.put_chunk(commitment, 8, chunks[0])
        for i in random.Random(0).sample(range(8), 8):
            assert store.put_chunk(commitment, i, chunks[i])
        assert not store.put_chunk(commitment, 2, chunks[2])
        assert store.missing(commitment) == []
        assert b"".join(store.read(commitment)) == data
        for i in range(8):
            chunk, proof = store.get_chunk(commitment, i)
            verify_chunk(sha, commitment, i, chunk, proof)  # what a client does
        assert store.missing(commitment, 3, 2) == []


def test_caps() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = disk_store(Path(tmp), max_blob_size=3 * CS, max_chunks=2)
        with pytest.raises(BlobTooLargeError):
            store.write([payload(2 * CS + 1)], "image/png")
        small = disk_store(Path(tmp), max_blob_size=CS + 5)
        with pytest.raises(BlobTooLargeError):
            small.write([payload(CS + 6)], "image/png")
        big, leaves = compute_commitment(sha, [payload(5 * CS)], CS, "image/png")
        with pytest.raises(BlobTooLargeError):
            store.put_manifest(big, leaves)
        with pytest.raises(BlobTooLargeError):
            store.read(big)
        with pytest.raises(BadCommitmentError):
            store.write([b"x"], "image/png", chunk_size=100)
        with pytest.raises(BadCommitmentError):
            store.write([b"x"], "png")


def test_writes_stream_in_bounded_memory() -> None:
    """32 MiB from a generator through 64 KiB chunks: the writer never holds the payload."""
    piece = payload(16 * 1024, 7)

    def source() -> Iterator[bytes]:
        for i in range(2048):
            yield piece[:-4] + i.to_bytes(4, "big")

    with tempfile.TemporaryDirectory() as tmp:
        store = BlobStore(DiskBackend(Path(tmp), fsync=False), sha,
                          BlobLimits(chunk_size=64 * 1024), parallel=2)
        tracemalloc.start()
        commitment = store.write(source(), "video/mp4")
        read = sum(len(p) for p in store.read(commitment))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert commitment.size == read == 32 * 1024 * 1024
        assert peak < 4 * 1024 * 1024


def test_durable_disk_writes_and_a_file_source() -> None:
    data = payload(3 * CS + 1, 8)
    with tempfile.TemporaryDirectory() as tmp:
        store = disk_store(Path(tmp), fsync=True)
        commitment = store.write(io.BytesIO(data), "image/png")
        assert b"".join(store.read(commitment)) == data
        assert not list(Path(tmp).rglob(".put-*"))  # no temporary file left behind


def test_config_from_node_toml_table(tmp_path: Path) -> None:
    assert blob_config_from({}, tmp_path) == BlobConfig(path=tmp_path / "blobs")
    config = blob_config_from({"path": "media", "chunk_size": 8192, "max_chunks": 10,
                               "parallel": 2, "fsync": False}, tmp_path)
    assert config.path == tmp_path / "media" and config.limits.chunk_size == 8192
    store = open_blob_store(config, sha)
    commitment = store.write([b"hello"], "text/plain")
    assert commitment.chunk_size == 8192 and b"".join(store.read(commitment)) == b"hello"
    store.close()
    s3 = blob_config_from({"backend": "s3", "bucket": "b", "region": "us-east-1"}, tmp_path)
    assert s3.backend == "s3" and s3.bucket == "b"
    bad_tables: list[dict[str, object]] = [
        {"backend": "tape"}, {"backend": "s3"}, {"chunk_size": 10}, {"max_chunks": 0},
        {"fsync": "yes"}, {"colour": "red"}, {"path": 3}]
    for bad in bad_tables:
        with pytest.raises(BlobError):
            blob_config_from(bad, tmp_path)


def test_writing_again_repairs_damaged_chunks() -> None:
    data = payload(4 * CS + 3, 9)
    with tempfile.TemporaryDirectory() as tmp:
        store = disk_store(Path(tmp))
        commitment = store.write([data], "image/png")
        chunk_path(store, data, 1).write_bytes(b"rot")
        chunk_path(store, data, 3).unlink()
        assert isinstance(read_until_error(store, commitment)[1], CorruptChunkError)
        assert store.write([data], "image/png") == commitment
        assert b"".join(store.read(commitment)) == data
        chunk_path(store, data, 2).write_bytes(b"rot")  # an upload repairs too
        assert store.put_chunk(commitment, 2, data[2 * CS:3 * CS])
        assert not store.put_chunk(commitment, 2, data[2 * CS:3 * CS])
        assert b"".join(store.read(commitment)) == data


def test_a_chunk_found_damaged_on_read_is_missing_until_uploaded_again() -> None:
    data = payload(3 * CS, 4)
    with tempfile.TemporaryDirectory() as tmp:
        store = disk_store(Path(tmp), fsync=True)
        commitment = store.write([data], "image/png")
        damaged = chunk_path(store, data, 1)
        raw = bytearray(damaged.read_bytes())
        raw[7] ^= 0x10
        damaged.write_bytes(bytes(raw))
        assert store.missing(commitment) == []  # not read yet: the damage is not known
        with pytest.raises(CorruptChunkError):
            store.get_chunk(commitment, 1)
        assert not damaged.exists()
        assert store.missing(commitment) == [1]
        with pytest.raises(MissingChunkError):  # never served, however it is asked for
            store.get_chunk(commitment, 1)
        assert store.put_chunk(commitment, 1, data[CS:2 * CS])
        chunk, proof = store.get_chunk(commitment, 1)
        verify_chunk(sha, commitment, 1, chunk, proof)
