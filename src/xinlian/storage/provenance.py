"""Per-key version history: every value a key ever had and the transaction that set it.

Theory of operation. Each key has its own Merkle Mountain Range (storage/mmr.py) whose
leaves are the key's version records, in the order the chain wrote them (the record format,
the proofs and the verifier are in `provenance_proof.py`). `apply` appends one block's
writes, in block order, and returns each written key's new peaks (encoded `mmr.Peaks`): the
caller puts them in the state tree (the data model keeps them at `dh/<collection id><record
id>`), so the header's state root commits to every key's whole history and its length.

Storage, all under the key's id `H(key)` so one key's records sit together in LMDB: the
version records in whole chunks of CHUNK (`CHUNKS_DB`, by chunk number; a page reads one
LMDB record per CHUNK versions, not one per version), the records of the open chunk one by
one (`ITEMS_DB`, by index; moved into a chunk when it fills, so each record is written
twice, never more), the interior nodes by (level, index) in `NODES_DB`, written once and
never changed, and the latest peaks (what the next append starts from) in `PEAKS_DB`. No
version or node ever changes, so a history proves against the peaks of any earlier block
too: a query names the size the client's peaks commit to.
`apply` writes into the caller's batch, uncommitted; several blocks may be applied into one
batch before it commits.

State sync (`HistoryImport`): a joining node takes each history whole from peers, page by
page, every page proven by its run proof against the peaks its verified state snapshot
holds, and `adopt`s them. Histories are found by their ids, so a caller that keys them by
their state key (the data model: `dh/<collection id><record id>`) finds a history's id in
the snapshot: it is the state tree's path of those peaks.
"""

from __future__ import annotations

import struct
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from xinlian import codec
from xinlian.storage import mmr
from xinlian.storage.errors import (
    BadChunkError,
    CorruptDataError,
    InvalidKeyError,
    MalformedProofError,
    ProofError,
    QueryError,
    VersionError,
)
from xinlian.storage.kv import PerBatch, Snapshot, Store, WriteBatch, check_sub_dbs
from xinlian.storage.proof import HASH_SIZE, Hasher
from xinlian.storage.provenance_proof import (
    DELETE,
    NO_VALUE,
    PUT,
    RECORD,
    RECORD_SIZE,
    HistoryPage,
    HistoryQuery,
    Version,
    Versions,
    as_of_run,
    verify_history,
)

ITEMS_DB = "prov_items"
CHUNKS_DB = "prov_chunks"
NODES_DB = "prov_nodes"
PEAKS_DB = "prov_peaks"
SUB_DBS = (ITEMS_DB, CHUNKS_DB, NODES_DB, PEAKS_DB)
CHUNK = 32  # records per chunk record: a page reads one record per CHUNK versions
MAX_KEY_SIZE = 4096
_LATEST = b"v"  # PEAKS_DB: the last version applied (key ids are 32 bytes, never this)
_u64 = struct.Struct(">Q")
_MAX_TX_INDEX = (1 << 32) - 1


class Write(NamedTuple):
    """One write of `key` in a block: the value's hash (None: a delete) and the index and
    hash of the transaction that made it."""

    key: bytes
    value_hash: bytes | None
    tx_index: int
    tx_hash: bytes


def _node_key(key_id: bytes, level: int, index: int) -> bytes:
    return key_id + bytes([level]) + _u64.pack(index)


