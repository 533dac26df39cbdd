"""Queries of several conditions over random collections on a real chain store: every page
served by the node's reader (node/data_reads.py) and checked by the SDK's verifier
(sdk/data_select.py `page`, given the index root the answer proves), page by page, gives
exactly the records a brute-force filter of the same data finds, whatever the data, the
conditions, the driver, the page and the scan; records rewritten or deleted in a later
block move in every index, and the answer follows.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xinlian.execution.data import values
from xinlian.execution.data.apply import read_collection
from xinlian.execution.data.model import (
    AttributeDecl,
    DataOp,
    DataWrite,
    DeclareCollection,
    Delete,
    Field,
    Put,
    collection_id,
)
from xinlian.execution.data.select import Condition, drivers, select_query
from xinlian.execution.errors import DataQueryError
from xinlian.ledger.transaction import TxKind
from xinlian.node.interface import DataSearchAnswer
from xinlian.sdk.data_select import page
from xinlian.storage.mbtree_proof import EMPTY_ROOT
from xinlian.storage.tokenize import terms
from xinlian.testing.data_blocks import DataChain

WORDS = ("steel", "pipe", "copper", "wire", "rust")
NAME = "items"

records = st.fixed_dictionaries({
    "title": st.none() | st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(
        " ".join),
    "price": st.none() | st.integers(-5, 30),
    "at": st.integers(0, 20)})
collections = st.dictionaries(st.integers(0, 60).map(lambda i: f"r{i:02}"), records,
                              min_size=1, max_size=30)
conditions = st.one_of(
    st.builds(Condition, st.just("title"),
              words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=2).map(tuple),
              any_of=st.booleans(), negate=st.booleans()),
    st.builds(lambda lo, span, neg: Condition("price", lo, lo + span, negate=neg),
              st.integers(-6, 30), st.integers(0, 20), st.booleans()),
    st.builds(lambda lo, hi, neg: Condition("at", lo, hi, negate=neg),
              st.none() | st.integers(0, 20), st.none() | st.integers(0, 20), st.booleans()))


def _holds(record: dict[str, Any], c: Condition) -> bool:
    value = record.get(c.attribute)
    if value is None:
        held = False
    elif c.words:
        wanted = set(c.words)
        found = set(terms(value))
        held = bool(found & wanted) if c.any_of else wanted <= found
    else:
        held = (c.lo is None or c.lo <= value) and (c.hi is None or value <= c.hi)
    return held != c.negate


def _put(rid: str, record: dict[str, Any]) -> Put:
    kinds = {"title": "text", "price": "number", "at": "time"}
    return Put(rid.encode(), [Field(k, values.encode(kinds[k], v))
                              for k, v in record.items() if v is not None])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=collections, second=collections, deleted=st.sets(st.integers(0, 60)),
       where=st.lists(conditions, min_size=1, max_size=3), limit=st.integers(1, 8),
       scan=st.integers(1, 12), pick=st.integers(0, 3))
def test_every_driver_pages_the_brute_force_answer(
        first: dict[str, dict[str, Any]], second: dict[str, dict[str, Any]],
        deleted: set[int], where: list[Condition], limit: int, scan: int,
        pick: int) -> None:
    gone = [f"r{i:02}" for i in deleted if f"r{i:02}" in first]
    final = {**{k: v for k, v in first.items() if k not in gone}, **second}
    with tempfile.TemporaryDirectory() as path:
        chain = DataChain(Path(path), "intl")
        chain.commit([chain.signed(TxKind.DATA_COLLECTION, DeclareCollection(NAME, [
            AttributeDecl("title", "text"), AttributeDecl("price", "number"),
            AttributeDecl("at", "time")]))])
        ops: list[DataOp] = [_put(k, v) for k, v in first.items()]
        chain.commit([chain.signed(TxKind.DATA_WRITE, DataWrite(NAME, ops))])
        ops = [*(Delete(k.encode()) for k in gone), *(_put(k, v) for k, v in second.items())]
        chain.commit([chain.signed(TxKind.DATA_WRITE, DataWrite(NAME, ops))])
        hasher = chain.suite.hash_bytes
        cid = collection_id(hasher, NAME)
        collection = read_collection(chain.chain.read, cid)
        assert collection is not None
        reader, height = chain.reader(), chain.chain.height
        able = drivers(collection, where)
        want = sorted(k.encode() for k, v in final.items()
                      if all(_holds(v, c) for c in where))
        for drive in [None, *able][pick % (len(able) + 1):][:1]:
            if not able:  # none positive: the node says so, typed
                try:
                    reader.select(NAME, where, drive, False, limit, scan, None, height)
                except DataQueryError as exc:
                    assert "no condition can drive" in exc.message
                    continue
                raise AssertionError("a query no condition can drive was answered")
            got: list[bytes] = []
            cursor: bytes | None = None
            pages = 0
            while True:
                answer = reader.select(NAME, where, drive, False, limit, scan, cursor,
                                       height)
                selection = select_query(collection, cid, where, drive=answer.drive,
                                         limit=limit, scan=scan, cursor=cursor)
                part = answer.keyword or answer.range
                assert part is not None and (drive is None or answer.drive == drive)
                records, cursor = page(collection, cid, selection, where, answer,
                                       part.root.value or EMPTY_ROOT, hasher, True)
                candidates = len(part.ids if isinstance(part, DataSearchAnswer)
                                 else part.entries)
                assert len(records) <= limit and candidates <= scan
                got += [r.id for r in records]
                assert all(r.values == {k: v for k, v in final[r.id.decode()].items()
                                        if v is not None} for r in records)
                pages += 1
                if cursor is None:
                    break
            assert sorted(got) == want and len(got) == len(set(got))
            assert pages <= len(final) + 1
