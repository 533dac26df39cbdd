"""Data collections through the SDK: declare, put, delete, get and query, every read verified.

A read is checked against one header (certified on a BFT chain, signed by the pinned node
on a solo chain, sdk/verify.py): the collection by its state proof, a record by its state
proof, a query page by the range index's root proven in the state and a range proof of the
key range that the client computes itself from the proven collection
(execution/data/query.py), so a node can neither change a record, answer another range nor
leave a record out of a page: any of these raises ProofError. A keyword query
(`search`) is checked likewise against the keyword index (sdk/data_search.py), and a query
of several conditions (`select`) against the index of the condition that drives it
(sdk/data_select.py). A query the collection does not allow raises DataQueryFailed before
anything is asked.
"""

from __future__ import annotations

from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, Protocol, TypeVar

from xinlian import codec
from xinlian.errors import XinlianError
from xinlian.execution.data import select, values
from xinlian.execution.data.indexes import KeywordIndex, RangeIndex
from xinlian.execution.data.model import (
    AggregateKey,
    AttributeDecl,
    Collection,
    DataOp,
    DataWrite,
    DeclareCollection,
    Delete,
    Field,
    Kind,
    Put,
    Queries,
    collection_id,
    collection_key,
    index_root_key,
    record_key,
)
from xinlian.execution.data.plan import AttributeView, Plan, attribute_views, plan_key
from xinlian.execution.data.query import (
    MAX_PAGE,
    DataRecord,
    range_query,
    read_entry,
    read_record,
    text_query,
)
from xinlian.execution.data.select import Condition
from xinlian.ledger.block import Receipt
from xinlian.ledger.transaction import TxKind
from xinlian.node.interface import (
    DataAggregateAnswer,
    DataPlanAnswer,
    DataQueryAnswer,
    DataRecordAnswer,
    DataSearchAnswer,
    DataSelectAnswer,
    StateProof,
)
from xinlian.sdk import calls, data_encrypted, data_history, data_select
from xinlian.sdk.data_blob import BlobRequests, Payload, blob_of, put_blob
from xinlian.sdk.data_encrypted import EncryptedSum
from xinlian.sdk.data_history import BlockWindow, History, Version
from xinlian.sdk.data_search import search_records, words
from xinlian.sdk.errors import (
    AnswerTampered,
    DataQueryFailed,
    DataWriteFailed,
    ProofError,
    answer_error,
)
from xinlian.sdk.ops import Op, Ops, Send
from xinlian.sdk.wallet import Wallet
from xinlian.storage.blob_proof import BlobCommitment, chunk_count
from xinlian.storage.blobs import DEFAULT_CHUNK_SIZE
from xinlian.storage.mbtree_proof import (
    EMPTY_ROOT,
    RangeQuery,
    decode_proof,
    verify_aggregate,
    verify_range,
)

T = TypeVar("T")
RANGE_ROOT_KEY = index_root_key(RangeIndex.name)
KEYWORD_ROOT_KEY = index_root_key(KeywordIndex.name)

Records = Mapping[bytes, Mapping[str, Any]] | Mapping[str, Mapping[str, Any]]


class Runner(Protocol):
    """Runs an operation against the client's node (`Client._run`)."""

    def __call__(self, op: Op[T]) -> T: ...


class AsyncRunner(Protocol):
    def __call__(self, op: Op[T]) -> Awaitable[T]: ...

__all__ = ["AggregateKey", "AsyncDataCollection", "AttributeView", "BlobCommitment",
           "BlockWindow", "Condition",
           "DataAggregate", "DataCollection", "DataPage", "DataPlan", "DataRecord",
           "EncryptedSum", "History", "Version"]


@dataclass(frozen=True)
class DataAggregate:
    """count, sum, min and max of an attribute over a value range (min and max None over no
    record; a text or bytes attribute counts, its measures are 0), read at block
    `height`."""

    count: int
    sum: int
    min: int | None
    max: int | None
    height: int


@dataclass(frozen=True)
class DataPlan:
    """An adaptive collection's index plan at block `height` (execution/data/plan.py):
    each adaptive attribute's index, the review's candidate and reasons, and the window's
    counts, verified (`adapts` False: the collection does not adapt, `attributes` empty);
    `local` is the serving node's own count of the queries it served per attribute,
    ("range", "keyword"), which no proof covers (it is never committed)."""

    adapts: bool
    height: int
    next_review: int | None
    records: int
    attributes: list[AttributeView]
    local: dict[str, tuple[int, int]]


