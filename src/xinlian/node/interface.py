"""What a running node offers the API layer: the records it returns and the calls it takes.

`api/` programs against `NodeAPI` only, so the JSON-RPC server and SDK work unchanged
whether the node orders alone (solo) or through BFT consensus.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from xinlian.codec import Struct
from xinlian.consensus.proofs import EpochProof
from xinlian.crypto.keys import Signature
from xinlian.crypto.suites import Suite
from xinlian.execution.data.plan import AttributeView
from xinlian.execution.data.select import Condition
from xinlian.ledger.account import Account
from xinlian.ledger.block import Block, BlockHeader, Receipt
from xinlian.ledger.genesis import Genesis
from xinlian.ledger.merkle import AuditPath
from xinlian.node.certify import CertifiedHeader
from xinlian.node.history import HeaderProof
from xinlian.storage.bloom_proof import WindowQuery
from xinlian.storage.mst_proof import RangeQuery
from xinlian.storage.proof import Proof
from xinlian.storage.provenance_proof import HistoryQuery

if TYPE_CHECKING:  # the service holds a store; readers of these views need none of it
    from xinlian.node.blob_service import BlobService


class NodeStatus(Struct):
    chain_id: str
    suite: str
    genesis_hash: bytes
    height: int
    head_hash: bytes
    state_root: bytes
    mempool_size: int
    committed_txs: int
    node_key: bytes  # encoded PublicKey of the node that signs block headers
    pruned_below: int = 0  # the oldest block and state it holds whole (prune_keep_blocks)


class Readiness(Struct):
    """Whether the node serves a current ledger: unready while its ledger lags consensus,
    or a supervised task is not running; `reasons` says why."""

    ready: bool
    height: int  # the ledger's height
    consensus_height: int | None  # consensus's committed height (None: a solo chain)
    reasons: list[str]


class TransportKey(Struct):
    """How a committee member authenticates on this validator's transport: the algorithm of
    its node key and the suite of the session (its channel to this node; for this node,
    the key it authenticates with first and no suite; empty: not connected)."""

    node: bytes
    key: str
    suite: str


class SubmitResult(Struct):
    """Admission outcome of one submitted transaction: its hash, or the typed error."""

    tx_hash: bytes
    accepted: bool
    code: int = 0
    error: str = ""
    message: str = ""


class TxRecord(Struct):
    """A committed transaction and its receipt, with what proves both: the proposer-signed
    header and the audit paths into its tx_root and receipts_root."""

    raw: bytes
    tx_hash: bytes
    height: int
    index: int
    header: BlockHeader
    header_signature: Signature
    tx_path: AuditPath
    receipt: Receipt
    receipt_path: AuditPath


class TxLocation(Struct):
    height: int
    index: int


class StateProof(Struct):
    """A state value (None when absent) at a height, with the proof against the header."""

    key: bytes
    value: bytes | None
    proof: Proof
    header: BlockHeader
    header_signature: bytes  # encoded Signature of the proposer over the header


class IndexEntry(Struct):
    key: bytes
    value: bytes


class IndexAnswer(Struct):
    """An ordered-index query's answer at a height: the entries, the range proof (encoded
    storage.mst_proof.RangeProof) against the index root, and that root proven in the state
    (`root`: the state proof of `INDEX_ROOT_KEY`; absent while the index is empty)."""

    entries: list[IndexEntry]
    proof: bytes
    root: StateProof


class DataCollectionView(Struct):
    """A data collection at a height: the state proof of `dc/<id>` (value None: no such
    collection), the record decoded by the SDK once the proof verifies."""

    name: str
    state: StateProof


class DataRecordAnswer(Struct):
    """A point read: the collection's and the record's state proofs, at one height."""

    collection: StateProof
    record: StateProof


class DataHistoryAnswer(Struct):
    """A record's versions at a height: the collection's state proof, the record's history
    peaks proven in the state (`dh/<collection id><record id>`, value None: never
    written) and a page of its versions (encoded storage.provenance_proof.HistoryPage)."""

    collection: StateProof
    peaks: StateProof
    page: bytes


class DataBlocksAnswer(Struct):
    """A window of block filters at a height: their peaks proven in the state
    (`dx/bloom`) and the page (encoded storage.bloom_proof.WindowPage)."""

    root: StateProof
    page: bytes


class DataQueryAnswer(Struct):
    """A page of a range query: the collection's state proof, the range index's root
    proven in the state (`dx/range`), the entries in query order and their range proof
    (encoded storage.mbtree_proof.Proof), all at one height."""

    collection: StateProof
    root: StateProof
    entries: list[IndexEntry]
    proof: bytes


class RecordState(Struct):
    """A record's stored encoding (None: absent) and its proof against the state root of
    the header of the answer it is part of."""

    value: bytes | None
    proof: Proof


class DataSearchAnswer(Struct):
    """A page of a keyword query: the collection's state proof, the inverted index's root
    proven in the state (`dx/keyword`), the matching record ids ascending with the next
    page's cursor (None: the last page), their proof (encoded
    storage.inverted_proof.TextProof) and each record with its state proof, all at one
    height."""

    collection: StateProof
    root: StateProof
    ids: list[bytes]
    cursor: bytes | None
    proof: bytes
    records: list[RecordState]


class DataSelectAnswer(Struct):
    """A page of a query of several conditions (execution/data/select.py): `drive` is the
    condition whose index drove it, and the driver's answer holds every candidate with its
    record: `range` the range-index page (a range driver) or `keyword` the keyword page
    with each record's state proof (a words driver), the other None."""

    drive: int
    range: DataQueryAnswer | None = None
    keyword: DataSearchAnswer | None = None


