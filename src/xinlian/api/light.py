"""The light node: certified headers only, and answers checked against them.

Theory of operation. A light node holds a BFT chain's genesis and nothing else it trusts.
It follows the chain from full nodes over their JSON-RPC API (`peers`), epoch by epoch:
the proof of each epoch change (the ending committee's QC over the block that carries the
next committee), the certified last header of each ended epoch (its checkpoint), and the
highest certified header (the anchor), each checked against the committee of its epoch
(sdk/headers.py). It stores only those (`LightStore`), re-verified from genesis when it
starts; a few kilobytes per epoch, whatever the number of blocks.

It answers queries (api/light_api.py: every method of the SDK's verifying client and of
the CLI, and the data methods of api/light_data.py) from what it keeps (certified headers,
epoch proofs) or by asking a full node and checking the answer against its headers before
it passes it on: a state value by its proof under the anchor's state root, a transaction
in an older block by the MMR proof of that block's header in the anchor's history
(node/history.py) and the audit paths under it. A node whose answer does not verify is a
liar: counted, and the next peer is asked. No answer is ever passed on unverified; when
no peer gives a verified one, the query fails with the last error. Submissions are
forwarded to one peer (`forward`); what no proof covers is refused.

The sync and the queries are asyncio code over the SDK (`AsyncClient` with the light
node's shared `Ops`); every check they run is the SDK's, pure and sans-I/O.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from xinlian import codec
from xinlian.api.errors import Rejected
from xinlian.api.format import to_json
from xinlian.api.jsonrpc import Dispatcher
from xinlian.api.light_api import LightApi
from xinlian.api.limits import Limits
from xinlian.api.listener import Listener
from xinlian.consensus.proofs import EpochProof
from xinlian.errors import XinlianError
from xinlian.ledger.genesis import Genesis
from xinlian.node.certify import CertifiedHeader
from xinlian.node.errors import NodeConfigError
from xinlian.sdk import calls
from xinlian.sdk.aio import AsyncClient
from xinlian.sdk.errors import (
    NotCertifiedYet,
    ProofError,
    SdkError,
    TransportError,
    TxRejected,
    Unavailable,
)
from xinlian.sdk.headers import HeaderChain
from xinlian.sdk.ops import Ops
from xinlian.storage.kv import Store, WriteBatch

T = TypeVar("T")
log = logging.getLogger(__name__)

LIGHT_DB = "light"
_PROOF = b"epoch/"        # + epoch (8 bytes): the proof of how that epoch ended
_CHECKPOINT = b"checkpoint/"  # + epoch: the certified last header of that epoch
_ANCHOR = b"anchor"       # the highest certified header


def _epoch_key(prefix: bytes, epoch: int) -> bytes:
    return prefix + epoch.to_bytes(8, "big")


class LightStore:
    """What a light node keeps: epoch proofs, checkpoints and the anchor (LMDB)."""

    def __init__(self, path: Path) -> None:
        self.store = Store(path, sub_dbs=(LIGHT_DB,))

    def close(self) -> None:
        self.store.close()

    def load(self, headers: HeaderChain) -> None:
        """Verify what was stored into `headers`, from genesis, as if it came from a peer:
        a damaged or altered store fails here (ProofError), never later."""
        proofs = [codec.decode(raw, EpochProof)
                  for _, raw in self.store.scan(LIGHT_DB, prefix=_PROOF)]
        headers.follow(proofs)
        for key, raw in self.store.scan(LIGHT_DB, prefix=_CHECKPOINT):
            epoch = int.from_bytes(key[len(_CHECKPOINT):], "big")
            headers.accept_checkpoint(epoch, codec.decode(raw, CertifiedHeader))
        anchor = self.store.get(LIGHT_DB, _ANCHOR)
        if anchor is not None:
            headers.accept(codec.decode(anchor, CertifiedHeader))

    def read_anchor(self) -> bytes | None:
        """The stored anchor's bytes (checksum checked): proof that the store reads."""
        return self.store.get(LIGHT_DB, _ANCHOR)

    def save(self, headers: HeaderChain, stored_epochs: int) -> None:
        """Write what `headers` learnt since: proofs past `stored_epochs`, checkpoints and
        the anchor, in one commit."""
        batch = WriteBatch()
        first = headers.roots[0].committee.epoch
        for i, proof in enumerate(headers.proofs[stored_epochs:], start=stored_epochs):
            batch.put(LIGHT_DB, _epoch_key(_PROOF, first + i), codec.encode(proof))
        for epoch, certified in headers.checkpoints.items():
            batch.put(LIGHT_DB, _epoch_key(_CHECKPOINT, epoch), codec.encode(certified))
        if headers.anchor is not None:
            batch.put(LIGHT_DB, _ANCHOR, codec.encode(headers.anchor))
        self.store.commit(batch)


