"""Keyword queries through the SDK: a page of record ids proven complete by the inverted
index, and each record by its state proof, all under one header.

The client computes the query itself from the proven collection (execution/data/query.py
`text_query`), checks the page against the keyword index's root (`dx/keyword`, proven in the
state) with storage/inverted_proof.py `verify_text`, then each record against the header's
state root: a node can neither change a record, answer other words nor leave a match out.
A failed check raises AnswerTampered, AnswerIncomplete or AnswerReordered (all ProofError).
"""

from __future__ import annotations

from collections.abc import Iterable

from xinlian.errors import XinlianError
from xinlian.execution.data.model import Collection, record_key
from xinlian.execution.data.query import DataRecord, read_record
from xinlian.node.interface import DataSearchAnswer
from xinlian.sdk.errors import AnswerIncomplete, AnswerTampered, ProofError, answer_error
from xinlian.storage.inverted_proof import TextPage, TextQuery, decode_text_proof, verify_text
from xinlian.storage.proof import Hasher, verify_proof


def words(given: str | Iterable[str]) -> list[str]:
    """Texts to look for: one text, or several (each contributes all its words)."""
    return [given] if isinstance(given, str) else list(given)


def search_records(collection: Collection, cid: bytes, query: TextQuery,
                   answer: DataSearchAnswer, root: bytes, hasher: Hasher, verify: bool
                   ) -> tuple[list[DataRecord], bytes | None]:
    """The records of a keyword page and the next page's cursor, each checked (`verify`)
    against the index `root` and the state root of the answer's header."""
    where = f"keyword query at block {answer.collection.header.height}"
    ids, cursor = answer.ids, answer.cursor
    if verify:
        try:
            proven = verify_text(root, query, TextPage(ids, cursor),
                                 decode_text_proof(answer.proof), hasher)
        except XinlianError as exc:
            raise answer_error(exc, where) from None
        ids, cursor = proven.ids, proven.next_after
    return page_records(collection, cid, ids, answer, hasher, verify), cursor


def page_records(collection: Collection, cid: bytes, ids: list[bytes],
                 answer: DataSearchAnswer, hasher: Hasher, verify: bool) -> list[DataRecord]:
    """The records of the page's (proven) `ids`, each checked (`verify`) against the state
    root of the answer's header."""
    where = f"keyword query at block {answer.collection.header.height}"
    if len(answer.records) < len(ids):
        raise AnswerIncomplete(f"{where}: {len(ids) - len(answer.records)} records left out")
    if len(answer.records) > len(ids):
        raise AnswerTampered(f"{where}: records that match no id of the page")
    state_root = answer.collection.header.state_root
    records = []
    for rid, state in zip(ids, answer.records, strict=True):
        if verify and not verify_proof(state_root, record_key(cid, rid), state.value,
                                       state.proof, hasher):
            raise AnswerTampered(f"{where}: record 0x{rid.hex()} is not the proven one")
        if state.value is None:
            raise AnswerTampered(f"{where}: a match 0x{rid.hex()} without a record")
        try:
            records.append(read_record(collection, rid, state.value))
        except XinlianError as exc:
            raise ProofError(f"{where}: {exc.message}") from None
    return records