class LocalQueries(Struct):
    """The queries this node served over one attribute since it started: its own count,
    never committed (what a member may report on chain: execution/data/model.py
    `Queries`)."""

    attribute: str
    range: int
    keyword: int


class DataPlanAnswer(Struct):
    """An adaptive collection's index plan at a height: the collection's and the plan's
    state proofs (`dp/<collection id>`; value None: the collection does not adapt), the
    plan as the node reads it (execution/data/plan.py `view`; the SDK recomputes it from
    the proven plan) and the serving node's own query counts, which no proof covers:
    `local_from` None, this node's; a URL, the counts of the full node at that URL, passed
    on by a light node (api/light_data.py)."""

    collection: StateProof
    plan: StateProof
    next_review: int | None
    records: int
    attributes: list[AttributeView]
    local: list[LocalQueries]
    local_from: str | None = None


class DataAggregateAnswer(Struct):
    """count, sum, min and max of an attribute's values over a value range: the collection's
    state proof, the range index's root proven in the state (`dx/range`), the figures (the
    sum as a decimal string: it may pass 64 bits; min and max None over no record) and the
    aggregate proof (encoded storage.mbtree_proof.Proof), all at one height."""

    collection: StateProof
    root: StateProof
    count: int
    sum: str
    min: int | None
    max: int | None
    proof: bytes


class AccountView(Struct):
    address: bytes
    account: Account
    state: StateProof


class QueryResult(Struct):
    """A read-only contract call: `status` "ok" or "error" (`error`: code, name, message),
    the Qi stack trace, the ABI-encoded `output` and its JSON `value`, the fuel burned."""

    height: int
    status: str
    error: dict[str, Any] | None
    message: str
    trace: list[str]
    output: bytes
    value: Any
    fuel_used: int


class ContractView(Struct):
    """A contract's record at a height, with the ABI of its current code."""

    address: bytes
    height: int
    code_hash: bytes
    admin: bytes
    version: int
    frozen: bool
    balance: int
    created_height: int
    abi: dict[str, Any]
    # who may upgrade it: the rule its code declares (lang/upgrade_rule.py), `{"rule":
    # "admin"}` when the ABI has none
    upgrade: dict[str, Any]


class VersionView(Struct):
    version: int
    code_hash: bytes
    height: int  # the block that installed it
    tx_hash: bytes  # the deployment or upgrade


class CodeView(Struct):
    code_hash: bytes
    wasm: bytes
    abi: dict[str, Any]


BlockListener = Callable[[Block, Sequence[Receipt]], None]


