"""Per-block Bloom filters under a Merkle Mountain Range, so window queries skip blocks.

Theory of operation (the filter format, the parameters and the verifier are in
`bloom_proof.py`). `apply(height, terms, batch)` builds the block's filter from the terms
its data writes touched and appends it as leaf `height` of one MMR over blocks (heights
skipped since the last apply get empty filters, so the leaf index is always the height);
the MMR's encoded peaks are returned for the state tree (`dx/bloom`): applied before the
block's state root is computed, they make its header commit to every filter up to its own.
`window` answers a time-window query with the run of filters and one run proof. State sync
(`FilterImport`) takes the filters from peers, each run proven against the peaks of the
verified snapshot, and `adopt`s them.

Storage: `FILTERS_DB` holds each block's filter by height (the MMR's leaves), `NODES_DB` the
interior nodes by (level, index), written once, and `ROOTS_DB` the encoded peaks of each
version, so a window proves against the peaks of any earlier block too. `apply` writes into
the caller's batch, uncommitted; several blocks may be applied into one batch.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

from xinlian import codec
from xinlian.storage import mmr
from xinlian.storage.bloom_proof import (
    WindowAnswer,
    WindowPage,
    WindowQuery,
    build_filter,
    candidates,
    probe,
)
from xinlian.storage.errors import (
    BadChunkError,
    CorruptDataError,
    InvalidKeyError,
    MalformedProofError,
    ProofError,
    VersionError,
)
from xinlian.storage.kv import PerBatch, Snapshot, Store, WriteBatch, check_sub_dbs
from xinlian.storage.proof import Hasher

FILTERS_DB = "bloom_filters"
NODES_DB = "bloom_nodes"
ROOTS_DB = "bloom_roots"
SUB_DBS = (FILTERS_DB, NODES_DB, ROOTS_DB)
BLOOM_ROOT_KEY = b"dx/bloom"  # the state key under which a chain commits the peaks
MAX_PAGE_BYTES = 4 << 20      # filters per window page, beyond its first block
_u64 = struct.Struct(">Q")


def _node_key(level: int, index: int) -> bytes:
    return bytes([level]) + _u64.pack(index)


class BlockFilters:
    """See the module docstring. One writer at a time; reads may run from other threads."""

    def __init__(self, store: Store, hasher: Hasher) -> None:
        check_sub_dbs(store, SUB_DBS, "block filter")
        self._store = store
        self.hasher = hasher
        # per uncommitted batch: the versions applied into it and their peaks
        self._pending: PerBatch[list[tuple[int, mmr.Peaks]]] = PerBatch(list)

    # -- writes ------------------------------------------------------------------------

    def apply(self, version: int, terms: Iterable[bytes], batch: WriteBatch) -> bytes:
        """Append block `version`'s filter of `terms` into `batch`, uncommitted; return the
        new encoded peaks."""
        pending = self._pending(batch)
        if pending:
            latest: tuple[int, mmr.Peaks] | None = pending[-1]
        else:
            with self._store.snapshot() as snap:
                latest = self._latest(snap)
        previous, peaks = latest if latest is not None else (None, mmr.EMPTY)
        if type(version) is not int or version < 0 or (
                previous is not None and version <= previous):
            raise VersionError(f"block filter version {version} must be above {previous}")
        terms = list(terms)
        if any(type(t) is not bytes for t in terms):
            raise InvalidKeyError("block filter terms are byte strings")

        def written(level: int, index: int, node: bytes) -> None:
            if level:
                batch.put(NODES_DB, _node_key(level, index), node)

        empty = build_filter(self.hasher, ())
        while peaks.size < version:  # blocks that touched nothing
            batch.put(FILTERS_DB, _u64.pack(peaks.size), empty)
            peaks = mmr.append(self.hasher, peaks, empty, written)
        bloom = build_filter(self.hasher, terms)
        batch.put(FILTERS_DB, _u64.pack(version), bloom)
        peaks = mmr.append(self.hasher, peaks, bloom, written)
        encoded = codec.encode(peaks)
        batch.put(ROOTS_DB, _u64.pack(version), encoded)
        pending.append((version, peaks))
        return encoded

    def adopt(self, filters: Sequence[bytes], batch: WriteBatch) -> bytes:
        """Write the filters of blocks [0, len(filters)) taken from peers by state sync
        into `batch`, the layout `apply` makes, and return their encoded peaks. The blocks
        that applied are those whose filter is not empty (a block's data changes always
        touch a term); each gets its version's peaks, as `apply` gave it."""
        empty = build_filter(self.hasher, ())
        peaks = mmr.EMPTY

        def written(level: int, index: int, node: bytes) -> None:
            if level:
                batch.put(NODES_DB, _node_key(level, index), node)

        for height, bloom in enumerate(filters):
            batch.put(FILTERS_DB, _u64.pack(height), bloom)
            peaks = mmr.append(self.hasher, peaks, bloom, written)
            if bloom != empty or height == len(filters) - 1:
                batch.put(ROOTS_DB, _u64.pack(height), codec.encode(peaks))
        return codec.encode(peaks)

    # -- reads -------------------------------------------------------------------------

    def _latest(self, snap: Snapshot, version: int | None = None
                ) -> tuple[int, mmr.Peaks] | None:
        """The last version at or before `version` (default: any) and its peaks."""
        stop = None if version is None else _u64.pack(version + 1)
        found = list(snap.items(ROOTS_DB, stop=stop, reverse=True, limit=1))
        if not found:
            return None
        key, raw = found[0]
        try:
            peaks: mmr.Peaks = codec.decode(raw, mmr.Peaks)
        except codec.CodecError as exc:
            raise CorruptDataError(f"bad block filter peaks: {exc.message}") from None
        return _u64.unpack(key)[0], peaks

    def root(self, version: int | None = None) -> bytes:
        """The encoded peaks after `version` (default: latest): the state value."""
        with self._store.snapshot() as snap:
            found = self._latest(snap, version)
        return codec.encode(found[1] if found is not None else mmr.EMPTY)

    def filter(self, height: int) -> bytes | None:
        """Block `height`'s filter, if the MMR holds it."""
        return self._store.get(FILTERS_DB, _u64.pack(height))

    def window(self, query: WindowQuery, version: int | None = None
               ) -> tuple[WindowAnswer, WindowPage]:
        """The query's first page against the peaks of `version` (default: latest): the
        blocks that may match, and the filters with their run proof (`verify_window`).
        The page stops early after MAX_PAGE_BYTES of filters."""
        with self._store.snapshot() as snap:
            found = self._latest(snap, version)
            size = found[1].size if found is not None else 0
            page = self._page(snap, query.first, query.end(size), size, MAX_PAGE_BYTES)
        probes = [probe(self.hasher, term) for term in query.terms]
        answer = WindowAnswer(query.first, query.first + len(page.filters),
                              candidates(page.filters, query.first, probes, query.match))
        return answer, page

    def run(self, first: int, version: int, max_bytes: int = MAX_PAGE_BYTES
            ) -> WindowPage | None:
        """The filters from block `first` on, as committed at `version`, with their run
        proof (what state sync serves); None if there are none from there."""
        with self._store.snapshot() as snap:
            found = self._latest(snap, version)
            size = found[1].size if found is not None else 0
            if not 0 <= first < size:
                return None
            return self._page(snap, first, size, size, max_bytes)

    def _page(self, snap: Snapshot, first: int, end: int, size: int, max_bytes: int
              ) -> WindowPage:
        """Filters [first, end) of the MMR of `size` blocks, stopping early after
        `max_bytes` of them (never before the first), and their run proof."""
        filters: list[bytes] = []
        total, cut = 0, False
        if end > first:
            for key, bloom in snap.items(FILTERS_DB, start=_u64.pack(first),
                                         stop=_u64.pack(end)):
                if _u64.unpack(key)[0] != first + len(filters):
                    break
                if filters and total + len(bloom) > max_bytes:
                    cut = True
                    break
                filters.append(bloom)
                total += len(bloom)
        stop = first + len(filters)
        if stop != end and not cut:
            raise CorruptDataError(f"the filter of block {stop} is missing")
        siblings = b""
        if filters:
            proof = mmr.make_run_proof(first, stop, size,
                                       lambda level, j: self._node(snap, level, j))
            if proof is None:
                raise CorruptDataError("a node of the block filter MMR is missing")
            siblings = b"".join(proof)
        return WindowPage(size, first, filters, siblings)

    def _node(self, snap: Snapshot, level: int, index: int) -> bytes | None:
        if level == 0:
            bloom = snap.get(FILTERS_DB, _u64.pack(index))
            return None if bloom is None else mmr.leaf_hash(self.hasher, bloom)
        return snap.get(NODES_DB, _node_key(level, index))


