"""Per-key version history (storage/provenance.py): random block sequences of writes are
checked against a plain list model; every page and "as of" answer verifies against the
key's committed peaks, and a changed, reordered, truncated or gapped answer is rejected
with the kind of failure named. Hypothesis drives the data (its own seeded search)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from xinlian import codec
from xinlian.crypto.hashes import sha256, sm3
from xinlian.storage import mmr, provenance
from xinlian.storage.errors import (
    IncompleteAnswerError,
    InvalidKeyError,
    MalformedProofError,
    ProofError,
    QueryError,
    ReorderedAnswerError,
    TamperedAnswerError,
    VersionError,
)
from xinlian.storage.kv import Store, WriteBatch
from xinlian.storage.provenance import Provenance, Write
from xinlian.storage.provenance_proof import (
    RECORD_SIZE,
    HistoryPage,
    HistoryQuery,
    Version,
    encode_version,
    verify_as_of,
    verify_history,
)

KEYS = [b"c1/r1", b"c1/r2", b"c2/r1"]
# a block: (key number, value or None for a delete) per transaction, in block order
BLOCKS = st.lists(st.lists(st.tuples(st.integers(0, len(KEYS) - 1),
                                     st.none() | st.binary(max_size=3)), max_size=5),
                  min_size=1, max_size=40)
BATCHES = st.lists(st.booleans(), min_size=40, max_size=40)  # commit after block i?
SETTINGS = settings(max_examples=40, deadline=None)
Model = dict[bytes, list[Version]]
Blocks = list[list[tuple[int, bytes | None]]]


@contextmanager
def _fresh() -> Iterator[Store]:
    """A new store, with chunks of 3 versions so that random histories cross many chunk
    boundaries (within a batch and between batches)."""
    with tempfile.TemporaryDirectory() as path, patch.object(provenance, "CHUNK", 3), \
            Store(Path(path), sub_dbs=provenance.SUB_DBS, durable=False) as opened:
        yield opened


@pytest.fixture
def store() -> Iterator[Store]:
    with tempfile.TemporaryDirectory() as path, \
            Store(Path(path), sub_dbs=provenance.SUB_DBS, durable=False) as opened:
        yield opened


def _load(store: Store, blocks: Blocks, commits: list[bool]) -> tuple[Provenance, Model]:
    """Blocks at heights 2, 4, 6... (gaps, as blocks without data writes leave), applied
    into one batch that commits after block i when commits[i] (and after the last); the
    model is the list of versions of each key."""
    history = Provenance(store, sha256)
    model: Model = {}
    batch = WriteBatch()
    for number, block in enumerate(blocks):
        height = 2 * number + 2
        writes = []
        for tx, (key, value) in enumerate(block):
            value_hash = None if value is None else sha256(value)
            tx_hash = sha256(b"tx%d/%d" % (height, tx))
            writes.append(Write(KEYS[key], value_hash, tx, tx_hash))
            model.setdefault(KEYS[key], []).append(Version(
                height, tx, 0 if value is None else 1, value_hash or bytes(32), tx_hash))
        peaks = history.apply(height, writes, batch)
        assert set(peaks) == {w.key for w in writes}
        if commits[number] or number == len(blocks) - 1:
            store.commit(batch)
        for written, value in peaks.items():
            assert codec.decode(value, mmr.Peaks).size == len(model[written])
    for name, versions in model.items():
        assert codec.decode(history.peaks(name), mmr.Peaks) == mmr.peaks_of(
            sha256, [encode_version(v) for v in versions])
    return history, model


@SETTINGS
@given(BLOCKS, BATCHES, st.data())
def test_every_page_matches_the_model_and_verifies(blocks: Blocks, commits: list[bool],
                                                   data: st.DataObject) -> None:
    with _fresh() as store:
        history, model = _load(store, blocks, commits)
        for key in KEYS:
            versions = model.get(key, [])
            peaks = history.peaks(key)
            first = data.draw(st.integers(0, len(versions) + 1))
            stop = data.draw(st.none() | st.integers(first + 1, len(versions) + 3))
            query = HistoryQuery(first, stop, data.draw(st.integers(1, 50)))
            answer, page = history.history(key, query)
            expected = versions[first:query.end(len(versions))]
            assert list(answer) == expected
            assert list(verify_history(peaks, query, page, sha256)) == expected
            # the whole history in one page: complete, as the committed size says
            whole, page = history.history(key, HistoryQuery())
            assert list(verify_history(peaks, HistoryQuery(), page, sha256)) == versions
            assert list(whole) == versions


@SETTINGS
@given(BLOCKS, BATCHES, st.data())
def test_as_of_gives_the_version_in_force(blocks: Blocks, commits: list[bool],
                                          data: st.DataObject) -> None:
    with _fresh() as store:
        history, model = _load(store, blocks, commits)
        for key in KEYS:
            versions = model.get(key, [])
            height = data.draw(st.integers(0, 2 * len(blocks) + 3))
            in_force = [v for v in versions if v.height <= height]
            found, page = history.as_of(key, height)
            assert found == (in_force[-1] if in_force else None)
            assert verify_as_of(history.peaks(key), height, page, sha256) == found


@SETTINGS
@given(BLOCKS, BATCHES, st.data())
def test_invalid_changed_answers_are_rejected_as_what_they_are(
        blocks: Blocks, commits: list[bool], data: st.DataObject) -> None:
    with _fresh() as store:
        history, model = _load(store, blocks, commits)
        key = max(KEYS, key=lambda k: len(model.get(k, [])))
        versions = model.get(key, [])
        if len(versions) < 2:
            return
        peaks = history.peaks(key)
        query = HistoryQuery()
        _, page = history.history(key, query)
        records = page.records
        i = data.draw(st.integers(0, len(versions) - 1))
        at = i * RECORD_SIZE + data.draw(st.integers(0, RECORD_SIZE - 1))
        flipped = records[:at] + bytes([records[at] ^ 1]) + records[at + 1:]
        with pytest.raises(ProofError):  # a changed byte: tampered (or, in the order bytes,
            verify_history(peaks, query, replace(page, records=flipped), sha256)  # reordered)
        gap = records[:i * RECORD_SIZE] + records[(i + 1) * RECORD_SIZE:]
        with pytest.raises(IncompleteAnswerError):  # one version left out (or the last)
            verify_history(peaks, query, replace(page, records=gap), sha256)
        with pytest.raises(TamperedAnswerError):  # one version twice
            verify_history(peaks, query, replace(page, records=records + records[-RECORD_SIZE:]),
                           sha256)
        j = data.draw(st.integers(0, len(versions) - 2))
        a, b = versions[j], versions[j + 1]
        r = RECORD_SIZE
        swapped = (records[:j * r] + records[(j + 1) * r:(j + 2) * r]
                   + records[j * r:(j + 1) * r] + records[(j + 2) * r:])
        with pytest.raises(ReorderedAnswerError if (a.height, a.tx_index) < (b.height, b.tx_index)
                           else TamperedAnswerError):
            verify_history(peaks, query, replace(page, records=swapped), sha256)
        with pytest.raises(TamperedAnswerError):  # an answer for an older, shorter history
            verify_history(peaks, query, replace(page, size=page.size - 1), sha256)
        if page.siblings:
            with pytest.raises(TamperedAnswerError):
                verify_history(peaks, query, replace(page, siblings=page.siblings[32:]), sha256)
        # a page of the right length but the wrong versions
        _, later = history.history(key, HistoryQuery(1, None, 1))
        with pytest.raises(TamperedAnswerError):
            verify_history(peaks, HistoryQuery(0, None, 1), replace(later, first=0), sha256)
        # "as of" from a version that is not the one in force
        last = versions[-1].height
        _, page = history.as_of(key, last)
        if versions[0].height < last:
            stale = next(n for n, v in enumerate(versions) if v.height < last)
            _, early = history.history(key, HistoryQuery(stale, stale + 2))
            with pytest.raises(IncompleteAnswerError):
                verify_as_of(peaks, last, early, sha256)


def test_old_histories_prove_against_their_own_peaks(store: Store) -> None:
    history = Provenance(store, sm3)  # the national suite's hash
    key, kept = b"asset-7", []
    for height in range(1, 41):
        batch = WriteBatch()
        kept.append(history.apply(height, [Write(key, sm3(b"%d" % height), 0,
                                                 sm3(b"t%d" % height))], batch)[key])
        store.commit(batch)
    for size in (1, 5, 16, 33, 40):
        peaks = kept[size - 1]
        answer, page = history.history(key, HistoryQuery(), size=size)
        assert [v.height for v in verify_history(peaks, HistoryQuery(), page, sm3)] == \
            [v.height for v in answer] == list(range(1, size + 1))
        found, page = history.as_of(key, 12, size=size)
        assert verify_as_of(peaks, 12, page, sm3) == found
        assert found is not None and found.height == min(12, size)
    with pytest.raises(TamperedAnswerError):  # today's answer against older peaks
        verify_history(kept[9], HistoryQuery(), history.history(key, HistoryQuery())[1], sm3)
    with pytest.raises(QueryError):
        history.history(key, HistoryQuery(), size=41)


def test_a_key_never_written_has_an_empty_proven_history(store: Store) -> None:
    history = Provenance(store, sha256)
    peaks = history.peaks(b"nobody")
    answer, page = history.history(b"nobody", HistoryQuery())
    assert len(answer) == 0 and list(verify_history(peaks, HistoryQuery(), page, sha256)) == []
    found, page = history.as_of(b"nobody", 10)
    assert found is None and verify_as_of(peaks, 10, page, sha256) is None
    with pytest.raises(TamperedAnswerError):  # an invented version
        forged = HistoryPage(1, 0, bytes(RECORD_SIZE), b"")
        verify_history(peaks, HistoryQuery(), forged, sha256)


def test_blocks_applied_into_one_batch_chain_and_commit_together(store: Store) -> None:
    history = Provenance(store, sha256)
    batch = WriteBatch()
    first = history.apply(1, [Write(b"k", sha256(b"a"), 0, sha256(b"t1"))], batch)
    second = history.apply(2, [Write(b"k", None, 0, sha256(b"t2"))], batch)
    assert history.peaks(b"k") == codec.encode(mmr.EMPTY)  # nothing committed yet
    store.commit(batch)
    assert history.peaks(b"k") == second[b"k"] != first[b"k"]
    versions = verify_history(second[b"k"], HistoryQuery(),
                              history.history(b"k", HistoryQuery())[1], sha256)
    assert [v.deleted for v in versions] == [False, True]
    assert history.latest_version() == 2


def test_invalid_writes_and_versions_are_refused(store: Store) -> None:
    history = Provenance(store, sha256)
    good = Write(b"k", sha256(b"v"), 0, sha256(b"t"))
    batch = WriteBatch()
    history.apply(5, [good], batch)
    store.commit(batch)
    for version in (5, 4, -1):
        with pytest.raises(VersionError):
            history.apply(version, [good], WriteBatch())
    for bad in (good._replace(key=b""), good._replace(value_hash=b"short"),
                good._replace(tx_hash=b""), good._replace(tx_index=-1),
                good._replace(tx_index=1 << 32)):
        with pytest.raises(InvalidKeyError):
            history.apply(6, [bad], WriteBatch())
    for query in ((-1, None, 10), (3, 3, 10), (0, None, 0), (0, None, 100_001)):
        with pytest.raises(QueryError):
            HistoryQuery(*query)
    with pytest.raises(MalformedProofError):  # peaks that do not decode
        verify_history(b"\x00", HistoryQuery(), HistoryPage(0, 0, b"", b""), sha256)
