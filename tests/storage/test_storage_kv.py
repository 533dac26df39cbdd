"""The LMDB store: atomic batches, snapshots, iteration, growth, reopen, typed errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xinlian.storage import _nodehash
from xinlian.storage.errors import (
    InvalidKeyError,
    StorageError,
    StorageFullError,
    StoreClosedError,
    UnknownDatabaseError,
)
from xinlian.storage.kv import MAX_KEY_SIZE, Store, WriteBatch, seal


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "db", sub_dbs=("a", "b"), map_size=1 << 20)
    yield s
    s.close()


def test_batch_commits_across_sub_databases(store: Store) -> None:
    batch = WriteBatch()
    batch.put("a", b"k", b"1")
    batch.put("b", b"k", b"2")
    assert store.get("a", b"k") is None  # nothing visible before commit
    store.commit(batch)
    assert store.get("a", b"k") == b"1"
    assert store.get("b", b"k") == b"2"


def test_last_operation_on_a_key_wins(store: Store) -> None:
    batch = WriteBatch()
    batch.put("a", b"x", b"1")
    batch.delete("a", b"x")
    batch.put("a", b"y", b"1")
    batch.put("a", b"y", b"2")
    store.commit(batch)
    assert store.get("a", b"x") is None
    assert store.get("a", b"y") == b"2"
    batch.delete("a", b"y")
    store.commit(batch)
    assert store.get("a", b"y") is None


def test_commit_empties_the_batch_and_runs_callbacks_after(store: Store) -> None:
    seen: list[bytes | None] = []
    batch = WriteBatch()
    batch.put("a", b"k", b"v")
    batch.on_commit(lambda: seen.append(store.get("a", b"k")))
    assert seen == []
    store.commit(batch)
    assert seen == [b"v"]
    assert len(batch) == 0
    store.commit(batch)  # the callback does not run twice
    assert seen == [b"v"]


def test_snapshot_is_isolated_from_later_commits(store: Store) -> None:
    batch = WriteBatch()
    batch.put("a", b"k", b"old")
    store.commit(batch)
    with store.snapshot() as snap:
        batch.put("a", b"k", b"new")
        batch.put("a", b"k2", b"new")
        store.commit(batch)
        assert snap.get("a", b"k") == b"old"
        assert snap.get("a", b"k2") is None
    assert store.get("a", b"k") == b"new"


KEYS = [b"\x00", b"a", b"ab", b"abc", b"abd", b"ac", b"b", b"b\xff", b"\xff\xff"]


@pytest.fixture
def filled(store: Store) -> Store:
    batch = WriteBatch()
    for k in KEYS:
        batch.put("a", k, k.upper())
    store.commit(batch)
    return store


def _keys(pairs: list[tuple[bytes, bytes]]) -> list[bytes]:
    return [k for k, _ in pairs]


def test_iteration_by_prefix_and_range(filled: Store) -> None:
    assert _keys(filled.scan("a")) == KEYS
    assert _keys(filled.scan("a", prefix=b"ab")) == [b"ab", b"abc", b"abd"]
    assert _keys(filled.scan("a", prefix=b"ab", reverse=True)) == [b"abd", b"abc", b"ab"]
    assert _keys(filled.scan("a", start=b"abc", stop=b"b")) == [b"abc", b"abd", b"ac"]
    assert _keys(filled.scan("a", start=b"abc", stop=b"b", reverse=True)) == [
        b"ac", b"abd", b"abc"]
    assert _keys(filled.scan("a", prefix=b"b", limit=1)) == [b"b"]
    assert _keys(filled.scan("a", prefix=b"\xff")) == [b"\xff\xff"]
    assert _keys(filled.scan("a", reverse=True, limit=2)) == [b"\xff\xff", b"b\xff"]
    assert _keys(filled.scan("a", prefix=b"zz")) == []
    assert filled.scan("a", limit=0) == []
    assert dict(filled.scan("a", prefix=b"ac")) == {b"ac": b"AC"}


@given(st.sets(st.binary(min_size=1, max_size=4), max_size=30), st.binary(max_size=2),
       st.binary(max_size=3), st.binary(max_size=3), st.booleans())
def test_iteration_matches_a_sorted_model(tmp_path_factory: pytest.TempPathFactory,
                                          keys: set[bytes], prefix: bytes, start: bytes,
                                          stop: bytes, reverse: bool) -> None:
    with Store(tmp_path_factory.mktemp("it"), sub_dbs=("a",), map_size=1 << 20) as s:
        batch = WriteBatch()
        for k in keys:
            batch.put("a", k, b"v")
        s.commit(batch)
        want = sorted(k for k in keys if k.startswith(prefix) and start <= k
                      and (not stop or k < stop))
        if reverse:
            want.reverse()
        got = _keys(s.scan("a", prefix=prefix, start=start, stop=stop or None,
                           reverse=reverse))
        assert got == want


def test_uncommitted_batch_leaves_no_trace_after_reopen(tmp_path: Path) -> None:
    path = tmp_path / "db"
    with Store(path, sub_dbs=("a",)) as s:
        batch = WriteBatch()
        batch.put("a", b"kept", b"1")
        s.commit(batch)
        batch.put("a", b"lost", b"2")
        batch.delete("a", b"kept")
    with Store(path, sub_dbs=("a",)) as s:
        assert s.scan("a") == [(b"kept", b"1")]


def test_map_grows_when_full(tmp_path: Path) -> None:
    path = tmp_path / "db"
    with Store(path, sub_dbs=("a",), map_size=64 * 1024) as s:
        start = s.map_size
        batch = WriteBatch()
        for i in range(2000):
            batch.put("a", i.to_bytes(4, "big"), bytes(200))
        s.commit(batch)
        assert s.map_size > start
        assert len(s.scan("a")) == 2000
    with Store(path, sub_dbs=("a",), map_size=64 * 1024) as s:
        assert len(s.scan("a")) == 2000


def test_map_growth_limit_is_a_typed_error_and_commits_nothing(tmp_path: Path) -> None:
    with Store(tmp_path / "db", sub_dbs=("a",), map_size=64 * 1024,
               max_map_size=64 * 1024) as s:
        batch = WriteBatch()
        for i in range(2000):
            batch.put("a", i.to_bytes(4, "big"), bytes(200))
        with pytest.raises(StorageFullError) as info:
            s.commit(batch)
        assert info.value.code == 3004
        assert s.scan("a") == []


def _big_batch() -> WriteBatch:
    batch = WriteBatch()
    for i in range(2000):
        batch.put("a", i.to_bytes(4, "big"), bytes(200))
    return batch


def test_growth_gives_up_if_a_snapshot_stays_open(tmp_path: Path) -> None:
    with Store(tmp_path / "db", sub_dbs=("a",), map_size=64 * 1024, resize_wait=0) as s:
        batch = _big_batch()
        with s.snapshot(), pytest.raises(StorageFullError):
            s.commit(batch)  # this very thread holds the snapshot: nothing to wait for
        s.commit(batch)
        assert len(s.scan("a")) == 2000


def test_growth_waits_for_snapshots_of_other_threads(tmp_path: Path) -> None:
    with Store(tmp_path / "db", sub_dbs=("a",), map_size=64 * 1024) as s:
        opened = threading.Event()
        seen: list[int] = []

        def reader() -> None:
            with s.snapshot() as snap:
                opened.set()
                with s._readers_cond:  # hold the view until the commit needs to grow
                    s._readers_cond.wait_for(lambda: s._resizing)
                seen.append(len(list(snap.items("a"))))

        thread = threading.Thread(target=reader)
        thread.start()
        opened.wait()
        start = s.map_size
        s.commit(_big_batch())
        thread.join()
        assert seen == [0]  # the open view never saw the batch
        assert s.map_size > start
        assert len(s.scan("a")) == 2000


def test_bad_keys_and_values_are_typed_errors() -> None:
    batch = WriteBatch()
    for key in (b"", b"x" * (MAX_KEY_SIZE + 1), "text", bytearray(b"k")):
        with pytest.raises(InvalidKeyError):
            batch.put("a", key, b"v")  # type: ignore[arg-type]
        with pytest.raises(InvalidKeyError):
            batch.delete("a", key)  # type: ignore[arg-type]
    with pytest.raises(InvalidKeyError):
        batch.put("a", b"k", "v")  # type: ignore[arg-type]
    batch.put("a", b"x" * MAX_KEY_SIZE, b"")
    assert len(batch) == 1


def test_unknown_sub_database_is_typed_and_commits_nothing(store: Store) -> None:
    batch = WriteBatch()
    batch.put("a", b"k", b"v")
    batch.put("nope", b"k", b"v")
    with pytest.raises(UnknownDatabaseError) as info:
        store.commit(batch)
    assert info.value.code == 3002
    assert store.get("a", b"k") is None
    with pytest.raises(UnknownDatabaseError):
        store.get("nope", b"k")
    with pytest.raises(UnknownDatabaseError):
        store.scan("nope")


def test_closed_store_is_a_typed_error(tmp_path: Path) -> None:
    s = Store(tmp_path / "db", sub_dbs=("a",))
    s.close()
    s.close()
    with pytest.raises(StoreClosedError):
        s.get("a", b"k")
    with pytest.raises(StoreClosedError):
        s.commit(WriteBatch())


def test_a_store_needs_sub_databases(tmp_path: Path) -> None:
    with pytest.raises(StorageError):
        Store(tmp_path / "db", sub_dbs=())


def test_errors_serialise_with_codes() -> None:
    assert InvalidKeyError("bad").to_dict() == {
        "code": 3003, "name": "invalid_key", "message": "bad"}


READER = """
import sys
from xinlian.storage.errors import StorageError
from xinlian.storage.kv import Store, WriteBatch
store = Store(sys.argv[1], sub_dbs=("a", "b"), readonly=True)
for line in sys.stdin:
    if line.strip() == "write":
        batch = WriteBatch()
        batch.put("a", b"x", b"y")
        try:
            store.commit(batch)
            print("written", flush=True)
        except StorageError as exc:
            print(exc.name, flush=True)
        continue
    value = store.get("a", line.strip().encode())
    print("none" if value is None else value.decode(), flush=True)
