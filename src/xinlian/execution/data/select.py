"""Queries of several conditions over different attributes and index kinds, proven.

A selection is a conjunction of conditions, each on one attribute: its value lies in a
range (`lo`..`hi`, both included: a time window over a time attribute), or its text holds
words (every word, or `any_of` at least one), either of them negated (AND-NOT). One
positive condition whose attribute has the matching index (a range index for a range, a
keyword index for words) drives the query: its index proves a complete stretch of
candidates (a range-index page carries each candidate's record; a keyword page of ids is
followed by each candidate's record with its state proof), and every condition is checked
on each candidate's proven record. The client so recomputes the page from proven data
alone: exactly the candidates that satisfy every condition, none left out, since the
driver's stretch is complete and every record that satisfies all conditions satisfies the
driver's.

A page ends at its `limit`-th match or after `scan` candidates, whichever comes first (the
stop rule is the client's too, so an answer has one valid shape). Its cursor is the
driver's position, prefixed with the driver's number: the next page resumes the driver's
stretch after it, so paging is proven as the driver's own pages are.

Node and client both build the selection with `select_query` from the collection the state
holds; which condition drives is the node's choice (`drive`, from the index sizes: see
`estimate_cost`) or the caller's, and any positive indexed condition gives a correct and
complete answer, so the client accepts the node's choice and checks the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from xinlian.execution.data import values
from xinlian.execution.data.indexes import KeywordIndex, RangeIndex
from xinlian.execution.data.model import Collection, Kind
from xinlian.execution.data.query import MAX_PAGE, range_query, text_query
from xinlian.execution.errors import DataQueryError, UnknownAttribute
from xinlian.storage.inverted_proof import MAX_QUERY_TERMS, TextQuery
from xinlian.storage.mbtree_proof import RangeQuery
from xinlian.storage.tokenize import terms as text_terms

MAX_CONDITIONS = 8
# the driver's cost per candidate (served and verified, CPU), in units of a range-index
# candidate: a keyword candidate brings its record with a state proof of its own. Measured
# by `python -m benchmarks.data_select` (docs/benchmarks.md): about 16 us a range candidate
# and 106 us a keyword one
RANGE_CANDIDATE_COST = 1
KEYWORD_CANDIDATE_COST = 6


@dataclass(frozen=True)
class Condition:
    """One condition on `attribute`: a value range (`lo`, `hi`: Python values of its kind,
    None unbounded) or, with `words` (texts, each giving its terms), words of its text;
    `negate`: the records that do not satisfy it. A record without a value satisfies no
    (positive) condition on it."""

    attribute: str
    lo: Any = None
    hi: Any = None
    words: tuple[str, ...] = ()
    any_of: bool = False
    negate: bool = False


@dataclass(frozen=True)
class Test:
    """A condition as checked on a stored record's values: encoded bounds compared as
    bytes (the encodings sort as the values do, as the range index does), or terms."""

    position: int
    lo: bytes | None
    hi: bytes | None
    terms: frozenset[str] | None
    any_of: bool
    negate: bool

    def __call__(self, stored: Sequence[bytes | None]) -> bool:
        raw = stored[self.position] if self.position < len(stored) else None
        if raw is None:
            held = False
        elif self.terms is None:
            held = (self.lo is None or self.lo <= raw) and (self.hi is None or raw <= self.hi)
        else:
            found = set(text_terms(raw.decode(errors="replace")))
            held = not found.isdisjoint(self.terms) if self.any_of else self.terms <= found
        return held != self.negate


@dataclass(frozen=True)
class Selection:
    """A page of a selection: the driver's query (`scan` candidates, after the cursor;
    None: nothing can match), the tests of every condition, the page's `limit`."""

    drive: int
    driver: RangeQuery | TextQuery | None
    tests: tuple[Test, ...]
    limit: int
    scan: int

    def matches(self, stored: Sequence[bytes | None]) -> bool:
        return all(test(stored) for test in self.tests)

    def stop(self, flags: Iterable[bool]) -> int:
        """How many candidates the page holds, given whether each candidate in the
        driver's order matches: up to the `limit`-th match, else `scan` (`flags` is read
        no further than the limit-th match)."""
        found = 0
        for i, flag in enumerate(flags):
            found += flag
            if found == self.limit:
                return i + 1
        return self.scan

    def cursor(self, last: bytes) -> bytes:
        """The next page's cursor after the driver's position `last`."""
        return bytes((self.drive,)) + last


def select_query(collection: Collection, cid: bytes, conditions: Sequence[Condition], *,
                 drive: int, reverse: bool = False, limit: int = 100, scan: int = MAX_PAGE,
                 cursor: bytes | None = None) -> Selection:
    """The selection of `conditions` driven by condition `drive`, a page of `limit`
    matches among at most `scan` candidates after `cursor` (a previous page's). Typed
    errors (DataQueryError, UnknownAttribute, WrongKind) for one that cannot be asked."""
    tests = checked(collection, conditions)
    check_page(limit, scan)
    if drive not in drivers(collection, conditions):
        raise DataQueryError(f"condition {drive} cannot drive the query: a driver is a "
                             "condition, not negated, on an attribute with its index")
    inner = None
    if cursor is not None:
        if len(cursor) < 2 or cursor[0] != drive:
            raise DataQueryError("the cursor is not from this query's driver")
        inner = cursor[1:]
    lead = conditions[drive]
    driver: RangeQuery | TextQuery | None
    if lead.words:
        if reverse:
            raise DataQueryError("a query driven by words runs in record id order only")
        driver = text_query(collection, cid, lead.attribute, lead.words,
                            any_of=lead.any_of, limit=scan, cursor=inner)
    else:
        driver = range_query(collection, cid, lead.attribute, lead.lo, lead.hi,
                             reverse=reverse, limit=scan, cursor=inner)
    return Selection(drive, driver, tests, limit, scan)


