"""The node's provenance and block filter indexes over data records (issue #13).

`prepare_block` (node/chain.py) hands `DataHistory.apply` the block's record changes
(execution/data/changes.py) in block order, as version `height`, in the block's one batch:

- provenance (storage/provenance.py): each change appends a version (height, tx index,
  put/delete, the hash of the record's new encoding, tx hash) to the record's history MMR;
  the record's new peaks go into the state at `dh/<collection id><record id>`;
- block filters (storage/bloom.py): the block's Bloom filter over the terms it touched
  (`block_terms`,
  execution/data/changes.py) is appended to one MMR over blocks; its peaks go to `dx/bloom`.

Both are state values, so the header's state root commits to every record's whole history
and to every block's filter. A block without data changes appends nothing (its filter is
written empty when a later block's is appended), so chains without data keep their roots.
A history is stored under its state key (`dh/...`), so its id in the store is the state
tree's path of its peaks.

State sync carries both (`HistorySync`, after the indexes): the filters as runs proven
against the snapshot's `dx/bloom`, the histories page by page, each proven against its
peaks in the snapshot. The state holds the peaks under hashed keys only, so no node can
list the histories from it: each provider lists the history ids it holds, and the joining
node takes the union of its providers' lists, keeping the ids that are paths of the
snapshot, so one honest provider among them (state sync trusts its header only once
members with more than 1/3 of the power attested it, so one is honest) makes it complete.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated

from xinlian import codec
from xinlian.execution.data.changes import RecordChange, block_terms, history_key
from xinlian.storage import bloom, mmr, provenance
from xinlian.storage.bloom import BLOOM_ROOT_KEY, BlockFilters, FilterImport
from xinlian.storage.errors import BadChunkError, CorruptDataError
from xinlian.storage.kv import PerBatch, Store, WriteBatch
from xinlian.storage.proof import HASH_SIZE, Hasher
from xinlian.storage.provenance import HistoryImport, Provenance, Write
from xinlian.storage.provenance_proof import MAX_PAGE, RECORD_SIZE, HistoryPage

SUB_DBS = (*provenance.SUB_DBS, *bloom.SUB_DBS)
_EMPTY = codec.encode(mmr.EMPTY)  # the peaks of no block filters


class DataHistory:
    def __init__(self, store: Store, hasher: Hasher) -> None:
        self.hasher = hasher
        self.provenance = Provenance(store, hasher)
        self.filters = BlockFilters(store, hasher)
        self._used: PerBatch[list[int]] = PerBatch(list)  # the versions applied per batch

    def apply(self, version: int, changes: Sequence[RecordChange], batch: WriteBatch,
              committed: bytes | None) -> dict[bytes, bytes | None]:
        """Block `version`'s changes into `batch`, uncommitted; the state values to write
        (each changed record's peaks, the filters' peaks). `committed`: the state's
        `dx/bloom` before the block. CorruptDataError when the stored filters are not the
        ones the state commits to (a store that lost them, or was imported incomplete):
        appending to other ones would diverge."""
        used = self._used(batch)
        if not used and self.filters.root() != (committed or _EMPTY):
            raise CorruptDataError("this node's record histories and block filters are not "
                                   "the ones the state commits to (joined by state sync?)")
        used.append(version)
        hasher = self.hasher
        writes = [Write(history_key(c.key), None if c.value is None else hasher(c.value),
                        c.tx_index, c.tx_hash) for c in changes]
        out: dict[bytes, bytes | None] = dict(self.provenance.apply(version, writes, batch))
        terms = block_terms(changes)
        out[BLOOM_ROOT_KEY] = self.filters.apply(version, sorted(terms), batch)
        return out


# -- state sync --------------------------------------------------------------------------

MAX_LIST = 4096                 # history ids per answer
MAX_WANTS = 256                 # histories per request
MAX_SYNC_BYTES = 1 << 20        # version records, or block filters, per answer


class HistoryWant(codec.Struct):
    """Versions from `first` of the history under `key_id`, which holds `size` of them in
    the snapshot."""

    key_id: Annotated[bytes, codec.exactly(HASH_SIZE)]
    first: int
    size: int


def read_history_pages(history: DataHistory, wants: Sequence[HistoryWant],
                       max_bytes: int = MAX_SYNC_BYTES) -> list[HistoryPage | None]:
    """A provider's answer: a page for each want in turn (None: no such history here)
    while the answer holds fewer than `max_bytes` of records (then it stops short)."""
    out: list[HistoryPage | None] = []
    budget = max_bytes // RECORD_SIZE
    for want in wants:
        if budget < 1:
            break
        page = history.provenance.page_by_id(want.key_id, want.first, want.size,
                                              min(budget, MAX_PAGE))
        out.append(page)
        budget -= 0 if page is None else len(page.records) // RECORD_SIZE
    return out


class HistorySync:
    """The histories and block filters under a verified snapshot's values (`leaves`, by
    state path), taken from `providers` (see the module docstring). `skipped` is state
    sync's set of peers caught sending bad answers: their lists are not waited for, and
    a listed history that every other provider says it lacks is given up (an id a lying
    provider listed for another kind of value)."""

    def __init__(self, leaves: Mapping[bytes, bytes], providers: Sequence[bytes],
                 hasher: Hasher, skipped: set[bytes]) -> None:
        self.leaves = leaves
        self.providers = list(providers)
        self.skipped = skipped
        self.histories = HistoryImport(hasher)
        self.filters = FilterImport(leaves.get(hasher(BLOOM_ROOT_KEY), _EMPTY), hasher)
        self.cursors: dict[bytes, bytes | None] = {p: b"" for p in providers}  # None: done
        self.declined: dict[bytes, set[bytes]] = {}

    @property
    def listing(self) -> list[tuple[bytes, bytes]]:
        """(provider, cursor) of each list still to read."""
        return [(p, c) for p, c in self.cursors.items()
                if c is not None and p not in self.skipped]

    @property
    def done(self) -> bool:
        return not self.listing and self.histories.done and self.filters.done

    def take_list(self, provider: bytes, after: bytes, key_ids: Sequence[bytes]) -> None:
        """One page of a provider's list; BadChunkError if it is not one."""
        ids = [bytes(k) for k in key_ids]
        if self.cursors.get(provider) != after or len(ids) > MAX_LIST or any(
                len(k) != HASH_SIZE for k in ids) or ids != sorted(set(ids)) or (
                ids and ids[0] <= after):
            raise BadChunkError("a history list out of order or not asked for")
        for key_id in ids:
            value = self.leaves.get(key_id)  # not in the snapshot: written after it
            if value is not None:
                self.histories.want(key_id, value)
        self.cursors[provider] = ids[-1] if len(ids) >= MAX_LIST else None

    def wants(self, asked: set[bytes]) -> list[HistoryWant]:
        """The next version wanted of each incomplete history not in `asked`."""
        return [HistoryWant(k, first, size)
                for k, (first, size) in sorted(self.histories.wanted.items())
                if k not in asked]

    def untried(self, key_id: bytes) -> list[bytes]:
        """The providers that have not said they lack the history under `key_id`."""
        declined = self.declined.get(key_id, set())
        return [p for p in self.providers if p not in declined]

    def take_pages(self, sender: bytes, wants: Sequence[HistoryWant],
                   pages: Sequence[HistoryPage | None]) -> None:
        """A provider's pages for `wants` (maybe fewer); BadChunkError at a bad one."""
        if len(pages) > len(wants):
            raise BadChunkError("more history pages than were asked for")
        for want, page in zip(wants, pages, strict=False):
            if page is not None:
                self.histories.add(want.key_id, page)
                continue
            declined = self.declined.setdefault(want.key_id, set())
            declined.add(sender)
            if all(p in declined or p in self.skipped for p in self.providers):
                self.histories.drop(want.key_id)

    def write(self, history: DataHistory, version: int, batch: WriteBatch) -> None:
        """Store the histories and filters as of block `version`."""
        self.histories.write(history.provenance, version, batch)
        self.filters.write(history.filters, batch)
