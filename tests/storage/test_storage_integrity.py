"""Damaged stores: a flipped byte, a moved value or a truncated file reads as a typed storage
error (3xxx), never as data and never as the engine's own exception."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from xinlian.storage.errors import CorruptDataError, StorageError
from xinlian.storage.kv import Store, WriteBatch
from xinlian.testing.disk import flip_byte_everywhere

MARKER = b"balance:\x00\x00\x00\x7f\xff\xff\xff"


def _filled(path: Path) -> None:
    with Store(path, sub_dbs=("a", "b")) as store:
        batch = WriteBatch()
        batch.put("a", b"alice", MARKER)
        for i in range(2000):
            batch.put("b", b"k%05d" % i, os.urandom(64))
        store.commit(batch)


def test_a_flipped_byte_in_a_value_is_detected_on_read(tmp_path: Path) -> None:
    _filled(tmp_path / "s")
    assert flip_byte_everywhere(tmp_path / "s" / "data.mdb", MARKER, 9) >= 1
    with Store(tmp_path / "s", sub_dbs=("a", "b")) as store:
        with pytest.raises(CorruptDataError):
            store.get("a", b"alice")
        with pytest.raises(CorruptDataError):
            store.scan("a")
        assert store.get("b", b"k00001") is not None  # the rest still reads
        records, problems = store.check()
        assert records == 2001 and len(problems) == 1
        assert isinstance(problems[0], CorruptDataError)


def test_a_value_moved_to_another_key_is_detected(tmp_path: Path) -> None:
    with Store(tmp_path / "s", sub_dbs=("a",)) as store:
        batch = WriteBatch()
        batch.put("a", b"key-one", MARKER)
        store.commit(batch)
    data = (tmp_path / "s" / "data.mdb").read_bytes()
    (tmp_path / "s" / "data.mdb").write_bytes(data.replace(b"key-one", b"key-two"))
    with Store(tmp_path / "s", sub_dbs=("a",)) as store, pytest.raises(CorruptDataError):
        store.get("a", b"key-two")


def test_a_good_store_checks_clean(tmp_path: Path) -> None:
    _filled(tmp_path / "s")
    with Store(tmp_path / "s", sub_dbs=("a", "b")) as store:
        assert store.check() == (2001, [])


@pytest.mark.parametrize("keep", [100, 4096, 8192, 20_000, 100_000])
def test_a_truncated_store_gives_typed_errors(tmp_path: Path, keep: int) -> None:
    """Regression: a truncated data.mdb sometimes raised lmdb.CorruptedError raw."""
    _filled(tmp_path / "good")
    shutil.copytree(tmp_path / "good", tmp_path / "s")
    with open(tmp_path / "s" / "data.mdb", "r+b") as f:
        f.truncate(keep)
    with pytest.raises(StorageError), Store(tmp_path / "s", sub_dbs=("a", "b")) as store:
        store.scan("a")
        store.scan("b")
