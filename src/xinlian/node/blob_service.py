"""The node's blob store behind the chain's permissions: which blob a request names, and
whether its caller may move it (execution/data/blob_access.py).

A request names a blob by where the chain holds its commitment: collection, record id and
blob attribute. A download serves only a commitment that a committed record holds, to a
signed reader. An upload is taken for a commitment a committed record already holds (anyone
may bring those bytes: the store checks every chunk against it), or else from a signed
writer (the client uploads before its record is written). The permission checks read the
head state on the caller's thread (the event loop's); the store's blocking I/O is the
caller's to run on a worker thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from xinlian.execution.data.apply import read_collection
from xinlian.execution.data.blob_access import GET, PUT, BlobAuth, check_auth
from xinlian.execution.data.model import Collection, Kind, collection_id, record_key
from xinlian.execution.data.query import read_record
from xinlian.execution.errors import UnknownAttribute, UnknownCollection, WrongKind
from xinlian.node.chain import ChainStore
from xinlian.storage.blob_proof import BlobCommitment
from xinlian.storage.blobs import BlobStore
from xinlian.storage.errors import BlobNotFoundError


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class BlobService:
    """A node's blob store and the checks in front of it; `close` on the node's stop."""

    def __init__(self, store: BlobStore, chain: ChainStore, genesis_hash: bytes,
                 clock_ms: Callable[[], int] = wall_clock_ms) -> None:
        self.store = store
        self.chain = chain
        self.genesis_hash = genesis_hash
        self.clock_ms = clock_ms

    def close(self) -> None:
        self.store.close()

    def _committed(self, name: str, record_id: bytes, attribute: str
                   ) -> tuple[Collection, BlobCommitment | None]:
        """The collection and the commitment the head state's record holds (None: no record
        or no value)."""
        cid = collection_id(self.chain.hash, name)
        collection = read_collection(self.chain.read, cid)
        if collection is None:
            raise UnknownCollection(f"no collection {name!r}")
        found = collection.attribute(attribute)
        if found is None:
            raise UnknownAttribute(f"collection {name!r} has no attribute {attribute!r}")
        if found[1].kind != Kind.BLOB:
            raise WrongKind(f"attribute {attribute!r} holds {found[1].kind}, not blob")
        raw = self.chain.read(record_key(cid, record_id))
        if raw is None:
            return collection, None
        value = read_record(collection, record_id, raw).values.get(attribute)
        return collection, value if isinstance(value, BlobCommitment) else None

    def readable(self, name: str, record_id: bytes, attribute: str,
                 auth: BlobAuth | None) -> BlobCommitment:
        """The committed blob a signed reader asks for (BlobAccessDenied otherwise)."""
        collection, commitment = self._committed(name, record_id, attribute)
        if commitment is None:
            raise BlobNotFoundError(f"record 0x{record_id.hex()} of {name!r} holds no blob "
                                    f"in {attribute!r}")
        check_auth(self.chain.read, self.chain.hash, self.genesis_hash, self.clock_ms(),
                   collection, GET, record_id, attribute, commitment.root, auth)
        return commitment

    def writable(self, name: str, record_id: bytes, attribute: str,
                 commitment: BlobCommitment, auth: BlobAuth | None) -> None:
        """Allow an upload of `commitment` (BlobAccessDenied otherwise)."""
        collection, committed = self._committed(name, record_id, attribute)
        if committed == commitment:
            return
        check_auth(self.chain.read, self.chain.hash, self.genesis_hash, self.clock_ms(),
                   collection, PUT, record_id, attribute, commitment.root, auth)
