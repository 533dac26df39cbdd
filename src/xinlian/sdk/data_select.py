"""Queries of several conditions through the SDK: the driver's proven candidates, every
condition checked on each proven record (execution/data/select.py).

The client rebuilds the selection from the proven collection and the driver the node
names (any condition that may drive gives the same set of records, so the node's choice
needs no trust), applies the stop rule to the candidates to learn how long the driver's
page must be, and checks that page against the driver's index root: a range page by its
range proof (its entries carry the records), a keyword page by its text proof and each
record by its state proof. The page is then the proven candidates that satisfy every
condition, and its cursor the driver's. A dropped candidate fails as AnswerIncomplete, an
added or altered one as AnswerTampered, two swapped as AnswerReordered (all ProofError).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from operator import itemgetter
from typing import TypeVar

from xinlian import codec
from xinlian.errors import XinlianError
from xinlian.execution.data.model import Collection, StoredRecord
from xinlian.execution.data.query import DataRecord, read_entry
from xinlian.execution.data.select import Condition, Selection
from xinlian.node.interface import DataQueryAnswer, DataSearchAnswer, DataSelectAnswer
from xinlian.sdk.data_search import page_records
from xinlian.sdk.errors import (
    AnswerIncomplete,
    AnswerReordered,
    AnswerTampered,
    ProofError,
    answer_error,
)
from xinlian.storage.inverted_proof import TextQuery, compute_page, decode_text_proof
from xinlian.storage.mbtree_proof import RangeQuery, decode_proof, verify_range
from xinlian.storage.proof import Hasher

T = TypeVar("T")
Candidates = tuple[list[DataRecord], bytes | None]  # the page's matches, the next cursor


def page(collection: Collection, cid: bytes, selection: Selection,
         conditions: Sequence[Condition], answer: DataSelectAnswer, root: bytes,
         hasher: Hasher, verify: bool) -> Candidates:
    """The matches of a page and the next cursor, checked (`verify`) against `root`, the
    root of the driver's index (proven by the caller): the driver's page must be the one
    of its index kind, the other absent."""
    words = bool(conditions[selection.drive].words)
    if words and answer.keyword is not None and answer.range is None:
        return by_words(collection, cid, selection, answer.keyword, root, hasher, verify)
    if not words and answer.range is not None and answer.keyword is None:
        return by_range(collection, selection, conditions[selection.drive].attribute,
                        answer.range, root, hasher, verify)
    raise AnswerTampered("the answer is not a page of its driver's index")


def by_range(collection: Collection, selection: Selection, attribute: str,
             answer: DataQueryAnswer, root: bytes, hasher: Hasher, verify: bool
             ) -> Candidates:
    """The matches of a range driver's page of candidates, checked (`verify`) against
    the range index's `root`."""
    where = f"data select at block {answer.collection.header.height}"
    entries = [(e.key, e.value) for e in answer.entries]
    stored = [_stored(value, where) for _, value in entries]
    flags = [selection.matches(s.values) for s in stored]
    driver = selection.driver
    if driver is None:  # the proven collection says nothing can match
        if entries:
            raise AnswerTampered(f"{where}: records for a range nothing can match")
        return [], None
    assert isinstance(driver, RangeQuery)
    count = selection.stop(flags)
    if verify:
        try:
            page = verify_range(root, replace(driver, limit=count),
                                decode_proof(answer.proof), hasher)
        except XinlianError as exc:
            raise answer_error(exc, where) from None
        _same(list(zip(page.keys, page.values, strict=True)), entries, where,
              itemgetter(0), driver.reverse)
    elif len(entries) > count:
        raise AnswerTampered(f"{where}: candidates past the page's end")
    try:
        records = [read_entry(collection, attribute, k, v)
                   for (k, v), match in zip(entries, flags, strict=True) if match]
    except XinlianError as exc:
        raise ProofError(f"{where}: a record of the page: {exc.message}") from None
    after = selection.cursor(entries[-1][0]) if len(entries) == count else None
    return records, after


def by_words(collection: Collection, cid: bytes, selection: Selection,
             answer: DataSearchAnswer, root: bytes, hasher: Hasher, verify: bool
             ) -> Candidates:
    """The matches of a words driver's page of candidates, checked (`verify`) against
    the keyword index's `root` and the state root of the answer's header."""
    where = f"data select at block {answer.collection.header.height}"
    driver = selection.driver
    assert isinstance(driver, TextQuery)
    values = [r.value for r in answer.records]
    flags = [v is not None and selection.matches(_stored(v, where).values) for v in values]
    count = selection.stop(flags)
    ids, cursor = answer.ids, answer.cursor
    if verify:
        try:
            proven = compute_page(root, replace(driver, limit=count),
                                  decode_text_proof(answer.proof), hasher)
        except XinlianError as exc:
            raise answer_error(exc, where) from None
        _same(proven.ids, ids, where, lambda rid: rid, False)
        if cursor != proven.next_after:
            raise (AnswerIncomplete if cursor is None else AnswerTampered)(
                f"{where}: the page's cursor is not the one its proof gives")
    records = page_records(collection, cid, ids, answer, hasher, verify)
    matches = [r for r, match in zip(records, flags, strict=True) if match]
    return matches, None if cursor is None else selection.cursor(cursor)


def _stored(raw: bytes, where: str) -> StoredRecord:
    """A candidate's stored record (the proof checks that it is the committed one; one
    that does not even decode is not)."""
    try:
        stored: StoredRecord = codec.decode(raw, StoredRecord)
    except codec.CodecError as exc:
        raise AnswerTampered(f"{where}: a record that does not decode: {exc.message}"
                             ) from None
    return stored


def _same(proven: list[T], given: list[T], where: str, key: Callable[[T], bytes],
          reverse: bool) -> None:
    """The node's candidates are the proven ones, or the error that says how not: the
    same in another order, some left out (those given past the proven ones are the
    ones after what was left out), or else changed or added."""
    if proven == given:
        return
    if Counter(proven) == Counter(given):
        raise AnswerReordered(f"{where}: the candidates in another order than proven")
    known = set(proven)
    missing = known - set(given)
    last = key(proven[-1]) if proven else b""

    def beyond(item: T) -> bool:
        return key(item) < last if reverse else key(item) > last
    if (proven and missing and len(set(given)) == len(given)
            and all(beyond(g) for g in given if g not in known)):
        raise AnswerIncomplete(f"{where}: {len(missing)} candidates left out")
    raise AnswerTampered(f"{where}: candidates that differ from the proven ones")


__all__ = ["by_range", "by_words", "page"]
