"""The authenticated inverted index: keyword and boolean queries over text, with proofs.

Theory of operation. Every text attribute of every collection (a `scope`: collection id |
attribute id, chosen by the caller) maps each of its terms (tokenize.py) to the sorted ids
of the records whose text holds it. All those posting lists live, cut into chunks of about
CHUNK_FANOUT ids, in ONE Merkle search tree (storage/mst.py: its nodes in the node
sub-database the trees of a store share, its roots in its own); the layout and the proofs
are in `inverted_proof.py`. So:

- the root depends on the contents only (chunks are cut where an id's hash says, and the
  tree's shape follows its keys), every version stays readable, and unchanged nodes are
  shared between versions;
- a block's changes are posting entries (scope, term, record id) to add or remove: the
  executor gives the entries of a record's old text (`text_entries`) as removals and those
  of its new text as additions, the same way as for every other index kind; the index
  rewrites only the chunks those ids fall in and writes the tree's nodes into the block's
  batch;
- a query reads the lists at one version and asks the tree for one proof holding the search
  paths the verifier needs (a keyword page: its chunks; AND / AND-NOT: the shortest list's
  chunks and, for each candidate, the chunk of every other list where it would be; OR: the
  chunks of each list up to the page's last id).

Why chunks under a Merkle search tree rather than one tree entry per (term, id): the
verifier's work is then per chunk (one node walk, one hash over one buffer) rather than per
id; `benchmarks/data_inverted.py` measures both.
"""

from __future__ import annotations

import struct
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Mapping

from xinlian.storage import mst
from xinlian.storage.errors import InvalidKeyError, QueryError, VersionError
from xinlian.storage.inverted_proof import (
    CHUNK_FANOUT,
    MAX_ID_BYTES,
    POSTINGS,
    Membership,
    TextPage,
    TextProof,
    TextQuery,
    check_prefix,
    chunk_key,
    count_key,
    decode_ids,
    encode_ids,
    is_boundary,
    page_of,
    select,
    tail_key,
    term_prefix,
)
from xinlian.storage.kv import PerBatch, Store, WriteBatch
from xinlian.storage.mst import Node, OrderedIndex, Reader
from xinlian.storage.mst_proof import RangeProof
from xinlian.storage.proof import Hasher

ROOTS_DB = "dx_text_roots"
# nodes go to the search tree's node sub-database, shared with the other trees of the store
# (nodes are stored by hash, so they never collide, and state sync fetches them alike)
SUB_DBS = (mst.NODES_DB, ROOTS_DB)
_u64 = struct.Struct(">Q")


class InvertedIndex:
    """See the module docstring. One writer; queries may run from other threads."""

    def __init__(self, store: Store, hasher: Hasher, *, cache_nodes: int = 200_000,
                 fanout: int = CHUNK_FANOUT) -> None:
        """`fanout`: ids per chunk on average, a power of two up to 256; part of the chain's
        rules (it shapes the root), changed only by tests to exercise many chunks."""
        if fanout not in (1, 2, 4, 8, 16, 32, 64, 128, 256):
            raise InvalidKeyError(f"a chunk fan-out of {fanout}")
        self.hasher, self._fanout = hasher, fanout
        self._tree = OrderedIndex(store, hasher, cache_nodes=cache_nodes, roots_db=ROOTS_DB)
        # the versions applied into each uncommitted batch (reads see committed ones only)
        self._applied: PerBatch[list[int]] = PerBatch(list)

    def latest_version(self) -> int | None:
        return self._tree.latest_version()

    def root(self, version: int | None = None) -> bytes:
        return self._tree.root(version)

    # -- writes ------------------------------------------------------------------------

    def apply(self, version: int, updates: Mapping[bytes, bytes | None],
              batch: WriteBatch) -> bytes:
        """Write the index of `version` (the latest version + `updates`) into `batch`
        without committing it; return the new root. `updates` are posting entries
        (`text_entries`): a value (b"") adds the record to the term's list, None removes
        it, so the entries of a record's old text (None) and of its new text (b"") make an
        edit, and an entry in both is a no-op. One version per batch."""
        applied = self._applied(batch)
        if applied:
            raise VersionError("the inverted index takes one version per batch")
        lists: dict[bytes, tuple[set[bytes], set[bytes]]] = {}
        added: set[bytes] = set()
        for entry, value in updates.items():  # len(scope) | scope | term | 0x00 | id
            if type(entry) is not bytes or not entry:
                raise QueryError("a posting entry is bytes")
            cut = entry.find(b"\x00", 1 + entry[0])
            record_id = entry[cut + 1:]
            if cut < 0 or not 0 < len(record_id) <= MAX_ID_BYTES:
                raise QueryError(f"not a posting entry: {entry[:80]!r}")
            lists.setdefault(entry[:cut], (set(), set()))[value is None].add(record_id)
            if value is not None:
                added.add(record_id)
        hasher, fanout = self.hasher, self._fanout
        boundaries = {x for x in added if is_boundary(hasher, x, fanout)}
        tree_updates: dict[bytes, bytes | None] = {}
        with self._tree.reading() as reader:
            for head in sorted(lists):
                adds, removes = lists[head]
                self._update_list(reader, check_prefix(POSTINGS + head), adds, removes,
                                  boundaries, tree_updates)
        root = self._tree.apply(version, tree_updates, batch)
        applied.append(version)
        return root

    def adopt(self, version: int, root: bytes, nodes: Mapping[bytes, Node],
              batch: WriteBatch) -> None:
        """Take `root` as the whole index of `version` (state sync): its nodes, verified by
        `mst.IndexImport`, share the search tree's node sub-database."""
        self._tree.adopt(version, root, nodes, batch)

    def _update_list(self, reader: Reader, prefix: bytes, adds: set[bytes],
                     removes: set[bytes], boundaries: set[bytes],
                     updates: dict[bytes, bytes | None]) -> None:
        """Put into `updates` the chunk entries (and count) of the list at `prefix` after
        adding `adds` and removing `removes`. Each changed id's chunk is rewritten and cut
        again at its boundaries; ids after the last boundary of a rewritten stretch join
        the next chunk (a removed boundary merges two chunks). The boundaries are the
        added ids in `boundaries` and the last id of each stored chunk but the tail (ids are
        hashed once per apply, never again once stored)."""
        events = sorted(adds | removes)
        tail, end = tail_key(prefix), count_key(prefix)
        counted = reader.get(end)
        count = _u64.unpack(counted)[0] if counted is not None else 0
        carry: list[bytes] = []
        after = b""
        e = 0
        while e < len(events) or carry:
            start = after + b"\x00" if carry else chunk_key(prefix, events[e])
            found = reader.first(start, end)
            key, ids = (found[0], decode_ids(found[1])) if found else (tail, [])
            members = set(ids)
            count -= len(members)
            while e < len(events) and (key == tail or chunk_key(prefix, events[e]) <= key):
                x = events[e]
                if x in adds:
                    members.add(x)
                else:
                    members.discard(x)
                e += 1
            count += len(members)
            if found:
                updates[key] = None
            region = carry + sorted(members)
            carry = []
            marks = members & boundaries
            if key != tail and key[len(prefix) + 1:] in members:
                marks.add(key[len(prefix) + 1:])
            cut = 0
            for x in sorted(marks):
                end_of_chunk = bisect_left(region, x, cut) + 1
                updates[chunk_key(prefix, x)] = encode_ids(region[cut:end_of_chunk])
                cut = end_of_chunk
            if key == tail:
                updates[tail] = encode_ids(region[cut:]) if cut < len(region) else None
            else:
                carry, after = region[cut:], key
        updates[end] = _u64.pack(count) if count else None

    # -- reads -------------------------------------------------------------------------

    def count(self, scope: bytes, term: str, version: int | None = None) -> int:
        """How many records of `scope` hold `term` (unproven: for planning)."""
        found = self._tree.get(count_key(term_prefix(scope, term)), version)
        return _u64.unpack(found)[0] if found is not None else 0

    def query(self, query: TextQuery, version: int | None = None
              ) -> tuple[TextPage, TextProof]:
        """The page of `query` at `version` (default: latest) and its proof against
        `root(version)`."""
        if version is None:
            version = self.latest_version()
            if version is None:
                return TextPage([], None), TextProof(RangeProof(b""))
        with self._tree.reading(version) as reader:
            if query.any_of:
                page, points = _union(reader, query)
                driver = 0
            else:
                page, points, driver = _intersection(reader, query)
        return page, TextProof(self._tree.prove_points(points, version), driver)


