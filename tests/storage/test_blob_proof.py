"""Blob commitments and span proofs, checked against the hashing rules spelled out again."""

from __future__ import annotations

import hashlib
import io
import random

import pytest

from xinlian.crypto.suites import SUITES
from xinlian.storage.blob_proof import (
    MIN_CHUNK_SIZE,
    BlobCommitment,
    SpanProof,
    check_commitment,
    compute_commitment,
    compute_levels,
    compute_root,
    iter_chunks,
    leaf_hash,
    prove_span,
    top_of,
    verify_chunk,
    verify_span,
)
from xinlian.storage.errors import (
    BadCommitmentError,
    BlobProofError,
    CorruptChunkError,
    MalformedProofError,
)


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def reference_root(data: bytes, chunk_size: int) -> bytes:
    """The root by the rules in blob_proof.py's docstring, sharing no code with it."""
    chunks = [data[i:i + chunk_size] for i in range(0, len(data), chunk_size)]
    level = [sha(b"\x00" + c) for c in chunks]
    while len(level) > 1:
        pairs = [sha(b"\x01" + level[i] + level[i + 1]) for i in range(0, len(level) - 1, 2)]
        level = pairs + ([level[-1]] if len(level) % 2 else [])
    top = level[0] if level else bytes(32)
    return sha(b"\x02" + len(data).to_bytes(8, "big") + chunk_size.to_bytes(4, "big") + top)


def commitment_of(n: int) -> tuple[BlobCommitment, list[list[bytes]]]:
    leaves = [sha(i.to_bytes(4, "big")) for i in range(n)]
    levels = compute_levels(sha, leaves)
    size = n * MIN_CHUNK_SIZE
    return (BlobCommitment(compute_root(sha, size, MIN_CHUNK_SIZE, top_of(levels)), size,
                           MIN_CHUNK_SIZE, "application/octet-stream"), levels)


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 4097, 3 * 4096, 7 * 4096 + 5, 16 * 4096])
def test_commitment_matches_reference(size: int) -> None:
    data = random.Random(size).randbytes(size)
    commitment, leaves = compute_commitment(sha, io.BytesIO(data), 4096, "video/mp4")
    assert commitment.root == reference_root(data, 4096)
    assert commitment.size == size and len(leaves) == -(-size // 4096)


def test_commitment_uses_the_suite_hash() -> None:
    data = b"x" * 10_000
    roots = {compute_commitment(s.hash_bytes, [data], 4096, "text/plain")[0].root
             for s in SUITES.values()}
    assert len(roots) == len({s.hash for s in SUITES.values()})


def test_every_span_of_small_trees_verifies_and_no_tampering_passes() -> None:
    for n in range(1, 19):
        commitment, levels = commitment_of(n)
        for first in range(n):
            for end in range(first + 1, n + 1):
                proof = prove_span(levels, first, end)
                verify_span(sha, commitment, first, levels[0][first:end], proof)
                for i in range(len(proof.siblings)):  # any sibling changed
                    bad = list(proof.siblings)
                    bad[i] = sha(bad[i])
                    with pytest.raises(BlobProofError):
                        verify_span(sha, commitment, first, levels[0][first:end],
                                    SpanProof(bad))
                if end - first > 1:  # two leaves swapped
                    swapped = list(levels[0][first:end])
                    swapped[0], swapped[1] = swapped[1], swapped[0]
                    with pytest.raises(BlobProofError):
                        verify_span(sha, commitment, first, swapped, proof)


def test_proof_siblings_stay_logarithmic() -> None:
    _, levels = commitment_of(1000)
    for first, end in [(0, 1), (499, 500), (3, 997), (999, 1000), (0, 1000)]:
        assert len(prove_span(levels, first, end).siblings) <= 2 * 10


def test_invalid_span_proofs_are_malformed() -> None:
    commitment, levels = commitment_of(9)
    proof = prove_span(levels, 2, 5)
    with pytest.raises(MalformedProofError):  # one sibling short
        verify_span(sha, commitment, 2, levels[0][2:5], SpanProof(proof.siblings[:-1]))
    with pytest.raises(MalformedProofError):  # past the last chunk
        verify_span(sha, commitment, 8, levels[0][7:9], proof)
    with pytest.raises(MalformedProofError):
        verify_span(sha, commitment, 0, [], proof)


def test_verify_chunk_for_clients() -> None:
    data = random.Random(7).randbytes(5 * 4096 + 100)
    commitment, leaves = compute_commitment(sha, [data], 4096, "image/jpeg")
    levels = compute_levels(sha, leaves)
    for i in range(6):
        chunk = data[i * 4096:(i + 1) * 4096]
        verify_chunk(sha, commitment, i, chunk, prove_span(levels, i, i + 1))
    with pytest.raises(CorruptChunkError) as info:
        verify_chunk(sha, commitment, 1, data[:4096], prove_span(levels, 1, 2))
    assert info.value.index == 1
    with pytest.raises(CorruptChunkError):  # the right bytes, another chunk's proof
        verify_chunk(sha, commitment, 1, data[4096:8192], prove_span(levels, 2, 3))
    with pytest.raises(CorruptChunkError):  # the last chunk cut short
        verify_chunk(sha, commitment, 5, data[5 * 4096:-1], prove_span(levels, 5, 6))


@pytest.mark.parametrize("change", [
    {"chunk_size": MIN_CHUNK_SIZE - 1}, {"chunk_size": 64 << 20}, {"size": -1},
    {"media_type": "png"}, {"media_type": "Image/PNG"}, {"media_type": "image/png; q=1"},
    {"root": b"\x00" * 31}, {"size": 1 << 62},
])
def test_invalid_commitment_shapes(change: dict[str, object]) -> None:
    fields: dict[str, object] = {"root": bytes(32), "size": 10, "chunk_size": 4096,
                                 "media_type": "image/png"}
    fields.update(change)
    with pytest.raises(BadCommitmentError):
        check_commitment(BlobCommitment(**fields))  # type: ignore[arg-type]


def test_iter_chunks_rechunks_any_source() -> None:
    data = random.Random(3).randbytes(3 * 4096 + 11)
    pieces = [data[i:i + 1000] for i in range(0, len(data), 1000)]
    expected = [data[i:i + 4096] for i in range(0, len(data), 4096)]
    assert list(iter_chunks(pieces, 4096)) == expected
    assert list(iter_chunks(io.BytesIO(data), 4096)) == expected

    class Trickle(io.RawIOBase):  # a pipe that returns at most 100 bytes a read
        def __init__(self) -> None:
            self.at = 0

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            out = data[self.at:self.at + min(n, 100)]
            self.at += len(out)
            return out

    assert list(iter_chunks(Trickle(), 4096)) == expected
    assert list(iter_chunks([], 4096)) == []
    assert leaf_hash(sha, b"") == sha(b"\x00")
