"""The node's data indexes (execution/data): one authenticated structure per index kind.

`prepare_block` (node/chain.py) hands each kind its block's updates, as version `height`,
in the block's one batch, and writes each new root into the state at `dx/<kind>` so the
header's state root commits to it. To plug a kind in, register its structure in
`DataIndexes.structures` (an `IndexStructure`: the shape of every index in storage/), give
it its sub-databases in `SUB_DBS`, serve its queries with proofs (node/data_reads.py), and
let state sync carry it (`SyncImport`).

The range kind is the Merkle B+-tree of storage/mbtree.py: its entries carry a measure (the
value of a number or time attribute), so count/sum/min/max over a value range are proven by
its subtree aggregates; its root is `dx/range`. State sync fetches its nodes by hash in the
same phase as the contract index's (`SyncImport` routes each node to the structure that
asked for it; `read_index_nodes` serves both).

The keyword kind is the authenticated inverted index of storage/inverted.py (posting lists
of record ids, chunked under one Merkle search tree); its root is `dx/keyword`. Its nodes
share the contract index's node sub-database, so `read_index_nodes` serves them with the
contract index's, and state sync fetches them under their own root.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from typing import Protocol

from xinlian.execution.data.apply import IndexUpdates
from xinlian.execution.data.indexes import Entry, KeywordIndex, RangeIndex
from xinlian.execution.data.model import index_root_key
from xinlian.storage import inverted, mbtree, mst
from xinlian.storage.errors import BadChunkError
from xinlian.storage.kv import Store, WriteBatch
from xinlian.storage.mst_proof import EMPTY_ROOT, INDEX_ROOT_KEY, Hasher

SUB_DBS = (*mbtree.SUB_DBS, *inverted.SUB_DBS)
RANGE_ROOT_KEY = index_root_key(RangeIndex.name)
KEYWORD_ROOT_KEY = index_root_key(KeywordIndex.name)


class IndexStructure(Protocol):
    """The node's side of an index kind: its authenticated structure (storage/)."""

    def apply(self, version: int, updates: Mapping[bytes, Entry | None],
              batch: WriteBatch) -> bytes:
        """Write `version` (the previous one plus `updates`, None deleting) into `batch`,
        uncommitted; the new root, a function of the content alone."""
        ...


class TextStructure:
    """The inverted index as an `IndexStructure`: a keyword entry is a posting entry, its
    value and measure unused (storage/inverted.py adds on a value, removes on None)."""

    def __init__(self, index: inverted.InvertedIndex) -> None:
        self.index = index

    def apply(self, version: int, updates: Mapping[bytes, Entry | None],
              batch: WriteBatch) -> bytes:
        return self.index.apply(version, {k: None if e is None else b""
                                          for k, e in updates.items()}, batch)


class DataIndexes:
    def __init__(self, store: Store, hasher: Hasher) -> None:
        self.range = mbtree.MerkleBTree(store, hasher)
        self.text = inverted.InvertedIndex(store, hasher)
        self.structures: dict[str, IndexStructure] = {
            RangeIndex.name: self.range, KeywordIndex.name: TextStructure(self.text)}

    def apply(self, version: int, updates: IndexUpdates, batch: WriteBatch
              ) -> dict[bytes, bytes]:
        """Each kind's updates as `version` into `batch`; the new roots by state key."""
        return {index_root_key(kind): self.structures[kind].apply(version, entries, batch)
                for kind, entries in sorted(updates.items()) if entries}



def read_index_nodes(ordered: mst.OrderedIndex, ranges: mbtree.MerkleBTree, refs: list[bytes],
                     max_bytes: int = mbtree.MAX_ANSWER_BYTES) -> list[bytes]:
    """State sync's answer to a request for index nodes: those of `refs` the contract index
    holds, then those the range index holds, each up to half an answer (a request may ask
    for nodes of both; `SyncImport` sorts them out by hash, and asks again for the rest)."""
    return ordered.read_nodes(refs, max_bytes // 2) + ranges.read_nodes(refs, max_bytes // 2)


class SyncImport:
    """The nodes of the contract index and of the data indexes under the roots of a verified
    state snapshot, fetched by hash from peers until none is missing."""

    def __init__(self, leaves: Mapping[bytes, bytes], hasher: Hasher) -> None:
        """`leaves`: the verified snapshot's values by hashed state key."""
        self.hasher = hasher
        self.index = mst.IndexImport(leaves.get(hasher(INDEX_ROOT_KEY), EMPTY_ROOT),
                                     hasher)
        self.range = mbtree.TreeImport(leaves.get(hasher(RANGE_ROOT_KEY), EMPTY_ROOT),
                                       hasher)
        self.text = mst.IndexImport(leaves.get(hasher(KEYWORD_ROOT_KEY), EMPTY_ROOT), hasher)

    @property
    def wanted(self) -> set[bytes]:
        return self.index.wanted | self.range.wanted | self.text.wanted

    @property
    def done(self) -> bool:
        return self.index.done and self.range.done and self.text.done

    def add(self, raw: bytes) -> None:
        """Take one node still wanted; BadChunkError (nothing kept) if it is not one."""
        ref = self.hasher(raw)
        if ref in self.range.wanted or ref in self.range.nodes:
            self.range.add(raw)
            return
        try:  # the contract and text indexes are both search trees, told apart by asking
            self.text.add(raw)
        except BadChunkError:
            self.index.add(raw)  # BadChunkError if neither asked for it
            return
        with suppress(BadChunkError):  # one node may be in both trees
            self.index.add(raw)

    def write(self, ordered: mst.OrderedIndex, data: DataIndexes, version: int,
              batch: WriteBatch) -> None:
        """Store every structure as `version`; BadChunkError while nodes are missing."""
        self.index.write(ordered, version, batch)
        self.range.write(data.range, version, batch)
        if not self.text.done:
            raise BadChunkError(f"{len(self.text.wanted)} keyword index nodes are missing")
        data.text.adopt(version, self.text.root, self.text.nodes, batch)