def _chunks(reader: Reader, query: TextQuery, prefix: bytes
            ) -> Iterator[tuple[bytes, list[bytes]]]:
    """(chunk key, ids past the cursor) of the list at `prefix`, ascending."""
    first = True
    for key, value in reader.items(query.start(prefix), count_key(prefix)):
        ids = decode_ids(value)
        if first and query.after is not None:
            ids = ids[bisect_right(ids, query.after):]
        first = False
        yield key, ids


def _intersection(reader: Reader, query: TextQuery
                  ) -> tuple[TextPage, list[bytes], int]:
    """AND / AND-NOT: the page, the points to prove, the driver (the shortest list)."""
    prefixes = [term_prefix(query.scope, t) for t in query.terms]
    counts = [reader.get(count_key(p)) or b"" for p in prefixes]
    driver = min(range(len(prefixes)), key=lambda i: counts[i])  # u64 big-endian
    points = [query.start(prefixes[driver])]

    def locate(probe: bytes, end: bytes) -> tuple[bytes, list[bytes]] | None:
        points.append(probe)
        found = reader.first(probe, end)
        if found is None:
            return None
        points.append(found[0])
        return found[0], decode_ids(found[1])

    members = [Membership(p, locate) for i, p in enumerate(prefixes) if i != driver]
    absent = [Membership(term_prefix(query.scope, t), locate) for t in query.exclude]
    ids: list[bytes] = []
    limit = query.limit
    for key, chunk in _chunks(reader, query, prefixes[driver]):
        points.append(key)
        ids.extend(select(chunk, members, absent))
        if len(ids) >= limit:
            del ids[limit:]
            break
    else:  # the path where the tail would be shows that the list ends
        points.append(tail_key(prefixes[driver]))
    return page_of(ids, limit), points, driver


def _union(reader: Reader, query: TextQuery) -> tuple[TextPage, list[bytes]]:
    """OR: up to `limit` ids from each list, the least `limit` of them all, and each
    list's chunks up to the one that holds (or would hold) the last of those."""
    read: dict[bytes, list[tuple[bytes, list[bytes]]]] = {}
    found: set[bytes] = set()
    for prefix in dict.fromkeys(term_prefix(query.scope, t) for t in query.terms):
        chunks = read[prefix] = []
        taken = 0
        for key, chunk in _chunks(reader, query, prefix):
            chunks.append((key, chunk))
            found.update(chunk)
            taken += len(chunk)
            if taken >= query.limit:
                break
        else:
            chunks.append((tail_key(prefix), []))
    page = page_of(sorted(found)[:query.limit], query.limit)
    points = []
    for prefix, chunks in read.items():
        points.append(query.start(prefix))
        for key, chunk in chunks:
            points.append(key)
            if page.next_after is not None and chunk and chunk[-1] >= page.next_after:
                break
    return page, points



__all__ = ["SUB_DBS", "InvertedIndex"]
