"""The blocking client: JSON-RPC over one kept-alive HTTP connection (standard library).

Every query verifies the node's answer by default (see sdk.verify); `wait_for_commit`
polls the transactions' status in one batch request per round, with a growing interval
and a hard deadline.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import msgspec

from xinlian.api.views import BlockView, ChainInfo, MigrationStatus, SenderPage, SubmitView, TxView
from xinlian.crypto.keys import PublicKey
from xinlian.crypto.primitives.groups import Scalar
from xinlian.crypto.privacy.anonymous.keys import Keys
from xinlian.crypto.signing import SigningKey
from xinlian.ledger.block import Receipt
from xinlian.node.certify import CertifiedHeader
from xinlian.node.interface import (
    AccountView,
    CodeView,
    ContractView,
    NodeStatus,
    StateProof,
    VersionView,
)
from xinlian.sdk import calls, contract_reads
from xinlian.sdk.anonymous import AnonymousNotes
from xinlian.sdk.calls import Call
from xinlian.sdk.confidential import ConfidentialAccounts
from xinlian.sdk.contract_abi import ContractAbi
from xinlian.sdk.contracts import (
    AbiSource,
    CodeSource,
    Contract,
    ContractCode,
    ContractReceipt,
    Options,
    abi_of,
    deploy,
    fund,
)
from xinlian.sdk.data import DataCollection
from xinlian.sdk.errors import CommitTimeout, SdkError, TransportError
from xinlian.sdk.indexes import IndexPage, Plan
from xinlian.sdk.ops import Op, Ops, Pause, Pauses, Send, submit_all
from xinlian.sdk.verify import Verifier
from xinlian.sdk.wallet import DEFAULT_FUEL_LIMIT, SignedTx, Wallet
from xinlian.storage.mst_proof import RangeQuery

T = TypeVar("T")
POLL_FIRST = 0.01
POLL_MAX = 0.25
CERT_WAIT = 30.0  # seconds a verified read waits for its block's certificate


def raw_of(tx: SignedTx | bytes) -> bytes:
    return tx.raw if isinstance(tx, SignedTx) else tx


def rpc_url(url: str) -> tuple[str, int, str]:
    """(host, port, path of POST /rpc) from a node URL such as http://127.0.0.1:8545."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise TransportError(f"expected an http:// node URL, got {url!r}")
    return parts.hostname, parts.port or 80, parts.path.rstrip("/") + "/rpc"


