"""Keyword and boolean queries over the inverted index: its layout, proofs and the verifier.

Like `mst_proof.py`, this module imports neither LMDB nor the store: a client SDK or a light
node checks text answers with nothing but the codec and the chain's hash function.

Layout. The index (storage/inverted.py) keeps every posting list of every text attribute in
ONE Merkle search tree (storage/mst.py), so one root covers them all. A term's posting list
is the sorted list of the ids of the records whose text holds it, cut into chunks, each
chunk one tree entry whose value packs its ids into one buffer:

    term prefix  P = 0x00 | len(scope) | scope | term (UTF-8)
    chunk        P | 0x00 | last id of the chunk -> the chunk's ids, ascending
    tail chunk   P | 0x01                       -> the ids after the last boundary
    count        P | 0x02                       -> how many ids the list holds (u64)

An id ends a chunk when its hash's first byte is below 256 / CHUNK_FANOUT (a "boundary"),
so chunks hold CHUNK_FANOUT ids on average and, as the cut depends on the ids alone, the
tree (hence its root) depends on the lists' contents only. Terms hold no bytes below 0x03
(tokenize.py never makes them), so prefixes never overlap.

Proofs. A proof is the tree pruned to a set of search paths (`OrderedIndex.prove_points`)
plus which term drove the scan. Reading it in key order gives revealed keys, values where
shown, and hidden subtrees; the one fact the verifier uses is the successor rule: if no
hidden subtree lies between the revealed keys just below and at-or-above a probe, the latter
is the first key of the tree at or above it. Hence:

- a keyword page: the chunks of the list from the resume cursor on, revealed contiguously
  (no hidden subtree between them), cover every id in that stretch;
- AND / AND-NOT: the shortest positive list (the driver) is proven contiguously as above;
  each candidate id x of it is proven in or out of every other list by the successor of
  `P' | 0x00 | x`: the one chunk that would hold x (a list's chunks cut the id space into
  consecutive intervals), shown in full. Candidates falling in the same chunk share it;
- OR: every list is proven contiguously from the cursor as far as the page's last id.

Sizes (k ids on the page, ids of w bytes, F = CHUNK_FANOUT, n tree entries, m terms):
keyword ~ k * w bytes of ids + (k / F) * (key + value hash) + O(log16 n) path nodes, about
w + 1.5 bytes per id at F = 64; AND over m lists ~ the driver's scanned stretch as a keyword
page, plus for each other list at most one chunk (about F * w bytes) per driver chunk or per
candidate, whichever is fewer, and O(log16 n) path nodes per chunk proven; OR ~ m keyword
pages. The verifier hashes each revealed node once and each shown chunk in one call over its
buffer; per id it does one slice, and for AND one set lookup per other list.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import filterfalse

from xinlian import codec
from xinlian.storage.errors import (
    IncompleteAnswerError,
    QueryError,
    RangeProofError,
    ReorderedAnswerError,
    TamperedAnswerError,
)
from xinlian.storage.mst_proof import RangeProof, proven_items
from xinlian.storage.proof import Hasher
from xinlian.storage.tokenize import MAX_TERM_BYTES, terms, tokens

CHUNK_FANOUT = 64
MAX_SCOPE_BYTES = 64
MAX_ID_BYTES = 128
MAX_PAGE = 100_000
MAX_QUERY_TERMS = 16
# a full page of the longest ids, with the chunks of other lists an AND page may show
MAX_TEXT_PROOF_BYTES = 64 * 1024 * 1024
POSTINGS = b"\x00"
_CHUNK, _TAIL, _COUNT = b"\x00", b"\x01", b"\x02"


# -- layout ------------------------------------------------------------------------------

def term_prefix(scope: bytes, term: str) -> bytes:
    """P: where the entries of `term`'s list in `scope` (collection | attribute) start."""
    return POSTINGS + bytes((len(scope),)) + scope + term.encode()


def posting_entry(scope: bytes, term: str, record_id: bytes) -> bytes:
    """The update entry saying that record `record_id` of `scope` holds `term`."""
    return bytes((len(scope),)) + scope + term.encode() + b"\x00" + record_id


def text_entries(scope: bytes, record_id: bytes, text: str) -> dict[bytes, bytes]:
    """The posting entries of a record's text: what the index kind `keyword` gives the
    executor for a text value (removed with the old text, added with the new)."""
    check_scope(scope)
    check_id(record_id)
    return {posting_entry(scope, term, record_id): b"" for term in terms(text)}


