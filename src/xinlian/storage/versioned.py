"""What the versioned, content-addressed structures (mst.py, mbtree.py) share: the
sub-databases they need, a cache of decoded nodes, and the roots of their versions.

Roots: one per version (block height), kept in a sub-database of the store (`version u64
big-endian -> root`). A structure writes a version's nodes and root into the block's
`WriteBatch`; the version becomes the latest only when that batch commits. Until then, a
later version applied into the same batch must build on the uncommitted one, so the roots
written into each batch are kept here until it commits (or is dropped: the batch is only
weakly referenced).
"""

from __future__ import annotations

import struct
import weakref
from typing import Generic, TypeVar

from xinlian.storage.errors import VersionError
from xinlian.storage.kv import Snapshot, Store, WriteBatch

_VERSION = struct.Struct(">Q")
N = TypeVar("N")


class NodeCache(Generic[N]):
    """Recently used nodes by hash, in two generations: when the young one holds half of
    `size`, it becomes the old one and the old one is dropped (no bookkeeping per read)."""

    def __init__(self, size: int) -> None:
        self._half = max(1, size // 2)
        self._young: dict[bytes, N] = {}
        self._old: dict[bytes, N] = {}

    def get(self, ref: bytes) -> N | None:
        node = self._young.get(ref)
        return self._old.get(ref) if node is None else node

    def put(self, ref: bytes, node: N) -> None:
        self._young[ref] = node
        if len(self._young) >= self._half:
            self._old, self._young = self._young, {}


def read_nodes(store: Store, db: str, refs: list[bytes], max_bytes: int) -> list[bytes]:
    """The stored encodings of the nodes `refs` that `db` holds, in order, up to about
    `max_bytes` in all (at least one): what a peer asks for in state sync."""
    out: list[bytes] = []
    size = 0
    with store.snapshot() as snap:
        for ref in refs:
            raw = snap.get(db, ref) if ref else None
            if raw is None:
                continue
            if out and size + len(raw) > max_bytes:
                break
            out.append(raw)
            size += len(raw)
    return out


class VersionRoots:
    """See the module docstring. Roots are opaque bytes to this class."""

    def __init__(self, store: Store, db: str) -> None:
        self._db = db
        self._pending: weakref.WeakKeyDictionary[WriteBatch, dict[int, bytes]] = (
            weakref.WeakKeyDictionary())
        last = store.scan(db, reverse=True, limit=1)
        self.latest: int | None = _VERSION.unpack(last[0][0])[0] if last else None

    def get(self, snap: Snapshot, version: int | None) -> bytes | None:
        """The root of `version` (default: the latest committed): the last root recorded at
        or before it; None if there is none."""
        if version is None:
            version = self.latest
            if version is None:
                return None
        found = list(snap.items(self._db, stop=_VERSION.pack(version + 1), reverse=True,
                                limit=1))
        return found[0][1] if found else None

    def base(self, snap: Snapshot, version: int, batch: WriteBatch
             ) -> tuple[int | None, bytes | None]:
        """The version that `version` builds on in `batch` and its root (also uncommitted,
        from the same batch); VersionError unless `version` rises above it."""
        written = self._pending.get(batch)
        previous = max(written) if written else self.latest
        if type(version) is not int or version < 0 or (
                previous is not None and version <= previous):
            raise VersionError(f"version {version} must be above {previous}")
        if written and previous in written:
            return previous, written[previous]
        return previous, self.get(snap, previous) if previous is not None else None

    def record(self, version: int, root: bytes, batch: WriteBatch) -> None:
        """Write the root of `version` into `batch`; it becomes the latest on commit."""
        batch.put(self._db, _VERSION.pack(version), root)
        pending = self._pending.get(batch)
        if pending is None:
            pending = self._pending[batch] = {}
            batch_ref = weakref.ref(batch)
            batch.on_commit(lambda: self._published(batch_ref, pending))
        pending[version] = root

    def _published(self, batch_ref: weakref.ref[WriteBatch], pending: dict[int, bytes]
                   ) -> None:
        batch = batch_ref()
        if batch is not None:
            self._pending.pop(batch, None)
        if pending:
            self.latest = max(pending)


__all__ = ["NodeCache", "VersionRoots", "read_nodes"]
