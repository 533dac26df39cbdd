"""The node's data indexes (execution/data): one authenticated structure per index kind.

`prepare_block` (node/chain.py) hands each kind its block's updates, as version `height`,
in the block's one batch, and writes each new root into the state at `dx/<kind>` so the
header's state root commits to it. To plug a kind in, register its structure in
`DataIndexes.structures` (an `IndexStructure`: the shape of every index in storage/), give
it its sub-databases in `SUB_DBS`, and serve its queries with proofs (node/data_reads.py);
a structure that state sync must carry needs a way to fetch it (`synced` covers those that
keep their nodes with the contract index's).

The range kind is the ordered index of storage/mst.py, in the node sub-database it shares
with the contract index (nodes are stored by hash, so the two never collide, and state sync
fetches both by hash alike) and with its own roots: its keys are data keys, its root is
`dx/range`, apart from the contract index's `ix/root`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from xinlian.execution.data.apply import IndexUpdates
from xinlian.execution.data.indexes import RangeIndex
from xinlian.execution.data.model import index_root_key
from xinlian.storage import mst
from xinlian.storage.kv import Store, WriteBatch
from xinlian.storage.mst_proof import Hasher

RANGE_ROOTS_DB = "dx_range_roots"
SUB_DBS = (RANGE_ROOTS_DB,)
RANGE_ROOT_KEY = index_root_key(RangeIndex.name)
# the data indexes whose nodes state sync fetches by hash from the shared node sub-database
SYNCED_ROOT_KEYS = (RANGE_ROOT_KEY,)


class IndexStructure(Protocol):
    """The node's side of an index kind: its authenticated structure (storage/)."""

    def apply(self, version: int, updates: Mapping[bytes, bytes | None],
              batch: WriteBatch) -> bytes:
        """Write `version` (the previous one plus `updates`, None deleting) into `batch`,
        uncommitted; the new root, a function of the content alone."""
        ...


class DataIndexes:
    def __init__(self, store: Store, hasher: Hasher) -> None:
        self.range = mst.OrderedIndex(store, hasher, roots_db=RANGE_ROOTS_DB)
        self.structures: dict[str, IndexStructure] = {RangeIndex.name: self.range}
        # those whose nodes state sync fetches with the contract index's, by root key
        self.synced: dict[bytes, mst.OrderedIndex] = {RANGE_ROOT_KEY: self.range}

    def apply(self, version: int, updates: IndexUpdates, batch: WriteBatch
              ) -> dict[bytes, bytes]:
        """Each kind's updates as `version` into `batch`; the new roots by state key."""
        return {index_root_key(kind): self.structures[kind].apply(version, entries, batch)
                for kind, entries in sorted(updates.items()) if entries}

    def adopt(self, version: int, roots: Mapping[bytes, bytes | None],
              batch: WriteBatch) -> None:
        """Take the roots of a verified state snapshot (`SYNCED_ROOT_KEYS` -> root; the
        nodes under them arrive with the contract index's, node/statesync.py)."""
        for key, structure in self.synced.items():
            root = roots.get(key)
            if root is not None:
                structure.adopt(version, root, {}, batch)