class NodeAPI(Protocol):
    genesis: Genesis
    suite: Suite
    blobs: BlobService | None  # None: this node keeps no blobs

    def status(self) -> NodeStatus: ...

    def readiness(self) -> Readiness: ...

    def transport_keys(self) -> list[TransportKey]:
        """A validator's view of the committee's transport keys (a suite migration
        switches them: docs/pq.md); empty on a solo chain."""
        ...

    async def submit(self, raws: Sequence[bytes]) -> list[SubmitResult]:
        """Admit a batch of encoded transactions into the mempool (verified on all cores)."""
        ...

    def block(self, height: int) -> Block | None:
        """None: no such block; BlockPruned (6512): below a pruned node's window."""
        ...

    def block_by_hash(self, block_hash: bytes) -> Block | None:
        """As `block`."""
        ...

    def transaction(self, tx_hash: bytes) -> TxRecord | None: ...

    def receipt(self, tx_hash: bytes) -> Receipt | None: ...

    def tx_location(self, tx_hash: bytes) -> TxLocation | None:
        """Where a committed transaction is (one index lookup)."""
        ...

    def pending(self, tx_hash: bytes) -> bool:
        """True while the transaction waits in the mempool."""
        ...

    def account(self, address: bytes, height: int | None = None) -> AccountView: ...

    def state_proof(self, key: bytes, height: int | None = None) -> StateProof:
        """NotFound: no block at `height`; StatePrunedError (3011): below a pruned node's
        window (so for every read at a height)."""
        ...

    def contract_query(self, address: bytes, method: str, args: bytes,
                       height: int | None = None, caller: bytes | None = None
                       ) -> QueryResult: ...

    def contract_info(self, address: bytes, height: int | None = None
                      ) -> ContractView | None: ...

    def contract_versions(self, address: bytes) -> list[VersionView]: ...

    def contract_code(self, code_hash: bytes) -> CodeView | None: ...

    def index_query(self, query: RangeQuery, height: int | None = None) -> IndexAnswer:
        """A page of the ordered index of contract data, with its proofs."""
        ...

    def sender_transactions(self, address: bytes, offset: int, limit: int) -> list[bytes]:
        """Hashes of a sender's committed transactions in nonce order, paginated."""
        ...

    # -- data collections (execution/data) ---------------------------------------------------

    def data_collection(self, name: str, height: int | None = None) -> DataCollectionView: ...

    def data_get(self, name: str, record_id: bytes, height: int | None = None
                 ) -> DataRecordAnswer: ...

    def data_query(self, name: str, attribute: str, lo: Any, hi: Any, reverse: bool,
                   limit: int, cursor: bytes | None, height: int | None = None
                   ) -> DataQueryAnswer:
        """A page of records whose `attribute` lies from `lo` to `hi` (typed by the
        attribute's kind: execution/data/values.py), with proofs."""
        ...

    def data_record_history(self, name: str, record_id: bytes, query: HistoryQuery | None,
                            as_of: int | None, height: int | None = None
                            ) -> DataHistoryAnswer:
        """A page of a record's versions (`query`), or the one in force at block
        `as_of`, with proofs (node/data_history_reads.py)."""
        ...

    def data_blocks(self, query: WindowQuery, height: int | None = None) -> DataBlocksAnswer:
        """The block filters of a window, with their proof: which blocks may hold the
        query's terms (node/data_history.py names them)."""
        ...

    def data_search(self, name: str, attribute: str, texts: list[str], any_of: bool,
                    exclude: list[str], limit: int, cursor: bytes | None,
                    height: int | None = None) -> DataSearchAnswer:
        """A page of the records whose text `attribute` holds the words of `texts` (all, or
        `any_of`) and none of `exclude` (execution/data/query.py `text_query`), with
        proofs."""
        ...

    def data_select(self, name: str, conditions: list[Condition], drive: int | None,
                    reverse: bool, limit: int, scan: int, cursor: bytes | None,
                    height: int | None = None) -> DataSelectAnswer:
        """A page of the records that satisfy every condition (bounds as JSON gives
        them), driven by condition `drive` (None: the node's choice), with proofs
        (execution/data/select.py)."""
        ...

    def data_plan(self, name: str, height: int | None = None) -> DataPlanAnswer:
        """The collection's index plan and reasons, with proofs (node/data_reads.py)."""
        ...

    def data_aggregate(self, name: str, attribute: str, lo: Any, hi: Any,
                       height: int | None = None) -> DataAggregateAnswer:
        """count/sum/min/max of `attribute` (range-indexed) over the records whose value
        lies from `lo` to `hi`, with proofs."""
        ...

    # -- certified headers (a BFT chain's; none on a solo chain) ----------------------------

    def certified_header(self, height: int | None) -> CertifiedHeader | None:
        """The committee's certificate of the header at `height` (None: the highest)."""
        ...

    def epoch_proofs(self, start: int) -> list[EpochProof]:
        """Proofs of the epoch changes from the end of epoch `start` on (a page)."""
        ...

    def checkpoint(self, epoch: int) -> CertifiedHeader | None:
        """The certified last ledger header of an ended epoch."""
        ...

    def header_proof(self, height: int, anchor: int) -> HeaderProof | None:
        """Header `height` proven in the history of the header at `anchor`."""
        ...

    def add_block_listener(self, listener: BlockListener) -> None:
        """Call `listener(block, receipts)` on the event loop after each commit."""
        ...

    def remove_block_listener(self, listener: BlockListener) -> None: ...
