"""Index kinds of data attributes: the registry every kind plugs into.

An index kind turns one attribute value of one record into index entries (key -> value and
measure: the number an index aggregates, 0 where the kind aggregates nothing). The
executor (execution/data/apply.py) asks the kind of each indexed attribute for the entries of
the old record (to remove) and the new one (to add) on every put and delete, so a block's
updates per kind are a pure function of the block and the state before it; the node
(node/data.py) applies them to that kind's authenticated structure, whose root the state
holds at `dx/<kind name>`.

Every entry key starts with the attribute's prefix, `collection id (16) || attribute
position (2, big-endian)`, so one attribute of one collection is one key range of the kind's
one structure. To add a kind: implement `IndexKind`, register it in `KINDS`, and give the
node a structure for it (node/data.py `DataIndexes`).
"""

from __future__ import annotations

import struct
from typing import Protocol

from xinlian.execution.data.model import (
    COLLECTION_ID_SIZE,
    MAX_INDEXED_VALUE,
    Attribute,
    AttributeDecl,
    IndexChoice,
    Kind,
)
from xinlian.execution.errors import BadDeclaration, ValueTooLarge
from xinlian.storage import keys
from xinlian.storage.errors import InvalidKeyError
from xinlian.storage.inverted_proof import text_entries
from xinlian.storage.mbtree_proof import MEASURE_MAX

PREFIX_SIZE = COLLECTION_ID_SIZE + 2
Entry = tuple[bytes, int]  # an index entry's value and measure
_position = struct.Struct(">H").pack


class IndexKind(Protocol):
    """One kind of data index (see the module docstring)."""

    name: str  # its root is the state value at `dx/<name>`

    def accepts(self, kind: str) -> bool:
        """Whether attributes of value kind `kind` may use this index."""
        ...

    def entries(self, prefix: bytes, kind: str, raw: bytes, record_id: bytes,
                record: bytes) -> dict[bytes, Entry]:
        """The entries for value `raw` (of `kind`) of record `record_id`, whose stored
        encoding is `record`, under the attribute's `prefix`. ValueTooLarge for a value
        this kind cannot index."""
        ...


class RangeIndex:
    """Range queries and aggregates over ordered values: one entry per record,
    `prefix || value key || record id` -> the stored record, so a page of a value range is
    a page of records, proven by one range proof; its measure is the value itself for
    numbers and times (so count/sum/min/max over a value range are proven by the Merkle
    B+-tree's aggregates, storage/mbtree_proof.py), 0 for text and bytes."""

    name = "range"
    kinds = frozenset({Kind.NUMBER, Kind.TIME, Kind.TEXT, Kind.BYTES})

    def accepts(self, kind: str) -> bool:
        return kind in self.kinds

    def entries(self, prefix: bytes, kind: str, raw: bytes, record_id: bytes,
                record: bytes) -> dict[bytes, Entry]:
        return {prefix + value_key(kind, raw) + record_id: (record, measure(kind, raw))}


class KeywordIndex:
    """Keyword and boolean queries over text: one posting entry per distinct term of a
    record's text (storage/tokenize.py), `len(prefix) || prefix || term || 0x00 || record
    id`, in the authenticated inverted index (storage/inverted.py), whose posting lists are
    record ids: a page of ids is proven complete there, and each record by its state proof.
    No measure (the kind aggregates nothing)."""

    name = "keyword"
    kinds = frozenset({Kind.TEXT})

    def accepts(self, kind: str) -> bool:
        return kind in self.kinds

    def entries(self, prefix: bytes, kind: str, raw: bytes, record_id: bytes,
                record: bytes) -> dict[bytes, Entry]:
        if len(raw) > MAX_INDEXED_VALUE:
            raise ValueTooLarge(f"an indexed {kind} value of {len(raw)} bytes; the limit is "
                                f"{MAX_INDEXED_VALUE}")
        return dict.fromkeys(text_entries(prefix, record_id, raw.decode()), (b"", 0))


def measure(kind: str, raw: bytes) -> int:
    """The number a range entry aggregates: a number's or a time's value, else 0.
    ValueTooLarge for a time past the measures' signed 64 bits."""
    if kind == Kind.NUMBER:
        return keys.read_signed(raw)[0]
    if kind == Kind.TIME:
        value = keys.read_unsigned(raw)[0]
        if value > MEASURE_MAX:
            raise ValueTooLarge(f"a time of {value} ms is past the range index's limit "
                                f"{MEASURE_MAX}")
        return value
    return 0


def value_key(kind: str, raw: bytes) -> bytes:
    """The order-preserving, prefix-free key of an encoded value (storage/keys.py): numbers
    and times are already 8 fixed-width bytes; text and bytes are escaped."""
    if kind in (Kind.NUMBER, Kind.TIME):
        return raw
    if len(raw) > MAX_INDEXED_VALUE:
        raise ValueTooLarge(f"an indexed {kind} value of {len(raw)} bytes; the limit is "
                            f"{MAX_INDEXED_VALUE}")
    return keys.escaped(raw)


def read_entry_key(key: bytes, kind: str) -> tuple[bytes, bytes]:
    """(value key, record id) of a range entry key (after its prefix)."""
    if kind in (Kind.NUMBER, Kind.TIME):
        end = PREFIX_SIZE + 8
        if len(key) < end:
            raise InvalidKeyError("an entry key cut short")
    else:
        end = keys.read_escaped(key, PREFIX_SIZE)[1]
    return key[PREFIX_SIZE:end], key[end:]


def attribute_prefix(cid: bytes, position: int) -> bytes:
    return cid + _position(position)


KINDS: dict[str, IndexKind] = {k.name: k for k in (RangeIndex(), KeywordIndex())}
# what `auto` picks per value kind, in order of preference, among the registered kinds
_AUTO: dict[str, tuple[str, ...]] = {
    Kind.NUMBER: ("range",), Kind.TIME: ("range",), Kind.TEXT: ("keyword",)}


def resolve(decl: AttributeDecl) -> Attribute:
    """The attribute as a collection records it: its index choice resolved to a registered
    kind that accepts its value kind, or "none". BadDeclaration otherwise."""
    if decl.kind not in Kind.__members__.values():
        raise BadDeclaration(f"attribute {decl.name!r}: unknown kind {decl.kind!r}")
    choice = decl.index
    if choice == IndexChoice.AUTO:
        found = next((k for k in _AUTO.get(decl.kind, ()) if k in KINDS), IndexChoice.NONE)
        return Attribute(decl.name, decl.kind, found)
    if choice == IndexChoice.NONE:
        return Attribute(decl.name, decl.kind, choice)
    kind = KINDS.get(choice)
    if kind is None:
        raise BadDeclaration(f"attribute {decl.name!r}: index {choice!r} is not available")
    if not kind.accepts(decl.kind):
        raise BadDeclaration(f"attribute {decl.name!r}: a {choice} index does not take "
                             f"{decl.kind} values")
    return Attribute(decl.name, decl.kind, choice)