def check_page(limit: int, scan: int) -> None:
    if not 1 <= limit <= MAX_PAGE or not 1 <= scan <= MAX_PAGE:
        raise DataQueryError(f"a page holds 1..{MAX_PAGE} records among 1..{MAX_PAGE} "
                             f"candidates, not {limit} among {scan}")


def checked(collection: Collection, conditions: Sequence[Condition]) -> tuple[Test, ...]:
    """Each condition's test; typed errors for conditions that cannot be asked."""
    if not 1 <= len(conditions) <= MAX_CONDITIONS:
        raise DataQueryError(f"a query has 1..{MAX_CONDITIONS} conditions, not "
                             f"{len(conditions)}")
    return tuple(_test(collection, c) for c in conditions)


def drivers(collection: Collection, conditions: Sequence[Condition]) -> list[int]:
    """The conditions that may drive: positive, on an attribute with their index."""
    out = []
    for i, c in enumerate(conditions):
        found = collection.attribute(c.attribute)
        wanted = KeywordIndex.name if c.words else RangeIndex.name
        if not c.negate and found is not None and found[1].index == wanted:
            out.append(i)
    return out


def choices(collection: Collection, conditions: Sequence[Condition], reverse: bool
            ) -> list[int]:
    """The conditions the node may choose to drive by (only a range runs descending);
    DataQueryError when there is none."""
    found = [i for i in drivers(collection, conditions)
             if not (reverse and conditions[i].words)]
    if not found:
        raise DataQueryError("no condition can drive the query: one must be a range over "
                             "a range-indexed attribute or words of a keyword-indexed one, "
                             "not negated" + (" (a range, to run in descending order)"
                                              if reverse else ""))
    return found


def estimate_cost(condition: Condition, candidates: int) -> int:
    """What driving by `condition` costs per page set, for `candidates` index entries
    (a range's count, the shortest list of an all-words condition, the lists' total for
    any): the node drives by the cheapest."""
    per = KEYWORD_CANDIDATE_COST if condition.words else RANGE_CANDIDATE_COST
    return candidates * per


def from_json(collection: Collection, condition: Condition) -> Condition:
    """`condition` with its bounds as JSON gives them (bytes as 0x hex) made values of
    the attribute's kind; UnknownAttribute, WrongKind."""
    found = collection.attribute(condition.attribute)
    if found is None:
        raise UnknownAttribute(f"collection {collection.name!r} has no attribute "
                               f"{condition.attribute!r}")
    kind = found[1].kind
    return replace(condition, lo=values.from_json(kind, condition.lo),
                   hi=values.from_json(kind, condition.hi))


def to_json(condition: Condition) -> dict[str, Any]:
    """The condition as xl_dataSelect takes it (docs/data.md)."""
    out: dict[str, Any] = {"attribute": condition.attribute}
    if condition.words:
        out["words"] = list(condition.words)
        if condition.any_of:
            out["match"] = "any"
    else:
        for name, bound in (("lo", condition.lo), ("hi", condition.hi)):
            if bound is not None:
                out[name] = "0x" + bound.hex() if isinstance(bound, bytes) else bound
    if condition.negate:
        out["not"] = True
    return out


def _test(collection: Collection, condition: Condition) -> Test:
    found = collection.attribute(condition.attribute)
    if found is None:
        raise UnknownAttribute(f"collection {collection.name!r} has no attribute "
                               f"{condition.attribute!r}")
    position, attr = found
    if condition.words:
        if condition.lo is not None or condition.hi is not None:
            raise DataQueryError("a condition is a value range or words, not both")
        if attr.kind != Kind.TEXT:
            raise DataQueryError(f"attribute {attr.name!r} holds {attr.kind} values, not "
                                 "text: it has no words")
        wanted = frozenset(t for text in condition.words for t in text_terms(text))
        if not wanted:
            raise DataQueryError("a words condition needs a word to look for")
        if len(wanted) > MAX_QUERY_TERMS:
            raise DataQueryError(f"a words condition names at most {MAX_QUERY_TERMS} "
                                 f"words, not {len(wanted)}")
        return Test(position, None, None, wanted, condition.any_of, condition.negate)
    if condition.any_of:
        raise DataQueryError("`any` goes with words")
    if attr.kind not in RangeIndex.kinds:
        raise DataQueryError(f"attribute {attr.name!r} holds {attr.kind} values, which "
                             "have no order")
    lo, hi = (None if v is None else values.encode(attr.kind, v)
              for v in (condition.lo, condition.hi))
    return Test(position, lo, hi, None, False, condition.negate)