def check_prefix(prefix: bytes) -> bytes:
    """A term prefix (P) of a valid scope and term."""
    size = prefix[1]
    check_scope(prefix[2:2 + size])
    try:
        check_term(prefix[2 + size:].decode())
    except UnicodeDecodeError:
        raise QueryError("a posting entry's term is not UTF-8") from None
    return prefix


def chunk_key(prefix: bytes, last_id: bytes) -> bytes:
    return prefix + _CHUNK + last_id


def tail_key(prefix: bytes) -> bytes:
    return prefix + _TAIL


def count_key(prefix: bytes) -> bytes:
    return prefix + _COUNT


def is_boundary(hasher: Hasher, record_id: bytes, fanout: int = CHUNK_FANOUT) -> bool:
    """Whether `record_id` ends the chunk it is in (for 1 in `fanout` ids). The verifier
    never needs this: it relies on the chunks' keys, not on where they were cut."""
    return hasher(record_id)[0] < 256 // fanout


def encode_ids(ids: list[bytes]) -> bytes:
    """One buffer for sorted ids: their common width then the ids back to back, or 0 then
    each id after its length byte when the widths differ."""
    width = len(ids[0])
    if len(set(map(len, ids))) == 1:
        return bytes((width,)) + b"".join(ids)
    return b"\x00" + b"".join(bytes((len(i),)) + i for i in ids)


def decode_ids(data: bytes) -> list[bytes]:
    """The ids of a chunk; ValueError for bytes that are not one."""
    if not data:
        raise ValueError("an empty chunk")
    width = data[0]
    if width:
        if (len(data) - 1) % width:
            raise ValueError("a chunk cut inside an id")
        return [data[i:i + width] for i in range(1, len(data), width)]
    ids, pos = [], 1
    while pos < len(data):
        end = pos + 1 + data[pos]
        if end > len(data) or end == pos + 1:
            raise ValueError("a chunk cut inside an id")
        ids.append(data[pos + 1:end])
        pos = end
    return ids


def check_scope(scope: bytes) -> bytes:
    if type(scope) is not bytes or not 0 < len(scope) <= MAX_SCOPE_BYTES:
        raise QueryError(f"a scope is 1..{MAX_SCOPE_BYTES} bytes")
    return scope


def check_id(record_id: bytes) -> bytes:
    if type(record_id) is not bytes or not 0 < len(record_id) <= MAX_ID_BYTES:
        raise QueryError(f"a record id is 1..{MAX_ID_BYTES} bytes")
    return record_id


def check_term(term: str) -> str:
    """A term as the tokenizer makes it; QueryError for anything else (a phrase is
    the AND of its `tokenize.terms`)."""
    if type(term) is not str or not 0 < len(term.encode()) <= MAX_TERM_BYTES or \
            tokens(term) != [term]:
        raise QueryError(f"{term!r} is not one normalised term (tokenize.terms)")
    return term


# -- queries, answers, proofs ------------------------------------------------------------

@dataclass(frozen=True)
class TextQuery:
    """Records of `scope` whose text holds every one of `terms` (`any_of`: at least one)
    and none of `exclude`; ids ascending after `after` (the previous page's last id), at
    most `limit` of them."""

    scope: bytes
    terms: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    any_of: bool = False
    after: bytes | None = None
    limit: int = 1000

    def __post_init__(self) -> None:
        check_scope(self.scope)
        if not self.terms:
            raise QueryError("a text query needs at least one term it must hold")
        if len(self.terms) + len(self.exclude) > MAX_QUERY_TERMS:
            raise QueryError(f"a text query names at most {MAX_QUERY_TERMS} terms")
        for term in (*self.terms, *self.exclude):
            check_term(term)
        if self.any_of and self.exclude:
            raise QueryError("an OR query takes no excluded terms")
        if self.after is not None:
            check_id(self.after)
        if type(self.limit) is not int or not 1 <= self.limit <= MAX_PAGE:
            raise QueryError(f"a page holds 1..{MAX_PAGE} ids, not {self.limit}")

    def start(self, prefix: bytes) -> bytes:
        """The probe whose successor is the first chunk holding ids past the cursor."""
        if self.after is None:
            return prefix + _CHUNK
        return chunk_key(prefix, self.after) + b"\x00"


class TextPage(codec.Struct):
    """Matching ids ascending, and the cursor of the next page (None: there is none)."""

    ids: list[bytes]
    next_after: bytes | None


