"""Provenance and block-window reads for the RPC, each with its proofs at one height.

A history answer carries the record's peaks proven in the state at the height asked and a
page of versions proven against those peaks; a window answer carries the block filters'
peaks proven in the state and the filters' run proof (sdk/data_history.py checks both).
"""

from __future__ import annotations

from xinlian import codec
from xinlian.execution.data.changes import history_key
from xinlian.execution.data.model import collection_id, collection_key
from xinlian.node.chain import ChainStore
from xinlian.node.data_reads import Prove
from xinlian.node.interface import DataBlocksAnswer, DataHistoryAnswer
from xinlian.storage import mmr
from xinlian.storage.bloom import BLOOM_ROOT_KEY
from xinlian.storage.bloom_proof import WindowQuery
from xinlian.storage.provenance_proof import HistoryPage, HistoryQuery


class HistoryReader:
    def __init__(self, chain: ChainStore, prove: Prove) -> None:
        """`prove`: the node's state proofs (NotFound for a height it lacks)."""
        self.chain = chain
        self._proof = prove

    def history(self, name: str, record_id: bytes, query: HistoryQuery | None,
                as_of: int | None, height: int | None = None) -> DataHistoryAnswer:
        """Versions of the record (`query`), or the one in force at block `as_of`, as its
        history stood at `height` (default: the head)."""
        at = self.chain.height if height is None else height
        cid = collection_id(self.chain.hash, name)
        record = cid + record_id
        peaks = self._proof(history_key(record), at)
        size = mmr.decode_peaks(peaks.value).size if peaks.value is not None else 0
        provenance = self.chain.data_history.provenance
        page: HistoryPage
        if as_of is not None:
            _, page = provenance.as_of(history_key(record), as_of, size)
        else:
            _, page = provenance.history(history_key(record), query or HistoryQuery(), size)
        return DataHistoryAnswer(self._proof(collection_key(cid), at), peaks,
                                 codec.encode(page))

    def blocks(self, query: WindowQuery, height: int | None = None) -> DataBlocksAnswer:
        """The block filters of the query's window as committed at `height`."""
        at = self.chain.height if height is None else height
        _, page = self.chain.data_history.filters.window(query, at)
        return DataBlocksAnswer(self._proof(BLOOM_ROOT_KEY, at), codec.encode(page))