"""


def test_a_read_only_store_in_another_process_sees_commits_and_map_growth(
        tmp_path: Path) -> None:
    import subprocess
    import sys

    writer = Store(tmp_path / "db", sub_dbs=("a", "b"), map_size=1 << 20)
    batch = WriteBatch()
    batch.put("a", b"k1", b"v1")
    writer.commit(batch)
    reader = subprocess.Popen([sys.executable, "-c", READER, str(tmp_path / "db")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert reader.stdin is not None and reader.stdout is not None

    def ask(line: str) -> str:
        assert reader.stdin is not None and reader.stdout is not None
        reader.stdin.write(line + "\n")
        reader.stdin.flush()
        return reader.stdout.readline().strip()

    try:
        assert ask("k1") == "v1"
        assert ask("k2") == "none"
        before = writer.map_size
        for i in range(8):  # 4 MiB of values: the writer's map grows past its 1 MiB
            batch.put("b", b"big%d" % i, bytes(512 * 1024))
        batch.put("a", b"k2", b"v2")
        writer.commit(batch)
        assert writer.map_size > before
        assert ask("k2") == "v2"  # the reader adopts the grown map
        assert ask("write") == "storage_io"
    finally:
        reader.stdin.close()
        reader.wait(timeout=30)
        writer.close()


@given(st.dictionaries(st.binary(min_size=1, max_size=40), st.none() | st.binary(max_size=300),
                       max_size=60))
def test_native_sealing_of_a_batch_matches_seal_and_sort(ops: dict[bytes, bytes | None]) -> None:
    """Store.commit's native plan: the puts only, each sealed as `seal` does, in key order."""
    assert _nodehash.seal_puts(ops) == sorted(
        (key, seal(key, value)) for key, value in ops.items() if value is not None)


def test_native_sealing_refuses_what_is_not_bytes() -> None:
    for ops in ({b"k": "text"}, {"k": b"v"}, [(b"k", b"v")]):
        with pytest.raises(TypeError):
            _nodehash.seal_puts(ops)  # type: ignore[arg-type]