class TextProof(codec.Struct):
    """The pruned index tree and, for AND queries, which of the terms drove the scan."""

    tree: RangeProof
    driver: int = 0


def encode_text_proof(proof: TextProof) -> bytes:
    return codec.encode(proof)


def decode_text_proof(data: bytes) -> TextProof:
    """Codec errors (1xxx) for bad bytes (or over MAX_TEXT_PROOF_BYTES); the verifier
    bounds the nesting."""
    proof: TextProof = codec.decode(data, TextProof, max_size=MAX_TEXT_PROOF_BYTES)
    return proof


def page_of(ids: list[bytes], limit: int) -> TextPage:
    return TextPage(ids, ids[-1] if len(ids) == limit else None)


# -- the verifier ------------------------------------------------------------------------

class _Proven:
    """The revealed keys of a checked proof in order, their values (None: hidden) and,
    for each position, whether a hidden subtree lies just before it."""

    def __init__(self, root: bytes, proof: RangeProof, hasher: Hasher) -> None:
        try:
            items = proven_items(root, proof, hasher)
        except RangeProofError as exc:
            raise TamperedAnswerError(exc.message) from None
        keys: list[bytes] = []
        values: list[bytes | None] = []
        gap: list[bool] = []
        hidden = False
        for key, value in items:
            if key is None:
                hidden = True
                continue
            keys.append(key)
            values.append(value)
            gap.append(hidden)
            hidden = False
        gap.append(hidden)
        self.keys, self.values, self.gap = keys, values, gap

    def successor(self, probe: bytes) -> int:
        """The position of the index's first key at or above `probe`."""
        i = bisect_left(self.keys, probe)
        if self.gap[i] and not (i < len(self.keys) and self.keys[i] == probe):
            raise IncompleteAnswerError("the proof hides where a posting list goes on")
        return i

    def chunk(self, i: int) -> list[bytes]:
        value = self.values[i]
        if value is None:
            raise IncompleteAnswerError("the proof hides a chunk of a posting list")
        try:
            return decode_ids(value)
        except ValueError as exc:
            raise TamperedAnswerError(f"a chunk does not decode: {exc}") from None

    def stretch(self, prefix: bytes, start: bytes, after: bytes | None
                ) -> Iterator[tuple[bytes, list[bytes]]]:
        """(chunk key, ids past `after`) of the list at `prefix` from `start` on, as far as
        they are revealed contiguously; ends with (b"", []) if that is the list's end."""
        tail = tail_key(prefix)
        i = self.successor(start)
        first = True
        while True:
            if i >= len(self.keys) or self.keys[i] > tail:
                yield b"", []
                return
            if self.values[i] is None:
                return
            ids = self.chunk(i)
            if first and after is not None:
                ids = ids[bisect_right(ids, after):]
            first = False
            yield self.keys[i], ids
            if self.keys[i] == tail:
                yield b"", []
                return
            i += 1
            if self.gap[i]:
                return

    def locate(self, probe: bytes, end: bytes) -> tuple[bytes, list[bytes]] | None:
        """The first chunk at or above `probe` if it is below `end`."""
        i = self.successor(probe)
        if i >= len(self.keys) or self.keys[i] >= end:
            return None
        return self.keys[i], self.chunk(i)


# The first entry with a key in [probe, end): (key, chunk ids), None if there is none.
Locate = Callable[[bytes, bytes], "tuple[bytes, list[bytes]] | None"]


class Membership:
    """Membership of ascending ids in one list, one chunk at a time: an id's chunk is
    looked up only when it lies past the chunk at hand. The prover (inverted.py) and the
    verifier run this same rule, so the proof holds exactly the lookups the check makes."""

    def __init__(self, prefix: bytes, locate: Locate) -> None:
        self.prefix, self._tail, self._end = prefix, tail_key(prefix), count_key(prefix)
        self._locate = locate
        self._bound: bytes | None = None  # the last id of the chunk at hand
        self._last = False                # the chunk at hand is the list's last
        self._ids: set[bytes] = set()

    def keep(self, ids: list[bytes], wanted: bool) -> list[bytes]:
        """The ascending `ids` that are in the list (`wanted`) or not in it."""
        out: list[bytes] = []
        i = 0
        while i < len(ids):
            if not self._last and (self._bound is None or ids[i] > self._bound):
                self._load(ids[i])
            bound = self._bound
            j = len(ids) if self._last or bound is None else bisect_right(ids, bound, i)
            test = self._ids.__contains__
            out.extend(filter(test, ids[i:j]) if wanted else filterfalse(test, ids[i:j]))
            i = j
        return out

    def _load(self, record_id: bytes) -> None:
        found = self._locate(chunk_key(self.prefix, record_id), self._end)
        if found is None or found[0] == self._tail:
            self._last = True
            self._ids = set(found[1]) if found is not None else set()
        else:
            self._bound = found[0][len(self.prefix) + 1:]
            self._ids = set(found[1])


