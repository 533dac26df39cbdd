"""The Merkle Mountain Range (storage/mmr.py): every leaf proves against the root of every
later size; any change to the leaf, the proof or the root fails. Property tests draw sizes
and indices with hypothesis (its own seeded search)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from xinlian import codec
from xinlian.storage import mmr
from xinlian.storage.errors import MalformedProofError, TamperedAnswerError


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _built(n: int) -> tuple[list[bytes], mmr.Peaks, dict[tuple[int, int], bytes]]:
    items = [sha(i.to_bytes(4, "big")) for i in range(n)]
    nodes: dict[tuple[int, int], bytes] = {}
    peaks = mmr.EMPTY
    for item in items:
        peaks = mmr.append(sha, peaks, item, lambda lv, j, h: nodes.__setitem__((lv, j), h))
    return items, peaks, nodes


def test_peaks_follow_the_binary_digits_of_the_size() -> None:
    for n in range(0, 40):
        _, peaks, _ = _built(n)
        assert peaks.size == n and len(peaks.peaks) == bin(n).count("1")
        assert peaks == mmr.peaks_of(sha, [sha(i.to_bytes(4, "big")) for i in range(n)])


def _proven(n: int, i: int) -> tuple[list[bytes], bytes, mmr.MmrProof]:
    """The leaves of an MMR of n, its root, and the proof of leaf i."""
    items, peaks, nodes = _built(n)
    proof = mmr.make_proof(i, peaks, lambda lv, j: nodes.get((lv, j)))
    assert proof is not None
    return items, mmr.compute_root(sha, peaks), proof


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 300), st.data())
def test_every_leaf_proves_against_the_root(n: int, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, n - 1))
    items, root, proof = _proven(n, i)
    assert mmr.verify_proof(sha, root, items[i], proof)
    assert len(proof.siblings) < n.bit_length() + 1


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 200), st.data())
def test_invalid_tampered_proofs_fail(n: int, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, n - 1))
    items, root, proof = _proven(n, i)
    other = data.draw(st.integers(0, n - 1).filter(lambda k: k != i))
    assert not mmr.verify_proof(sha, root, items[other], proof)  # another leaf
    assert not mmr.verify_proof(sha, sha(root), items[i], proof)  # another root
    assert not mmr.verify_proof(sha, root, items[i], replace(proof, index=other))
    assert not mmr.verify_proof(sha, root, items[i], replace(proof, size=n + 1))
    flipped = [bytes([p[0] ^ 1]) + p[1:] for p in proof.peaks]
    assert not mmr.verify_proof(sha, root, items[i], replace(proof, peaks=flipped))
    if proof.siblings:
        bad = [sha(s) for s in proof.siblings]
        assert not mmr.verify_proof(sha, root, items[i], replace(proof, siblings=bad))


def test_invalid_proofs_of_impossible_shapes_fail() -> None:
    items, root, proof = _proven(5, 4)
    for bad in (replace(proof, index=-1), replace(proof, index=5), replace(proof, size=2**70),
                replace(proof, siblings=[items[0]])):
        assert not mmr.verify_proof(sha, root, items[4], bad)


def test_a_proof_needs_the_stored_nodes() -> None:
    _, peaks, nodes = _built(8)
    del nodes[(1, 0)]
    assert mmr.make_proof(3, peaks, lambda lv, j: nodes.get((lv, j))) is None
    assert mmr.make_proof(4, peaks, lambda lv, j: nodes.get((lv, j))) is not None


def _run_proof(n: int, first: int, stop: int) -> tuple[list[bytes], mmr.Peaks, bytes]:
    items, peaks, nodes = _built(n)

    def node(level: int, j: int) -> bytes | None:
        return mmr.leaf_hash(sha, items[j]) if level == 0 else nodes.get((level, j))

    siblings = mmr.make_run_proof(first, stop, n, node)
    assert siblings is not None
    return items[first:stop], peaks, b"".join(siblings)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 300), st.data())
def test_every_run_of_leaves_proves_against_the_peaks(n: int, data: st.DataObject) -> None:
    first = data.draw(st.integers(0, n - 1))
    stop = data.draw(st.integers(first + 1, n))
    run, peaks, siblings = _run_proof(n, first, stop)
    mmr.check_run(sha, peaks, first, run, siblings)
    # a run costs O(log n) given hashes per mountain it touches, whatever its length
    assert len(siblings) // 32 <= 2 * n.bit_length() * len(mmr.mountains(n))


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 200), st.data())
def test_invalid_changed_runs_fail(n: int, data: st.DataObject) -> None:
    first = data.draw(st.integers(0, n - 2))
    stop = data.draw(st.integers(first + 2, n))
    run, peaks, siblings = _run_proof(n, first, stop)
    i = data.draw(st.integers(0, len(run) - 1))
    changed = [*run[:i], sha(run[i]), *run[i + 1:]]
    with pytest.raises(TamperedAnswerError):
        mmr.check_run(sha, peaks, first, changed, siblings)
    with pytest.raises(TamperedAnswerError):  # swapped neighbours
        mmr.check_run(sha, peaks, first, [run[1], run[0], *run[2:]], siblings)
    with pytest.raises(TamperedAnswerError):  # the first leaf left out
        mmr.check_run(sha, peaks, first, run[1:], siblings)
    with pytest.raises(TamperedAnswerError):  # shifted by one
        mmr.check_run(sha, peaks, first + 1, run[:-1] if stop == n else run, siblings)
    if siblings:
        with pytest.raises(TamperedAnswerError):
            mmr.check_run(sha, peaks, first, run, siblings[:-32])
        with pytest.raises(TamperedAnswerError):
            mmr.check_run(sha, peaks, first, run, sha(siblings[:32]) + siblings[32:])


def test_peaks_decode_only_when_they_match_their_size() -> None:
    _, peaks, _ = _built(5)
    assert mmr.decode_peaks(codec.encode(peaks)) == peaks
    with pytest.raises(MalformedProofError):
        mmr.decode_peaks(codec.encode(mmr.Peaks(7, peaks.peaks)))
    with pytest.raises(MalformedProofError):
        mmr.decode_peaks(b"\xc1")
