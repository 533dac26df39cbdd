"""Keyword queries through a real node and server: a text attribute with a keyword index is
maintained block by block, queried by all, any and none of its words, page by page, and
every answer is verified against the signed header; a node that drops, adds, alters or
reorders a match, or a record, is caught as what it did."""

from __future__ import annotations

from typing import Any

import pytest
from msgspec.structs import replace

from xinlian.node.interface import DataSearchAnswer
from xinlian.sdk import Client, ProofError, calls
from xinlian.sdk.data import DataCollection
from xinlian.sdk.errors import (
    AnswerIncomplete,
    AnswerReordered,
    AnswerTampered,
    DataQueryFailed,
    RpcError,
)
from xinlian.storage.tokenize import terms

from .liar import Liar

NOTES = {f"n{i:03}": f"{('late', 'early', 'lost')[i % 3]} delivery to "
                     f"{('Shanghai', 'Wuhan')[i % 2]} {'区块链 ' if i % 5 == 0 else ''}parcel {i}"
         for i in range(120)}


@pytest.fixture(scope="module")
def notes(client: Client, keys: Any) -> DataCollection:
    data = client.data("notes", wallet=client.wallet(keys.admin))
    assert data.declare({"text": "text", "code": ("text", "range"), "n": "number"}).status == 0
    for start in range(0, len(NOTES), 40):  # over several blocks
        data.put({k: {"text": v, "code": k} for k, v in list(NOTES.items())[start:start + 40]})
    return data


def expected(*must: str, any_of: tuple[str, ...] = (), none: tuple[str, ...] = ()
             ) -> list[bytes]:
    out = []
    for rid, text in NOTES.items():
        held = set(terms(text))
        if all(w in held for w in must) and (not any_of or held & set(any_of)) and \
                not held & set(none):
            out.append(rid.encode())
    return out


def ids(data: DataCollection, words: Any, **query: Any) -> list[bytes]:
    """Every match, page by page, at the height of the first page."""
    page = data.search("text", words, **query)
    got = [r.id for r in page.records]
    while page.cursor is not None:
        page = data.search("text", words, cursor=page.cursor, height=page.height, **query)
        got += [r.id for r in page.records]
    return got


def test_auto_text_is_keyword_indexed(notes: DataCollection) -> None:
    assert {a.name: a.index for a in notes.info().attributes} == {
        "text": "keyword", "code": "range", "n": "range"}


def test_keyword_and_boolean_queries_page_by_id(notes: DataCollection) -> None:
    page = notes.search("text", "Late Delivery", limit=7)
    assert [r.id for r in page.records] == expected("late", "delivery")[:7]
    assert page.cursor == page.records[-1].id
    assert page.records[0].values["text"] == NOTES[page.records[0].id.decode()]
    assert ids(notes, "late wuhan", limit=5) == expected("late", "wuhan")
    assert ids(notes, ["lost", "shanghai"], exclude="区块链", limit=9) == expected(
        "lost", "shanghai", none=("区块", "块链"))
    assert ids(notes, ["early", "lost"], any_of=True, limit=11) == expected(
        any_of=("early", "lost"))
    assert ids(notes, "区块链", limit=50) == expected("区块", "块链")
    assert notes.search("text", "nowhere").records == []
    assert [r.id for r in notes.search_all("text", ["lost", "shanghai"], exclude="区块链",
                                           limit=9)] == ids(notes, ["lost", "shanghai"],
                                                            exclude="区块链", limit=9)
    assert [r.id for r in notes.search_all("text", ["early", "lost"], any_of=True,
                                           limit=4)] == expected(any_of=("early", "lost"))


def test_rewrites_and_deletes_move_records_in_the_index(notes: DataCollection) -> None:
    notes.put({"n001": {"text": "nowhere special"}})
    assert [r.id for r in notes.search("text", "nowhere").records] == [b"n001"]
    assert b"n001" not in ids(notes, "delivery", limit=100)
    notes.put({"n001": {"text": NOTES["n001"], "code": "n001"}})
    notes.delete(["n002"])
    assert notes.search("text", "nowhere").records == []
    assert b"n002" not in ids(notes, "delivery", limit=100)
    notes.put({"n002": {"text": NOTES["n002"], "code": "n002"}})
    assert ids(notes, "delivery", limit=100) == expected("delivery")


def test_bad_keyword_queries_are_typed(client: Client, notes: DataCollection) -> None:
    with pytest.raises(DataQueryFailed, match="no keyword index"):
        notes.search("code", "n001")
    with pytest.raises(DataQueryFailed, match="needs a word"):
        notes.search("text", "...", exclude="late")
    with pytest.raises(DataQueryFailed, match="excludes none"):
        notes.search("text", "late", any_of=True, exclude="early")
    with pytest.raises(DataQueryFailed, match="at most 16"):
        notes.search("text", " ".join(f"w{i}" for i in range(17)))
    with pytest.raises(DataQueryFailed, match="page holds"):
        notes.search("text", "late", limit=5000)
    with pytest.raises(DataQueryFailed, match="no range index"):
        notes.query("text", "a", "b")
    with pytest.raises(RpcError) as refused:  # the node refuses it alike
        client.call(calls.data_search("notes", "code", ["x"], False, [], 10, None))
    assert refused.value.remote_name == "bad_data_query"
    assert notes.search("text", "late").records  # and keeps serving


def _ids(change: Any) -> Any:
    return lambda a: replace(a, ids=change(list(a.ids)), records=change(list(a.records)))


def _record(answer: DataSearchAnswer) -> DataSearchAnswer:
    first = answer.records[0]
    assert first.value is not None
    return replace(answer, records=[replace(first, value=first.value.replace(b"late", b"lame")),
                                    *answer.records[1:]])


def _flip(proof: bytes) -> bytes:
    """The proof with one bit of a chunk of ids changed (the record ids are ASCII)."""
    at = proof.index(b"n0")
    return proof[:at] + b"m" + proof[at + 1:]


@pytest.mark.parametrize(("lie", "error"), [
    (_ids(lambda x: x[1:]), AnswerIncomplete),                         # a match dropped
    (_ids(lambda x: [x[1], x[0], *x[2:]]), AnswerReordered),           # two swapped
    (lambda a: replace(a, ids=[*a.ids[:-1], b"n999"]), AnswerTampered),  # one changed
    (lambda a: replace(a, records=a.records[:-1]), AnswerIncomplete),  # a record left out
    (_record, AnswerTampered),                                         # a record altered
    (lambda a: replace(a, cursor=None), AnswerIncomplete),             # "the last page"
    (lambda a: replace(a, proof=_flip(a.proof)), AnswerTampered),      # a proof byte
])
def test_a_lying_keyword_page_is_reported_as_what_it_is(
        client: Client, notes: DataCollection, lie: Any, error: type[ProofError]) -> None:
    assert len(notes.search("text", "late delivery", limit=10).records) == 10
    with Liar(client, lie), pytest.raises(error):
        notes.search("text", "late delivery", limit=10)