class FilterImport:
    """The block filters under trusted peaks (a verified state snapshot's `dx/bloom`), taken
    from peers a run at a time from block 0: every run proves on its own against the
    peaks, so nothing unverified is kept."""

    def __init__(self, peaks_value: bytes, hasher: Hasher) -> None:
        self.hasher = hasher
        try:
            self.peaks = mmr.decode_peaks(peaks_value)
        except MalformedProofError as exc:
            raise BadChunkError(f"the committed filter peaks: {exc.message}") from None
        self.filters: list[bytes] = []

    @property
    def next(self) -> int:
        """The first block whose filter is still wanted."""
        return len(self.filters)

    @property
    def done(self) -> bool:
        return len(self.filters) == self.peaks.size

    def add(self, page: WindowPage) -> None:
        """Take the run starting at `next`; BadChunkError (nothing kept) unless it proves."""
        count = len(page.filters)
        if page.first != self.next or page.size != self.peaks.size or \
                not 1 <= count <= self.peaks.size - page.first:
            raise BadChunkError("a filter run that was not asked for")
        try:
            mmr.check_run(self.hasher, self.peaks, page.first, page.filters, page.siblings)
        except ProofError as exc:
            raise BadChunkError(f"a filter run does not prove: {exc.message}") from None
        self.filters.extend(bytes(f) for f in page.filters)

    def write(self, filters: BlockFilters, batch: WriteBatch) -> None:
        if not self.done:
            raise BadChunkError(f"{self.peaks.size - self.next} block filters are missing")
        filters.adopt(self.filters, batch)


__all__ = ["BLOOM_ROOT_KEY", "SUB_DBS", "BlockFilters", "FilterImport"]
