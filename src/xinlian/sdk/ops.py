"""SDK operations that take more than one call, written once for both clients.

An operation is a generator: it yields a `Call` (or a list of calls, sent as one JSON-RPC
batch) and receives the result, or yields `Send` (submit a transaction and wait for its
receipt, which each client does its own way) and receives the receipt, or yields `Pause`
(a certificate it needs trails its block: ask again in a moment) and receives whether the
client's `cert_wait` left time for that; it returns its value. A request that fails with
an SdkError is thrown into the operation, which may handle it. `Client` drives it with
blocking HTTP, `AsyncClient` with asyncio; neither repeats the logic of trusting the
chain, verifying answers or setting up a wallet.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from xinlian.api.views import BlockView, ChainInfo, SubmitView, TxView
from xinlian.crypto.keys import PublicKey
from xinlian.crypto.signing import SigningKey
from xinlian.ledger.account import address_of
from xinlian.ledger.block import BlockHeader
from xinlian.ledger.genesis import Genesis
from xinlian.node.certify import CertifiedHeader
from xinlian.node.history import HeaderProof
from xinlian.node.interface import AccountView, IndexAnswer, NodeStatus, StateProof
from xinlian.sdk import calls
from xinlian.sdk.calls import Call
from xinlian.sdk.errors import NotCertifiedYet, ProofError, Unavailable
from xinlian.sdk.headers import HeaderChain
from xinlian.sdk.indexes import IndexPage, Plan, page
from xinlian.sdk.verify import Verifier, trust, verifier_of
from xinlian.sdk.wallet import SignedTx, Wallet
from xinlian.storage.mst_proof import RangeQuery

T = TypeVar("T")


@dataclass(frozen=True)
class Send:
    """Submit `tx` and wait (at most `timeout` seconds) for its receipt."""

    tx: SignedTx
    timeout: float


@dataclass(frozen=True)
class Pause:
    """Wait a moment before asking again; the client answers False once the operation
    has waited its `cert_wait` (see `Pauses`)."""


class Pauses:
    """The pauses of one operation: doubling from `first` to `most` seconds, until `budget`
    seconds after the first (`clock`: the client's monotonic clock)."""

    def __init__(self, budget: float, clock: Callable[[], float], first: float,
                 most: float) -> None:
        self.budget, self.clock, self.interval, self.most = budget, clock, first, most
        self.deadline: float | None = None

    def next(self) -> float | None:
        """Seconds to wait before asking again (None: the budget is spent)."""
        now = self.clock()
        if self.deadline is None:
            self.deadline = now + self.budget
        remaining = self.deadline - now
        if remaining <= 0:
            return None
        delay = min(self.interval, remaining)
        self.interval = min(self.interval * 2, self.most)
        return delay


Op = Generator[Call[Any] | list[Call[Any]] | Send | Pause, Any, T]


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

    @classmethod
    def from_genesis(cls, genesis: Genesis) -> Ops:
        """Trust anchors from a genesis the caller holds (a light node's), nothing from a
        node: a BFT chain's answers are then checked against its committees alone, and
        one `Ops` can serve clients of several nodes (their proofs add to one chain)."""
        ops = cls(None, genesis.hash())
        ops.chain = ChainInfo(genesis.hash(), genesis)
        ops.verifier = verifier_of(genesis)
        return ops

    def trusted(self) -> Op[Verifier]:
        """Fetch the chain (and the node key where it counts) once, check them against the
        pins, keep them. A BFT chain's headers are checked against its committees, not a
        node key: its status is asked for only to check a pinned key, so a light node,
        which has none, serves as well as a full node."""
        if self.verifier is None:
            chain = yield calls.chain_info()
            status: NodeStatus | None = None
            if not chain.genesis.validators or self.node_key is not None:
                status = yield calls.status()
            self.verifier = trust(chain, status, node_key=self.node_key,
                                  genesis_hash=self.genesis_hash)
            self.chain = chain
        return self.verifier

    # -- a BFT chain's headers: certified by the committee, or proven against one -------

    def certified(self) -> Op[CertifiedHeader]:
        """The highest certified header known: the node's, checked against the committee of
        its epoch (following the epoch changes up to it first), or a higher one accepted
        before."""
        anchor = yield from self._latest()
        if anchor is None:
            raise NotCertifiedYet("the node holds no certified header yet")
        return anchor

    def _latest(self) -> Op[CertifiedHeader | None]:
        headers = yield from self._headers()
        latest: CertifiedHeader | None = yield calls.certified_header(None)
        if latest is not None:
            yield from self.follow_epochs(latest.epoch)
            headers.accept(latest)
        return headers.anchor

    def follow_epochs(self, epoch: int) -> Op[None]:
        """Learn the committees up to `epoch` from proofs of each epoch change."""
        headers = yield from self._headers()
        while headers.epoch < epoch:
            proofs = yield calls.epoch_proofs(headers.epoch)
            if not headers.follow(proofs):
                raise ProofError(f"the node names epoch {epoch} but proves none past "
                                 f"{headers.epoch}")

    def accepted(self, header: BlockHeader) -> Op[None]:
        """Make sure a header the node served is the chain's: proven in the history of the
        highest certified header when it is older, else certified itself. A certificate
        trails its block by a moment, so the operation pauses and asks again until the
        client's `cert_wait` is spent (then NotCertifiedYet). A solo chain's header is
        checked by its signature instead (Verifier.header)."""
        verifier = yield from self.trusted()
        headers = verifier.headers
        if headers is None or headers.is_accepted(header):
            return
        while True:
            anchor = headers.anchor
            if anchor is None or header.height >= anchor.header.height:
                anchor = yield from self._latest()
            if anchor is not None and header.height < anchor.header.height:
                proof: HeaderProof | None = yield calls.header_proof(header.height,
                                                                    anchor.header.height)
                if proof is None:
                    raise Unavailable(f"the node cannot prove block {header.height} "
                                      f"against certified block {anchor.header.height}")
                headers.prove(proof)
                return
            if anchor is not None and header.height == anchor.header.height:
                return  # (a header that differs from the one certified fails in
                # Verifier.header)
            own: CertifiedHeader | None = yield calls.certified_header(header.height)
            if own is not None:
                yield from self.follow_epochs(own.epoch)
                headers.accept(own)
                return
            if not (yield Pause()):
                raise NotCertifiedYet(f"block {header.height} is not certified yet")

    def _headers(self) -> Op[HeaderChain]:
        verifier = yield from self.trusted()
        if verifier.headers is None:
            raise ProofError("a solo chain has no committee-certified headers")
        return verifier.headers

    # -- verified reads ------------------------------------------------------------------

    def block(self, call: Call[BlockView | None], verify: bool) -> Op[BlockView | None]:
        view: BlockView | None = yield call
        if verify and view is not None:
            yield from self.checked_block(view)
        return view

    def checked_block(self, view: BlockView) -> Op[BlockView]:
        """A block obtained another way (a subscription), checked."""
        yield from self.accepted(view.header)
        (yield from self.trusted()).block(view)
        return view

    def transaction(self, tx_hash: bytes, verify: bool) -> Op[TxView | None]:
        view: TxView | None = yield calls.transaction(tx_hash)
        if verify and view is not None:
            yield from self.accepted(view.header)
            (yield from self.trusted()).transaction(view)
        return view

    def account(self, address: bytes, height: int | None, verify: bool) -> Op[AccountView]:
        view: AccountView = yield calls.account(address, height)
        if verify:
            yield from self.accepted(view.state.header)
            (yield from self.trusted()).account(view)
        return view

    def state_proof(self, key: bytes, height: int | None, verify: bool) -> Op[StateProof]:
        proof: StateProof = yield calls.state_proof(key, height)
        if verify:
            yield from self.accepted(proof.header)
            (yield from self.trusted()).state(proof)
        return proof

    def index(self, query: RangeQuery, height: int | None, verify: bool
              ) -> Op[tuple[list[tuple[bytes, bytes]], int]]:
        """A page of the ordered index (key, value) and the height it was read at."""
        answer: IndexAnswer = yield calls.index_query(query, height)
        if verify:
            yield from self.accepted(answer.root.header)
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

    def wallet(self, key: SigningKey, account: bytes | None = None) -> Op[Wallet]:
        """A wallet for `key` with the chain's parameters and the account's proven nonce;
        `account`: the account a migration bound `key` to (None: the key's own)."""
        verifier = yield from self.trusted()
        assert self.chain is not None
        if account is None:
            account = address_of(key.public_key, verifier.suite.hash_bytes)
        view = yield from self.account(account, None, True)
        return Wallet(key, verifier.chain_id, verifier.suite, params=self.chain.genesis.params,
                      nonce=view.account.nonce, height=view.state.header.height,
                      account=account)