@dataclass(frozen=True)
class DataPage:
    """A verified page of records in query order, read at block `height`; `cursor`
    continues it (None: the last page)."""

    records: list[DataRecord]
    height: int
    cursor: bytes | None


def record_id(value: bytes | str) -> bytes:
    """A record id: bytes as given, text as its UTF-8."""
    return value.encode() if isinstance(value, str) else value


class DataOps:
    """The operations on one collection (sdk/ops.py generators), for either client."""

    def __init__(self, ops: Ops, name: str, wallet: Wallet | None = None,
                 timeout: float = 30.0) -> None:
        self._ops = ops
        self.name = name
        self.wallet = wallet
        self.timeout = timeout

    def _declare(self, attributes: Mapping[str, str | tuple[str, str]],
                 writers: Iterable[bytes], writer_orgs: Iterable[str],
                 readers: Iterable[bytes], reader_orgs: Iterable[str],
                 adapt_every: int = 0) -> Op[Receipt]:
        decls = [AttributeDecl(n, *((spec,) if isinstance(spec, str) else spec))
                 for n, spec in attributes.items()]
        op = DeclareCollection(self.name, decls, list(writers), list(writer_orgs),
                               list(readers), list(reader_orgs), adapt_every)
        return (yield from self._send(TxKind.DATA_COLLECTION, codec.encode(op)))

    def _info(self, height: int | None, verify: bool) -> Op[Collection]:
        view = yield calls.data_collection(self.name, height)
        found = yield from self._proven(view.state, verify)
        if found is None:
            raise DataQueryFailed(f"no collection {self.name!r}")
        return found

    def _proven(self, state: StateProof, verify: bool) -> Op[Collection | None]:
        """The collection as `state` holds it, the proof checked when `verify`."""
        verifier = yield from self._ops.trusted()
        cid = collection_id(verifier.suite.hash_bytes, self.name)
        if state.key != collection_key(cid):
            raise ProofError("the collection is proven for another key")
        if verify:
            yield from self._ops.accepted(state.header)
            verifier.state(state)
        if state.value is None:
            return None
        try:
            return codec.decode(state.value, Collection)
        except codec.CodecError as exc:
            raise ProofError(f"the proven collection does not decode: {exc.message}"
                             ) from None

    def _get(self, rid: bytes, height: int | None, verify: bool) -> Op[DataRecord | None]:
        answer: DataRecordAnswer = yield calls.data_get(self.name, rid, height)
        collection = yield from self._proven(answer.collection, verify)
        if collection is None:
            raise DataQueryFailed(f"no collection {self.name!r}")
        record = answer.record
        cid = answer.collection.key[len(collection_key(b"")):]
        if record.key != record_key(cid, rid):
            raise ProofError("the record is proven for another key")
        if record.header != answer.collection.header:
            raise ProofError("the record and its collection are proven at different blocks")
        if verify:
            (yield from self._ops.trusted()).state(record)
        if record.value is None:
            return None
        return _checked(lambda: read_record(collection, rid, record.value or b""))

    def _collection_at(self, height: int | None, verify: bool
                       ) -> Op[tuple[StateProof, Collection, bytes]]:
        """The collection's state proof, the proven collection (the client's own query
        needs it) and its id."""
        view = yield calls.data_collection(self.name, height)
        collection = yield from self._proven(view.state, verify)
        if collection is None:
            raise DataQueryFailed(f"no collection {self.name!r}")
        return view.state, collection, view.state.key[len(collection_key(b"")):]

    def _span(self, attribute: str, lo: Any, hi: Any, height: int | None, verify: bool,
              **page: Any) -> Op[tuple[StateProof, Collection, RangeQuery | None]]:
        """The proven collection and the key range of a query over it (None: nothing can
        match)."""
        state, collection, cid = yield from self._collection_at(height, verify)
        query = _checked(lambda: range_query(collection, cid, attribute, lo, hi, **page))
        return state, collection, query

    def _index_root(self, state: StateProof, collection: StateProof, root: StateProof,
                    verify: bool, key: bytes = RANGE_ROOT_KEY) -> Op[bytes]:
        """The root of the index at state `key` (the range index's by default), proven at
        the block of the collection's `state` (as the answer's `collection` must be) when
        `verify`."""
        if verify:
            verifier = yield from self._ops.trusted()
            if collection != state or root.header != state.header:
                raise ProofError("the answer is not proven at the collection's block")
            if root.key != key:
                raise ProofError("the index root is proven for another key")
            verifier.state(root)
        return EMPTY_ROOT if root.value is None else root.value

    def _hasher(self) -> Op[Callable[[bytes], bytes]]:
        verifier = yield from self._ops.trusted()
        return verifier.suite.hash_bytes

    def _query(self, attribute: str, lo: Any, hi: Any, reverse: bool, limit: int,
               cursor: bytes | None, height: int | None, verify: bool) -> Op[DataPage]:
        state, collection, query = yield from self._span(
            attribute, lo, hi, height, verify, reverse=reverse, limit=limit, cursor=cursor)
        at = state.header.height
        if query is None:
            return DataPage([], at, None)
        answer: DataQueryAnswer = yield calls.data_query(
            self.name, attribute, _json(lo), _json(hi), reverse, limit, cursor, at)
        entries = [(e.key, e.value) for e in answer.entries]
        root = yield from self._index_root(state, answer.collection, answer.root, verify)
        if verify:
            hasher = yield from self._hasher()
            try:
                page = verify_range(root, query, decode_proof(answer.proof), hasher)
            except XinlianError as exc:
                raise answer_error(exc, f"data query at block {at}") from None
            if list(zip(page.keys, page.values, strict=True)) != entries:
                raise AnswerTampered("the listed records differ from the proven ones")
        try:
            records = [read_entry(collection, attribute, k, v) for k, v in entries]
        except XinlianError as exc:
            raise ProofError(f"a record of the page: {exc.message}") from None
        full = len(entries) == limit
        return DataPage(records, at, entries[-1][0] if full else None)

    def _search(self, attribute: str, texts: str | Iterable[str], any_of: bool,
                exclude: str | Iterable[str], limit: int, cursor: bytes | None,
                height: int | None, verify: bool) -> Op[DataPage]:
        state, collection, cid = yield from self._collection_at(height, verify)
        wanted, unwanted = words(texts), words(exclude)
        query = _checked(lambda: text_query(collection, cid, attribute, wanted,
                                            any_of=any_of, exclude=unwanted, limit=limit,
                                            cursor=cursor))
        at = state.header.height
        answer: DataSearchAnswer = yield calls.data_search(
            self.name, attribute, wanted, any_of, unwanted, limit, cursor, at)
        root = yield from self._index_root(state, answer.collection, answer.root, verify,
                                           KEYWORD_ROOT_KEY)
        hasher = yield from self._hasher()
        records, after = search_records(collection, cid, query, answer, root, hasher, verify)
        return DataPage(records, at, after)

    def _select(self, conditions: Sequence[Condition], drive: int | None, reverse: bool,
                limit: int, scan: int, cursor: bytes | None, height: int | None,
                verify: bool) -> Op[DataPage]:
        state, collection, cid = yield from self._collection_at(height, verify)
        conditions = list(conditions)
        asked = cursor[0] if drive is None and cursor else drive
        make = partial(select.select_query, collection, cid, conditions, reverse=reverse,
                       limit=limit, scan=scan, cursor=cursor)
        if asked is None:
            _checked(lambda: select.checked(collection, conditions))
            _checked(lambda: select.check_page(limit, scan))
            _checked(lambda: select.choices(collection, conditions, reverse))
        else:
            _checked(lambda: make(drive=asked))
        at = state.header.height
        answer: DataSelectAnswer = yield calls.data_select(
            self.name, [select.to_json(c) for c in conditions], drive, reverse, limit, scan,
            cursor, at)
        if asked is not None and answer.drive != asked:
            raise AnswerTampered("the answer is driven by another condition than asked")
        try:
            selection = make(drive=answer.drive)
        except XinlianError as exc:
            raise AnswerTampered(f"the node drove the query by condition {answer.drive}: "
                                 f"{exc.message}") from None
        hasher = yield from self._hasher()
        words = bool(conditions[answer.drive].words)
        part = answer.keyword if words else answer.range
        if part is None:
            raise AnswerTampered("the answer is not a page of its driver's index")
        root = yield from self._index_root(state, part.collection, part.root, verify,
                                           KEYWORD_ROOT_KEY if words else RANGE_ROOT_KEY)
        records, after = data_select.page(collection, cid, selection, conditions, answer,
                                          root, hasher, verify)
        return DataPage(records, at, after)

    def _plan(self, height: int | None, verify: bool) -> Op[DataPlan]:
        answer: DataPlanAnswer = yield calls.data_plan(self.name, height)
        collection = yield from self._proven(answer.collection, verify)
        if collection is None:
            raise DataQueryFailed(f"no collection {self.name!r}")
        cid = answer.collection.key[len(collection_key(b"")):]
        proof = answer.plan
        if proof.key != plan_key(cid) or proof.header != answer.collection.header:
            raise ProofError("the plan is not proven for the collection at its block")
        if verify:
            (yield from self._ops.trusted()).state(proof)
        local = {q.attribute: (q.range, q.keyword) for q in answer.local}
        at = proof.header.height
        if proof.value is None:
            if verify and (answer.next_review, answer.records, answer.attributes) != (
                    None, 0, []):
                raise AnswerTampered("a plan shown for a collection that does not adapt")
            return DataPlan(False, at, None, 0, [], local)
        try:
            plan = codec.decode(proof.value, Plan)
            attributes = attribute_views(collection.attributes, plan)
        except (XinlianError, IndexError) as exc:
            raise ProofError(f"the proven plan does not read: {exc}") from None
        if verify and (attributes, plan.next_review, plan.records) != (
                answer.attributes, answer.next_review, answer.records):
            raise AnswerTampered("the plan shown differs from the proven one")
        return DataPlan(True, at, plan.next_review, plan.records, attributes, local)

    def _aggregate(self, attribute: str, lo: Any, hi: Any, height: int | None, verify: bool
                   ) -> Op[DataAggregate]:
        state, _, query = yield from self._span(attribute, lo, hi, height, verify)
        at = state.header.height
        if query is None:
            return DataAggregate(0, 0, None, None, at)
        answer: DataAggregateAnswer = yield calls.data_aggregate(
            self.name, attribute, _json(lo), _json(hi), at)
        try:
            claimed = DataAggregate(answer.count, int(answer.sum), answer.min, answer.max, at)
        except ValueError:
            raise AnswerTampered(f"a sum that is not a number: {answer.sum!r}") from None
        root = yield from self._index_root(state, answer.collection, answer.root, verify)
        if verify:
            hasher = yield from self._hasher()
            try:
                found = verify_aggregate(root, query.lo, query.hi, decode_proof(answer.proof),
                                         hasher)
            except XinlianError as exc:
                raise answer_error(exc, f"data aggregate at block {at}") from None
            if claimed != DataAggregate(found.count, found.total, found.min, found.max, at):
                raise AnswerTampered("the figures differ from the proven ones")
        return claimed

    def _aggregate_key(self, attribute: str, height: int | None, verify: bool
                       ) -> Op[AggregateKey]:
        view = yield calls.data_collection(self.name, height)
        collection = yield from self._proven(view.state, verify)
        if collection is None:
            raise DataQueryFailed(f"no collection {self.name!r}")
        return (yield from data_encrypted.read_key(self._ops, view.state, collection,
                                                   attribute, verify))

    def _write(self, puts: Records,
               deletes: Iterable[bytes | str]) -> Op[Receipt]:
        collection = yield from self._info(None, True)
        kinds = {a.name: a.kind for a in collection.attributes}
        keys: dict[str, AggregateKey] = {}
        ops: list[DataOp] = []
        for rid, fields in puts.items():
            unknown = sorted(set(fields) - set(kinds))
            if unknown:
                raise DataQueryFailed(f"collection {self.name!r} has no attribute "
                                      f"{unknown[0]!r}")
            encoded = []
            for n, v in fields.items():
                if kinds[n] == Kind.ENCRYPTED and values.is_int(v):
                    if n not in keys:  # an int is encrypted here, its proof made for rid
                        keys[n] = yield from self._aggregate_key(n, None, True)
                    v = _checked(partial(data_encrypted.encrypt, keys[n], self.name,
                                         record_id(rid), v))
                encoded.append(Field(n, _encoded(kinds[n], v)))
            ops.append(Put(record_id(rid), encoded))
        ops.extend(Delete(record_id(rid)) for rid in deletes)
        return (yield from self._send(TxKind.DATA_WRITE,
                                      codec.encode(DataWrite(self.name, ops))))

    def _set_key(self, attribute: str, key: bytes, bits: int) -> Op[Receipt]:
        op = DataWrite(self.name, [AggregateKey(attribute, key, bits)])
        return (yield from self._send(TxKind.DATA_WRITE, codec.encode(op)))

    def _report(self, counts: Mapping[str, Mapping[str, int]]) -> Op[Receipt]:
        ops: list[DataOp] = [Queries(attribute, kind, count)
                             for attribute, kinds in counts.items()
                             for kind, count in kinds.items()]
        return (yield from self._send(TxKind.DATA_WRITE,
                                      codec.encode(DataWrite(self.name, ops))))

    def _send(self, kind: TxKind, payload: bytes) -> Op[Receipt]:
        if self.wallet is None:
            raise DataQueryFailed("a write needs a wallet: Client.data(name, wallet=...)")
        receipt: Receipt = yield Send(self.wallet.data(kind, payload), self.timeout)
        if receipt.status != 0:
            raise DataWriteFailed(receipt)
        return receipt