def select(ids: list[bytes], members: list[Membership], absent: list[Membership]
           ) -> list[bytes]:
    """The ascending `ids` in every list of `members` and in none of `absent`."""
    for member in members:
        ids = member.keep(ids, True)
    for member in absent:
        ids = member.keep(ids, False)
    return ids


def compute_page(root: bytes, query: TextQuery, proof: TextProof, hasher: Hasher
                 ) -> TextPage:
    """The page that `proof` establishes for `query` under `root`; TamperedAnswerError if
    the proof is not the root's, IncompleteAnswerError if it leaves part of the page out."""
    proven = _Proven(root, proof.tree, hasher)
    prefixes = [term_prefix(query.scope, t) for t in query.terms]
    if query.any_of:
        return _union(proven, query, prefixes)
    if type(proof.driver) is not int or not 0 <= proof.driver < len(prefixes):
        raise TamperedAnswerError("the proof names no term of the query as its driver")
    driver = prefixes[proof.driver]
    members = [Membership(p, proven.locate) for i, p in enumerate(prefixes)
               if i != proof.driver]
    absent = [Membership(term_prefix(query.scope, t), proven.locate) for t in query.exclude]
    limit = query.limit
    ids: list[bytes] = []
    for key, chunk in proven.stretch(driver, query.start(driver), query.after):
        if not key:
            return page_of(ids, limit)
        ids.extend(select(chunk, members, absent))
        if len(ids) >= limit:
            del ids[limit:]
            return page_of(ids, limit)
    raise IncompleteAnswerError("the proof stops before the page is full or the list ends")


def _union(proven: _Proven, query: TextQuery, prefixes: list[bytes]) -> TextPage:
    """OR: the ids of all lists up to the least point that every list is proven to."""
    found: set[bytes] = set()
    bound: bytes | None = None  # None: every list is proven to its end
    for prefix in dict.fromkeys(prefixes):
        last: bytes | None = None
        for key, chunk in proven.stretch(prefix, query.start(prefix), query.after):
            if not key:  # proven to its end
                break
            found.update(chunk)
            last = key
        else:  # proven up to the chunk `last` only
            if last is None:
                raise IncompleteAnswerError("the proof hides the start of a posting list")
            covered = last[len(prefix) + 1:]
            if bound is None or covered < bound:
                bound = covered
    ids = sorted(found if bound is None else (x for x in found if x <= bound))
    if len(ids) < query.limit and bound is not None:
        raise IncompleteAnswerError("the proof stops before the page is full or the lists "
                                    "end")
    return page_of(ids[:query.limit], query.limit)


def verify_text(root: bytes, query: TextQuery, page: TextPage, proof: TextProof,
                hasher: Hasher) -> TextPage:
    """The page, checked: exactly the query's answer under `root`, in order. Raises
    TamperedAnswerError, IncompleteAnswerError or ReorderedAnswerError (all ProofError)."""
    proven = compute_page(root, query, proof, hasher)
    if page.ids == proven.ids:
        if page.next_after != proven.next_after:
            raise (IncompleteAnswerError if page.next_after is None else TamperedAnswerError)(
                "the page's resume cursor is not the one its proof gives")
        return proven
    got, want = set(page.ids), set(proven.ids)
    if got == want and len(page.ids) == len(proven.ids):
        raise ReorderedAnswerError("the page holds the proven ids in another order")
    if got < want:
        raise IncompleteAnswerError(f"the page leaves out {len(want - got)} proven ids")
    raise TamperedAnswerError("the page holds ids that its proof does not")


__all__ = [
    "CHUNK_FANOUT",
    "Membership",
    "TextPage",
    "TextProof",
    "TextQuery",
    "compute_page",
    "decode_text_proof",
    "encode_text_proof",
    "select",
    "text_entries",
    "verify_text",
]
