"""The method table: each JSON-RPC method's name, typed parameters and handler.

Handlers receive values already decoded by `params.bind` and return JSON-ready results
(api.format); a missing block, transaction or receipt is `null`. The shapes are documented
in docs/api.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from xinlian import codec
from xinlian.api.data_params import is_keyword_query
from xinlian.api.errors import InvalidParams, Rejected
from xinlian.api.format import hex_of, to_json
from xinlian.api.limits import Limits
from xinlian.api.metering import record
from xinlian.api.method_params import HASH_SIZE, WEBSOCKET_ONLY, method_params
from xinlian.api.params import Param
from xinlian.api.subscriptions import NEW_BLOCKS, Hub, Session
from xinlian.api.views import (
    BlockView,
    ChainInfo,
    MigrationStatus,
    SenderPage,
    TxStatus,
    TxView,
)
from xinlian.execution.data.blob_access import BlobAuth
from xinlian.execution.data.select import Condition
from xinlian.execution.migration import (
    BOUND_COUNT_KEY,
    SCHEDULE_KEY,
    get_bound_count,
    get_schedule,
)
from xinlian.ledger.account import address_of
from xinlian.ledger.block import Block, header_hash
from xinlian.ledger.migration import get_phase
from xinlian.ledger.transaction import SignedTransaction, TxBody
from xinlian.node.interface import NodeAPI, StateProof, SubmitResult
from xinlian.storage.blob_proof import BlobCommitment
from xinlian.storage.blobs import BlobStore
from xinlian.storage.bloom_proof import WindowQuery
from xinlian.storage.errors import BlobNotFoundError, RangeProofError
from xinlian.storage.mbtree_proof import decode_proof
from xinlian.storage.mst_proof import RangeQuery, decode_range_proof, revealed_nodes
from xinlian.storage.provenance_proof import HistoryQuery

FUEL_PER_UNIT = 1_000_000  # a query's fuel per work unit (about a light call's time)

if TYPE_CHECKING:
    from xinlian.node.blob_service import BlobService


Handler = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Method:
    name: str
    params: tuple[Param, ...]
    handler: Handler  # called as handler(session, **params)
    websocket_only: bool = False


class Api:
    """The handlers, bound to one node, and the subscription hub they share."""

    def __init__(self, node: NodeAPI, limits: Limits) -> None:
        self.node = node
        self.limits = limits
        self._hash = node.suite.hash_bytes
        self.hub = Hub(self._hash, self.committed_status, per_session=limits.ws_max_watched,
                       total=limits.ws_max_watched_total)
        genesis = node.genesis
        self._chain_info = to_json(ChainInfo(genesis.hash(), genesis))
        self._max_tx = genesis.params.max_tx_size

    def table(self) -> dict[str, Method]:
        handlers: dict[str, Handler] = {
            "xl_status": self.status, "xl_ready": self.ready,
            "xl_chainInfo": self.chain_info, "xl_pqStatus": self.pq_status,
            "xl_submitTransaction": self.submit_one,
            "xl_submitTransactions": self.submit_many,
            "xl_getBlockByHeight": self.block, "xl_getBlockByHash": self.block_by_hash,
            "xl_getTransaction": self.transaction, "xl_getReceipt": self.receipt,
            "xl_getTransactionStatus": self.tx_status, "xl_getAccount": self.account,
            "xl_getStateProof": self.state_proof, "xl_contractQuery": self.contract_query,
            "xl_getContract": self.contract_info,
            "xl_getContractVersions": self.contract_versions,
            "xl_getContractCode": self.contract_code, "xl_queryIndex": self.index_query,
            "xl_getCollection": self.data_collection, "xl_dataGet": self.data_get,
            "xl_dataQuery": self.data_query, "xl_blobPutManifest": self.blob_put_manifest,
            "xl_blobPutChunk": self.blob_put_chunk, "xl_blobMissing": self.blob_missing,
            "xl_blobGetChunk": self.blob_get_chunk, "xl_dataHistory": self.data_history,
            "xl_dataBlocks": self.data_blocks, "xl_dataPlan": self.data_plan,
            "xl_dataSelect": self.data_select,
            "xl_dataAggregate": self.data_aggregate,
            "xl_getCertifiedHeader": self.certified_header,
            "xl_getEpochProofs": self.epoch_proofs, "xl_getCheckpoint": self.checkpoint,
            "xl_getHeaderProof": self.header_proof,
            "xl_getTransactionsBySender": self.by_sender,
            "xl_subscribe": self.subscribe, "xl_unsubscribe": self.unsubscribe,
        }
        specs = method_params(self._max_tx, self.limits)
        assert specs.keys() == handlers.keys()
        return {name: Method(name, params, handlers[name], name in WEBSOCKET_ONLY)
                for name, params in specs.items()}

    # -- chain ---------------------------------------------------------------------------

    async def status(self, session: Session | None) -> Any:
        return to_json(self.node.status())

    async def ready(self, session: Session | None) -> Any:
        return to_json(self.node.readiness())

    async def chain_info(self, session: Session | None) -> Any:
        return self._chain_info

    async def pq_status(self, session: Session | None) -> Any:
        """The suite migration at the head (execution/migration.py)."""
        schedule = self.node.state_proof(SCHEDULE_KEY)
        count = self.node.state_proof(BOUND_COUNT_KEY, schedule.header.height)
        return to_json(msgspec.structs.replace(migration_status(schedule, count),
                                               transport=self.node.transport_keys()))

    # -- submission: the hot path, so results are built as plain dicts -------------------

    async def submit_one(self, session: Session | None, tx: bytes) -> Any:
        record(1)
        (result,) = await self.node.submit([tx])
        if not result.accepted:
            raise Rejected(result.code, result.error, result.message, result.tx_hash)
        return {"hash": hex_of(result.tx_hash)}

    async def submit_many(self, session: Session | None, txs: list[bytes]) -> Any:
        record(len(txs))
        return [_submit_json(r) for r in await self.node.submit(txs)]

    # -- queries -------------------------------------------------------------------------

    def _block_json(self, block: Block | None, full: bool) -> Any:
        if block is None:
            return None
        hashes = tx_hashes(block, self._hash)
        view = BlockView(header_hash(block.header, self._hash), block.header,
                         block.signature, hashes, block.txs if full else None)
        return to_json(view)

    async def block(self, session: Session | None, height: int, full: bool) -> Any:
        return self._block_json(self.node.block(height), full)

    async def block_by_hash(self, session: Session | None, hash: bytes, full: bool) -> Any:
        return self._block_json(self.node.block_by_hash(hash), full)

    async def transaction(self, session: Session | None, hash: bytes) -> Any:
        found = self.node.transaction(hash)  # point reads, whatever the block's size
        if found is None:
            return None
        signed = codec.decode(found.raw, SignedTransaction, check_canonical=False)
        body = codec.decode(signed.body, TxBody, check_canonical=False)
        view = TxView(found.tx_hash, found.height, found.index,
                      address_of(body.sender, self._hash), body, found.raw, found.receipt,
                      found.header, found.header_signature, found.tx_path,
                      found.receipt_path)
        return to_json(view)

    async def receipt(self, session: Session | None, hash: bytes) -> Any:
        receipt = self.node.receipt(hash)
        return None if receipt is None else to_json(receipt)

    def committed_status(self, tx_hash: bytes) -> TxStatus | None:
        receipt = self.node.receipt(tx_hash)
        return None if receipt is None else TxStatus(tx_hash, "committed", receipt)

    async def tx_status(self, session: Session | None, hash: bytes) -> Any:
        status = self.committed_status(hash)
        if status is None:
            status = TxStatus(hash, "pending" if self.node.pending(hash) else "unknown")
        return to_json(status)

    async def account(self, session: Session | None, address: bytes,
                      height: int | None) -> Any:
        return to_json(self.node.account(address, height))

    async def state_proof(self, session: Session | None, key: bytes,
                          height: int | None) -> Any:
        return to_json(self.node.state_proof(key, height))

    async def contract_query(self, session: Session | None, address: bytes, method: str,
                             args: bytes, height: int | None, caller: bytes | None) -> Any:
        result = self.node.contract_query(address, method, args, height, caller)
        record(result.fuel_used // FUEL_PER_UNIT)  # the work budget pays for the run
        return to_json(result)

    async def contract_info(self, session: Session | None, address: bytes,
                            height: int | None) -> Any:
        return to_json(self.node.contract_info(address, height))

    async def contract_versions(self, session: Session | None, address: bytes) -> Any:
        return to_json(self.node.contract_versions(address))

    async def contract_code(self, session: Session | None, code_hash: bytes) -> Any:
        return to_json(self.node.contract_code(code_hash))

    async def index_query(self, session: Session | None, lo: bytes, hi: bytes | None,
                          order: str, limit: int, height: int | None) -> Any:
        try:
            query = RangeQuery(lo, hi, order == "desc", limit)
        except RangeProofError as exc:
            raise InvalidParams(exc.message) from None
        answer = self.node.index_query(query, height)
        # the work budget pays one unit per entry served and per index node read for it
        record(len(answer.entries) + revealed_nodes(decode_range_proof(answer.proof)))
        return to_json(answer)

    # -- data collections (docs/data.md) -------------------------------------------------

    async def data_collection(self, session: Session | None, collection: str,
                              height: int | None) -> Any:
        return to_json(self.node.data_collection(collection, height))

    async def data_get(self, session: Session | None, collection: str, id: bytes,
                       height: int | None) -> Any:
        return to_json(self.node.data_get(collection, id, height))

    async def data_query(self, session: Session | None, collection: str, attribute: str,
                         lo: Any, hi: Any, order: str, limit: int, cursor: bytes | None,
                         height: int | None, keywords: list[str] | None, match: str,
                         exclude: list[str] | None) -> Any:
        if is_keyword_query(lo, hi, order, keywords, match, exclude):
            assert keywords is not None
            found = self.node.data_search(collection, attribute, keywords, match == "any",
                                          exclude or [], limit, cursor, height)
            # one unit per record served (with its state proof) and per kilobyte of proof
            record(2 * len(found.ids) + len(found.proof) // 1024)
            return to_json(found)
        answer = self.node.data_query(collection, attribute, lo, hi, order == "desc", limit,
                                      cursor, height)
        # the work budget pays one unit per record served and per index node read for it
        record(len(answer.entries) + len(decode_proof(answer.proof).nodes))
        return to_json(answer)

    async def data_select(self, session: Session | None, collection: str,
                          where: list[Condition], drive: int | None, order: str, limit: int,
                          scan: int, cursor: bytes | None, height: int | None) -> Any:
        found = self.node.data_select(collection, where, drive, order == "desc", limit, scan,
                                      cursor, height)
        # the work budget as the driver's own query pays it: per candidate served
        if found.keyword is not None:
            record(2 * len(found.keyword.ids) + len(found.keyword.proof) // 1024)
        elif found.range is not None:
            record(len(found.range.entries) + len(decode_proof(found.range.proof).nodes))
        return to_json(found)

    # -- blobs (docs/data.md "Blobs"): the store's I/O runs on a worker thread ------------

    def _blobs(self) -> BlobService:
        if self.node.blobs is None:
            raise BlobNotFoundError("this node keeps no blobs (a light node keeps "
                                    "commitments only)")
        return self.node.blobs

    def _writable(self, collection: str, id: bytes, attribute: str,
                  commitment: BlobCommitment, auth: BlobAuth | None) -> BlobStore:
        """The store, once the caller may upload `commitment` there."""
        blobs = self._blobs()
        blobs.writable(collection, id, attribute, commitment, auth)
        return blobs.store

    async def blob_put_manifest(self, session: Session | None, collection: str, id: bytes,
                                attribute: str, commitment: BlobCommitment, leaves: bytes,
                                auth: BlobAuth | None) -> Any:
        store = self._writable(collection, id, attribute, commitment, auth)
        hashes = [leaves[i:i + HASH_SIZE] for i in range(0, len(leaves), HASH_SIZE)]
        record(len(hashes))
        await asyncio.to_thread(store.put_manifest, commitment, hashes)
        return True

    async def blob_put_chunk(self, session: Session | None, collection: str, id: bytes,
                             attribute: str, commitment: BlobCommitment, index: int,
                             data: bytes, auth: BlobAuth | None) -> Any:
        store = self._writable(collection, id, attribute, commitment, auth)
        record(1)
        return await asyncio.to_thread(store.put_chunk, commitment, index, data)

    async def blob_missing(self, session: Session | None, collection: str, id: bytes,
                           attribute: str, commitment: BlobCommitment, start: int,
                           limit: int, auth: BlobAuth | None) -> Any:
        store = self._writable(collection, id, attribute, commitment, auth)
        record(1)
        return list(await asyncio.to_thread(store.missing, commitment, start, limit))

    async def blob_get_chunk(self, session: Session | None, collection: str, id: bytes,
                             attribute: str, index: int, auth: BlobAuth | None) -> Any:
        blobs = self._blobs()
        commitment = blobs.readable(collection, id, attribute, auth)
        record(1)
        data, proof = await asyncio.to_thread(blobs.store.get_chunk, commitment, index)
        return {"data": hex_of(data), "proof": hex_of(codec.encode(proof)),
                "commitment": hex_of(codec.encode(commitment))}

    async def data_history(self, session: Session | None, collection: str, id: bytes,
                           first: int, limit: int, as_of: int | None,
                           height: int | None) -> Any:
        query = None if as_of is not None else HistoryQuery(first, None, limit)
        answer = self.node.data_record_history(collection, id, query, as_of, height)
        record(1 + len(answer.page) // 64)  # the work budget: one unit per 64 bytes served
        return to_json(answer)

    async def data_blocks(self, session: Session | None, terms: list[bytes], first: int,
                          stop: int, match: str, limit: int, height: int | None) -> Any:
        query = WindowQuery(first, stop, tuple(terms), "all" if match == "all" else "any",
                            limit)
        answer = self.node.data_blocks(query, height)
        record(1 + len(answer.page) // 1024)  # one unit per kilobyte of filters served
        return to_json(answer)

    async def data_plan(self, session: Session | None, collection: str,
                        height: int | None) -> Any:
        return to_json(self.node.data_plan(collection, height))

    async def data_aggregate(self, session: Session | None, collection: str, attribute: str,
                             lo: Any, hi: Any, height: int | None) -> Any:
        answer = self.node.data_aggregate(collection, attribute, lo, hi, height)
        record(len(decode_proof(answer.proof).nodes))  # one unit per index node read
        return to_json(answer)

    # -- certified headers (BFT chains; null or empty on a solo chain) --------------------

    async def certified_header(self, session: Session | None, height: int | None) -> Any:
        found = self.node.certified_header(height)
        return None if found is None else to_json(found)

    async def epoch_proofs(self, session: Session | None, start: int) -> Any:
        # canonical bytes: the client decodes and checks them as consensus records
        return [hex_of(codec.encode(p)) for p in self.node.epoch_proofs(start)]

    async def checkpoint(self, session: Session | None, epoch: int) -> Any:
        found = self.node.checkpoint(epoch)
        return None if found is None else to_json(found)

    async def header_proof(self, session: Session | None, height: int, anchor: int) -> Any:
        found = self.node.header_proof(height, anchor)
        return None if found is None else to_json(found)

    async def by_sender(self, session: Session | None, address: bytes, offset: int,
                        limit: int) -> Any:
        hashes = self.node.sender_transactions(address, offset, limit) if limit else []
        nxt = offset + len(hashes) if limit and len(hashes) == limit else None
        return to_json(SenderPage(hashes, offset, nxt))

    # -- subscriptions (websocket only) --------------------------------------------------

    async def subscribe(self, session: Session | None, kind: str,
                        hashes: list[bytes] | None) -> Any:
        assert session is not None  # the dispatcher refuses websocket-only methods over HTTP
        if kind == NEW_BLOCKS:
            if hashes is not None:
                raise InvalidParams("newBlocks takes no hashes")
            return self.hub.subscribe_blocks(session)
        if hashes is None:
            raise InvalidParams("txStatus needs the hashes to watch")
        return self.hub.subscribe_txs(session, hashes)

    async def unsubscribe(self, session: Session | None, subscription: str) -> Any:
        assert session is not None
        self.hub.unsubscribe(session, subscription)
        return True


def tx_hashes(block: Block, h: Callable[[bytes], bytes]) -> list[bytes]:
    """The hashes of a block's transactions (each one decoded: one work unit each)."""
    record(len(block.txs))
    # stored transactions were validated on admission; skip the canonical re-encode
    return [h(codec.decode(raw, SignedTransaction, check_canonical=False).body)
            for raw in block.txs]


def migration_status(schedule: StateProof, count: StateProof) -> MigrationStatus:
    """The suite migration at the block after `schedule`'s, from the state values of its
    schedule and of the count of bound accounts (both at that block)."""
    plan = get_schedule(lambda _: schedule.value)
    height = schedule.header.height + 1
    return MigrationStatus(plan, get_phase(plan, height).value, height,
                           get_bound_count(lambda _: count.value))


def _submit_json(result: SubmitResult) -> dict[str, Any]:
    if result.accepted:
        return {"hash": "0x" + result.tx_hash.hex(), "accepted": True}
    return {"hash": "0x" + result.tx_hash.hex(), "accepted": False,
            "error": {"code": result.code, "name": result.error, "message": result.message}}