class DataCollection(DataOps):
    """One collection of a node's chain (`Client.data(name)`); `wallet` signs its writes."""

    def __init__(self, run: Runner, ops: Ops, name: str, wallet: Wallet | None = None,
                 timeout: float = 30.0) -> None:
        super().__init__(ops, name, wallet, timeout)
        self._run = run

    # -- reads ---------------------------------------------------------------------------

    def info(self, *, height: int | None = None, verify: bool = True) -> Collection:
        """The collection's declaration; DataQueryFailed if there is none (its absence
        proven, when verified)."""
        return self._run(self._info(height, verify))

    def get(self, rid: bytes | str, *, height: int | None = None, verify: bool = True
            ) -> DataRecord | None:
        """Record `rid` (None: there is none, proven when verified)."""
        return self._run(self._get(record_id(rid), height, verify))

    def query(self, attribute: str, lo: Any = None, hi: Any = None, *,
              descending: bool = False, limit: int = 100, cursor: bytes | None = None,
              height: int | None = None, verify: bool = True) -> DataPage:
        """A page of the records whose `attribute` (range-indexed) lies from `lo` to `hi`,
        both included (None: unbounded), in value order (records of equal values by id);
        `cursor` from the previous page continues it at the same height."""
        return self._run(self._query(attribute, lo, hi, descending, limit, cursor,
                                             height, verify))

    def search(self, attribute: str, texts: str | Iterable[str], *, any_of: bool = False,
               exclude: str | Iterable[str] = (), limit: int = 100,
               cursor: bytes | None = None, height: int | None = None, verify: bool = True
               ) -> DataPage:
        """A page of the records whose text `attribute` (keyword-indexed) holds every word
        of `texts` (`any_of`: at least one) and no word of `exclude`, by record id;
        `cursor` from the previous page continues it at the same height."""
        return self._run(self._search(attribute, texts, any_of, exclude, limit,
                                              cursor, height, verify))

    def select(self, conditions: Sequence[Condition], *, drive: int | None = None,
               descending: bool = False, limit: int = 100, scan: int = MAX_PAGE,
               cursor: bytes | None = None, height: int | None = None, verify: bool = True
               ) -> DataPage:
        """A page of the records that satisfy every one of `conditions` (value ranges and
        words of texts over any attributes, each possibly negated), driven by the index of
        condition `drive` (None: the node picks the cheapest), in the driver's order; a
        page ends at `limit` matches or `scan` candidates, so it may hold fewer with a
        cursor (execution/data/select.py)."""
        return self._run(self._select(conditions, drive, descending, limit, scan,
                                              cursor, height, verify))

    def select_all(self, conditions: Sequence[Condition], *, drive: int | None = None,
                   descending: bool = False, limit: int = 100, scan: int = MAX_PAGE,
                   verify: bool = True) -> Iterator[DataRecord]:
        """Every match of `select`, page by page, all read at the height of the first."""
        page = self.select(conditions, drive=drive, descending=descending, limit=limit,
                           scan=scan, verify=verify)
        yield from page.records
        while page.cursor is not None:
            page = self.select(conditions, descending=descending, limit=limit, scan=scan,
                               cursor=page.cursor, height=page.height, verify=verify)
            yield from page.records

    def plan(self, *, height: int | None = None, verify: bool = True) -> DataPlan:
        """The collection's index plan: per adaptive attribute its index, the candidate a
        review would choose now, the reasons and the cost estimates, verified."""
        return self._run(self._plan(height, verify))

    def aggregate(self, attribute: str, lo: Any = None, hi: Any = None, *,
                  height: int | None = None, verify: bool = True) -> DataAggregate:
        """count/sum/min/max of `attribute` (range-indexed) over the records whose value
        lies from `lo` to `hi`, both included (None: unbounded), proven by the index's
        subtree aggregates."""
        return self._run(self._aggregate(attribute, lo, hi, height, verify))

    def aggregate_key(self, attribute: str, *, height: int | None = None,
                      verify: bool = True) -> AggregateKey:
        """The key and bits of encrypted `attribute`, proven (DataQueryFailed: none set)."""
        return self._run(self._aggregate_key(attribute, height, verify))

    def encrypted_sum(self, attribute: str, records: Iterable[DataRecord], *,
                      verify: bool = True) -> EncryptedSum:
        """The homomorphic sum of encrypted `attribute` over `records` (read with their
        proofs, e.g. `query_all`), every contribution's proof checked again when `verify`;
        t of the key's members open it (docs/privacy.md#encrypted-aggregates)."""
        key = self.aggregate_key(attribute, verify=verify)
        return data_encrypted.total(key, self.name, records, verify)

    def query_all(self, attribute: str, lo: Any = None, hi: Any = None, *,
                  descending: bool = False, limit: int = 100, verify: bool = True
                  ) -> Iterator[DataRecord]:
        """Every matching record, page by page, all read at the height of the first."""
        page = self.query(attribute, lo, hi, descending=descending, limit=limit, verify=verify)
        yield from page.records
        while page.cursor is not None:
            page = self.query(attribute, lo, hi, descending=descending, limit=limit,
                              cursor=page.cursor, height=page.height, verify=verify)
            yield from page.records

    def search_all(self, attribute: str, texts: str | Iterable[str], *,
                   any_of: bool = False, exclude: str | Iterable[str] = (),
                   limit: int = 100, verify: bool = True) -> Iterator[DataRecord]:
        """Every match of a keyword query (`search`), page by page, all read at the height
        of the first."""
        page = self.search(attribute, texts, any_of=any_of, exclude=exclude, limit=limit,
                           verify=verify)
        yield from page.records
        while page.cursor is not None:
            page = self.search(attribute, texts, any_of=any_of, exclude=exclude,
                               limit=limit, cursor=page.cursor, height=page.height,
                               verify=verify)
            yield from page.records

    def history(self, rid: bytes | str, *, first: int = 0, limit: int = 100,
                height: int | None = None, verify: bool = True) -> History:
        """A page of record `rid`'s versions from version `first`, oldest first, each with
        the height and transaction that wrote it (sdk/data_history.py)."""
        return self._run(data_history.history(
            self._ops, self._proven, self.name, record_id(rid), first, limit, height, verify))

    def as_of(self, rid: bytes | str, block: int, *, height: int | None = None,
              verify: bool = True) -> Version | None:
        """Record `rid`'s version in force at the end of block `block` (None: none yet)."""
        return self._run(data_history.as_of(
            self._ops, self._proven, self.name, record_id(rid), block, height, verify))

    def blocks(self, first: int, stop: int, *, rid: bytes | str | None = None,
               attribute: str | None = None, match: Literal["any", "all"] = "any",
               limit: int = 1000, height: int | None = None, verify: bool = True
               ) -> BlockWindow:
        """The blocks of [first, stop) that may have changed record `rid`, put
        `attribute`, or (neither) changed the collection, by their verified filters."""
        return self._run(data_history.blocks(
            self._ops, self._proven, self.name, first, stop,
            None if rid is None else record_id(rid), attribute, match, limit, height,
            verify))

    # -- writes (signed by `wallet`, waiting for the receipt) ----------------------------

    def declare(self, attributes: Mapping[str, str | tuple[str, str]], *,
                writers: Iterable[bytes] = (), writer_orgs: Iterable[str] = (),
                readers: Iterable[bytes] = (), reader_orgs: Iterable[str] = (),
                adapt_every: int = 0) -> Receipt:
        """Declare (or, its owner, alter) the collection: `attributes` maps each name to its
        kind, or to (kind, index choice) (execution/data/model.py); `adapt_every` > 0
        reviews the indexes of its `auto` attributes every that many blocks
        (execution/data/plan.py)."""
        return self._run(self._declare(attributes, writers, writer_orgs, readers,
                                               reader_orgs, adapt_every))

    def put(self, records: Records) -> Receipt:
        """Write each record whole (attributes not given have no value), in one
        transaction; values are Python values of the attributes' kinds."""
        return self._run(self._write(records, ()))

    def delete(self, ids: Iterable[bytes | str]) -> Receipt:
        return self._run(self._write({}, ids))

    def set_aggregate_key(self, attribute: str, key: bytes, bits: int) -> Receipt:
        """Set, once (the owner), encrypted `attribute`'s aggregate key (a DKG group key on
        SM2, SEC1 compressed) and its contributions' bits (0: counts; 8, 16, 32: sums).
        Puts may then give the attribute an int, which is encrypted and proven here."""
        return self._run(self._set_key(attribute, key, bits))

    def report(self, counts: Mapping[str, Mapping[str, int]]) -> Receipt:
        """Report queries served off chain, attribute -> {"range" | "keyword": count}, for
        the next review of an adaptive collection (execution/data/plan.py)."""
        return self._run(self._report(counts))

    # -- blobs (sdk/data_blob.py) --------------------------------------------------------

    def put_blob(self, rid: bytes | str, attribute: str, payload: Payload, media_type: str,
                 *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> BlobCommitment:
        """Upload `payload` (bytes, or a seekable binary file) into blob `attribute` of
        record `rid`: the chunks the node lacks, then the record with its commitment."""
        return self._run(put_blob(self, record_id(rid), attribute, payload,
                                          media_type, chunk_size))

    def get_blob(self, rid: bytes | str, attribute: str) -> Iterator[bytes]:
        """The payload of blob `attribute` of record `rid`, chunk by chunk, each verified
        against the commitment of the verified record."""
        rid = record_id(rid)
        commitment = self._run(blob_of(self, rid, attribute))
        requests = BlobRequests(self, rid, attribute)
        for index in range(chunk_count(commitment.size, commitment.chunk_size)):
            yield self._run(requests.chunk(commitment, index))

    def missing_chunks(self, rid: bytes | str, attribute: str,
                       commitment: BlobCommitment) -> list[int]:
        """The chunks of `commitment` the node does not hold (a writer's, or any caller's
        for the commitment the record holds)."""
        rid = record_id(rid)
        return self._run(BlobRequests(self, rid, attribute).missing(commitment))


class AsyncDataCollection(DataOps):
    """`DataCollection` for `AsyncClient.data(name)`: the same methods, awaited."""

    def __init__(self, run: AsyncRunner, ops: Ops, name: str, wallet: Wallet | None = None,
                 timeout: float = 30.0) -> None:
        super().__init__(ops, name, wallet, timeout)
        self._run = run

    async def info(self, *, height: int | None = None, verify: bool = True) -> Collection:
        return await self._run(self._info(height, verify))

    async def get(self, rid: bytes | str, *, height: int | None = None, verify: bool = True
                  ) -> DataRecord | None:
        return await self._run(self._get(record_id(rid), height, verify))

    async def query(self, attribute: str, lo: Any = None, hi: Any = None, *,
                    descending: bool = False, limit: int = 100, cursor: bytes | None = None,
                    height: int | None = None, verify: bool = True) -> DataPage:
        return await self._run(self._query(attribute, lo, hi, descending, limit,
                                                   cursor, height, verify))

    async def search(self, attribute: str, texts: str | Iterable[str], *,
                     any_of: bool = False, exclude: str | Iterable[str] = (),
                     limit: int = 100, cursor: bytes | None = None,
                     height: int | None = None, verify: bool = True) -> DataPage:
        return await self._run(self._search(attribute, texts, any_of, exclude,
                                                    limit, cursor, height, verify))

    async def select(self, conditions: Sequence[Condition], *, drive: int | None = None,
                     descending: bool = False, limit: int = 100, scan: int = MAX_PAGE,
                     cursor: bytes | None = None, height: int | None = None,
                     verify: bool = True) -> DataPage:
        return await self._run(self._select(conditions, drive, descending, limit,
                                                    scan, cursor, height, verify))

    async def select_all(self, conditions: Sequence[Condition], *,
                         drive: int | None = None, descending: bool = False,
                         limit: int = 100, scan: int = MAX_PAGE, verify: bool = True
                         ) -> AsyncIterator[DataRecord]:
        page = await self.select(conditions, drive=drive, descending=descending,
                                 limit=limit, scan=scan, verify=verify)
        for record in page.records:
            yield record
        while page.cursor is not None:
            page = await self.select(conditions, descending=descending, limit=limit,
                                     scan=scan, cursor=page.cursor, height=page.height,
                                     verify=verify)
            for record in page.records:
                yield record

    async def plan(self, *, height: int | None = None, verify: bool = True) -> DataPlan:
        return await self._run(self._plan(height, verify))

    async def aggregate(self, attribute: str, lo: Any = None, hi: Any = None, *,
                        height: int | None = None, verify: bool = True) -> DataAggregate:
        return await self._run(self._aggregate(attribute, lo, hi, height, verify))

    async def aggregate_key(self, attribute: str, *, height: int | None = None,
                            verify: bool = True) -> AggregateKey:
        return await self._run(self._aggregate_key(attribute, height, verify))

    async def encrypted_sum(self, attribute: str, records: Iterable[DataRecord], *,
                            verify: bool = True) -> EncryptedSum:
        key = await self.aggregate_key(attribute, verify=verify)
        return data_encrypted.total(key, self.name, records, verify)

    async def query_all(self, attribute: str, lo: Any = None, hi: Any = None, *,
                        descending: bool = False, limit: int = 100, verify: bool = True
                        ) -> AsyncIterator[DataRecord]:
        page = await self.query(attribute, lo, hi, descending=descending, limit=limit,
                                verify=verify)
        for record in page.records:
            yield record
        while page.cursor is not None:
            page = await self.query(attribute, lo, hi, descending=descending, limit=limit,
                                    cursor=page.cursor, height=page.height, verify=verify)
            for record in page.records:
                yield record

    async def search_all(self, attribute: str, texts: str | Iterable[str], *,
                         any_of: bool = False, exclude: str | Iterable[str] = (),
                         limit: int = 100, verify: bool = True
                         ) -> AsyncIterator[DataRecord]:
        page = await self.search(attribute, texts, any_of=any_of, exclude=exclude,
                                 limit=limit, verify=verify)
        for record in page.records:
            yield record
        while page.cursor is not None:
            page = await self.search(attribute, texts, any_of=any_of, exclude=exclude,
                                     limit=limit, cursor=page.cursor, height=page.height,
                                     verify=verify)
            for record in page.records:
                yield record

    async def history(self, rid: bytes | str, *, first: int = 0, limit: int = 100,
                      height: int | None = None, verify: bool = True) -> History:
        return await self._run(data_history.history(
            self._ops, self._proven, self.name, record_id(rid), first, limit, height, verify))

    async def as_of(self, rid: bytes | str, block: int, *, height: int | None = None,
                    verify: bool = True) -> Version | None:
        return await self._run(data_history.as_of(
            self._ops, self._proven, self.name, record_id(rid), block, height, verify))

    async def blocks(self, first: int, stop: int, *, rid: bytes | str | None = None,
                     attribute: str | None = None, match: Literal["any", "all"] = "any",
                     limit: int = 1000, height: int | None = None, verify: bool = True
                     ) -> BlockWindow:
        return await self._run(data_history.blocks(
            self._ops, self._proven, self.name, first, stop,
            None if rid is None else record_id(rid), attribute, match, limit, height,
            verify))

    async def declare(self, attributes: Mapping[str, str | tuple[str, str]], *,
                      writers: Iterable[bytes] = (), writer_orgs: Iterable[str] = (),
                      readers: Iterable[bytes] = (), reader_orgs: Iterable[str] = (),
                      adapt_every: int = 0) -> Receipt:
        return await self._run(self._declare(attributes, writers, writer_orgs,
                                                     readers, reader_orgs, adapt_every))

    async def put(self, records: Records) -> Receipt:
        return await self._run(self._write(records, ()))

    async def delete(self, ids: Iterable[bytes | str]) -> Receipt:
        return await self._run(self._write({}, ids))

    async def set_aggregate_key(self, attribute: str, key: bytes, bits: int) -> Receipt:
        return await self._run(self._set_key(attribute, key, bits))

    async def report(self, counts: Mapping[str, Mapping[str, int]]) -> Receipt:
        return await self._run(self._report(counts))

    async def put_blob(self, rid: bytes | str, attribute: str, payload: Payload,
                       media_type: str, *, chunk_size: int = DEFAULT_CHUNK_SIZE
                       ) -> BlobCommitment:
        return await self._run(put_blob(self, record_id(rid), attribute, payload,
                                                media_type, chunk_size))

    async def get_blob(self, rid: bytes | str, attribute: str) -> AsyncIterator[bytes]:
        rid = record_id(rid)
        commitment = await self._run(blob_of(self, rid, attribute))
        requests = BlobRequests(self, rid, attribute)
        for index in range(chunk_count(commitment.size, commitment.chunk_size)):
            yield await self._run(requests.chunk(commitment, index))

def _checked(make: Callable[[], T]) -> T:
    """`make()`, its data-model errors raised as DataQueryFailed."""
    try:
        return make()
    except XinlianError as exc:
        raise DataQueryFailed(exc.message, exc) from None


def _encoded(kind: str, value: Any) -> bytes:
    return _checked(lambda: values.encode(kind, value))


def _json(value: Any) -> Any:
    """A bound as JSON carries it: bytes as 0x hex."""
    return "0x" + value.hex() if isinstance(value, bytes) else value
