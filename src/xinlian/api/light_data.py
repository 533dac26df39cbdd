"""The light node's data methods: a full node's answer, checked before it is passed on.

A light node keeps headers only (api/light.py): no record, index, history, filter or blob
chunk, only what its certified headers commit to. It answers `xl_getCollection`,
`xl_dataGet`, `xl_dataQuery` (by range, or by keywords: all, any, excluded),
`xl_dataSelect` (conditions over several attributes), `xl_dataAggregate`,
`xl_dataHistory`, `xl_dataBlocks`, `xl_dataPlan` and `xl_blobGetChunk` by asking a full
node and running the SDK's own verification of that answer against its headers
(sdk/data.py, sdk/data_search.py, sdk/data_select.py, sdk/data_history.py,
sdk/data_blob.py): state proofs under a certified header, then the range, keyword,
aggregate, history or window proof, the plan proven in the state, or the chunk against
the commitment of the verified record. A plan's `local` query counts are the full node's
own, which nothing commits: the answer names that node in `local_from`. It passes on the
full node's answer itself, in the full node's format, so a client may check it once more.
A full node whose answer fails is counted as a liar and the next one is asked; with none left, the
caller gets the typed error (answer_tampered, answer_incomplete, answer_reordered,
proof_failed). Blobs stream chunk by chunk: each `xl_blobGetChunk` is one verified chunk,
with the caller's signed request passed through.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Literal

from msgspec.structs import replace

from xinlian import codec
from xinlian.api.data_params import DATA_READS, is_keyword_query
from xinlian.api.format import hex_of, to_json
from xinlian.api.methods import Handler, Method
from xinlian.api.subscriptions import Session
from xinlian.errors import XinlianError
from xinlian.execution.data.blob_access import BlobAuth
from xinlian.execution.data.select import Condition
from xinlian.execution.data.select import from_json as condition_from_json
from xinlian.execution.data.values import from_json
from xinlian.sdk import calls
from xinlian.sdk import data_history as sdk_history
from xinlian.sdk.aio import AsyncClient
from xinlian.sdk.calls import Call
from xinlian.sdk.data import DataOps
from xinlian.sdk.data_blob import BlobRequests, blob_of
from xinlian.sdk.errors import AnswerTampered, DataQueryFailed
from xinlian.sdk.ops import Op
from xinlian.storage.errors import BlobError

if TYPE_CHECKING:
    from xinlian.api.light import LightNode

Recorded = Generator[Any, Any, Any]


def recorded(op: Op[Any], method: str) -> Recorded:
    """Run `op` (an SDK operation, which verifies what it reads) and return the answer of
    its last `method` call, once the operation has accepted it (None: it made none)."""
    seen: list[Any] = []
    try:
        request = next(op)
    except StopIteration:
        return None
    while True:
        try:
            answer = yield request
        except XinlianError as exc:  # what the runner throws in, the operation may handle
            try:
                request = op.throw(exc)
            except StopIteration:
                return seen[-1] if seen else None
            continue
        if isinstance(request, Call) and request.method == method:
            seen.append(answer)
        try:
            request = op.send(answer)
        except StopIteration:
            return seen[-1] if seen else None


class LightDataApi:
    """The data methods of a light node (see the module docstring)."""

    def __init__(self, light: LightNode) -> None:
        self.light = light

    def methods(self) -> list[Method]:
        handlers: dict[str, Handler] = {
            "xl_getCollection": self.collection, "xl_dataGet": self.get,
            "xl_dataQuery": self.query, "xl_dataSelect": self.select, "xl_dataPlan": self.plan,
            "xl_dataAggregate": self.aggregate,
            "xl_dataHistory": self.history, "xl_dataBlocks": self.blocks,
            "xl_blobGetChunk": self.blob_chunk}
        return [Method(name, params, handlers[name]) for name, params in DATA_READS.items()]

    async def verified(self, make: Callable[[], Recorded]) -> Any:
        """The first full node's answer that its verification (`make()`, run against that
        node) accepts, as JSON."""
        async def ask(client: AsyncClient) -> Any:
            return await client.run(make())
        return to_json(await self.light.ask(ask))

    def _data(self, name: str) -> DataOps:
        """The SDK's operations on collection `name`, checked against this node's headers."""
        return DataOps(self.light.ops, name)

    async def collection(self, session: Session | None, collection: str,
                         height: int | None) -> Any:
        def op() -> Recorded:
            view = yield calls.data_collection(collection, height)
            yield from self._data(collection)._proven(view.state, True)
            return view
        return await self.verified(op)

    async def get(self, session: Session | None, collection: str, id: bytes,
                  height: int | None) -> Any:
        return await self.verified(lambda: recorded(
            self._data(collection)._get(id, height, True), "xl_dataGet"))

    async def query(self, session: Session | None, collection: str, attribute: str,
                    lo: Any, hi: Any, order: str, limit: int, cursor: bytes | None,
                    height: int | None, keywords: list[str] | None, match: str,
                    exclude: list[str] | None) -> Any:
        if is_keyword_query(lo, hi, order, keywords, match, exclude):
            assert keywords is not None
            return await self.verified(lambda: recorded(
                self._data(collection)._search(attribute, keywords, match == "any",
                                               exclude or [], limit, cursor, height, True),
                "xl_dataQuery"))

        def op() -> Recorded:
            data = self._data(collection)
            low, high = yield from _bounds(data, attribute, lo, hi, height)
            page = yield from recorded(data._query(attribute, low, high, order == "desc",
                                                   limit, cursor, height, True),
                                       "xl_dataQuery")
            if page is not None:
                return page
            # the verified collection says nothing can match: so must the node's answer
            answer = yield calls.data_query(collection, attribute, lo, hi, order == "desc",
                                            limit, cursor, height)
            yield from _proven_empty(data, answer, not answer.entries)
            return answer
        return await self.verified(op)

    async def select(self, session: Session | None, collection: str, where: list[Condition],
                     drive: int | None, order: str, limit: int, scan: int,
                     cursor: bytes | None, height: int | None) -> Any:
        def op() -> Recorded:
            data = self._data(collection)
            found = yield from data._info(height, True)
            try:  # the bounds as JSON gives them, by the kinds of the verified collection
                conditions = [condition_from_json(found, c) for c in where]
            except XinlianError as exc:
                raise DataQueryFailed(exc.message, exc) from None
            return (yield from recorded(data._select(conditions, drive, order == "desc",
                                                     limit, scan, cursor, height, True),
                                        "xl_dataSelect"))
        return await self.verified(op)

    async def plan(self, session: Session | None, collection: str, height: int | None
                   ) -> Any:
        """The plan proven at `dp/<collection id>`; its `local` counts are the full node's
        word (never committed, no proof covers them), so the answer names that node in
        `local_from`."""
        async def ask(client: AsyncClient) -> Any:
            answer = await client.run(recorded(
                self._data(collection)._plan(height, True), "xl_dataPlan"))
            return replace(answer, local_from=client.url)
        return to_json(await self.light.ask(ask))

    async def aggregate(self, session: Session | None, collection: str, attribute: str,
                        lo: Any, hi: Any, height: int | None) -> Any:
        def op() -> Recorded:
            data = self._data(collection)
            low, high = yield from _bounds(data, attribute, lo, hi, height)
            found = yield from recorded(data._aggregate(attribute, low, high, height, True),
                                        "xl_dataAggregate")
            if found is not None:
                return found
            answer = yield calls.data_aggregate(collection, attribute, lo, hi, height)
            yield from _proven_empty(data, answer, answer.count == 0 and answer.sum == "0"
                                     and answer.min is None and answer.max is None)
            return answer
        return await self.verified(op)

    async def history(self, session: Session | None, collection: str, id: bytes,
                      first: int, limit: int, as_of: int | None, height: int | None) -> Any:
        def op() -> Recorded:
            data = self._data(collection)
            run = (sdk_history.history(data._ops, data._proven, collection, id, first, limit,
                                       height, True)
                   if as_of is None else
                   sdk_history.as_of(data._ops, data._proven, collection, id, as_of, height,
                                     True))
            return (yield from recorded(run, "xl_dataHistory"))
        return await self.verified(op)

    async def blocks(self, session: Session | None, terms: list[bytes], first: int,
                     stop: int, match: Literal["any", "all"], limit: int,
                     height: int | None) -> Any:
        return await self.verified(lambda: recorded(
            sdk_history.terms_window(self.light.ops, terms, first, stop, match, limit, height,
                                     True), "xl_dataBlocks"))

    async def blob_chunk(self, session: Session | None, collection: str, id: bytes,
                         attribute: str, index: int, auth: BlobAuth | None) -> Any:
        def op() -> Recorded:
            data = self._data(collection)
            commitment = yield from blob_of(data, id, attribute)
            try:
                _, answer = yield from BlobRequests(data, id, attribute).fetch(
                    commitment, index, None if auth is None else hex_of(codec.encode(auth)))
            except BlobError as exc:  # a chunk, or its proof, not the committed one
                raise AnswerTampered(exc.message) from None
            if answer.get("commitment") != hex_of(codec.encode(commitment)):
                raise AnswerTampered("the chunk is served for another commitment")
            return answer
        return await self.verified(op)


def _bounds(data: DataOps, attribute: str, lo: Any, hi: Any, height: int | None
            ) -> Generator[Any, Any, tuple[Any, Any]]:
    """The bounds as JSON gives them, as the values of the attribute's kind (the kind read
    from the verified collection)."""
    collection = yield from data._info(height, True)
    found = collection.attribute(attribute)
    if found is None:
        raise DataQueryFailed(f"collection {data.name!r} has no attribute {attribute!r}")
    try:
        return from_json(found[1].kind, lo), from_json(found[1].kind, hi)
    except XinlianError as exc:
        raise DataQueryFailed(exc.message, exc) from None


def _proven_empty(data: DataOps, answer: Any, empty: bool) -> Generator[Any, Any, None]:
    """Check the answer to a query that the verified collection says nothing can match:
    its collection and index root proven, and nothing claimed."""
    yield from data._proven(answer.collection, True)
    yield from data._index_root(answer.collection, answer.collection, answer.root, True)
    if not empty:
        raise AnswerTampered("records or figures for a range nothing can match")
