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

from xinlian.execution.data.changes import RecordChange, block_terms, history_key
from xinlian.storage import bloom, provenance
from xinlian.storage.bloom import BLOOM_ROOT_KEY, BlockFilters
from xinlian.storage.kv import Store, WriteBatch
from xinlian.storage.proof import Hasher
from xinlian.storage.provenance import Provenance, Write

SUB_DBS = (*provenance.SUB_DBS, *bloom.SUB_DBS)


class DataHistory:
    def __init__(self, store: Store, hasher: Hasher) -> None:
        self.hasher = hasher
        self.provenance = Provenance(store, hasher)
        self.filters = BlockFilters(store, hasher)

    def apply(self, version: int, changes: Sequence[RecordChange], batch: WriteBatch
              ) -> dict[bytes, bytes | None]:
        """Block `version`'s changes into `batch`, uncommitted; the state values to write
        (each changed record's peaks, the filters' peaks)."""
        hasher = self.hasher
        writes = [Write(c.key, None if c.value is None else hasher(c.value), c.tx_index,
                        c.tx_hash) for c in changes]
        out: dict[bytes, bytes | None] = {
            history_key(key): peaks
            for key, peaks in self.provenance.apply(version, writes, batch).items()}
        terms = block_terms(changes)
        out[BLOOM_ROOT_KEY] = self.filters.apply(version, sorted(terms), batch)
        return out
