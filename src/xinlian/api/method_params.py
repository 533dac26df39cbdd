"""Every JSON-RPC method's parameters, in one table: a full node (api/methods.py) and a
light node (api/light.py, api/light_chain.py) declare their methods from it, so a client
asks either the same way, and a light node refuses what it cannot serve by the same names.
"""

from __future__ import annotations

from typing import Any

from xinlian.api.data_params import (
    BLOB_ATTRIBUTE,
    BLOB_AUTH,
    COLLECTION,
    DATA_READS,
    MAX_INDEX_KEY,
    RECORD_ID,
)
from xinlian.api.format import bytes_of
from xinlian.api.limits import Limits
from xinlian.api.params import (
    Param,
    Parser,
    boolean,
    choice,
    encoded,
    hex_bytes,
    list_of,
    optional,
    text,
    uint,
)
from xinlian.api.subscriptions import NEW_BLOCKS, TX_STATUS
from xinlian.execution.data.model import MAX_VALUE
from xinlian.ledger.account import ADDRESS_SIZE
from xinlian.ledger.errors import TxTooLarge
from xinlian.storage.blob_proof import MAX_CHUNK_SIZE, BlobCommitment
from xinlian.storage.blobs import MAX_MISSING_PAGE

HASH_SIZE = 32
MAX_STATE_KEY = 1024
MAX_PAGE = 1000
MAX_METHOD = 64  # a contract method's name
WEBSOCKET_ONLY = frozenset({"xl_subscribe", "xl_unsubscribe"})


def raw_transaction(max_size: int) -> Parser:
    """A transaction's hex; over the chain's size limit it is refused as TxTooLarge (the
    ledger's own error) before a byte of it is decoded."""
    def parse(value: Any, name: str) -> bytes:
        if isinstance(value, str) and len(value) - 2 > 2 * max_size:
            raise TxTooLarge(f"{name} is {(len(value) - 2) // 2} bytes; the limit is {max_size}")
        return bytes_of(value, name)
    return parse


def method_params(max_tx: int, limits: Limits) -> dict[str, tuple[Param, ...]]:
    """The parameters of every method of a full node, for a chain whose transactions are
    at most `max_tx` bytes, under the server's `limits`."""
    h32 = hex_bytes(size=HASH_SIZE)
    raw_tx = raw_transaction(max_tx)
    address = Param("address", hex_bytes(size=ADDRESS_SIZE))
    height = Param("height", optional(uint()), None)
    ref = (COLLECTION, RECORD_ID, BLOB_ATTRIBUTE)
    commitment = Param("commitment", encoded(BlobCommitment, max_size=MAX_VALUE))
    return {
        "xl_status": (),
        "xl_ready": (),
        "xl_chainInfo": (),
        "xl_pqStatus": (),
        "xl_submitTransaction": (Param("tx", raw_tx),),
        "xl_submitTransactions": (Param("txs", list_of(raw_tx,
                                                       max_items=limits.max_batch_txs)),),
        "xl_getBlockByHeight": (Param("height", uint()), Param("full", boolean, False)),
        "xl_getBlockByHash": (Param("hash", h32), Param("full", boolean, False)),
        "xl_getTransaction": (Param("hash", h32),),
        "xl_getReceipt": (Param("hash", h32),),
        "xl_getTransactionStatus": (Param("hash", h32),),
        "xl_getAccount": (address, height),
        "xl_getStateProof": (Param("key", hex_bytes(max_size=MAX_STATE_KEY)), height),
        "xl_contractQuery": (address, Param("method", text(max_length=MAX_METHOD)),
                             Param("args", hex_bytes(max_size=max_tx), b""), height,
                             Param("caller", optional(hex_bytes(size=ADDRESS_SIZE)), None)),
        "xl_getContract": (address, height),
        "xl_getContractVersions": (address,),
        "xl_getContractCode": (Param("code_hash", h32),),
        "xl_queryIndex": (Param("lo", hex_bytes(max_size=MAX_INDEX_KEY)),
                          Param("hi", optional(hex_bytes(max_size=MAX_INDEX_KEY)), None),
                          Param("order", choice("desc", "asc"), "desc"),
                          Param("limit", uint(maximum=MAX_PAGE), 100), height),
        **DATA_READS,
        "xl_blobPutManifest": (*ref, commitment,
                               Param("leaves", hex_bytes(max_size=limits.max_body_size // 2)),
                               BLOB_AUTH),
        "xl_blobPutChunk": (*ref, commitment, Param("index", uint()),
                            Param("data", hex_bytes(max_size=MAX_CHUNK_SIZE)), BLOB_AUTH),
        "xl_blobMissing": (*ref, commitment, Param("start", uint(), 0),
                           Param("limit", uint(maximum=MAX_MISSING_PAGE), MAX_MISSING_PAGE),
                           BLOB_AUTH),
        "xl_getCertifiedHeader": (height,),
        "xl_getEpochProofs": (Param("start", uint()),),
        "xl_getCheckpoint": (Param("epoch", uint()),),
        "xl_getHeaderProof": (Param("height", uint()), Param("anchor", uint())),
        "xl_getTransactionsBySender": (address, Param("offset", uint(), 0),
                                       Param("limit", uint(maximum=MAX_PAGE), 100)),
        "xl_subscribe": (Param("kind", choice(NEW_BLOCKS, TX_STATUS)),
                         Param("hashes", optional(list_of(h32, max_items=limits.ws_max_watched)),
                               None)),
        "xl_unsubscribe": (Param("subscription", text(max_length=32)),),
    }
