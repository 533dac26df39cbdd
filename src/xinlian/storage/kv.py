"""LMDB key-value store: named sub-databases, one atomic durable write per batch, snapshots.

Theory of operation: writers collect every put and delete for a block (state-tree nodes,
the block, receipts, indexes) in a `WriteBatch`, then `Store.commit` applies the whole batch
inside ONE LMDB write transaction and syncs it to disk before returning. LMDB's copy-on-write
B+trees make that transaction all-or-nothing even under `kill -9` or power loss, so a
reopened store shows exactly the last committed batch. Readers use snapshots (LMDB read
transactions): a consistent view that later commits do not disturb.

Integrity: LMDB checks none of the bytes it returns, so every value is stored with a CRC-32
of its key and value appended (`seal`), checked on every read (`unseal`). A flipped byte on
disk, or a value that moved to another key, reads as CorruptDataError (3006), never as
data; `Store.check` scans a whole store the same way (`xinlian node check`). Every failure
the engine reports is mapped to the storage family: corruption (a truncated or damaged file,
a missing page) to CorruptDataError, anything else to StorageIOError (3005).
"""

from __future__ import annotations

import os
import struct
import threading
import weakref
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Generic, TypeVar, cast

import lmdb

from xinlian.storage._nodehash import seal_puts
from xinlian.storage.errors import (
    CorruptDataError,
    InvalidKeyError,
    StorageError,
    StorageFullError,
    StorageIOError,
    StoreClosedError,
    UnknownDatabaseError,
)

T = TypeVar("T")
MAX_KEY_SIZE = 511          # LMDB's compiled-in key limit
DEFAULT_MAP_SIZE = 1 << 30  # grows by doubling when full
DEFAULT_MAX_MAP_SIZE = 1 << 42
_CRC = struct.Struct(">I")
# The engine's reports of a damaged file, as opposed to an operational failure.
_CORRUPTION = (lmdb.CorruptedError, lmdb.PageNotFoundError, lmdb.InvalidError,
               lmdb.VersionMismatchError, lmdb.BadValsizeError, lmdb.PageFullError,
               lmdb.BadTxnError, lmdb.IncompatibleError, lmdb.PanicError,
               lmdb.BadChecksumError)


def engine_error(exc: lmdb.Error, what: str) -> StorageError:
    """The typed storage error for a failure the engine reported while doing `what`."""
    if isinstance(exc, _CORRUPTION):
        return CorruptDataError(f"{what}: the store is damaged ({exc})")
    return StorageIOError(f"{what}: {exc}")


def seal(key: bytes, value: bytes) -> bytes:
    """The stored form of `value` under `key`: the value and the CRC-32 of key and value.
    The specification of the record format: `commit` seals natively (`seal_puts`, tested
    against this), and readers outside the store (tests, tools) seal with it."""
    return value + _CRC.pack(zlib.crc32(value, zlib.crc32(key)))


def unseal(db: str, key: bytes, stored: bytes) -> bytes:
    """The value in a stored record; CorruptDataError unless its checksum holds."""
    value = stored[:-_CRC.size]
    if len(stored) < _CRC.size or \
            _CRC.unpack_from(stored, len(value))[0] != zlib.crc32(value, zlib.crc32(key)):
        raise CorruptDataError(f"record {key.hex()} in {db!r} fails its checksum")
    return value


def _check_key(key: object) -> bytes:
    if type(key) is not bytes:
        raise InvalidKeyError(f"key must be bytes, not {type(key).__name__}")
    if not 0 < len(key) <= MAX_KEY_SIZE:
        raise InvalidKeyError(f"key length {len(key)} is outside 1..{MAX_KEY_SIZE}")
    return key


