"""Each API method as a `Call`: its JSON-RPC request and how to read its result.

No I/O here: `Client` (HTTP) and `AsyncClient` (HTTP + websocket) only move the bytes, so
both read every result with the same code and the same schema as the server (api.format,
api.views).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec

from xinlian import codec
from xinlian.api.errors import FormatError
from xinlian.api.format import bytes_of, from_json, hex_of
from xinlian.api.views import (
    BlockView,
    ChainInfo,
    MigrationStatus,
    SenderPage,
    SubmitView,
    TxStatus,
    TxView,
)
from xinlian.ledger.block import Receipt
from xinlian.node.certify import CertifiedHeader
from xinlian.node.history import HeaderProof
from xinlian.node.interface import (
    AccountView,
    CodeView,
    ContractView,
    DataAggregateAnswer,
    DataBlocksAnswer,
    DataCollectionView,
    DataHistoryAnswer,
    DataPlanAnswer,
    DataQueryAnswer,
    DataRecordAnswer,
    DataSearchAnswer,
    DataSelectAnswer,
    IndexAnswer,
    NodeStatus,
    QueryResult,
    StateProof,
    VersionView,
)
from xinlian.node.statesync import MAX_PROOFS, EpochProof
from xinlian.node.statesync import MAX_WIRE as MAX_SYNC_WIRE
from xinlian.sdk.errors import ResponseError, RpcError, TransportError, TxRejected
from xinlian.storage.mst_proof import RangeQuery

T = TypeVar("T")
SUBMIT_CHUNK = 5000  # transactions per xl_submitTransactions (the server takes up to 20,000)
STATUS_CHUNK = 500   # status calls per JSON-RPC batch (the server takes up to 1000)
# hashes per txStatus subscription (the server watches up to 10,000, but pushes one
# message per hash as a block commits and drops a client with `ws_send_queue` (1,024)
# messages waiting: a window stays well under that)
WATCH_CHUNK = 500


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    params: list[Any]
    parse: Callable[[Any], T]


def parser(type_: Any) -> Callable[[Any], Any]:
    """Read a result (or notification) as a `type_` record; ResponseError if it is not one."""
    def parse(result: Any) -> Any:
        try:
            return from_json(result, type_, "result")
        except FormatError as exc:
            raise ResponseError(exc.message) from None
    return parse


def status() -> Call[NodeStatus]:
    return Call("xl_status", [], parser(NodeStatus))


def chain_info() -> Call[ChainInfo]:
    return Call("xl_chainInfo", [], parser(ChainInfo))


def pq_status() -> Call[MigrationStatus]:
    return Call("xl_pqStatus", [], parser(MigrationStatus))


def _hash_result(result: Any) -> bytes:
    try:
        return bytes_of(result.get("hash") if isinstance(result, dict) else None,
                        "result.hash", size=32)
    except FormatError as exc:
        raise ResponseError(exc.message) from None


def submit(raw: bytes) -> Call[bytes]:
    return Call("xl_submitTransaction", [hex_of(raw)], _hash_result)


def submit_many(raws: Sequence[bytes]) -> Call[list[SubmitView]]:
    return Call("xl_submitTransactions", [[hex_of(r) for r in raws]],
                parser(list[SubmitView]))


def block(height: int, full: bool = False) -> Call[BlockView | None]:
    return Call("xl_getBlockByHeight", [height, full], parser(BlockView | None))


def block_by_hash(block_hash: bytes, full: bool = False) -> Call[BlockView | None]:
    return Call("xl_getBlockByHash", [hex_of(block_hash), full], parser(BlockView | None))


def transaction(tx_hash: bytes) -> Call[TxView | None]:
    return Call("xl_getTransaction", [hex_of(tx_hash)], parser(TxView | None))


def receipt(tx_hash: bytes) -> Call[Receipt | None]:
    return Call("xl_getReceipt", [hex_of(tx_hash)], parser(Receipt | None))


def tx_status(tx_hash: bytes) -> Call[TxStatus]:
    return Call("xl_getTransactionStatus", [hex_of(tx_hash)], parser(TxStatus))


def account(address: bytes, height: int | None = None) -> Call[AccountView]:
    return Call("xl_getAccount", [hex_of(address), height], parser(AccountView))


def state_proof(key: bytes, height: int | None = None) -> Call[StateProof]:
    return Call("xl_getStateProof", [hex_of(key), height], parser(StateProof))


def index_query(query: RangeQuery, height: int | None = None) -> Call[IndexAnswer]:
    return Call("xl_queryIndex",
                [hex_of(query.lo), None if query.hi is None else hex_of(query.hi),
                 "desc" if query.reverse else "asc", query.limit, height],
                parser(IndexAnswer))
def data_collection(name: str, height: int | None = None) -> Call[DataCollectionView]:
    return Call("xl_getCollection", [name, height], parser(DataCollectionView))


def data_get(name: str, record_id: bytes, height: int | None = None
             ) -> Call[DataRecordAnswer]:
    return Call("xl_dataGet", [name, hex_of(record_id), height], parser(DataRecordAnswer))


def data_query(name: str, attribute: str, lo: Any, hi: Any, reverse: bool, limit: int,
               cursor: bytes | None, height: int | None = None) -> Call[DataQueryAnswer]:
    """`lo`, `hi`: bounds as JSON carries them (bytes as 0x hex)."""
    return Call("xl_dataQuery",
                [name, attribute, lo, hi, "desc" if reverse else "asc", limit,
                 None if cursor is None else hex_of(cursor), height],
                parser(DataQueryAnswer))


def data_search(name: str, attribute: str, texts: Sequence[str], any_of: bool,
                exclude: Sequence[str], limit: int, cursor: bytes | None,
                height: int | None = None) -> Call[DataSearchAnswer]:
    """A keyword query: xl_dataQuery with `keywords` (docs/data.md)."""
    return Call("xl_dataQuery",
                [name, attribute, None, None, "asc", limit,
                 None if cursor is None else hex_of(cursor), height, list(texts),
                 "any" if any_of else "all", list(exclude) or None],
                parser(DataSearchAnswer))


def data_select(name: str, where: list[dict[str, Any]], drive: int | None, reverse: bool,
                limit: int, scan: int, cursor: bytes | None, height: int | None = None
                ) -> Call[DataSelectAnswer]:
    """A query of several conditions (`where`: each as JSON, execution/data/select.py
    `to_json`)."""
    return Call("xl_dataSelect",
                [name, where, drive, "desc" if reverse else "asc", limit, scan,
                 None if cursor is None else hex_of(cursor), height],
                parser(DataSelectAnswer))


def data_plan(name: str, height: int | None = None) -> Call[DataPlanAnswer]:
    return Call("xl_dataPlan", [name, height], parser(DataPlanAnswer))


def data_aggregate(name: str, attribute: str, lo: Any, hi: Any, height: int | None = None
                   ) -> Call[DataAggregateAnswer]:
    """`lo`, `hi`: bounds as JSON carries them (bytes as 0x hex)."""
    return Call("xl_dataAggregate", [name, attribute, lo, hi, height],
                parser(DataAggregateAnswer))


def certified_header(height: int | None = None) -> Call[CertifiedHeader | None]:
    return Call("xl_getCertifiedHeader", [height], parser(CertifiedHeader | None))


def _epoch_proofs(result: Any) -> list[EpochProof]:
    if not isinstance(result, list) or len(result) > MAX_PROOFS:
        raise ResponseError("epoch proofs must be a list of at most "
                            f"{MAX_PROOFS} hex strings")
    try:
        return [codec.decode(bytes_of(item, "result[]"), EpochProof, max_size=MAX_SYNC_WIRE)
                for item in result]
    except (FormatError, codec.CodecError) as exc:
        raise ResponseError(f"an epoch proof does not decode: {exc.message}") from None


def epoch_proofs(start: int) -> Call[list[EpochProof]]:
    return Call("xl_getEpochProofs", [start], _epoch_proofs)


def checkpoint(epoch: int) -> Call[CertifiedHeader | None]:
    return Call("xl_getCheckpoint", [epoch], parser(CertifiedHeader | None))


def header_proof(height: int, anchor: int) -> Call[HeaderProof | None]:
    return Call("xl_getHeaderProof", [height, anchor], parser(HeaderProof | None))


def sender_transactions(address: bytes, offset: int = 0, limit: int = 100
                        ) -> Call[SenderPage]:
    return Call("xl_getTransactionsBySender", [hex_of(address), offset, limit],
                parser(SenderPage))


def contract_query(address: bytes, method: str, args: bytes, height: int | None = None,
                   caller: bytes | None = None) -> Call[QueryResult]:
    return Call("xl_contractQuery",
                [hex_of(address), method, hex_of(args), height,
                 None if caller is None else hex_of(caller)], parser(QueryResult))


def contract_info(address: bytes, height: int | None = None) -> Call[ContractView | None]:
    return Call("xl_getContract", [hex_of(address), height], parser(ContractView | None))


def contract_versions(address: bytes) -> Call[list[VersionView]]:
    return Call("xl_getContractVersions", [hex_of(address)], parser(list[VersionView]))


def contract_code(code_hash: bytes) -> Call[CodeView | None]:
    return Call("xl_getContractCode", [hex_of(code_hash)], parser(CodeView | None))


def subscribe(kind: str, hashes: Sequence[bytes] | None = None) -> Call[str]:
    params: list[Any] = [kind] if hashes is None else [kind, [hex_of(h) for h in hashes]]
    return Call("xl_subscribe", params, parser(str))


def unsubscribe(subscription: str) -> Call[bool]:
    return Call("xl_unsubscribe", [subscription], parser(bool))


def chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


# -- the JSON-RPC envelope -------------------------------------------------------------

def encode_request(call: Call[Any], request_id: int) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": call.method, "params": call.params}


def decode_body(body: bytes) -> Any:
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise TransportError(f"the node's answer is not JSON: {exc}") from None


def result_of(call: Call[T], reply: Any) -> T:
    """The call's typed result from its reply object, or the typed error it carries."""
    if not isinstance(reply, dict) or reply.get("jsonrpc") != "2.0":
        raise TransportError("the node's answer is not a JSON-RPC 2.0 response")
    if "error" in reply:
        raise error_of(reply["error"])
    if "result" not in reply:
        raise ResponseError("a response with neither result nor error")
    return call.parse(reply["result"])


