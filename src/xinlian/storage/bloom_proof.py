"""Block filters: the per-block Bloom filter format and the pure window verifier.

Like `proof.py`, this module imports neither LMDB nor the store, so client SDKs and light
nodes check "these blocks cannot hold the term" with a codec and a hash function only.

Each block has a Bloom filter of the terms it touched (keys, keyword terms, attribute
buckets: whatever byte strings the data model derives); the filters are the leaves of a
Merkle Mountain Range over blocks (leaf h is block h's filter, an empty filter for a block
that touched nothing), and the MMR's encoded peaks are a state value, so a certified header
commits to every filter before it. A time-window query [first, stop) is answered with the
run of filters of those blocks and one run proof (`mmr.run_peaks`); the client recomputes
the peaks, then tests its terms in each filter: a block whose filter lacks a term cannot
contain it (Bloom filters have no false negatives), so only the other blocks need reading.
This is the block skipping of vChain (Xu et al., SIGMOD 2019), with the filters under an
MMR rather than in each header.

Parameters are fixed, so every node builds the same filter from the same terms: K = 7 bit
positions per term and ceil(10.1 * n) bits for n distinct terms (rounded up to whole
bytes), which is the optimum for a false-positive rate of 2^-7 (about 0.8%: k = log2(1/p),
m/n = k / ln 2). A term's positions come from one hash with the chain suite's hash,
domain-separated: d = H("xl/bloom" || term), h1 = d[0:8], h2 = d[8:16] | 1 (big-endian),
position i = (h1 + i * h2) mod m (Kirsch and Mitzenmacher's double hashing).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from xinlian import codec
from xinlian.storage import mmr
from xinlian.storage.errors import IncompleteAnswerError, QueryError, TamperedAnswerError
from xinlian.storage.proof import Hasher

K = 7
BITS_PER_TERM_X10 = 101  # ceil(10 * K / ln 2)
FALSE_POSITIVE_TARGET = 2.0 ** -K
MAX_WINDOW = 100_000     # blocks per page
MAX_TERMS = 64           # terms per query
_DOMAIN = b"xl/bloom"

Probe = tuple[int, int]


def probe(hasher: Hasher, term: bytes) -> Probe:
    """The term's (h1, h2), computed once and tested against any number of filters."""
    digest = hasher(_DOMAIN + term)
    return int.from_bytes(digest[:8], "big"), int.from_bytes(digest[8:16], "big") | 1


def filter_size(terms: int) -> int:
    """The filter's length in bytes for `terms` distinct terms (0 for none)."""
    return (terms * BITS_PER_TERM_X10 + 79) // 80


def build_filter(hasher: Hasher, terms: Iterable[bytes]) -> bytes:
    """The filter of a block that touched `terms` (duplicates count once)."""
    distinct = set(terms)
    size = filter_size(len(distinct))
    bits = bytearray(size)
    m = size * 8
    for term in distinct:
        h1, h2 = probe(hasher, term)
        for i in range(K):
            position = (h1 + i * h2) % m
            bits[position >> 3] |= 1 << (position & 7)
    return bytes(bits)


def may_contain(bloom: bytes, term: Probe) -> bool:
    """False when the filter proves the term absent; True when it may be there."""
    m = len(bloom) * 8
    if not m:
        return False
    h1, h2 = term
    for i in range(K):
        position = (h1 + i * h2) % m
        if not bloom[position >> 3] >> (position & 7) & 1:
            return False
    return True


@dataclass(frozen=True)
class WindowQuery:
    """Blocks `first <= h < stop` that may hold `terms`: any of them (`match` "any") or
    all of them ("all"); at most `limit` blocks per page."""

    first: int
    stop: int
    terms: tuple[bytes, ...]
    match: Literal["any", "all"] = "any"
    limit: int = MAX_WINDOW

    def __post_init__(self) -> None:
        if not 0 <= self.first < self.stop:
            raise QueryError(f"blocks [{self.first}, {self.stop}) are an empty window")
        if not 1 <= self.limit <= MAX_WINDOW:
            raise QueryError(f"a window page holds 1..{MAX_WINDOW} blocks, not {self.limit}")
        if not 1 <= len(self.terms) <= MAX_TERMS or any(type(t) is not bytes
                                                         for t in self.terms):
            raise QueryError(f"a window query has 1..{MAX_TERMS} byte-string terms")
        if self.match not in ("any", "all"):
            raise QueryError(f"match is 'any' or 'all', not {self.match!r}")

    def end(self, size: int) -> int:
        """Where a full page ends among `size` blocks."""
        return max(self.first, min(self.stop, size, self.first + self.limit))


class WindowPage(codec.Struct):
    """The filters of blocks [first, first + len(filters)) of an MMR of `size` blocks, and
    the run proof's siblings (concatenated 32-byte hashes)."""

    size: int
    first: int
    filters: list[bytes]
    siblings: bytes


@dataclass(frozen=True)
class WindowAnswer:
    """Of blocks [first, stop), `candidates` may hold a match; every other one cannot.
    `stop` is where the next page starts (the query's stop or size: done)."""

    first: int
    stop: int
    candidates: list[int]


def candidates(filters: Sequence[bytes], first: int, probes: Sequence[Probe],
               match: Literal["any", "all"]) -> list[int]:
    """The heights among the filters' blocks that may hold a match."""
    test = any if match == "any" else all
    return [first + i for i, bloom in enumerate(filters)
            if bloom and test(may_contain(bloom, p) for p in probes)]


def verify_window(peaks_value: bytes, query: WindowQuery, page: WindowPage,
                  hasher: Hasher) -> WindowAnswer:
    """The page's answer, proven against the committed filter peaks (the encoded
    `mmr.Peaks` a state proof gave the caller); raises a ProofError. A page may stop
    short of the query (the server caps its size) but covers at least one block."""
    peaks = mmr.decode_peaks(peaks_value)
    if page.size != peaks.size:
        raise TamperedAnswerError(f"the answer is for {page.size} blocks, the committed "
                                  f"filters cover {peaks.size}")
    if page.first != query.first:
        raise TamperedAnswerError(f"the answer starts at block {page.first}, not "
                                  f"{query.first}")
    end = query.end(peaks.size)
    count = len(page.filters)
    if count > end - query.first:
        raise TamperedAnswerError("the answer holds blocks the query did not ask for")
    if count == 0 and end > query.first:
        raise IncompleteAnswerError("the answer covers none of the window")
    if count:
        mmr.check_run(hasher, peaks, page.first, page.filters, page.siblings)
    probes = [probe(hasher, term) for term in query.terms]
    return WindowAnswer(page.first, page.first + count,
                        candidates(page.filters, page.first, probes, query.match))