class LightNode:
    """Follows a BFT chain's certified headers from `peers` and answers verified queries."""

    def __init__(self, data_dir: Path, genesis: Genesis, peers: Sequence[str], *,
                 timeout: float = 10.0) -> None:
        if not genesis.validators:
            raise NodeConfigError("a light node follows a BFT chain; a solo chain has no "
                                  "committee to certify its headers")
        if not peers:
            raise NodeConfigError("a light node needs at least one full node to ask (--peer)")
        self.genesis = genesis
        self.ops = Ops.from_genesis(genesis)
        assert self.ops.verifier is not None and self.ops.verifier.headers is not None
        self.headers: HeaderChain = self.ops.verifier.headers
        # a peer whose newest block stays uncertified for a second is passed over
        self.clients = [AsyncClient(url, ops=self.ops, timeout=timeout, cert_wait=1.0)
                        for url in peers]
        self.liars: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.syncs: Counter[str] = Counter()  # sync rounds, "ok" or "failed"
        self.sync_error: XinlianError | None = None  # why the last sync round failed
        self._turn = 0
        data_dir.mkdir(parents=True, exist_ok=True)
        self.store = LightStore(data_dir / "light")
        self.store.load(self.headers)
        self._stored = len(self.headers.proofs)

    async def close(self) -> None:
        for client in self.clients:
            await client.close()
        self.store.close()

    def check_store(self) -> None:
        """Read the store back; raises its typed error (3006 corrupt_data...) if it cannot."""
        self.store.read_anchor()

    # -- asking peers --------------------------------------------------------------------

    async def ask(self, query: Callable[[AsyncClient], Awaitable[T]]) -> T:
        """The first verified answer, peer by peer from the one that answered last. A peer
        whose answer fails verification is counted as a liar; one that cannot answer (not
        reachable, an error, no certificate yet) is passed over."""
        error: XinlianError | None = None
        for step in range(len(self.clients)):
            index = (self._turn + step) % len(self.clients)
            client = self.clients[index]
            url = client.url
            try:
                answer = await query(client)
            except (NotCertifiedYet, Unavailable) as exc:  # another peer may have it
                error = exc
                continue
            except ProofError as exc:
                self.liars[url] += 1
                log.warning("peer %s: %s", url, exc.message)
                error = exc
                continue
            except SdkError as exc:
                self.failures[url] += 1
                error = exc
                continue
            self._turn = index
            return answer
        assert error is not None
        raise error

    async def find(self, query: Callable[[AsyncClient], Awaitable[T | None]]) -> T | None:
        """As `ask`, for what a peer may lack (None): the next peer is asked. None is the
        answer when a peer said so and every other one said so too or could not be
        reached (absence proves nothing here, but no peer contradicted it); a peer that
        failed a check or could not prove its answer makes it the error instead."""
        said: set[str] = set()

        async def found(client: AsyncClient) -> T:
            try:
                answer = await query(client)
            except TransportError:
                raise
            except XinlianError:
                said.add("failed")
                raise
            if answer is None:
                said.add("none")
                raise Unavailable(f"{client.url} has none")
            return answer
        try:
            return await self.ask(found)
        except XinlianError:
            if said == {"none"}:
                return None
            raise

    async def forward(self, send: Callable[[AsyncClient], Awaitable[T]]) -> T:
        """Send a submission to one peer, the one that answered last or the next reachable:
        its answer or refusal is final. Nothing here can check it; a committed
        transaction shows in a verified receipt (`xl_getTransactionStatus`)."""
        error: XinlianError | None = None
        for step in range(len(self.clients)):
            index = (self._turn + step) % len(self.clients)
            client = self.clients[index]
            try:
                answer = await send(client)
            except TransportError as exc:
                self.failures[client.url] += 1
                error = exc
                continue
            except TxRejected as exc:  # the full node's own refusal, passed on as it is
                raise Rejected(exc.remote_code, exc.remote_name, exc.message,
                               exc.tx_hash) from None
            self._turn = index
            return answer
        assert error is not None
        raise error

    async def certified_at(self, height: int) -> CertifiedHeader | None:
        """The certified header at `height`: one kept (the anchor, a checkpoint), else a
        peer's, checked against the committee of its epoch (whose change it follows)."""
        held = self.headers.held(height)
        if held is not None:
            return held

        async def query(client: AsyncClient) -> CertifiedHeader | None:
            found = await client.call(calls.certified_header(height))
            if found is None:
                return None
            if found.header.height != height:
                raise ProofError(f"a certified header of block {found.header.height} for "
                                 f"block {height}")
            await client.run(self.ops.follow_epochs(found.epoch))
            self.headers.accept(found)
            return found
        return await self.find(query)

    async def checkpoint(self, epoch: int) -> CertifiedHeader | None:
        """The certified last header of an ended `epoch`: kept, else a peer's, checked."""
        held = self.headers.checkpoints.get(epoch)
        if held is not None:
            return held

        async def query(client: AsyncClient) -> CertifiedHeader | None:
            found = await client.call(calls.checkpoint(epoch))
            if found is not None:
                await client.run(self.ops.follow_epochs(found.epoch))
                self.headers.accept_checkpoint(epoch, found)
            return found
        return await self.find(query)

    # -- following the chain -------------------------------------------------------------

    async def sync(self) -> CertifiedHeader:
        """Follow the chain to the highest certified header a peer proves: epoch changes,
        each ended epoch's checkpoint, the anchor; what is new is stored."""
        try:
            anchor = await self.ask(self._sync_from)
        except XinlianError as exc:
            self.syncs["failed"] += 1
            self.sync_error = exc
            raise
        self.syncs["ok"] += 1
        self.sync_error = None
        self.store.save(self.headers, self._stored)
        self._stored = len(self.headers.proofs)
        return anchor

    async def _sync_from(self, client: AsyncClient) -> CertifiedHeader:
        anchor = await client.run(self.ops.certified())
        for epoch in range(self.headers.roots[0].committee.epoch, self.headers.epoch):
            if epoch not in self.headers.checkpoints:
                found = await client.call(calls.checkpoint(epoch))
                if found is not None:  # (a node that joined later lacks the older ones)
                    self.headers.accept_checkpoint(epoch, found)
        return anchor

    async def follow(self, interval_s: float) -> None:
        """Sync every `interval_s` until cancelled; a failed round is logged and retried."""
        while True:
            try:
                await self.sync()
            except XinlianError as exc:
                log.warning("light sync: %s", exc.message)
            await asyncio.sleep(interval_s)

    def status(self) -> dict[str, Any]:
        anchor = self.headers.anchor
        return {
            "chain_id": self.genesis.chain_id, "epoch": self.headers.epoch,
            "height": None if anchor is None else anchor.header.height,
            "anchor": None if anchor is None else to_json(anchor),
            "checkpoints": sorted(self.headers.checkpoints),
            "verified": dict(self.headers.stats),
            "peers": [c.url for c in self.clients],
            "liars": dict(self.liars), "failures": dict(self.failures),
        }


class LightServer(Listener):
    """POST /rpc over the light node's methods (the full node's request limits apply)."""

    def __init__(self, light: LightNode, host: str = "127.0.0.1", port: int = 0,
                 limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        super().__init__(host, port, self.limits.header_timeout)
        self.dispatcher = Dispatcher(LightApi(light, self.limits).table(), self.limits)

    async def start(self) -> None:
        app = web.Application(client_max_size=self.limits.max_body_size)
        app.router.add_post("/rpc", self._rpc)
        await self.serve(app)

    async def _rpc(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()  # aiohttp refuses a body over client_max_size (413)
        reply = await self.dispatcher.handle(body, None, request.remote or "")
        if reply is None:
            return web.Response(status=204)
        return web.Response(body=reply, content_type="application/json")
