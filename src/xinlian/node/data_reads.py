"""Data reads for the RPC: collections, point reads, range, keyword and several-condition
queries and aggregates, each with its proofs.

Every answer reads one height (the head's by default): the collection's state proof, then
the record's state proof or an index's root and its proof under it, so a client checks the
whole answer against one header (sdk/data.py). A query of several conditions is served as
its driving condition's range or keyword page, each candidate with its record, cut at the
page's stop rule (execution/data/select.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from xinlian import codec
from xinlian.execution.data.apply import read_collection
from xinlian.execution.data.model import (
    Collection,
    StoredRecord,
    collection_id,
    collection_key,
    record_key,
)
from xinlian.execution.data.plan import Plan, attribute_views, plan_key
from xinlian.execution.data.query import range_query, text_query
from xinlian.execution.data.select import (
    Condition,
    Selection,
    choices,
    estimate_cost,
    select_query,
)
from xinlian.execution.data.select import from_json as condition_from_json
from xinlian.execution.data.values import from_json
from xinlian.execution.errors import UnknownCollection
from xinlian.node.chain import ChainStore
from xinlian.node.data import KEYWORD_ROOT_KEY, RANGE_ROOT_KEY
from xinlian.node.interface import (
    DataAggregateAnswer,
    DataCollectionView,
    DataPlanAnswer,
    DataQueryAnswer,
    DataRecordAnswer,
    DataSearchAnswer,
    DataSelectAnswer,
    IndexEntry,
    LocalQueries,
    RecordState,
    StateProof,
)
from xinlian.storage.inverted_proof import TextQuery, encode_text_proof
from xinlian.storage.mbtree_proof import Aggregate, Proof, RangeQuery, encode_proof

Prove = Callable[[bytes, int], StateProof]  # a state key's value and proof at a height


class DataReader:
    def __init__(self, chain: ChainStore, prove: Prove) -> None:
        """`prove`: the node's state proofs (NotFound for a height it lacks)."""
        self.chain = chain
        self._proof = prove
        # queries served per (collection, attribute, "range" | "keyword"): local, never
        # committed (an adaptive collection's review counts the reported ones)
        self.served: Counter[tuple[str, str, str]] = Counter()

    def _height(self, height: int | None) -> int:
        return self.chain.height if height is None else height

    def collection(self, name: str, height: int | None = None) -> DataCollectionView:
        cid = collection_id(self.chain.hash, name)
        return DataCollectionView(name, self._proof(collection_key(cid), self._height(height)))

    def get(self, name: str, record_id: bytes, height: int | None = None) -> DataRecordAnswer:
        at = self._height(height)
        cid = collection_id(self.chain.hash, name)
        return DataRecordAnswer(self._proof(collection_key(cid), at),
                                self._proof(record_key(cid, record_id), at))

    def query(self, name: str, attribute: str, lo: Any, hi: Any, reverse: bool, limit: int,
              cursor: bytes | None, height: int | None = None) -> DataQueryAnswer:
        """UnknownCollection, UnknownAttribute, DataQueryError, WrongKind for a query that
        cannot be asked."""
        at = self._height(height)
        state, query = self._range(name, attribute, lo, hi, at, reverse=reverse, limit=limit,
                                   cursor=cursor)
        root = self._proof(RANGE_ROOT_KEY, at)
        self.served[name, attribute, "range"] += 1
        if query is None:  # nothing can match: no entry, no proof needed
            return DataQueryAnswer(state, root, [], encode_proof(Proof([])))
        page, proof = self.chain.data.range.range(query, at)
        return DataQueryAnswer(state, root, [IndexEntry(k, v) for k, v, _ in page.records()],
                               encode_proof(proof))

    def search(self, name: str, attribute: str, texts: list[str], any_of: bool,
               exclude: list[str], limit: int, cursor: bytes | None,
               height: int | None = None) -> DataSearchAnswer:
        """A keyword page: its ids proven by the inverted index, each record by its state
        proof at the same block; errors as `query`."""
        at = self._height(height)
        state, collection, cid = self._collection(name, at)
        query = text_query(collection, cid, attribute, texts, any_of=any_of, exclude=exclude,
                           limit=limit, cursor=cursor)
        root = self._proof(KEYWORD_ROOT_KEY, at)
        self.served[name, attribute, "keyword"] += 1
        page, proof = self.chain.data.text.query(query, at)
        tree = self.chain.tree
        records = [RecordState(*tree.get_with_proof(record_key(cid, rid), at))
                   for rid in page.ids]
        return DataSearchAnswer(state, root, page.ids, page.next_after,
                                encode_text_proof(proof), records)

    def select(self, name: str, conditions: list[Condition], drive: int | None,
               reverse: bool, limit: int, scan: int, cursor: bytes | None,
               height: int | None = None) -> DataSelectAnswer:
        """A page of the records that satisfy every condition: the driver's candidates,
        each with its record, proven (execution/data/select.py); `drive` None drives by
        the cheapest condition (`_drive`). Errors as `query`."""
        at = self._height(height)
        state, collection, cid = self._collection(name, at)
        wanted = [condition_from_json(collection, c) for c in conditions]
        if drive is None:
            drive = cursor[0] if cursor else self._drive(collection, cid, wanted, reverse, at)
        selection = select_query(collection, cid, wanted, drive=drive, reverse=reverse,
                                 limit=limit, scan=scan, cursor=cursor)
        driver = selection.driver
        kind = "range" if driver is None or isinstance(driver, RangeQuery) else "keyword"
        self.served[name, wanted[drive].attribute, kind] += 1
        if isinstance(driver, TextQuery):
            return DataSelectAnswer(drive, keyword=self._candidates(state, cid, selection, at))
        root = self._proof(RANGE_ROOT_KEY, at)
        if driver is None:  # nothing can match: no entry, no proof needed
            return DataSelectAnswer(drive, DataQueryAnswer(state, root, [],
                                                           encode_proof(Proof([]))))
        ranges = self.chain.data.range
        page, proof = ranges.range(driver, at)
        count = selection.stop([selection.matches(codec.decode(v, StoredRecord).values)
                                for v in page.values])
        if count < selection.scan:  # the page is the driver's page of `count` candidates
            page, proof = ranges.range(replace(driver, limit=count), at)
        return DataSelectAnswer(drive, DataQueryAnswer(
            state, root, [IndexEntry(k, v) for k, v, _ in page.records()],
            encode_proof(proof)))

    def _candidates(self, state: StateProof, cid: bytes, selection: Selection,
                    at: int) -> DataSearchAnswer:
        """A words driver's page: the candidates' ids proven by the inverted index, each
        record by its state proof, cut at the selection's stop rule."""
        query = selection.driver
        assert isinstance(query, TextQuery)
        text, tree = self.chain.data.text, self.chain.tree
        page, proof = text.query(query, at)
        found: list[RecordState] = []

        def matches() -> Iterator[bool]:  # each record read as the stop rule reaches it
            for rid in page.ids:
                found.append(RecordState(*tree.get_with_proof(record_key(cid, rid), at)))
                value = found[-1].value
                yield value is not None and selection.matches(
                    codec.decode(value, StoredRecord).values)
        count = selection.stop(matches())
        if count < selection.scan:
            page, proof = text.query(replace(query, limit=count), at)
        return DataSearchAnswer(state, self._proof(KEYWORD_ROOT_KEY, at), page.ids,
                                page.next_after, encode_text_proof(proof), found)

    def _drive(self, collection: Collection, cid: bytes, conditions: list[Condition],
               reverse: bool, at: int) -> int:
        """The condition to drive by: the least estimated cost (estimate_cost) from
        the index sizes at `at` (unproven, for planning only); DataQueryError when none
        can."""
        costs = []
        for i in choices(collection, conditions, reverse):
            condition = conditions[i]
            if condition.words:
                count = self._postings(collection, cid, condition, at)
            else:
                query = range_query(collection, cid, condition.attribute, condition.lo,
                                    condition.hi)
                count = 0 if query is None else self.chain.data.range.aggregate(
                    query.lo, query.hi, at)[0].count
            costs.append((estimate_cost(condition, count), i))
        return min(costs)[1]

    def _postings(self, collection: Collection, cid: bytes, condition: Condition,
                  at: int) -> int:
        """How many ids the posting lists of a words condition hold: the shortest list
        (all words), their total (any)."""
        query = text_query(collection, cid, condition.attribute, condition.words,
                           any_of=condition.any_of)
        counts = [self.chain.data.text.count(query.scope, t, at) for t in query.terms]
        return sum(counts) if condition.any_of else min(counts)

    def aggregate(self, name: str, attribute: str, lo: Any, hi: Any,
                  height: int | None = None) -> DataAggregateAnswer:
        """count/sum/min/max over a value range, proven; errors as `query`."""
        at = self._height(height)
        state, query = self._range(name, attribute, lo, hi, at)
        root = self._proof(RANGE_ROOT_KEY, at)
        self.served[name, attribute, "range"] += 1
        if query is None:  # nothing can match: the empty aggregate, no proof needed
            found, proof = Aggregate(), Proof([])
        else:
            found, proof = self.chain.data.range.aggregate(query.lo, query.hi, at)
        return DataAggregateAnswer(state, root, found.count, str(found.total), found.min,
                                   found.max, encode_proof(proof))

    def plan(self, name: str, height: int | None = None) -> DataPlanAnswer:
        """The collection's index plan (execution/data/plan.py) with its proofs, and this
        node's own query counts; UnknownCollection."""
        at = self._height(height)
        state, collection, cid = self._collection(name, at)
        proven = self._proof(plan_key(cid), at)
        plan = None if proven.value is None else codec.decode(proven.value, Plan)
        local = [LocalQueries(a.name, self.served[name, a.name, "range"],
                              self.served[name, a.name, "keyword"])
                 for a in collection.attributes]
        if plan is None:
            return DataPlanAnswer(state, proven, None, 0, [], local)
        return DataPlanAnswer(state, proven, plan.next_review, plan.records,
                              attribute_views(collection.attributes, plan), local)

    def _range(self, name: str, attribute: str, lo: Any, hi: Any, at: int, **page: Any
               ) -> tuple[StateProof, RangeQuery | None]:
        """The collection's state proof and the key range of a query (see `query`)."""
        state, collection, cid = self._collection(name, at)
        found = collection.attribute(attribute)
        if found is not None:  # bounds as JSON gives them (range_query refuses the others)
            lo, hi = (from_json(found[1].kind, v) for v in (lo, hi))
        return state, range_query(collection, cid, attribute, lo, hi, **page)

    def _collection(self, name: str, at: int) -> tuple[StateProof, Collection, bytes]:
        """The collection's state proof at `at`, the collection, its id; UnknownCollection."""
        cid = collection_id(self.chain.hash, name)
        state = self._proof(collection_key(cid), at)
        collection = read_collection(lambda _: state.value, cid)
        if collection is None:
            raise UnknownCollection(f"no collection {name!r} at height {at}")
        return state, collection, cid
