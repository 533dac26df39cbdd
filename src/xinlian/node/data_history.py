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
"""

from __future__ import annotations

from collections.abc import Sequence

from xinlian import codec
from xinlian.execution.data.changes import RecordChange, block_terms, history_key
from xinlian.storage import bloom, mmr, provenance
from xinlian.storage.bloom import BLOOM_ROOT_KEY, BlockFilters
from xinlian.storage.errors import CorruptDataError
from xinlian.storage.kv import PerBatch, Store, WriteBatch
from xinlian.storage.proof import Hasher
from xinlian.storage.provenance import Provenance, Write

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
        ones the state commits to: a node that joined by state sync after data was written
        lacks the histories and filters (state sync does not carry them yet), and must not
        append to empty ones and diverge."""
        used = self._used(batch)
        if not used and self.filters.root() != (committed or _EMPTY):
            raise CorruptDataError("this node's record histories and block filters are not "
                                   "the ones the state commits to (joined by state sync?)")
        used.append(version)
        hasher = self.hasher
        writes = [Write(c.key, None if c.value is None else hasher(c.value), c.tx_index,
                        c.tx_hash) for c in changes]
        out: dict[bytes, bytes | None] = {
            history_key(key): peaks
            for key, peaks in self.provenance.apply(version, writes, batch).items()}
        terms = block_terms(changes)
        out[BLOOM_ROOT_KEY] = self.filters.apply(version, sorted(terms), batch)
        return out
