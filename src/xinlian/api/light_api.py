"""A light node's JSON-RPC methods: a full node's, by the same names and parameters, so the
SDK's verifying client and the CLI use a light node as their endpoint.

Each is answered one of four ways:
- from what the light node keeps, all of it verified: its certified headers (the anchor
  and each ended epoch's checkpoint) and the proofs of every epoch change
  (`xl_getCertifiedHeader`, `xl_getEpochProofs`, `xl_getCheckpoint`);
- by asking full nodes and passing on the first answer that the SDK's own checks accept
  against those headers (api/light.py `ask`): a certified header at a height it does not
  keep, a header proof (against the certified header it was asked for), blocks,
  transactions, receipts, transaction status (a committed one by its proven receipt),
  accounts, state proofs, index pages, contract records, the suite migration (from its
  proven state), and the data methods (api/light_data.py). A full node that answers "none"
  is passed over too, so one that hides a block does not end the search;
- forwarded: transaction submissions go to one full node, whose answer or refusal is
  passed on (nothing can check a submission; its receipt is checked once committed);
- refused with `not_served_by_light_node` (6017), saying why: what no proof covers (a
  contract query's result, a node's index by sender), what needs a ledger or a blob store
  of its own (`xl_status`, blob uploads), and subscriptions (a light node pushes nothing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from xinlian import codec
from xinlian.api.errors import InvalidParams, NotServedByLightNode
from xinlian.api.format import hex_of, to_json
from xinlian.api.light_data import LightDataApi, recorded
from xinlian.api.limits import Limits
from xinlian.api.metering import record
from xinlian.api.method_params import method_params
from xinlian.api.methods import Handler, Method, migration_status
from xinlian.api.subscriptions import Session
from xinlian.api.views import ChainInfo, TxStatus
from xinlian.execution.migration import BOUND_COUNT_KEY, SCHEDULE_KEY
from xinlian.node.statesync import MAX_PROOFS
from xinlian.sdk import calls
from xinlian.sdk.aio import AsyncClient
from xinlian.sdk.errors import AnswerTampered, NoContract, ProofError
from xinlian.storage.errors import RangeProofError
from xinlian.storage.mst_proof import RangeQuery

if TYPE_CHECKING:
    from xinlian.api.light import LightNode

_NO_PROOF = "no proof covers its answer, so a light node could not check it: ask a full " \
            "node you trust"
_UPLOAD = "a blob is uploaded to the full node whose store keeps it (docs/data.md, Blobs)"
_PUSH = "a light node pushes nothing: poll xl_getCertifiedHeader and " \
        "xl_getTransactionStatus"
REFUSED: dict[str, str] = {
    "xl_status": "a light node keeps no ledger, mempool or node key: xl_lightStatus says "
                 "what it follows, xl_getCertifiedHeader its head",
    "xl_ready": "a light node's readiness is its metrics listener's /ready",
    "xl_contractQuery": f"a contract query runs the contract's code and {_NO_PROOF} (a "
                        "contract's state reads by xl_getStateProof)",
    "xl_getTransactionsBySender": f"a full node's own index, which no header commits: "
                                  f"{_NO_PROOF}",
    "xl_blobPutManifest": _UPLOAD, "xl_blobPutChunk": _UPLOAD, "xl_blobMissing": _UPLOAD,
    "xl_subscribe": _PUSH, "xl_unsubscribe": _PUSH,
}


def _json(value: Any) -> Any:
    return None if value is None else to_json(value)


def _refusal(name: str, why: str) -> Handler:
    async def refuse(session: Session | None, **params: Any) -> Any:
        raise NotServedByLightNode(f"{name} is not served by a light node: {why}")
    return refuse


class LightApi:
    """The methods a light node serves: the full node's, verified (module docstring)."""

    def __init__(self, light: LightNode, limits: Limits) -> None:
        self.light = light
        self.limits = limits
        self._data = LightDataApi(light)
        self._chain_info = to_json(ChainInfo(light.genesis.hash(), light.genesis))

    def table(self) -> dict[str, Method]:
        handlers: dict[str, Handler] = {
            "xl_chainInfo": self.chain_info, "xl_pqStatus": self.pq_status,
            "xl_submitTransaction": self.submit_one,
            "xl_submitTransactions": self.submit_many,
            "xl_getBlockByHeight": self.block, "xl_getBlockByHash": self.block_by_hash,
            "xl_getTransaction": self.transaction, "xl_getReceipt": self.receipt,
            "xl_getTransactionStatus": self.tx_status, "xl_getAccount": self.account,
            "xl_getStateProof": self.state_proof, "xl_getContract": self.contract,
            "xl_getContractVersions": self.contract_versions,
            "xl_getContractCode": self.contract_code, "xl_queryIndex": self.index_query,
            "xl_getCertifiedHeader": self.certified_header,
            "xl_getEpochProofs": self.epoch_proofs, "xl_getCheckpoint": self.checkpoint,
            "xl_getHeaderProof": self.header_proof,
            **{name: _refusal(name, why) for name, why in REFUSED.items()},
        }
        specs = method_params(self.light.genesis.params.max_tx_size, self.limits)
        methods = [Method(name, specs[name], handler) for name, handler in handlers.items()]
        methods += [*self._data.methods(),
                    Method("xl_lightStatus", (), self.status)]
        return {m.name: m for m in methods}

    # -- what it keeps -------------------------------------------------------------------

    async def status(self, session: Session | None) -> Any:
        return self.light.status()

    async def chain_info(self, session: Session | None) -> Any:
        return self._chain_info

    async def certified_header(self, session: Session | None, height: int | None) -> Any:
        """The anchor (the highest certified header it verified), or the one at `height`."""
        if height is None:
            return _json(self.light.headers.anchor)
        return _json(await self.light.certified_at(height))

    async def epoch_proofs(self, session: Session | None, start: int) -> Any:
        # canonical bytes, as a full node serves them (api/methods.py)
        return [hex_of(codec.encode(p))
                for p in self.light.headers.proofs_from(start, MAX_PROOFS)]

    async def checkpoint(self, session: Session | None, epoch: int) -> Any:
        return _json(await self.light.checkpoint(epoch))

    async def header_proof(self, session: Session | None, height: int, anchor: int) -> Any:
        """Header `height` proven in the history of the certified header at `anchor`: the
        proof a full node gives, checked against that header first."""
        certified = await self.light.certified_at(anchor)
        if certified is None:
            return None

        async def query(client: AsyncClient) -> Any:
            proof = await client.call(calls.header_proof(height, anchor))
            if proof is not None:
                if proof.header.height != height:
                    raise ProofError(f"a proof of block {proof.header.height} for {height}")
                self.light.headers.prove(proof, certified)
            return proof
        return _json(await self.light.find(query))

    # -- asked of full nodes, checked ----------------------------------------------------

    async def block(self, session: Session | None, height: int, full: bool) -> Any:
        return _json(await self.light.find(lambda c: c.block(height, full=full)))

    async def block_by_hash(self, session: Session | None, hash: bytes, full: bool) -> Any:
        return _json(await self.light.find(lambda c: c.block_by_hash(hash, full=full)))

    async def transaction(self, session: Session | None, hash: bytes) -> Any:
        return _json(await self.light.find(lambda c: c.transaction(hash)))

    async def receipt(self, session: Session | None, hash: bytes) -> Any:
        """The receipt of a transaction proven with it (its audit path under the
        certified header's receipts_root)."""
        view = await self.light.find(lambda c: c.transaction(hash))
        return None if view is None else to_json(view.receipt)

    async def tx_status(self, session: Session | None, hash: bytes) -> Any:
        """"committed" with the receipt proven with its transaction; "pending" or
        "unknown" as the full node says (a submission is in one node's pool)."""
        async def query(client: AsyncClient) -> TxStatus:
            status = await client.call(calls.tx_status(hash))
            if status.receipt is None:
                return TxStatus(hash, "pending" if status.status == "pending" else "unknown")
            view = await client.transaction(hash)
            if view is None or view.receipt != status.receipt:
                raise AnswerTampered("a committed status whose receipt is not the proven one")
            return TxStatus(hash, "committed", view.receipt)
        return to_json(await self.light.ask(query))

    async def account(self, session: Session | None, address: bytes,
                      height: int | None) -> Any:
        return to_json(await self.light.ask(lambda c: c.account(address, height=height)))

    async def state_proof(self, session: Session | None, key: bytes,
                          height: int | None) -> Any:
        return to_json(await self.light.ask(lambda c: c.state_proof(key, height=height)))

    async def index_query(self, session: Session | None, lo: bytes, hi: bytes | None,
                          order: str, limit: int, height: int | None) -> Any:
        try:
            query = RangeQuery(lo, hi, order == "desc", limit)
        except RangeProofError as exc:
            raise InvalidParams(exc.message) from None
        return await self._data.verified(lambda: recorded(
            self.light.ops.index(query, height, True), "xl_queryIndex"))

    async def contract(self, session: Session | None, address: bytes,
                       height: int | None) -> Any:
        """The contract's record and ABI read from its proven state (sdk/contract_reads.py);
        null when the state proves there is none."""
        async def query(client: AsyncClient) -> Any:
            try:
                return await client.contract_info(address, height=height)
            except NoContract:
                return None
        return _json(await self.light.ask(query))

    async def contract_versions(self, session: Session | None, address: bytes) -> Any:
        async def query(client: AsyncClient) -> Any:
            try:
                return await client.contract_versions(address)
            except NoContract:
                return []
        return to_json(await self.light.ask(query))

    async def contract_code(self, session: Session | None, code_hash: bytes) -> Any:
        async def query(client: AsyncClient) -> Any:
            try:
                return await client.contract_code(code_hash)
            except NoContract:
                return None
        return _json(await self.light.ask(query))

    async def pq_status(self, session: Session | None) -> Any:
        """The suite migration, from its schedule and bound-account count proven in the
        state of one block."""
        async def query(client: AsyncClient) -> Any:
            schedule = await client.state_proof(SCHEDULE_KEY)
            count = await client.state_proof(BOUND_COUNT_KEY, height=schedule.header.height)
            return migration_status(schedule, count)
        return to_json(await self.light.ask(query))

    # -- forwarded -----------------------------------------------------------------------

    async def submit_one(self, session: Session | None, tx: bytes) -> Any:
        record(1)  # the caller's work budget pays as on a full node
        return {"hash": hex_of(await self.light.forward(lambda c: c.submit(tx)))}

    async def submit_many(self, session: Session | None, txs: list[bytes]) -> Any:
        record(len(txs))
        return to_json(await self.light.forward(lambda c: c.call(calls.submit_many(txs))))
