"""Damaged index records: the per-record checksum (storage/kv.py `seal`) covers every
sub-database of the authenticated indexes. For each index (the inverted keyword index, the
per-key history MMR, the block filters) and each of its sub-databases, every record is
damaged on disk (one bit flipped in the LMDB file's record); then every read of the index
either fails with the typed CorruptDataError (3006) or returns exactly what it returned
before the damage (it did not touch a damaged record): nothing damaged is ever served, and
`Store.check` finds each damaged record."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from xinlian.crypto.hashes import sha256
from xinlian.storage import bloom, inverted, mst, provenance
from xinlian.storage.bloom import BlockFilters
from xinlian.storage.bloom_proof import WindowQuery
from xinlian.storage.errors import CorruptDataError
from xinlian.storage.inverted import InvertedIndex
from xinlian.storage.inverted_proof import TextQuery, text_entries
from xinlian.storage.kv import Store, WriteBatch
from xinlian.storage.provenance import Provenance, Write
from xinlian.storage.provenance_proof import HistoryQuery
from xinlian.testing.disk import flip_records

Reads = dict[str, Callable[[], object]]
SCOPE = b"c1|note"
WORDS = ("red", "green", "blue", "amber")
KEY = b"record-1"
VERSIONS = 2 * provenance.CHUNK + 5  # whole chunks and an open one
TERM = b"\x01meter"


def _fill_inverted(store: Store) -> None:
    index = InvertedIndex(store, sha256)
    for version in (1, 2):
        changes: dict[bytes, bytes | None] = {}
        for i in range(150):
            text = f"{WORDS[(i + version) % 4]} item {i % 9}"
            changes.update(text_entries(SCOPE, b"r%03d" % (i + 100 * version), text))
        batch = WriteBatch()
        index.apply(version, changes, batch)
        store.commit(batch)


def _inverted_reads(store: Store) -> Reads:
    index = InvertedIndex(store, sha256)
    return {
        "keyword": lambda: index.query(TextQuery(SCOPE, ("red", "item")), 2),
        "and-not": lambda: index.query(TextQuery(SCOPE, ("item",), ("3",), limit=50), 2),
        "any": lambda: index.query(TextQuery(SCOPE, ("blue", "amber"), any_of=True), 1),
        "count": lambda: index.count(SCOPE, "green", 2),
    }


def _fill_provenance(store: Store) -> None:
    history = Provenance(store, sha256)
    for height in range(1, VERSIONS + 1):
        batch = WriteBatch()
        history.apply(height, [Write(KEY, sha256(b"v%d" % height), 0,
                                     sha256(b"tx%d" % height))], batch)
        store.commit(batch)


def _provenance_reads(store: Store) -> Reads:
    history = Provenance(store, sha256)
    return {
        "whole": lambda: history.history(KEY, HistoryQuery())[1],
        "middle": lambda: history.history(KEY, HistoryQuery(5, 9))[1],
        "open chunk": lambda: history.history(KEY, HistoryQuery(VERSIONS - 2))[1],
        "as of": lambda: history.as_of(KEY, 7)[1],
        "peaks": lambda: history.peaks(KEY),
        "latest": history.latest_version,
    }


def _fill_filters(store: Store) -> None:
    filters = BlockFilters(store, sha256)
    for height in range(40):
        batch = WriteBatch()
        filters.apply(height, [TERM] if height % 5 == 0 else [b"\x01other%d" % height], batch)
        store.commit(batch)


def _filter_reads(store: Store) -> Reads:
    filters = BlockFilters(store, sha256)
    return {
        "window": lambda: filters.window(WindowQuery(0, 40, (TERM,))),
        "older window": lambda: filters.window(WindowQuery(3, 20, (TERM,)), 30),
        "filter": lambda: filters.filter(10),
        "root": filters.root,
    }


Index = tuple[tuple[str, ...], Callable[[Store], None], Callable[[Store], Reads]]
INDEXES: dict[str, Index] = {
    "inverted": ((*inverted.SUB_DBS, *mst.SUB_DBS), _fill_inverted, _inverted_reads),
    "provenance": (provenance.SUB_DBS, _fill_provenance, _provenance_reads),
    "bloom": (bloom.SUB_DBS, _fill_filters, _filter_reads),
}
# the inverted index keeps its roots in its own sub-database, not the ordered index's
CASES = [(name, db) for name, (dbs, _, _) in INDEXES.items()
         for db in dict.fromkeys(dbs) if (name, db) != ("inverted", mst.ROOTS_DB)]


@pytest.mark.parametrize(("name", "db"), CASES)
def test_every_damaged_index_record_is_detected_and_never_served(
        tmp_path: Path, name: str, db: str) -> None:
    dbs, fill, readers = INDEXES[name]
    with Store(tmp_path, sub_dbs=dbs, durable=False) as store:
        fill(store)
        before = {what: read() for what, read in readers(store).items()}
    damaged = flip_records(tmp_path, db)
    assert damaged >= 1
    with Store(tmp_path, sub_dbs=dbs, durable=False) as store:
        refused = []
        try:
            reads = readers(store)
        except CorruptDataError:  # opening the index reads its latest root
            reads, refused = {}, ["open"]
        for what, read in reads.items():
            try:
                after = read()
            except CorruptDataError:
                refused.append(what)
                continue
            assert after == before[what], (what, "a damaged record was served")
        assert refused, f"no read of {name} touched {db}"
        records, problems = store.check(limit=damaged + 1)
        assert len(problems) == damaged and records >= damaged
        assert all(isinstance(p, CorruptDataError) for p in problems)