class Provenance:
    """See the module docstring. One writer at a time; reads may run from other threads."""

    def __init__(self, store: Store, hasher: Hasher) -> None:
        check_sub_dbs(store, SUB_DBS, "provenance")
        self._store = store
        self.hasher = hasher
        self._pending = PerBatch(_Pending)

    def key_id(self, key: bytes) -> bytes:
        return self.hasher(key)

    # -- writes ------------------------------------------------------------------------

    def apply(self, version: int, writes: Sequence[Write], batch: WriteBatch
              ) -> dict[bytes, bytes]:
        """Append block `version`'s writes (in block order) into `batch`, uncommitted;
        return the new encoded peaks of each key written."""
        pending = self._pending(batch)
        previous = pending.version if pending.version is not None else self.latest_version()
        if type(version) is not int or version < 0 or (
                previous is not None and version <= previous):
            raise VersionError(f"provenance version {version} must be above {previous}")
        for write in writes:
            _check_write(write)
        out: dict[bytes, bytes] = {}
        with self._store.snapshot() as snap:
            for write in writes:
                key_id = self.key_id(write.key)
                peaks = pending.peaks.get(key_id)
                if peaks is None:
                    peaks = self._peaks(snap, key_id)
                record = RECORD.pack(version, write.tx_index,
                                     DELETE if write.value_hash is None else PUT,
                                     write.value_hash or NO_VALUE, write.tx_hash)
                batch.put(ITEMS_DB, key_id + _u64.pack(peaks.size), record)
                opened = pending.opened.setdefault(key_id, [])
                opened.append(record)
                peaks = mmr.append(self.hasher, peaks, record,
                                   _NodeWriter(batch, key_id).written)
                if peaks.size % CHUNK == 0:
                    self._close_chunk(snap, key_id, peaks.size, opened, batch)
                pending.peaks[key_id] = peaks
                out[write.key] = encoded = codec.encode(peaks)
                batch.put(PEAKS_DB, key_id, encoded)
        batch.put(PEAKS_DB, _LATEST, _u64.pack(version))
        pending.version = version
        return out

    def _close_chunk(self, snap: Snapshot, key_id: bytes, size: int, opened: list[bytes],
                     batch: WriteBatch) -> None:
        """Move the CHUNK records just completed (ending at `size`) into one chunk record:
        those of earlier batches are read back, `opened` holds this batch's."""
        start = size - CHUNK
        earlier = b"".join(v for _, v in snap.items(
            ITEMS_DB, start=key_id + _u64.pack(start),
            stop=key_id + _u64.pack(size - len(opened))))
        chunk = earlier + b"".join(opened)
        if len(chunk) != CHUNK * RECORD_SIZE:
            raise CorruptDataError(f"versions of history {key_id.hex()} are missing")
        batch.put(CHUNKS_DB, key_id + _u64.pack(start // CHUNK), chunk)
        for index in range(start, size):
            batch.delete(ITEMS_DB, key_id + _u64.pack(index))
        opened.clear()

    def adopt(self, version: int, histories: Mapping[bytes, bytes], batch: WriteBatch
              ) -> None:
        """Write whole histories (records joined, by key id) taken from peers by state sync,
        as they stood at `version`, into `batch`: the layout `apply` makes, so appends and
        reads go on from them as on the node that wrote them."""
        for key_id, records in sorted(histories.items()):
            peaks = mmr.EMPTY
            written = _NodeWriter(batch, key_id).written
            for start in range(0, len(records), RECORD_SIZE):
                peaks = mmr.append(self.hasher, peaks, records[start:start + RECORD_SIZE],
                                   written)
            chunked = peaks.size // CHUNK * CHUNK
            for index in range(0, chunked, CHUNK):
                batch.put(CHUNKS_DB, key_id + _u64.pack(index // CHUNK),
                          records[index * RECORD_SIZE:(index + CHUNK) * RECORD_SIZE])
            for index in range(chunked, peaks.size):
                batch.put(ITEMS_DB, key_id + _u64.pack(index),
                          records[index * RECORD_SIZE:(index + 1) * RECORD_SIZE])
            batch.put(PEAKS_DB, key_id, codec.encode(peaks))
        batch.put(PEAKS_DB, _LATEST, _u64.pack(version))

    # -- reads -------------------------------------------------------------------------

    def key_ids(self, after: bytes, limit: int) -> list[bytes]:
        """The ids of the histories held, in order, after `after` (b"": from the first)."""
        with self._store.snapshot() as snap:
            return [k for k, _ in snap.items(PEAKS_DB, start=after + b"\x00", limit=limit + 1)
                    if k != _LATEST][:limit]

    def page_by_id(self, key_id: bytes, first: int, size: int, limit: int
                   ) -> HistoryPage | None:
        """Versions [first, first + limit) of the history under `key_id` when it held `size`
        versions, with their run proof (what state sync serves); None if this store holds
        no such history."""
        with self._store.snapshot() as snap:
            reader = _Reader(self, snap, key_id)
            if not 0 <= first < size <= reader.latest or limit < 1:
                return None
            reader.size = size
            return reader.page(first, min(size, first + limit))

    def latest_version(self) -> int | None:
        raw = self._store.get(PEAKS_DB, _LATEST)
        return None if raw is None else _u64.unpack(raw)[0]

    def peaks(self, key: bytes) -> bytes:
        """The key's latest committed peaks, encoded (the state value)."""
        with self._store.snapshot() as snap:
            return codec.encode(self._peaks(snap, self.key_id(key)))

    def _peaks(self, snap: Snapshot, key_id: bytes) -> mmr.Peaks:
        raw = snap.get(PEAKS_DB, key_id)
        if raw is None:
            return mmr.EMPTY
        try:
            peaks: mmr.Peaks = codec.decode(raw, mmr.Peaks)
        except codec.CodecError as exc:
            raise CorruptDataError(f"bad history peaks {key_id.hex()}: {exc.message}") from None
        return peaks

    def _reader(self, snap: Snapshot, key: bytes, size: int | None) -> _Reader:
        reader = _Reader(self, snap, self.key_id(key))
        if size is not None:
            if not 0 <= size <= reader.latest:
                raise QueryError(f"the history holds {reader.latest} versions, not {size}")
            reader.size = size
        return reader

    def history(self, key: bytes, query: HistoryQuery, size: int | None = None
                ) -> tuple[Versions, HistoryPage]:
        """The versions the query asks for, of the key's history when it held `size`
        versions (default: now), and their page with its proof."""
        with self._store.snapshot() as snap:
            reader = self._reader(snap, key, size)
            page = reader.page(query.first, query.end(reader.size))
        return Versions(page.records), page

    def as_of(self, key: bytes, height: int, size: int | None = None
              ) -> tuple[Version | None, HistoryPage]:
        """The key's version in force at the end of block `height` (None: none yet), and
        the page that proves it (`verify_as_of`)."""
        with self._store.snapshot() as snap:
            reader = self._reader(snap, key, size)
            found = bisect_right(reader, height) - 1
            page = reader.page(*as_of_run(found if found >= 0 else None, reader.size))
        return (Versions(page.records)[0] if found >= 0 else None), page


class _Reader:
    """One key's history in one snapshot, as it was at `size` versions (default: the
    latest); as a sequence, the heights of its versions (for bisect)."""

    def __init__(self, owner: Provenance, snap: Snapshot, key_id: bytes) -> None:
        self._hasher, self._snap, self._key_id = owner.hasher, snap, key_id
        self.latest = owner._peaks(snap, key_id).size
        self.size = self.latest
        self._chunked = self.latest // CHUNK * CHUNK  # records below are in whole chunks

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> int:
        return int(_u64.unpack_from(self.records(index, index + 1))[0])

    def records(self, first: int, stop: int) -> bytes:
        """Records [first, stop), joined: whole chunks from CHUNKS_DB (one read per CHUNK
        records), the open chunk's from ITEMS_DB."""
        key_id, snap, chunked = self._key_id, self._snap, self._chunked
        parts = []
        if first < chunked:
            end = min(stop, chunked)
            joined = b"".join(v for _, v in snap.items(
                CHUNKS_DB, start=key_id + _u64.pack(first // CHUNK),
                stop=key_id + _u64.pack(-(-end // CHUNK))))
            skip = first % CHUNK * RECORD_SIZE
            parts.append(joined[skip:skip + (end - first) * RECORD_SIZE])
        if stop > chunked:
            parts.extend(v for _, v in snap.items(
                ITEMS_DB, start=key_id + _u64.pack(max(first, chunked)),
                stop=key_id + _u64.pack(stop)))
        records = b"".join(parts)
        if len(records) != (stop - first) * RECORD_SIZE:
            raise CorruptDataError(f"versions of history {key_id.hex()} are missing")
        return records

    def _node(self, level: int, index: int) -> bytes | None:
        if level == 0:
            return mmr.leaf_hash(self._hasher, self.records(index, index + 1))
        return self._snap.get(NODES_DB, _node_key(self._key_id, level, index))

    def page(self, first: int, stop: int) -> HistoryPage:
        """Records [first, stop) and the siblings of their run proof."""
        if stop <= first:
            return HistoryPage(self.size, first, b"", b"")
        siblings = mmr.make_run_proof(first, stop, self.size, self._node)
        if siblings is None:
            raise CorruptDataError(f"a node of history {self._key_id.hex()} is missing")
        return HistoryPage(self.size, first, self.records(first, stop), b"".join(siblings))


class HistoryImport:
    """Histories under trusted peaks (from a verified state snapshot), taken from peers a
    page at a time until each is whole: every page proves on its own against its history's
    peaks, so nothing unverified is kept."""

    def __init__(self, hasher: Hasher) -> None:
        self.hasher = hasher
        self.peaks: dict[bytes, bytes] = {}      # key id -> the committed encoded peaks
        self.sizes: dict[bytes, int] = {}
        self.records: dict[bytes, list[bytes]] = {}
        self.taken: dict[bytes, int] = {}        # versions held so far

    def want(self, key_id: bytes, peaks_value: bytes) -> bool:
        """Ask for the history under `key_id`, committed as `peaks_value`; False if those
        are not the peaks of a history (no versions, or no peaks at all)."""
        if key_id in self.peaks:
            return True
        try:
            peaks = mmr.decode_peaks(peaks_value)
        except MalformedProofError:
            return False
        if peaks.size < 1 or codec.encode(peaks) != peaks_value:
            return False
        self.peaks[key_id], self.sizes[key_id] = peaks_value, peaks.size
        self.records[key_id], self.taken[key_id] = [], 0
        return True

    def drop(self, key_id: bytes) -> None:
        """Give up a history no peer holds (a listing that named another kind of value)."""
        for table in (self.peaks, self.sizes, self.records, self.taken):
            table.pop(key_id, None)

    @property
    def wanted(self) -> dict[bytes, tuple[int, int]]:
        """Each history still incomplete: (the next version wanted, its size)."""
        return {k: (self.taken[k], size) for k, size in self.sizes.items()
                if self.taken[k] < size}

    @property
    def done(self) -> bool:
        return all(self.taken[k] == size for k, size in self.sizes.items())

    def add(self, key_id: bytes, page: HistoryPage) -> None:
        """Take the next page of a wanted history; BadChunkError (nothing kept) unless it
        proves against the history's peaks."""
        if key_id not in self.sizes or page.first != self.taken[key_id]:
            raise BadChunkError("a history page that was not asked for")
        count = len(page.records) // RECORD_SIZE
        try:
            if count < 1:
                raise MalformedProofError("an empty history page")
            verify_history(self.peaks[key_id], HistoryQuery(page.first, None, count), page,
                           self.hasher)
        except (ProofError, QueryError, MalformedProofError) as exc:
            raise BadChunkError(f"a history page does not prove: {exc.message}") from None
        self.records[key_id].append(bytes(page.records))
        self.taken[key_id] += count

    def write(self, provenance: Provenance, version: int, batch: WriteBatch) -> None:
        if not self.done:
            raise BadChunkError(f"{len(self.wanted)} histories are still incomplete")
        provenance.adopt(version, {k: b"".join(parts) for k, parts in self.records.items()},
                         batch)


class _Pending:
    """What an uncommitted batch holds: each key's peaks, each key's records appended
    since its last chunk closed, and the last version applied."""

    def __init__(self) -> None:
        self.peaks: dict[bytes, mmr.Peaks] = {}
        self.opened: dict[bytes, list[bytes]] = {}
        self.version: int | None = None


class _NodeWriter:
    """Puts the interior nodes an append makes into the batch (leaves are the records)."""

    def __init__(self, batch: WriteBatch, key_id: bytes) -> None:
        self._batch, self._key_id = batch, key_id

    def written(self, level: int, index: int, node: bytes) -> None:
        if level:
            self._batch.put(NODES_DB, _node_key(self._key_id, level, index), node)


def _check_write(write: Write) -> None:
    key, value_hash, tx_index, tx_hash = write
    if type(key) is not bytes or not 0 < len(key) <= MAX_KEY_SIZE:
        raise InvalidKeyError(f"a history key is 1..{MAX_KEY_SIZE} bytes")
    if value_hash is not None and (type(value_hash) is not bytes
                                   or len(value_hash) != HASH_SIZE):
        raise InvalidKeyError("a value hash is 32 bytes")
    if type(tx_hash) is not bytes or len(tx_hash) != HASH_SIZE:
        raise InvalidKeyError("a transaction hash is 32 bytes")
    if type(tx_index) is not int or not 0 <= tx_index <= _MAX_TX_INDEX:
        raise InvalidKeyError(f"a transaction index is 0..{_MAX_TX_INDEX}")


__all__ = ["SUB_DBS", "HistoryImport", "Provenance", "Write"]