class WriteBatch:
    """Puts and deletes addressed to named sub-databases, applied together by `Store.commit`.

    The last operation on a key wins. Callbacks registered with `on_commit` run after the
    batch is durably committed (the state tree uses them to publish its node cache); a
    committed batch is emptied, ready for reuse.
    """

    __slots__ = ("__weakref__", "_callbacks", "_ops")

    def __init__(self) -> None:
        self._ops: dict[str, dict[bytes, bytes | None]] = {}
        self._callbacks: list[Callable[[], None]] = []

    def put(self, db: str, key: bytes, value: bytes) -> None:
        if type(value) is not bytes:
            raise InvalidKeyError(f"value must be bytes, not {type(value).__name__}")
        ops = self._ops.get(db)
        if ops is None:
            ops = self._ops[db] = {}
        ops[_check_key(key)] = value

    def put_many(self, db: str, items: dict[bytes, bytes]) -> None:
        """`put` of every item: one call for a writer with many records (the state tree
        writes a block's nodes this way)."""
        if not all(type(k) is bytes and 0 < len(k) <= MAX_KEY_SIZE and type(v) is bytes
                   for k, v in items.items()):
            for key, value in items.items():
                self.put(db, key, value)  # raises the typed error for the first bad item
        ops = self._ops.get(db)
        if ops is None:
            ops = self._ops[db] = {}
        ops.update(items)

    def delete(self, db: str, key: bytes) -> None:
        ops = self._ops.get(db)
        if ops is None:
            ops = self._ops[db] = {}
        ops[_check_key(key)] = None

    def on_commit(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)

    def __len__(self) -> int:
        return sum(len(ops) for ops in self._ops.values())


