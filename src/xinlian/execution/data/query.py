"""Data queries as key ranges, and records read back from proven state and index entries.

The node and the client both turn a query (attribute, inclusive value bounds, order, page
size, cursor) into the same key range of the range index with `range_query`, from the
collection as the state holds it, so a client checks the node's answer against the range it
computed itself: a node can answer neither another query nor leave an entry out. (The
range index is a Merkle B+-tree, storage/mbtree_proof.py; its `RangeQuery` is the key range
of a page, and of an aggregate.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from xinlian import codec
from xinlian.execution.data import values
from xinlian.execution.data.indexes import (
    PREFIX_SIZE,
    KeywordIndex,
    RangeIndex,
    attribute_prefix,
    read_entry_key,
    value_key,
)
from xinlian.execution.data.model import Attribute, Collection, StoredRecord
from xinlian.execution.errors import DataQueryError, UnknownAttribute, WrongKind
from xinlian.storage import keys
from xinlian.storage.errors import InvalidKeyError, QueryError
from xinlian.storage.inverted_proof import MAX_QUERY_TERMS, TextQuery
from xinlian.storage.mbtree_proof import RangeQuery
from xinlian.storage.tokenize import terms as text_terms

MAX_PAGE = 1000


@dataclass(frozen=True)
class DataRecord:
    """A record with its values by attribute name (absent values left out), the block and
    transaction that last wrote it, and (from a query) its index key: the cursor to page on
    from here."""

    id: bytes
    values: dict[str, Any]
    height: int
    tx_hash: bytes
    key: bytes | None = None


def range_query(collection: Collection, cid: bytes, attribute: str, lo: Any = None,
                hi: Any = None, *, reverse: bool = False, limit: int = 100,
                cursor: bytes | None = None) -> RangeQuery | None:
    """The key range of records whose `attribute` lies from `lo` to `hi` (both included,
    None unbounded), in value order (descending if `reverse`), `limit` a page, after the
    page that ended at `cursor`. None: nothing can match. Typed errors for a query that
    cannot be asked."""
    position, attr = _indexed(collection, attribute, RangeIndex.name, limit)
    prefix = attribute_prefix(cid, position)
    if cursor is not None and (not cursor.startswith(prefix) or len(cursor) <= PREFIX_SIZE):
        raise DataQueryError("the cursor is not from a query of this attribute")
    bounds = [None if v is None else value_key(attr.kind, values.encode(attr.kind, v))
              for v in (lo, hi)]
    span = keys.key_range(prefix, bounds[0], bounds[1], reverse=reverse, cursor=cursor)
    return None if span is None else RangeQuery(span[0], span[1], limit, reverse)


def text_query(collection: Collection, cid: bytes, attribute: str, texts: Sequence[str],
               *, any_of: bool = False, exclude: Sequence[str] = (), limit: int = 100,
               cursor: bytes | None = None) -> TextQuery:
    """The keyword query of records whose text `attribute` holds every term of `texts`
    (`any_of`: at least one) and no term of `exclude`, by record id, `limit` a page, after
    the record `cursor` (the previous page's last). Terms are those the index holds
    (storage/tokenize.py: "Late delivery" asks for "late" and "delivery"). Typed errors for
    a query that cannot be asked."""
    position, _ = _indexed(collection, attribute, KeywordIndex.name, limit)
    wanted, unwanted = (list(dict.fromkeys(t for text in group for t in text_terms(text)))
                        for group in (texts, exclude))
    if not wanted:
        raise DataQueryError("a keyword query needs a word to look for")
    if any_of and unwanted:
        raise DataQueryError("a query for any of its words excludes none")
    if len(wanted) + len(unwanted) > MAX_QUERY_TERMS:
        raise DataQueryError(f"a keyword query names at most {MAX_QUERY_TERMS} words, "
                             f"not {len(wanted) + len(unwanted)}")
    try:
        return TextQuery(attribute_prefix(cid, position), tuple(wanted), tuple(unwanted),
                         any_of, cursor, limit)
    except QueryError as exc:
        raise DataQueryError(exc.message) from None


def _indexed(collection: Collection, attribute: str, index: str, limit: int
             ) -> tuple[int, Attribute]:
    """The position and declaration of `attribute`, which a query of `limit` records asks
    of its `index` kind; typed errors for a query that cannot be asked."""
    if not 1 <= limit <= MAX_PAGE:
        raise DataQueryError(f"a page holds 1..{MAX_PAGE} records, not {limit}")
    found = collection.attribute(attribute)
    if found is None:
        raise UnknownAttribute(f"collection {collection.name!r} has no attribute "
                               f"{attribute!r}")
    if found[1].index != index:
        raise DataQueryError(f"attribute {attribute!r} has no {index} index "
                             f"({found[1].index})")
    return found


def read_record(collection: Collection, record_id: bytes, raw: bytes,
                key: bytes | None = None) -> DataRecord:
    """The record stored as `raw`; DataQueryError if it does not decode by the collection."""
    return _record(collection, record_id, _stored(record_id, raw), key)


def read_entry(collection: Collection, attribute: str, key: bytes, raw: bytes) -> DataRecord:
    """The record of a range-index entry of `attribute`, checked to hold the value its key
    names (an entry is a record's copy: the key orders it, the value must agree)."""
    found = collection.attribute(attribute)
    if found is None:
        raise UnknownAttribute(f"no attribute {attribute!r}")
    position, attr = found
    try:
        vkey, record_id = read_entry_key(key, attr.kind)
    except InvalidKeyError as exc:
        raise DataQueryError(f"an index key that does not parse: {exc.message}") from None
    stored = _stored(record_id, raw)
    value = stored.values[position] if position < len(stored.values) else None
    if not record_id or value is None or value_key(attr.kind, value) != vkey:
        raise DataQueryError("an index entry whose record does not hold its key's value")
    return _record(collection, record_id, stored, key)


def _stored(record_id: bytes, raw: bytes) -> StoredRecord:
    try:
        stored: StoredRecord = codec.decode(raw, StoredRecord)
    except codec.CodecError as exc:
        raise DataQueryError(f"record 0x{record_id.hex()} does not decode: {exc.message}"
                             ) from None
    return stored


def _record(collection: Collection, record_id: bytes, stored: StoredRecord,
            key: bytes | None) -> DataRecord:
    if len(stored.values) > len(collection.attributes):
        raise DataQueryError(f"record 0x{record_id.hex()} has more values than attributes")
    try:
        named = {a.name: values.decode(a.kind, v)
                 for a, v in zip(collection.attributes, stored.values, strict=False)
                 if v is not None}
    except WrongKind as exc:
        raise DataQueryError(f"record 0x{record_id.hex()} does not decode: {exc.message}"
                             ) from None
    return DataRecord(record_id, named, stored.height, stored.tx_hash, key)