def error_of(error: Any) -> RpcError:
    if not isinstance(error, dict):
        return RpcError(0, 0, "unknown", f"malformed error object {error!r}")
    raw_data = error.get("data")
    data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
    raw_rpc, raw_code = error.get("code"), data.get("code")
    rpc_code = raw_rpc if type(raw_rpc) is int else 0
    code = raw_code if type(raw_code) is int else rpc_code
    name = str(data.get("name", "unknown"))
    message = str(error.get("message", ""))
    if "hash" in data:
        try:
            tx_hash = bytes_of(data["hash"], "error.data.hash", size=32)
        except FormatError:
            tx_hash = b""
        return TxRejected(rpc_code, code, name, message, tx_hash)
    return RpcError(rpc_code, code, name, message)


def results_of(calls: Sequence[Call[Any]], replies: Any) -> list[Any]:
    """Results of a batch, matched by id (the server may answer in any order)."""
    if not isinstance(replies, list):
        if isinstance(replies, dict) and "error" in replies:
            raise error_of(replies["error"])
        raise TransportError("a batch was not answered with an array")
    by_id = {r["id"]: r for r in replies if isinstance(r, dict) and type(r.get("id")) is int}
    missing = [i for i in range(len(calls)) if i not in by_id]
    if missing:
        raise ResponseError(f"the batch answer lacks requests {missing}")
    return [result_of(call, by_id[i]) for i, call in enumerate(calls)]


def data_history(name: str, record_id: bytes, first: int, limit: int, as_of: int | None,
                 height: int | None = None) -> Call[DataHistoryAnswer]:
    return Call("xl_dataHistory", [name, hex_of(record_id), first, limit, as_of, height],
                parser(DataHistoryAnswer))


def data_blocks(terms: Sequence[bytes], first: int, stop: int, match: str, limit: int,
                height: int | None = None) -> Call[DataBlocksAnswer]:
    return Call("xl_dataBlocks", [[hex_of(t) for t in terms], first, stop, match, limit,
                                  height], parser(DataBlocksAnswer))