class _Http:
    def __init__(self, url: str, timeout: float) -> None:
        self.host, self.port, self.path = rpc_url(url)
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def post(self, body: bytes) -> bytes:
        # A kept-alive connection the server has closed fails on first use; retry that once
        # on a fresh connection (the request never reached the server).
        for attempt in (0, 1):
            fresh = self._conn is None
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port,
                                                        timeout=self.timeout)
            try:
                self._conn.request("POST", self.path, body,
                                   {"Content-Type": "application/json"})
                response = self._conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError,
                    ConnectionResetError) as exc:
                self.close()
                if fresh or attempt:
                    raise TransportError(f"connection to the node failed: {exc}") from exc
                continue
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise TransportError(f"connection to the node failed: {exc}") from exc
            if response.status == 204:
                return b""
            return data
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class Client:
    """A blocking client for one node. Pin `node_key` and `genesis_hash` to verify answers
    against your own trust anchors instead of the node's first answer."""

    def __init__(self, url: str, *, node_key: PublicKey | None = None,
                 genesis_hash: bytes | None = None, timeout: float = 30.0,
                 cert_wait: float = CERT_WAIT) -> None:
        """`cert_wait`: seconds a verified query of a BFT chain waits for the block it
        read to be certified (a moment after it commits) before NotCertifiedYet."""
        self._http = _Http(url, timeout)
        self._ops = Ops(node_key, genesis_hash)
        self._ids = 0
        self._cert_wait = cert_wait

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- transport -----------------------------------------------------------------------

    def call(self, call: Call[T]) -> T:
        self._ids += 1
        body = msgspec.json.encode(calls.encode_request(call, self._ids))
        return calls.result_of(call, calls.decode_body(self._http.post(body)))

    def call_many(self, batch: Sequence[Call[Any]]) -> list[Any]:
        """Several calls in one JSON-RPC batch (one round trip); results in order."""
        if not batch:
            return []
        body = msgspec.json.encode([calls.encode_request(c, i) for i, c in enumerate(batch)])
        return calls.results_of(batch, calls.decode_body(self._http.post(body)))

    def _run(self, op: Op[T]) -> T:
        pauses = Pauses(self._cert_wait, time.monotonic, POLL_FIRST, POLL_MAX)
        try:
            request = next(op)
            while True:
                answer: Any
                try:
                    if isinstance(request, list):
                        answer = self.call_many(request)
                    elif isinstance(request, Send):
                        answer = self.send(request.tx, request.timeout)
                    elif isinstance(request, Pause):
                        delay = pauses.next()
                        if delay is not None:
                            time.sleep(delay)
                        answer = delay is not None
                    else:
                        answer = self.call(request)
                except SdkError as exc:  # the operation may handle it (sdk.ops)
                    request = op.throw(exc)
                else:
                    request = op.send(answer)
        except StopIteration as done:
            result: T = done.value
            return result

    # -- chain ---------------------------------------------------------------------------

    def status(self) -> NodeStatus:
        return self.call(calls.status())

    def chain_info(self) -> ChainInfo:
        return self.call(calls.chain_info())

    def pq_status(self) -> MigrationStatus:
        """The chain's suite migration: schedule, phase, bound accounts (docs/pq.md)."""
        return self.call(calls.pq_status())

    def verifier(self) -> Verifier:
        """The verifier for this node's chain (fetched and checked once)."""
        return self._run(self._ops.trusted())

    def certified(self) -> CertifiedHeader:
        """A BFT chain's highest certified header, checked against its epoch's committee
        (the committees followed from genesis); NotCertifiedYet if there is none yet."""
        return self._run(self._ops.certified())

    def wallet(self, key: SigningKey, account: bytes | None = None) -> Wallet:
        """`account`: the account a migration bound `key` to (None: the key's own)."""
        return self._run(self._ops.wallet(key, account))

    # -- transactions --------------------------------------------------------------------

    def submit(self, tx: SignedTx | bytes) -> bytes:
        """Submit one transaction; its hash, or TxRejected with the node's error code."""
        return self.call(calls.submit(raw_of(tx)))

    def submit_many(self, txs: Iterable[SignedTx | bytes]) -> list[SubmitView]:
        """Submit a batch (one request per `calls.SUBMIT_CHUNK` transactions); one result
        per transaction, in order."""
        return self._run(submit_all([raw_of(t) for t in txs]))

    def wait_for_commit(self, hashes: Iterable[bytes], timeout: float = 30.0
                        ) -> dict[bytes, Receipt]:
        """Receipts of the transactions once all are committed; CommitTimeout otherwise.
        Each round asks for every pending status in batches of `calls.STATUS_CHUNK`."""
        pending = list(dict.fromkeys(hashes))
        receipts: dict[bytes, Receipt] = {}
        deadline = time.monotonic() + timeout
        interval = POLL_FIRST
        while pending:
            for chunk in calls.chunks(pending, calls.STATUS_CHUNK):
                for status in self.call_many([calls.tx_status(h) for h in chunk]):
                    if status.receipt is not None:
                        receipts[status.hash] = status.receipt
            pending = [h for h in pending if h not in receipts]
            remaining = deadline - time.monotonic()
            if pending and remaining <= 0:
                raise CommitTimeout(f"{len(pending)} transactions not committed in {timeout}s",
                                    pending)
            if pending:
                time.sleep(min(interval, remaining))
                interval = min(interval * 2, POLL_MAX)
        return receipts

    def send(self, tx: SignedTx, timeout: float = 30.0) -> Receipt:
        """Submit one transaction and wait for its receipt."""
        tx_hash = self.submit(tx)
        return self.wait_for_commit([tx_hash], timeout)[tx_hash]

    # -- queries (verified unless verify=False) ------------------------------------------

    def block(self, height: int, *, full: bool = False, verify: bool = True
              ) -> BlockView | None:
        return self._run(self._ops.block(calls.block(height, full), verify))

    def block_by_hash(self, block_hash: bytes, *, full: bool = False, verify: bool = True
                      ) -> BlockView | None:
        return self._run(self._ops.block(calls.block_by_hash(block_hash, full), verify))

    def transaction(self, tx_hash: bytes, *, verify: bool = True) -> TxView | None:
        return self._run(self._ops.transaction(tx_hash, verify))

    def receipt(self, tx_hash: bytes) -> Receipt | None:
        """The receipt alone (unproven; `transaction` proves the transaction's inclusion)."""
        return self.call(calls.receipt(tx_hash))

    def account(self, address: bytes, *, height: int | None = None, verify: bool = True
                ) -> AccountView:
        return self._run(self._ops.account(address, height, verify))

    def state_proof(self, key: bytes, *, height: int | None = None, verify: bool = True
                    ) -> StateProof:
        return self._run(self._ops.state_proof(key, height, verify))

    def index_query(self, query: RangeQuery, *, height: int | None = None,
                    verify: bool = True) -> list[tuple[bytes, bytes]]:
        """A page of the ordered index, proven complete (docs/sdk.md, "Indexes")."""
        return self._run(self._ops.index(query, height, verify))[0]

    def query_index(self, plan: Plan[T], *, height: int | None = None, verify: bool = True
                    ) -> IndexPage[T]:
        """A typed page of a contract's index: `plan` from `sdk.indexes.events_plan` or
        `state_plan`."""
        return self._run(self._ops.indexed(plan, height, verify))

    def data(self, collection: str, *, wallet: Wallet | None = None, timeout: float = 30.0
             ) -> DataCollection:
        """Data collection `collection` (docs/data.md): reads verified against the chain's
        headers, writes signed by `wallet`."""
        return DataCollection(self._run, self._ops, collection, wallet, timeout)

    def confidential(self, wallet: Wallet, secret: Scalar | None = None, *,
                     timeout: float = 30.0) -> ConfidentialAccounts:
        """`wallet`'s confidential account (docs/privacy.md, "Confidential transfers"):
        `secret` is its twisted-ElGamal key, which decrypts its balance and proves its
        transfers; reads are verified against the chain's headers."""
        return ConfidentialAccounts(self, wallet, secret, timeout)

    def anonymous(self, wallet: Wallet | None = None, keys: Keys | None = None, *,
                  timeout: float = 30.0) -> AnonymousNotes:
        """`wallet`'s anonymous notes (docs/privacy.md, "Anonymous transfers"): `keys`
        (view and spend) find its notes by scanning and spend them; reads are verified
        against the chain's headers."""
        return AnonymousNotes(self, wallet, keys, timeout)

    def sender_transactions(self, address: bytes, offset: int = 0, limit: int = 100
                            ) -> SenderPage:
        return self.call(calls.sender_transactions(address, offset, limit))

    # -- contracts -----------------------------------------------------------------------

    def contract(self, address: bytes, abi: AbiSource | None = None, *,
                 wallet: Wallet | None = None, fuel_limit: int = DEFAULT_FUEL_LIMIT,
                 fee_limit: int | None = None, timeout: float = 30.0) -> Contract:
        """The contract at `address` typed by its ABI (without one: the ABI of its current
        code, proven from the chain's state); `wallet` signs its transactions."""
        typed = abi_of(abi) if abi is not None else ContractAbi.of(
            (self.contract_info(address)).abi)
        return Contract(self._run, self._ops, address, typed, wallet,
                        Options(fuel_limit, fee_limit, timeout))

    def contract_info(self, address: bytes, *, height: int | None = None,
                      verify: bool = True) -> ContractView:
        """A contract's record and ABI; NoContract if there is none."""
        return self._run(contract_reads.info(self._ops, address, height, verify))

    def contract_versions(self, address: bytes, *, verify: bool = True
                          ) -> list[VersionView]:
        """Every version of a contract, oldest first."""
        return self._run(contract_reads.versions(self._ops, address, verify))

    def contract_code(self, code_hash: bytes, *, verify: bool = True) -> CodeView:
        """The wasm and ABI stored under a code hash (as `VersionView.code_hash` names)."""
        return self._run(contract_reads.code(self._ops, code_hash, verify))

    def deploy(self, wallet: Wallet, code: CodeSource, *args: Any,
               fuel_limit: int = DEFAULT_FUEL_LIMIT, fee_limit: int | None = None,
               timeout: float = 30.0) -> ContractReceipt:
        """Deploy `code` (an Artifact, or a .wasm path with its .abi.json beside it) with
        constructor arguments `args`; the receipt's `contract` is the new address."""
        source = ContractCode.of(code)
        return self._run(deploy(wallet, source, source.abi.encode_constructor(*args),
                                    Options(fuel_limit, fee_limit, timeout)))

    def fund(self, wallet: Wallet, contract: bytes, amount: int, *,
             fee_limit: int | None = None, timeout: float = 30.0) -> ContractReceipt:
        """Prepay `amount` into a contract's balance for its scheduled runs."""
        return self._run(fund(wallet, contract, amount,
                                  Options(fee_limit=fee_limit, timeout=timeout)))
