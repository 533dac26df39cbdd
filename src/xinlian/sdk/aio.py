"""The asyncio client: calls over HTTP (aiohttp), subscriptions over one websocket.

Same calls, operations and verification as the blocking `Client` (sdk.calls, sdk.ops,
sdk.verify); what differs is waiting: `wait_for_commit` subscribes to the transactions'
status and is woken by the node's notifications instead of polling.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from itertools import count
from typing import Any, Generic, TypeVar

import aiohttp
import msgspec

from xinlian.api.views import BlockView, ChainInfo, SenderPage, SubmitView, TxStatus, TxView
from xinlian.crypto.keys import PublicKey
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
from xinlian.sdk.calls import Call
from xinlian.sdk.client import CERT_WAIT, POLL_FIRST, POLL_MAX, raw_of, rpc_url
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
from xinlian.sdk.data import AsyncDataCollection
from xinlian.sdk.errors import CommitTimeout, SdkError, TransportError
from xinlian.sdk.indexes import IndexPage, Plan
from xinlian.sdk.ops import Op, Ops, Pause, Pauses, Send, submit_all
from xinlian.sdk.verify import Verifier
from xinlian.sdk.wallet import DEFAULT_FUEL_LIMIT, SignedTx, Wallet
from xinlian.storage.mst_proof import RangeQuery

T = TypeVar("T")
_CLOSED = object()


class Subscription(Generic[T]):
    """Notifications of one subscription, in order: `async for item in sub`, or `next()`."""

    def __init__(self, socket: _Socket, sid: str, queue: asyncio.Queue[Any],
                 parse: Callable[[Any], Awaitable[T]]) -> None:
        self.id = sid
        self._socket = socket
        self._queue = queue
        self._parse = parse

    def __aiter__(self) -> Subscription[T]:
        return self

    async def __anext__(self) -> T:
        return await self.next()

    async def next(self) -> T:
        item = await self._queue.get()
        if item is _CLOSED:
            self._queue.put_nowait(_CLOSED)
            raise TransportError("the websocket closed")
        return await self._parse(item)

    async def close(self) -> None:
        await self._socket.unsubscribe(self.id)


class _Socket:
    """One websocket: replies matched to requests by id, notifications queued by
    subscription (a notification may arrive before its subscribe call has returned)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self._ids = count(1)
        self._replies: dict[int, asyncio.Future[Any]] = {}
        self._queues: dict[str, asyncio.Queue[Any]] = {}
        self._closed: set[str] = set()  # unsubscribed: late notifications are dropped
        self._reader = asyncio.create_task(self._read())

    @property
    def closed(self) -> bool:
        return self._reader.done()

    async def call(self, call: Call[T]) -> T:
        if self.closed:
            raise TransportError("the websocket closed")
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._replies[request_id] = future
        try:
            await self.ws.send_bytes(msgspec.json.encode(calls.encode_request(call,
                                                                              request_id)))
        except (aiohttp.ClientError, ConnectionError) as exc:
            self._replies.pop(request_id, None)
            raise TransportError(f"the websocket failed: {exc}") from exc
        return calls.result_of(call, await future)

    def queue(self, sid: str) -> asyncio.Queue[Any]:
        queue = self._queues.get(sid)
        if queue is None:
            queue = self._queues[sid] = asyncio.Queue()
            if self.closed:  # the reader has ended: nothing will ever arrive
                queue.put_nowait(_CLOSED)
        return queue

    async def unsubscribe(self, sid: str) -> None:
        self._queues.pop(sid, None)
        self._closed.add(sid)
        if not self.closed:
            with contextlib.suppress(TransportError):  # closing anyway: nothing to undo
                await self.call(calls.unsubscribe(sid))

    async def _read(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    break
                self._route(calls.decode_body(msg.data if isinstance(msg.data, bytes)
                                              else msg.data.encode()))
        except TransportError:
            pass
        finally:
            for future in self._replies.values():
                if not future.done():
                    future.set_exception(TransportError("the websocket closed"))
            for queue in self._queues.values():
                queue.put_nowait(_CLOSED)

    def _route(self, message: Any) -> None:
        if not isinstance(message, dict):
            return
        if message.get("method") == "xl_subscription":
            params = message.get("params")
            if isinstance(params, dict) and isinstance(params.get("subscription"), str):
                sid = params["subscription"]
                if sid not in self._closed:
                    self.queue(sid).put_nowait(params.get("result"))
            return
        request_id = message.get("id")
        future = self._replies.pop(request_id, None) if type(request_id) is int else None
        if future is not None and not future.done():
            future.set_result(message)

    async def close(self) -> None:
        await self.ws.close()
        await self._reader


class AsyncClient:
    """The asyncio client for one node; use `async with AsyncClient(url) as client`."""

    def __init__(self, url: str, *, node_key: PublicKey | None = None,
                 genesis_hash: bytes | None = None, timeout: float = 30.0,
                 ops: Ops | None = None, cert_wait: float = CERT_WAIT) -> None:
        """`ops`: trust anchors to share (`Ops.from_genesis`) instead of pinning here;
        `cert_wait`: as `Client`'s."""
        host, port, path = rpc_url(url)
        self.url = url
        self._rpc_url = f"http://{host}:{port}{path}"
        self._ws_url = f"ws://{host}:{port}{path.removesuffix('/rpc')}/ws"
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._ops = ops or Ops(node_key, genesis_hash)
        self._cert_wait = cert_wait
        self._session: aiohttp.ClientSession | None = None
        self._socket: _Socket | None = None
        self._ids = 0

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close()
            self._socket = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- transport -----------------------------------------------------------------------

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            # idle connections are dropped before the node's own idle limit (10 s by
            # default), so a request never goes out on one the node is closing
            connector = aiohttp.TCPConnector(keepalive_timeout=5)
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=connector)
        return self._session

    async def _post(self, payload: Any) -> Any:
        try:
            async with self._http().post(self._rpc_url, data=msgspec.json.encode(payload),
                                         headers={"Content-Type": "application/json"}) as resp:
                body = await resp.read()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise TransportError(f"connection to the node failed: {exc}") from exc
        return calls.decode_body(body) if body else None

    async def call(self, call: Call[T]) -> T:
        self._ids += 1
        return calls.result_of(call, await self._post(calls.encode_request(call, self._ids)))

    async def call_many(self, batch: Sequence[Call[Any]]) -> list[Any]:
        if not batch:
            return []
        replies = await self._post([calls.encode_request(c, i) for i, c in enumerate(batch)])
        return calls.results_of(batch, replies)

    async def run(self, op: Op[T]) -> T:
        """Drive an SDK operation (sdk.ops) against this node."""
        pauses = Pauses(self._cert_wait, asyncio.get_running_loop().time, POLL_FIRST, POLL_MAX)
        try:
            request = next(op)
            while True:
                answer: Any
                try:
                    if isinstance(request, list):
                        answer = await self.call_many(request)
                    elif isinstance(request, Send):
                        answer = await self.send(request.tx, request.timeout)
                    elif isinstance(request, Pause):
                        delay = pauses.next()
                        if delay is not None:
                            await asyncio.sleep(delay)
                        answer = delay is not None
                    else:
                        answer = await self.call(request)
                except SdkError as exc:  # the operation may handle it (sdk.ops)
                    request = op.throw(exc)
                else:
                    request = op.send(answer)
        except StopIteration as done:
            result: T = done.value
            return result

    async def _ws(self) -> _Socket:
        if self._socket is None or self._socket.closed:
            try:
                ws = await self._http().ws_connect(self._ws_url)
            except (aiohttp.ClientError, OSError) as exc:
                raise TransportError(f"websocket connection failed: {exc}") from exc
            self._socket = _Socket(ws)
        return self._socket

    # -- chain ---------------------------------------------------------------------------

    async def status(self) -> NodeStatus:
        return await self.call(calls.status())

    async def chain_info(self) -> ChainInfo:
        return await self.call(calls.chain_info())

    async def verifier(self) -> Verifier:
        return await self.run(self._ops.trusted())

    async def certified(self) -> CertifiedHeader:
        """A BFT chain's highest certified header, checked against its epoch's committee
        (the committees followed from genesis); NotCertifiedYet if there is none yet."""
        return await self.run(self._ops.certified())

    async def wallet(self, key: SigningKey, account: bytes | None = None) -> Wallet:
        """`account`: the account a migration bound `key` to (None: the key's own)."""
        return await self.run(self._ops.wallet(key, account))

    # -- transactions --------------------------------------------------------------------

    async def submit(self, tx: SignedTx | bytes) -> bytes:
        return await self.call(calls.submit(raw_of(tx)))

    async def submit_many(self, txs: Iterable[SignedTx | bytes]) -> list[SubmitView]:
        return await self.run(submit_all([raw_of(t) for t in txs]))

    async def wait_for_commit(self, hashes: Iterable[bytes], timeout: float = 30.0
                              ) -> dict[bytes, Receipt]:
        """Receipts once all are committed, pushed by the node over the websocket (watched
        in windows of `calls.WATCH_CHUNK` hashes, within the node's per-connection limit)."""
        wanted = list(dict.fromkeys(hashes))
        receipts: dict[bytes, Receipt] = {}
        try:
            async with asyncio.timeout(timeout):
                for chunk in calls.chunks(wanted, calls.WATCH_CHUNK):
                    await self._watch(chunk, receipts)
        except TimeoutError:
            pending = [h for h in wanted if h not in receipts]
            raise CommitTimeout(f"{len(pending)} transactions not committed in {timeout}s",
                                pending) from None
        return receipts

    async def _watch(self, hashes: Sequence[bytes], receipts: dict[bytes, Receipt]) -> None:
        pending = set(hashes)
        sub = await self.subscribe_tx_status(hashes)
        try:
            while pending:
                status = await sub.next()
                if status.receipt is not None and status.hash in pending:
                    receipts[status.hash] = status.receipt
                    pending.discard(status.hash)
        finally:
            await sub.close()

    async def send(self, tx: SignedTx, timeout: float = 30.0) -> Receipt:
        tx_hash = await self.submit(tx)
        return (await self.wait_for_commit([tx_hash], timeout))[tx_hash]

    # -- subscriptions -------------------------------------------------------------------

    async def subscribe_blocks(self, *, verify: bool = True) -> Subscription[BlockView]:
        """Every new block; with `verify`, each header (its certificate on a BFT chain,
        waited for up to `cert_wait`; the node's signature on a solo chain) and tx_root are
        checked before the block is handed out (a forged one raises ProofError)."""
        if verify:
            await self.verifier()
        read_block = calls.parser(BlockView)

        async def parse(result: Any) -> BlockView:
            view: BlockView = read_block(result)
            if verify:
                await self.run(self._ops.checked_block(view))
            return view
        return await self._subscribe(calls.subscribe("newBlocks"), parse)

    async def subscribe_tx_status(self, hashes: Iterable[bytes]) -> Subscription[TxStatus]:
        read_status = calls.parser(TxStatus)

        async def parse(result: Any) -> TxStatus:
            status: TxStatus = read_status(result)
            return status
        return await self._subscribe(calls.subscribe("txStatus", list(hashes)), parse)

    async def _subscribe(self, call: Call[str], parse: Callable[[Any], Awaitable[T]]
                         ) -> Subscription[T]:
        socket = await self._ws()
        sid = await socket.call(call)
        return Subscription(socket, sid, socket.queue(sid), parse)

    # -- queries (verified unless verify=False) ------------------------------------------

    async def block(self, height: int, *, full: bool = False, verify: bool = True
                    ) -> BlockView | None:
        return await self.run(self._ops.block(calls.block(height, full), verify))

    async def block_by_hash(self, block_hash: bytes, *, full: bool = False,
                            verify: bool = True) -> BlockView | None:
        return await self.run(self._ops.block(calls.block_by_hash(block_hash, full), verify))

    async def transaction(self, tx_hash: bytes, *, verify: bool = True) -> TxView | None:
        return await self.run(self._ops.transaction(tx_hash, verify))

    async def receipt(self, tx_hash: bytes) -> Receipt | None:
        return await self.call(calls.receipt(tx_hash))

    async def account(self, address: bytes, *, height: int | None = None,
                      verify: bool = True) -> AccountView:
        return await self.run(self._ops.account(address, height, verify))

    async def state_proof(self, key: bytes, *, height: int | None = None,
                          verify: bool = True) -> StateProof:
        return await self.run(self._ops.state_proof(key, height, verify))

    async def index_query(self, query: RangeQuery, *, height: int | None = None,
                          verify: bool = True) -> list[tuple[bytes, bytes]]:
        return (await self.run(self._ops.index(query, height, verify)))[0]

    async def query_index(self, plan: Plan[T], *, height: int | None = None,
                          verify: bool = True) -> IndexPage[T]:
        return await self.run(self._ops.indexed(plan, height, verify))

    def data(self, collection: str, *, wallet: Wallet | None = None, timeout: float = 30.0
             ) -> AsyncDataCollection:
        """Data collection `collection` (docs/data.md), as `Client.data`: await its
        methods."""
        return AsyncDataCollection(self.run, self._ops, collection, wallet, timeout)

    async def sender_transactions(self, address: bytes, offset: int = 0, limit: int = 100
                                  ) -> SenderPage:
        return await self.call(calls.sender_transactions(address, offset, limit))

    # -- contracts -----------------------------------------------------------------------

    async def contract(self, address: bytes, abi: AbiSource | None = None, *,
                 wallet: Wallet | None = None, fuel_limit: int = DEFAULT_FUEL_LIMIT,
                 fee_limit: int | None = None, timeout: float = 30.0) -> Contract:
        """The contract at `address` typed by its ABI (without one: the ABI of its current
        code, proven from the chain's state); `wallet` signs its transactions."""
        typed = abi_of(abi) if abi is not None else ContractAbi.of(
            (await self.contract_info(address)).abi)
        return Contract(self.run, self._ops, address, typed, wallet,
                        Options(fuel_limit, fee_limit, timeout))

    async def contract_info(self, address: bytes, *, height: int | None = None,
                      verify: bool = True) -> ContractView:
        """A contract's record and ABI; NoContract if there is none."""
        return await self.run(contract_reads.info(self._ops, address, height, verify))

    async def contract_versions(self, address: bytes, *, verify: bool = True
                          ) -> list[VersionView]:
        """Every version of a contract, oldest first."""
        return await self.run(contract_reads.versions(self._ops, address, verify))

    async def contract_code(self, code_hash: bytes, *, verify: bool = True) -> CodeView:
        """The wasm and ABI stored under a code hash (as `VersionView.code_hash` names)."""
        return await self.run(contract_reads.code(self._ops, code_hash, verify))

    async def deploy(self, wallet: Wallet, code: CodeSource, *args: Any,
               fuel_limit: int = DEFAULT_FUEL_LIMIT, fee_limit: int | None = None,
               timeout: float = 30.0) -> ContractReceipt:
        """Deploy `code` (an Artifact, or a .wasm path with its .abi.json beside it) with
        constructor arguments `args`; the receipt's `contract` is the new address."""
        source = ContractCode.of(code)
        return await self.run(deploy(wallet, source, source.abi.encode_constructor(*args),
                                    Options(fuel_limit, fee_limit, timeout)))

    async def fund(self, wallet: Wallet, contract: bytes, amount: int, *,
             fee_limit: int | None = None, timeout: float = 30.0) -> ContractReceipt:
        """Prepay `amount` into a contract's balance for its scheduled runs."""
        return await self.run(fund(wallet, contract, amount,
                                  Options(fee_limit=fee_limit, timeout=timeout)))
