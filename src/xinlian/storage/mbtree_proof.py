"""The Merkle B+-tree's node formats, hashing rules, query walk and standalone verifiers.

Like `mst_proof.py`, this module imports neither LMDB nor the store: client SDKs and light
nodes verify range and aggregate answers with nothing but `struct` and a hash function.

Theory of operation. Entries (key, value, measure) sit in leaves only, in key order; the
measure is a signed 64-bit number (a reading, an amount in fixed point) that the tree
aggregates. An internal node holds, per child, the child's first key, its hash and its
subtree's aggregates (count, sum, min, max of the measures), so a node's hash commits to
every aggregate below it. A node is one flat buffer, hashed as it is stored and sent:

    leaf     = 0x10 | n u32 | measures n x i64 | offsets (2n+1) x u32 | keys | values
    internal = 0x11 | height u8 | n u32 | hashes n x 32 | counts n x u64
               | sums n x i128 | mins n x i64 | maxs n x i64 | offsets (n+1) x u32 | keys
    hash(node) = H(buffer)                           (all integers big-endian)

Offsets are absolute positions in the buffer (key i is buf[off[i]:off[i+1]], value i is
buf[off[n+i]:off[n+i+1]]), so a page of records is cut out of a leaf with one `unpack` and
two slicing comprehensions, and a leaf of k records costs one hash call: a page of k
contiguous records verifies with about k/64 leaf hashes and a few node hashes per level.

A child covers the keys from its first key to the next child's first key (the first child
from its parent's lower bound, the last to its parent's upper bound). A query is answered
by one walk, shared by the prover and the verifier: from the root, children are visited in
query order while they overlap the query's key range (and, for a page, while the page is not
full); an aggregate takes a child wholly inside the range from its parent's figures and
visits only the children the range's two ends cut. The proof is the list of nodes the walk
read, in the order it read them. The verifier runs the same walk over that list, checking
each node's hash against the hash its parent (or the root) gives before reading it, so a
changed, reordered, dropped or extra node is caught where it stands, and what the walk
needs and does not get makes the answer incomplete.

The verifier trusts the shape under a committed root (the validators built it by the rule
in `mbtree.py`: sorted leaves, first keys in parents, true aggregates): it checks hashes,
not sortedness inside a leaf. That is what makes it cost a hash per leaf.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate, chain, pairwise

from xinlian import codec
from xinlian.storage.errors import (
    IncompleteAnswerError,
    MalformedProofError,
    QueryError,
    ReorderedAnswerError,
    TamperedAnswerError,
)

Hasher = Callable[[bytes], bytes]

HASH_SIZE = 32
EMPTY_ROOT = bytes(HASH_SIZE)
LEAF_TAG = 0x10
INTERNAL_TAG = 0x11
MAX_HEIGHT = 32
MAX_PAGE = 100_000          # records per page
MAX_PROOF_BYTES = 64 * 1024 * 1024
MEASURE_MIN, MEASURE_MAX = -(1 << 63), (1 << 63) - 1
_LEAF_HEAD = struct.Struct(">BI")
_INTERNAL_HEAD = struct.Struct(">BBI")


# -- node buffers ------------------------------------------------------------------------

def encode_leaf(keys: list[bytes], values: list[bytes], measures: list[int]) -> bytes:
    n = len(keys)
    base = _LEAF_HEAD.size + 8 * n + 4 * (2 * n + 1)
    offsets = accumulate(map(len, chain(keys, values)), initial=base)
    return b"".join((_LEAF_HEAD.pack(LEAF_TAG, n), struct.pack(f">{n}q", *measures),
                     struct.pack(f">{2 * n + 1}I", *offsets), *keys, *values))


@dataclass(frozen=True, slots=True)
class Aggregate:
    """count, sum, min and max of the measures of some entries (min/max None if none)."""

    count: int = 0
    total: int = 0
    min: int | None = None
    max: int | None = None

    def plus(self, other: Aggregate) -> Aggregate:
        if not other.count:
            return self
        if not self.count:
            return other
        assert self.min is not None and self.max is not None
        assert other.min is not None and other.max is not None
        return Aggregate(self.count + other.count, self.total + other.total,
                         min(self.min, other.min), max(self.max, other.max))


def aggregate_of(measures: list[int] | tuple[int, ...]) -> Aggregate:
    if not measures:
        return Aggregate()
    return Aggregate(len(measures), sum(measures), min(measures), max(measures))


def encode_internal(height: int, keys: list[bytes], hashes: list[bytes],
                    aggregates: list[Aggregate]) -> bytes:
    n = len(keys)
    sums = b"".join(a.total.to_bytes(16, "big", signed=True) for a in aggregates)
    base = _INTERNAL_HEAD.size + (32 + 8 + 16 + 8 + 8) * n + 4 * (n + 1)
    offsets = accumulate(map(len, keys), initial=base)
    return b"".join((_INTERNAL_HEAD.pack(INTERNAL_TAG, height, n), *hashes,
                     struct.pack(f">{n}Q", *(a.count for a in aggregates)), sums,
                     struct.pack(f">{n}q", *(a.min for a in aggregates)),
                     struct.pack(f">{n}q", *(a.max for a in aggregates)),
                     struct.pack(f">{n + 1}I", *offsets), *keys))


class Leaf:
    """A leaf buffer, read column by column on demand."""

    __slots__ = ("_offsets", "buf", "n")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.n = _LEAF_HEAD.unpack_from(buf)[1]
        self._offsets: tuple[int, ...] | None = None

    def offsets(self) -> tuple[int, ...]:
        if self._offsets is None:
            n = self.n
            self._offsets = struct.unpack_from(f">{2 * n + 1}I", self.buf,
                                               _LEAF_HEAD.size + 8 * n)
        return self._offsets

    def keys(self, a: int = 0, b: int | None = None) -> list[bytes]:
        b = self.n if b is None else b
        buf, off = self.buf, self.offsets()
        return [buf[s:e] for s, e in zip(off[a:b], off[a + 1:b + 1], strict=True)]

    def values(self, a: int = 0, b: int | None = None) -> list[bytes]:
        n = self.n
        b = n if b is None else b
        buf, off = self.buf, self.offsets()
        return [buf[s:e] for s, e in zip(off[n + a:n + b], off[n + a + 1:n + b + 1],
                                         strict=True)]

    def measures(self, a: int = 0, b: int | None = None) -> tuple[int, ...]:
        b = self.n if b is None else b
        return struct.unpack_from(f">{b - a}q", self.buf, _LEAF_HEAD.size + 8 * a)

    def bisect(self, key: bytes, lo: int = 0) -> int:
        """The first entry at or after `lo` whose key is not below `key` (a binary search
        over the offsets: a few slices, not the leaf's keys)."""
        buf, off = self.buf, self.offsets()
        hi = self.n
        while lo < hi:
            mid = (lo + hi) // 2
            if buf[off[mid]:off[mid + 1]] < key:
                lo = mid + 1
            else:
                hi = mid
        return lo


class Internal:
    """An internal node buffer: keys and child hashes decoded at once, the children's
    aggregates when first asked for (a range page needs none)."""

    __slots__ = ("_aggregates", "buf", "hashes", "height", "keys")

    def __init__(self, buf: bytes) -> None:
        _, height, n = _INTERNAL_HEAD.unpack_from(buf)
        pos = _INTERNAL_HEAD.size
        self.buf = buf
        self.height: int = height
        self.hashes = [buf[i:i + 32] for i in range(pos, pos + 32 * n, 32)]
        off = struct.unpack_from(f">{n + 1}I", buf, pos + 72 * n)
        self.keys = [buf[s:e] for s, e in pairwise(off)]
        self._aggregates: list[Aggregate] | None = None
        if off[-1] != len(buf) or not n or height < 1:
            raise MalformedProofError("an index node of the wrong shape")

    @property
    def aggregates(self) -> list[Aggregate]:
        if self._aggregates is None:
            n = len(self.keys)
            buf, pos = self.buf, _INTERNAL_HEAD.size + 32 * n
            counts = struct.unpack_from(f">{n}Q", buf, pos)
            pos += 8 * n
            sums = [int.from_bytes(buf[i:i + 16], "big", signed=True)
                    for i in range(pos, pos + 16 * n, 16)]
            pos += 16 * n
            mins = struct.unpack_from(f">{n}q", buf, pos)
            maxs = struct.unpack_from(f">{n}q", buf, pos + 8 * n)
            self._aggregates = [Aggregate(c, s, lo, hi)
                                for c, s, lo, hi in zip(counts, sums, mins, maxs, strict=True)]
        return self._aggregates


Node = Leaf | Internal


def decode_node(buf: bytes) -> Node:
    """The node in `buf`; MalformedProofError if it is not one."""
    try:
        if buf[:1] == bytes([LEAF_TAG]):
            leaf = Leaf(buf)
            off = leaf.offsets()
            if not leaf.n or off[-1] != len(buf):
                raise MalformedProofError("an index leaf of the wrong shape")
            return leaf
        if buf[:1] == bytes([INTERNAL_TAG]):
            return Internal(buf)
    except struct.error as exc:
        raise MalformedProofError(f"an index node cut short: {exc}") from None
    raise MalformedProofError("bytes that are not an index node")


# -- queries -----------------------------------------------------------------------------

@dataclass(frozen=True)
class RangeQuery:
    """Keys `lo <= key < hi` (hi None: no upper bound), ascending or (`reverse`)
    descending, at most `limit` of them per page."""

    lo: bytes
    hi: bytes | None
    limit: int = 1000
    reverse: bool = False

    def __post_init__(self) -> None:
        if type(self.lo) is not bytes or (self.hi is not None and type(self.hi) is not bytes):
            raise QueryError("range bounds are bytes")
        if not 1 <= self.limit <= MAX_PAGE:
            raise QueryError(f"a page holds 1..{MAX_PAGE} records, not {self.limit}")
        if self.hi is not None and self.hi <= self.lo:
            raise QueryError("an empty key range")

    def overlaps(self, lo: bytes | None, hi: bytes | None) -> bool:
        """Whether keys from `lo` up to `hi` (None: unbounded) may fall in the range."""
        return (hi is None or self.lo < hi) and (lo is None or self.hi is None or lo < self.hi)

    def covers(self, lo: bytes | None, hi: bytes | None) -> bool:
        """Whether every key from `lo` up to `hi` falls in the range (no key is below b"")."""
        return (self.lo <= lo if lo is not None else not self.lo) and (
            self.hi is None or (hi is not None and hi <= self.hi))

    def resume(self, page: Page) -> RangeQuery | None:
        """The query for the page after `page` (None when `page` was the last)."""
        cursor = page.cursor
        if cursor is None:
            return None
        if self.reverse:
            return RangeQuery(self.lo, cursor, self.limit, True) if self.lo < cursor else None
        if self.hi is not None and cursor >= self.hi:
            return None
        return RangeQuery(cursor, self.hi, self.limit, False)


class Page:
    """One page of a range answer, in query order: runs of verified leaves, cut into
    columns (keys, values, measures) only when first read, so verifying makes no object per
    record. The `cursor` resumes after the page (the next `lo` ascending, the next `hi`
    descending), None when the range is exhausted."""

    def __init__(self, reverse: bool = False) -> None:
        self.reverse = reverse
        self.cursor: bytes | None = None
        self._runs: list[tuple[Leaf, int, int]] = []
        self._count = 0
        self._columns: tuple[list[bytes], list[bytes], list[int]] | None = None

    def add(self, leaf: Leaf, a: int, b: int) -> None:
        """Entries a..b-1 of `leaf`, after those added before (in query order)."""
        self._runs.append((leaf, a, b))
        self._count += b - a
        self._columns = None

    def __len__(self) -> int:
        return self._count

    def last_key(self) -> bytes:
        leaf, a, b = self._runs[-1]
        return leaf.keys(a, a + 1)[0] if self.reverse else leaf.keys(b - 1, b)[0]

    def columns(self) -> tuple[list[bytes], list[bytes], list[int]]:
        if self._columns is None:
            keys: list[bytes] = []
            values: list[bytes] = []
            measures: list[int] = []
            for leaf, a, b in self._runs:
                if self.reverse:
                    keys += reversed(leaf.keys(a, b))
                    values += reversed(leaf.values(a, b))
                    measures += reversed(leaf.measures(a, b))
                else:
                    keys += leaf.keys(a, b)
                    values += leaf.values(a, b)
                    measures += leaf.measures(a, b)
            self._columns = keys, values, measures
        return self._columns

    @property
    def keys(self) -> list[bytes]:
        return self.columns()[0]

    @property
    def values(self) -> list[bytes]:
        return self.columns()[1]

    @property
    def measures(self) -> list[int]:
        return self.columns()[2]

    def records(self) -> list[tuple[bytes, bytes, int]]:
        return list(zip(*self.columns(), strict=True))


class Proof(codec.Struct):
    """The nodes a query's walk read, in the order it read them (none: the empty index)."""

    nodes: list[bytes]


def encode_proof(proof: Proof) -> bytes:
    return codec.encode(proof)


def decode_proof(data: bytes) -> Proof:
    """Codec errors (1xxx) for bad bytes."""
    proof: Proof = codec.decode(data, Proof, max_size=MAX_PROOF_BYTES)
    return proof


# -- the walk, shared by prover and verifier ---------------------------------------------

# fetch(hash, height the walk expects or -1 for the root) -> the node
Fetch = Callable[[bytes, int], Node]


def walk_range(fetch: Fetch, root: bytes, query: RangeQuery, page: Page | None) -> int:
    """Visit what a page of `query` needs under `root`; fill `page` (if given) with the
    records; return how many records the page holds."""
    if root == EMPTY_ROOT:
        return 0
    state = _PageWalk(fetch, query, page)
    state.visit(root, -1, None, None)
    if page is not None and state.full:
        last = page.last_key()
        page.cursor = last if query.reverse else last + b"\x00"
    return state.taken


class _PageWalk:
    __slots__ = ("fetch", "full", "page", "query", "taken")

    def __init__(self, fetch: Fetch, query: RangeQuery, page: Page | None) -> None:
        self.fetch, self.query, self.page = fetch, query, page
        self.taken = 0
        self.full = False

    def visit(self, ref: bytes, height: int, lo: bytes | None, hi: bytes | None) -> None:
        node = self.fetch(ref, height)
        query = self.query
        if isinstance(node, Internal):
            keys, n = node.keys, len(node.keys)
            order = range(n - 1, -1, -1) if query.reverse else range(n)
            for i in order:
                if self.full:
                    return
                c_lo = keys[i] if i else lo
                c_hi = keys[i + 1] if i + 1 < n else hi
                if query.overlaps(c_lo, c_hi):
                    self.visit(node.hashes[i], node.height - 1, c_lo, c_hi)
            return
        a, b = 0, node.n
        if not query.covers(lo, hi):
            a = node.bisect(query.lo)
            if query.hi is not None:
                b = node.bisect(query.hi, a)
        room = query.limit - self.taken
        if b - a >= room:
            self.full = True
            if query.reverse:
                a = b - room
            else:
                b = a + room
        if b <= a:
            return
        self.taken += b - a
        if self.page is not None:
            self.page.add(node, a, b)


def walk_aggregate(fetch: Fetch, root: bytes, lo: bytes, hi: bytes | None) -> Aggregate:
    """count/sum/min/max over `lo <= key < hi`, visiting only the nodes the range's ends cut."""
    if root == EMPTY_ROOT:
        return Aggregate()
    return _aggregate(fetch, RangeQuery(lo, hi), root, -1, None, None)


def _aggregate(fetch: Fetch, query: RangeQuery, ref: bytes, height: int, lo: bytes | None,
               hi: bytes | None) -> Aggregate:
    node = fetch(ref, height)
    if isinstance(node, Leaf):
        a = node.bisect(query.lo)
        b = node.n if query.hi is None else node.bisect(query.hi, a)
        return aggregate_of(node.measures(a, b)) if a < b else Aggregate()
    total = Aggregate()
    keys, n = node.keys, len(node.keys)
    for i in range(n):
        c_lo = keys[i] if i else lo
        c_hi = keys[i + 1] if i + 1 < n else hi
        if query.covers(c_lo, c_hi):
            total = total.plus(node.aggregates[i])
        elif query.overlaps(c_lo, c_hi):
            total = total.plus(_aggregate(fetch, query, node.hashes[i], node.height - 1,
                                          c_lo, c_hi))
    return total


# -- verifiers ---------------------------------------------------------------------------

class _ProofReader:
    """The verifier's `Fetch`: the proof's next node, which must hash to what is asked."""

    __slots__ = ("hasher", "nodes", "pos")

    def __init__(self, proof: Proof, hasher: Hasher) -> None:
        self.nodes, self.hasher, self.pos = proof.nodes, hasher, 0

    def __call__(self, ref: bytes, height: int) -> Node:
        if self.pos >= len(self.nodes):
            raise IncompleteAnswerError("the proof stops before the answer is complete")
        buf = self.nodes[self.pos]
        self.pos += 1
        if self.hasher(buf) != ref:
            if any(self.hasher(later) == ref for later in self.nodes[self.pos:]):
                raise ReorderedAnswerError(f"proof node {self.pos - 1} is out of its place")
            raise TamperedAnswerError(
                f"proof node {self.pos - 1} does not hash to what its parent commits to")
        node = decode_node(buf)
        got = node.height if isinstance(node, Internal) else 0
        if height >= 0 and got != height:
            raise MalformedProofError(f"a node of height {got} where {height} belongs")
        return node

    def finish(self) -> None:
        if self.pos != len(self.nodes):
            raise TamperedAnswerError(
                f"the proof holds {len(self.nodes) - self.pos} nodes the answer does not use")


def verify_range(root: bytes, query: RangeQuery, proof: Proof, hasher: Hasher) -> Page:
    """The page of `query` that `proof` proves complete against `root`: TamperedAnswerError
    if a node was changed or added, ReorderedAnswerError if nodes were swapped,
    IncompleteAnswerError if one is missing."""
    reader = _ProofReader(proof, hasher)
    page = Page(query.reverse)
    walk_range(reader, root, query, page)
    reader.finish()
    return page


def verify_aggregate(root: bytes, lo: bytes, hi: bytes | None, proof: Proof,
                     hasher: Hasher) -> Aggregate:
    """count/sum/min/max of the measures over `lo <= key < hi`, proven against `root`
    (errors as `verify_range`)."""
    reader = _ProofReader(proof, hasher)
    found = walk_aggregate(reader, root, lo, hi)
    reader.finish()
    return found


__all__ = [
    "EMPTY_ROOT", "HASH_SIZE", "Aggregate", "Internal", "Leaf", "Page", "Proof", "RangeQuery",
    "decode_proof", "encode_proof", "verify_aggregate", "verify_range", "walk_aggregate",
    "walk_range",
]