class PerBatch(Generic[T]):
    """What a structure keeps about each batch it wrote into and that has not committed yet
    (so a second block applied into the same batch starts from the first), dropped when
    the batch commits."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._held: weakref.WeakKeyDictionary[WriteBatch, T] = weakref.WeakKeyDictionary()

    def __call__(self, batch: WriteBatch) -> T:
        found = self._held.get(batch)
        if found is None:
            found = self._held[batch] = self._factory()
            batch_ref = weakref.ref(batch)
            batch.on_commit(lambda: self._drop(batch_ref))
        return found

    def _drop(self, batch_ref: weakref.ref[WriteBatch]) -> None:
        batch = batch_ref()
        if batch is not None:
            self._held.pop(batch, None)


def check_sub_dbs(store: Store, names: Iterable[str], what: str) -> None:
    """InvalidKeyError unless `store` was opened with every sub-database in `names`."""
    missing = [db for db in names if db not in store.sub_dbs]
    if missing:
        raise InvalidKeyError(f"store lacks the {what} sub-databases {missing}")


def copy_store(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Copy the LMDB environment at `source` into the empty directory `target`, compacted
    (free pages dropped), in ONE read transaction: a consistent image of the last commit
    before the copy began, while another process may keep committing to `source`
    (LMDB's mdb_env_copy2 with MDB_CP_COMPACT). The copy is flushed to disk on return.
    Not from a process that holds `source` open itself: LMDB allows one handle per file
    per process (closing a second one drops the first one's locks)."""
    out = Path(target) / "data.mdb"
    while True:
        try:
            env = lmdb.open(str(source), readonly=True, create=False, subdir=True, lock=True)
        except lmdb.Error as exc:
            raise engine_error(exc, f"cannot open store at {source}") from exc
        try:
            env.copy(str(target), compact=True)
            break
        except lmdb.MapResizedError:  # the writer grew the map since we opened: again
            out.unlink(missing_ok=True)
        except lmdb.Error as exc:
            raise engine_error(exc, f"copy of the store at {source}") from exc
        finally:
            env.close()
    fd = os.open(out, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _prefix_end(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key that starts with `prefix` (None: no bound)."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes([trimmed[-1] + 1])


class Snapshot:
    """A consistent read view (one LMDB read transaction); use via `Store.snapshot()`."""

    __slots__ = ("_dbs", "_txn")

    def __init__(self, txn: lmdb.Transaction, dbs: dict[str, lmdb._Database]) -> None:
        self._txn = txn
        self._dbs = dbs

    def _db(self, db: str) -> lmdb._Database:
        try:
            return self._dbs[db]
        except KeyError:
            raise UnknownDatabaseError(f"no sub-database {db!r}") from None

    def used_bytes(self) -> int:
        """Bytes of the pages of every sub-database and of the main database's tree."""
        try:
            stats = [self._txn.stat(handle) for handle in self._dbs.values()]
            stats.append(self._txn.stat())
        except lmdb.Error as exc:
            raise engine_error(exc, "cannot read the store's page counts") from exc
        return sum((s["branch_pages"] + s["leaf_pages"] + s["overflow_pages"]) * s["psize"]
                   for s in stats)

    def get(self, db: str, key: bytes) -> bytes | None:
        handle = self._db(db)
        try:
            stored = cast(bytes | None, self._txn.get(key, db=handle))
        except lmdb.Error as exc:
            raise engine_error(exc, f"read of {key.hex()} in {db!r}") from exc
        return None if stored is None else unseal(db, key, stored)

    def sealed_reader(self, db: str) -> Callable[[bytes], bytes | None]:
        """A reader of `db`'s records as stored (the value and its CRC, see `seal`), for a
        native caller that checks the seal itself (the state tree's block update,
        _nodebatch.c); engine failures are the typed storage errors."""
        get = partial(self._txn.get, db=self._db(db))

        def read(key: bytes) -> bytes | None:
            try:
                return cast(bytes | None, get(key))
            except lmdb.Error as exc:
                raise engine_error(exc, f"read of {key.hex()} in {db!r}") from exc
        return read

    def items(self, db: str, *, prefix: bytes = b"", start: bytes | None = None,
              stop: bytes | None = None, reverse: bool = False,
              limit: int | None = None) -> Iterator[tuple[bytes, bytes]]:
        """Key/value pairs with `prefix`, `start <= key < stop`, in key order (or reversed)."""
        low = max(prefix, start) if start is not None else prefix
        high = _prefix_end(prefix) if prefix else None
        if stop is not None and (high is None or stop < high):
            high = stop
        handle = self._db(db)
        if limit is not None and limit <= 0:
            return
        try:
            for key, stored in self._records(handle, low, high, reverse, limit):
                yield key, unseal(db, key, stored)
        except lmdb.Error as exc:
            raise engine_error(exc, f"scan of {db!r}") from exc

    def _records(self, handle: lmdb._Database, low: bytes, high: bytes | None, reverse: bool,
                 limit: int | None) -> Iterator[tuple[bytes, bytes]]:
        """Stored records with `low <= key < high`, as the engine holds them."""
        cursor = self._txn.cursor(db=handle)
        count = 0
        if not reverse:
            ok = cursor.set_range(low) if low else cursor.first()
            while ok:
                key = cast(bytes, cursor.key())
                if high is not None and key >= high:
                    return
                yield key, cast(bytes, cursor.value())
                count += 1
                if limit is not None and count >= limit:
                    return
                ok = cursor.next()
        else:
            if high is None:
                ok = cursor.last()
            else:
                ok = cursor.prev() if cursor.set_range(high) else cursor.last()
            while ok:
                key = cast(bytes, cursor.key())
                if key < low:
                    return
                yield key, cast(bytes, cursor.value())
                count += 1
                if limit is not None and count >= limit:
                    return
                ok = cursor.prev()


class Store:
    """An LMDB environment with named sub-databases; see the module docstring."""

    def __init__(self, path: str | os.PathLike[str], *, map_size: int = DEFAULT_MAP_SIZE,
                 sub_dbs: Iterable[str] = (), max_map_size: int = DEFAULT_MAX_MAP_SIZE,
                 resize_wait: float = 30.0, durable: bool = True, readonly: bool = False) -> None:
        """`durable=False`: commits are not flushed to disk; they survive the process
        crashing, not the machine (LMDB keeps them atomic and consistent either way).
        `readonly`: a reader of a store that another process writes (LMDB lets several
        processes share one environment); its sub-databases must exist, commits fail."""
        names = tuple(dict.fromkeys(sub_dbs))
        if not names:
            raise StorageError("a store needs at least one sub-database")
        self.path = Path(path)
        self._max_map_size = max_map_size
        self._resize_wait = resize_wait
        self._write_lock = threading.Lock()  # one commit at a time
        self._readers_cond = threading.Condition()  # guards _readers and _resizing
        self._readers = 0
        self._resizing = False
        try:
            if not readonly:
                self.path.mkdir(parents=True, exist_ok=True)
            # writemap: commits write pages in place through the map instead of copying
            # them from malloc'd buffers (measured ~40% faster for large prunes); with
            # sync=True the commit is still flushed before it returns. Without sync,
            # writemap could corrupt the file in a system crash, so it goes too.
            self._env = lmdb.open(str(self.path), map_size=map_size, max_dbs=len(names),
                                  subdir=True, sync=durable, metasync=durable, lock=True,
                                  writemap=durable and not readonly, readonly=readonly)
            self._dbs = {name: self._env.open_db(name.encode(), create=not readonly)
                         for name in names}
        except lmdb.Error as exc:
            raise engine_error(exc, f"cannot open store at {self.path}") from exc
        self._closed = False

    @property
    def sub_dbs(self) -> tuple[str, ...]:
        return tuple(self._dbs)

    @property
    def map_size(self) -> int:
        return int(self._env.info()["map_size"])

    def used_bytes(self) -> int:
        """Bytes of the pages that hold records (every sub-database's tree pages), the
        free pages left out: LMDB files never shrink, so this, not the file's size, shows
        what the data a node keeps takes (pruning frees pages that later commits reuse)."""
        with self.snapshot() as snap:
            return snap.used_bytes()

    def _live(self) -> lmdb.Environment:
        if self._closed:
            raise StoreClosedError("store is closed")
        return self._env

    def commit(self, batch: WriteBatch) -> None:
        """Apply the whole batch in one write transaction (synced to disk if the store is
        durable), or nothing."""
        env = self._live()
        plan = []
        for db, ops in batch._ops.items():
            if db not in self._dbs:
                raise UnknownDatabaseError(f"no sub-database {db!r}")
            puts = seal_puts(ops)  # sorted (key, seal(key, value)), in one native call
            deletes = [k for k, v in ops.items() if v is None]
            plan.append((self._dbs[db], puts, deletes))
        with self._write_lock:
            while True:
                try:
                    with env.begin(write=True) as txn:
                        for handle, puts, deletes in plan:
                            if puts:
                                txn.cursor(db=handle).putmulti(puts)
                            for key in deletes:
                                txn.delete(key, db=handle)
                    break
                except lmdb.MapFullError:
                    self._grow(env)
                except lmdb.MapResizedError:
                    env.set_mapsize(0)
                except lmdb.Error as exc:
                    raise engine_error(exc, "commit failed") from exc
        callbacks = batch._callbacks
        batch._ops, batch._callbacks = {}, []
        for callback in callbacks:
            callback()

    def _grow(self, env: lmdb.Environment) -> None:
        """Double the map. LMDB allows that only with no read transaction open in this
        process, so new snapshots wait while open ones finish (up to `resize_wait` s)."""
        current = int(env.info()["map_size"])
        if current >= self._max_map_size:
            raise StorageFullError(f"map size {current} reached its limit")
        with self._readers_cond:
            self._resizing = True
            self._readers_cond.notify_all()
            try:
                if not self._readers_cond.wait_for(lambda: self._readers == 0,
                                                   timeout=self._resize_wait):
                    raise StorageFullError("map is full and snapshots stayed open")
                env.set_mapsize(min(current * 2, self._max_map_size))
            finally:
                self._resizing = False
                self._readers_cond.notify_all()

    def get(self, db: str, key: bytes) -> bytes | None:
        with self.snapshot() as snap:
            return snap.get(db, key)

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """A consistent read view for the duration of the `with` block."""
        env = self._live()
        with self._readers_cond:
            self._readers_cond.wait_for(lambda: not self._resizing)
            self._readers += 1
        try:
            txn = env.begin(buffers=False)
        except lmdb.Error as exc:
            self._reader_done()
            raise engine_error(exc, "cannot begin read") from exc
        try:
            yield Snapshot(txn, self._dbs)
        finally:
            txn.abort()
            self._reader_done()

    def _reader_done(self) -> None:
        with self._readers_cond:
            self._readers -= 1
            if self._readers == 0:
                self._readers_cond.notify_all()

    def scan(self, db: str, *, prefix: bytes = b"", start: bytes | None = None,
             stop: bytes | None = None, reverse: bool = False,
             limit: int | None = None) -> list[tuple[bytes, bytes]]:
        """`Snapshot.items` collected into a list from one fresh snapshot."""
        with self.snapshot() as snap:
            return list(snap.items(db, prefix=prefix, start=start, stop=stop,
                                   reverse=reverse, limit=limit))

    def check(self, limit: int = 100) -> tuple[int, list[StorageError]]:
        """Read every record of every sub-database and check it: how many records were read,
        and the first `limit` problems (a record failing its checksum, an engine error)."""
        records, problems = 0, list[StorageError]()
        for db in self._dbs:
            try:
                with self.snapshot() as snap:
                    for key, stored in snap._records(self._dbs[db], b"", None, False, None):
                        records += 1
                        try:
                            unseal(db, key, stored)
                        except CorruptDataError as exc:
                            problems.append(exc)
                        if len(problems) >= limit:
                            return records, problems
            except lmdb.Error as exc:
                problems.append(engine_error(exc, f"scan of {db!r}"))
            except StorageError as exc:
                problems.append(exc)
        return records, problems[:limit]

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._env.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
