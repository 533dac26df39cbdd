"""SDK operations that take more than one call, written once for both clients.

An operation is a generator: it yields a `Call` (or a list of calls, sent as one JSON-RPC
batch) and receives the result, or yields `Send` (submit a transaction and wait for its
receipt, which each client does its own way) and receives the receipt; it returns its
value. A request that fails with an SdkError is thrown into the operation, which may
handle it. `Client` drives it with blocking HTTP,
`AsyncClient` with asyncio; neither repeats the logic of trusting the chain, verifying
answers or setting up a wallet.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from xinlian.api.views import BlockView, ChainInfo, SubmitView, TxView
from xinlian.crypto.keys import PublicKey
from xinlian.crypto.signing import SigningKey
from xinlian.ledger.account import address_of
from xinlian.node.interface import AccountView, IndexAnswer, StateProof
from xinlian.sdk import calls
from xinlian.sdk.calls import Call
from xinlian.sdk.indexes import IndexPage, Plan, page
from xinlian.sdk.verify import Verifier, trust
from xinlian.sdk.wallet import SignedTx, Wallet
from xinlian.storage.mst_proof import RangeQuery

T = TypeVar("T")


@dataclass(frozen=True)
class Send:
    """Submit `tx` and wait (at most `timeout` seconds) for its receipt."""

    tx: SignedTx
    timeout: float


Op = Generator[Call[Any] | list[Call[Any]] | Send, Any, T]


def submit_all(raws: Sequence[bytes]) -> Op[list[SubmitView]]:
    """Submit in requests of at most `calls.SUBMIT_CHUNK` transactions (under the server's
    per-call limit), in order; one result per transaction."""
    results: list[SubmitView] = []
    for chunk in calls.chunks(raws, calls.SUBMIT_CHUNK):
        results.extend((yield calls.submit_many(chunk)))
    return results


class Ops:
    """The trust anchors of one client and the operations that use them."""

    def __init__(self, node_key: PublicKey | None, genesis_hash: bytes | None) -> None:
        self.node_key = node_key
        self.genesis_hash = genesis_hash
        self.chain: ChainInfo | None = None
        self.verifier: Verifier | None = None

    def trusted(self) -> Op[Verifier]:
        """Fetch the chain and node key once, check them against the pins, keep them."""
        if self.verifier is None:
            chain, status = yield [calls.chain_info(), calls.status()]
            self.verifier = trust(chain, status, node_key=self.node_key,
                                  genesis_hash=self.genesis_hash)
            self.chain = chain
        return self.verifier

    def block(self, call: Call[BlockView | None], verify: bool) -> Op[BlockView | None]:
        view: BlockView | None = yield call
        if verify and view is not None:
            (yield from self.trusted()).block(view)
        return view

    def transaction(self, tx_hash: bytes, verify: bool) -> Op[TxView | None]:
        view: TxView | None = yield calls.transaction(tx_hash)
        if verify and view is not None:
            (yield from self.trusted()).transaction(view)
        return view

    def account(self, address: bytes, height: int | None, verify: bool) -> Op[AccountView]:
        view: AccountView = yield calls.account(address, height)
        if verify:
            (yield from self.trusted()).account(view)
        return view

    def state_proof(self, key: bytes, height: int | None, verify: bool) -> Op[StateProof]:
        proof: StateProof = yield calls.state_proof(key, height)
        if verify:
            (yield from self.trusted()).state(proof)
        return proof

    def index(self, query: RangeQuery, height: int | None, verify: bool
              ) -> Op[tuple[list[tuple[bytes, bytes]], int]]:
        """A page of the ordered index (key, value) and the height it was read at."""
        answer: IndexAnswer = yield calls.index_query(query, height)
        if verify:
            entries = (yield from self.trusted()).index(answer, query)
        else:
            entries = [(e.key, e.value) for e in answer.entries]
        return entries, answer.root.header.height

    def indexed(self, plan: Plan[T], height: int | None, verify: bool) -> Op[IndexPage[T]]:
        """A typed page of a contract's index (sdk/indexes.py)."""
        if plan.query is None:  # the range is empty by construction: nothing to ask
            return IndexPage([], height, None)
        entries, at = yield from self.index(plan.query, height, verify)
        return page(plan, entries, at)

    def wallet(self, key: SigningKey) -> Op[Wallet]:
        """A wallet for `key` with the chain's parameters and the account's proven nonce."""
        verifier = yield from self.trusted()
        assert self.chain is not None
        address = address_of(key.public_key, verifier.suite.hash_bytes)
        view = yield from self.account(address, None, True)
        return Wallet(key, verifier.chain_id, verifier.suite, params=self.chain.genesis.params,
                      nonce=view.account.nonce, height=view.state.header.height)
