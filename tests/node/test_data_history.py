"""The node's provenance and block filter indexes over record changes: each change is a
version of its record, with the block's filter over the terms it touched; a store whose
filters are not the ones the state commits to (lost, or imported incomplete) refuses to
append instead of diverging."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from xinlian import codec
from xinlian.execution.data.changes import (
    RecordChange,
    block_terms,
    collection_term,
    history_key,
    record_term,
)
from xinlian.execution.data.model import StoredRecord
from xinlian.node.data_history import SUB_DBS, DataHistory
from xinlian.storage.bloom import BLOOM_ROOT_KEY
from xinlian.storage.errors import CorruptDataError
from xinlian.storage.kv import Store, WriteBatch
from xinlian.storage.provenance_proof import HistoryQuery, verify_history


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


CID = bytes(range(16))
RECORD = codec.encode(StoredRecord([b"x", None, b"y"], 1, bytes(32)))


def test_changes_become_versions_and_filter_terms(tmp_path: Path) -> None:
    with Store(tmp_path, sub_dbs=SUB_DBS, durable=False) as store:
        history = DataHistory(store, _sha)
        committed = None
        for height in (2, 5):
            batch = WriteBatch()
            changes = [RecordChange(CID + b"r1", RECORD if height == 2 else None, 0,
                                    bytes([height]) * 32)]
            writes = history.apply(height, changes, batch, committed)
            store.commit(batch)
            committed = writes[BLOOM_ROOT_KEY]
        peaks = writes[history_key(CID + b"r1")]
        assert peaks is not None
        _, page = history.provenance.history(history_key(CID + b"r1"), HistoryQuery())
        versions = verify_history(peaks, HistoryQuery(), page, _sha)
        assert [(v.height, v.deleted, v.tx_hash[0]) for v in versions] == [
            (2, False, 2), (5, True, 5)]
        assert versions[0].value_hash == _sha(RECORD)
    assert block_terms([RecordChange(CID + b"r1", RECORD, 0, bytes(32))]) == {
        collection_term(CID), record_term(CID + b"r1"), b"a" + CID + b"\x00",
        b"a" + CID + b"\x02"}


def test_filters_the_state_does_not_commit_to_are_refused(tmp_path: Path) -> None:
    with Store(tmp_path, sub_dbs=SUB_DBS, durable=False) as store:
        history = DataHistory(store, _sha)
        change = [RecordChange(CID + b"r1", RECORD, 0, bytes(32))]
        # a state that commits to filters this store never had
        with Store(tmp_path / "other", sub_dbs=SUB_DBS, durable=False) as other_store:
            committed = DataHistory(other_store, _sha).apply(3, change, WriteBatch(), None)
        with pytest.raises(CorruptDataError):
            history.apply(7, change, WriteBatch(), committed[BLOOM_ROOT_KEY])
