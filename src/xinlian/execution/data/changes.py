"""A block's record changes in block order, for the provenance and block filter indexes.

The executor keeps, for each successful data write, the records it changed (the net effect
of the transaction on each record: its new encoding, or None for a delete) with the
transaction's position and hash. They are a pure function of the block and the state before
it, so every node appends the same versions (node/data_history.py). The state keys and the
block filter terms are named here so that clients compute them without the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple, cast

from xinlian import codec
from xinlian.execution.data.model import COLLECTION_ID_SIZE, RECORD_PREFIX, StoredRecord

HISTORY_PREFIX = b"dh/"  # dh/<collection id><record id>: the record's history peaks
_decode_record = codec.trusted_decoder(StoredRecord)  # written by execution only


class RecordChange(NamedTuple):
    """Record `key` (collection id + record id) set to `value` (None: deleted) by the
    transaction at `tx_index` in its block, whose hash is `tx_hash`."""

    key: bytes
    value: bytes | None
    tx_index: int
    tx_hash: bytes


def record_changes(writes: Mapping[bytes, object], tx_index: int, tx_hash: bytes
                   ) -> list[RecordChange]:
    """The record changes among one transaction's state `writes`, in key order."""
    out = []
    for key in sorted(k for k in writes if k.startswith(RECORD_PREFIX)):
        value = writes[key]  # a record key holds an encoding (accounts are apart)
        out.append(RecordChange(key[len(RECORD_PREFIX):], cast(bytes | None, value),
                                tx_index, tx_hash))
    return out


def history_key(record: bytes) -> bytes:
    """The state key of a record's history peaks (`record`: collection id + record id)."""
    return HISTORY_PREFIX + record


def collection_term(cid: bytes) -> bytes:
    """The filter term of a block that changed a record of collection `cid`."""
    return b"c" + cid


def record_term(record: bytes) -> bytes:
    """The filter term of a block that changed `record` (collection id + record id)."""
    return b"r" + record


def attribute_term(cid: bytes, position: int) -> bytes:
    """The filter term of a block that put a value of attribute `position` of `cid`."""
    return b"a" + cid + bytes([position])


def block_terms(changes: Iterable[RecordChange]) -> set[bytes]:
    """The terms a block's changes touched: each collection, each record, and each
    attribute that a put gave a value."""
    terms: set[bytes] = set()
    for change in changes:
        cid = change.key[:COLLECTION_ID_SIZE]
        terms.add(collection_term(cid))
        terms.add(record_term(change.key))
        if change.value is not None:
            values = _decode_record(change.value).values
            terms.update(attribute_term(cid, i) for i, v in enumerate(values) if v is not None)
    return terms
