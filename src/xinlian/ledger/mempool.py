"""The mempool: admission checks, per-sender nonce order, bounded size, block selection.

Theory of operation. Admission is a batch pipeline in three steps so that the expensive
part runs once per batch on every core and the cheap checks reject junk before it:

1. `precheck(raws)`: decode, size, chain id, kind, expiry, duplicate, nonce window,
   permission and fee checks against the latest committed state. Pure Python, no crypto.
2. the caller verifies the survivors' signatures in one batch (crypto.batch.verify_batch,
   all cores) — the mempool itself does no I/O and starts no processes;
3. `admit(txs, valid)`: re-checks what a concurrent commit may have changed and inserts.

Replay protection: a transaction is admitted only if its nonce is at least the sender's
committed nonce and no pending transaction holds that nonce; once committed, its nonce is
spent, so the same bytes can never be admitted again.

Memory bound and eviction rule: at most `capacity` transactions. When full, expired
transactions go first; then, if the incoming transaction's sender has fewer pending
transactions than the sender with the most, that sender's highest-nonce transaction is
evicted (so no single sender can crowd out the others); otherwise the incoming one is
refused with MempoolFull.

Selection for a block takes, round-robin over senders in order of arrival, each sender's
consecutive nonces starting from its committed nonce: only executable transactions.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from xinlian.errors import XinlianError
from xinlian.ledger.account import Account
from xinlian.ledger.errors import (
    BadSignature,
    DuplicateTransaction,
    Expired,
    FeeTooLow,
    InsufficientFunds,
    MempoolFull,
    NonceTooHigh,
    NonceTooLow,
    NotPermitted,
)
from xinlian.ledger.genesis import ChainParams
from xinlian.ledger.transaction import Transaction, TxKind, decode_transaction

Hasher = Callable[[bytes], bytes]
AccountReader = Callable[[bytes], Account]
PermissionReader = Callable[[bytes], bool]


@dataclass(frozen=True, slots=True)
class Refused:
    """Why a transaction was refused, with its hash when it decoded far enough to have one."""

    error: XinlianError
    tx_hash: bytes | None


@dataclass
class _Sender:
    txs: dict[int, Transaction] = field(default_factory=dict)  # nonce -> tx
    fees: int = 0  # sum of the pending transactions' fee limits


def base_cost(params: ChainParams, kind: int) -> int:
    return params.transfer_cost if kind == TxKind.TRANSFER else params.system_cost


class Mempool:
    def __init__(self, chain_id: str, params: ChainParams, hash_bytes: Hasher,
                 accounts: AccountReader, permitted: PermissionReader) -> None:
        self.chain_id = chain_id
        self.params = params
        self.capacity = params.mempool_capacity
        self._hash = hash_bytes
        self._accounts = accounts
        self._permitted = permitted
        self._senders: dict[bytes, _Sender] = {}  # insertion order = arrival order
        self._by_hash: dict[bytes, Transaction] = {}
        self._expiries: list[tuple[int, bytes]] = []  # heap; entries of removed txs linger
        self.height = 0  # the latest committed height, for expiry
        self._commits = 0  # bumped by on_commit: tells admit whether precheck is still fresh

    def __len__(self) -> int:
        return len(self._by_hash)

    def __contains__(self, tx_hash: bytes) -> bool:
        return tx_hash in self._by_hash

    def get(self, tx_hash: bytes) -> Transaction | None:
        """The pending transaction with this hash (its signature was checked on admission)."""
        return self._by_hash.get(tx_hash)

    @property
    def commits(self) -> int:
        """How many blocks have committed; pass it from precheck time to `admit`."""
        return self._commits

    # -- admission ---------------------------------------------------------------------

    def precheck(self, raws: Sequence[bytes]) -> list[Transaction | Refused]:
        """Step 1: everything but the signature, for each raw transaction in order."""
        out: list[Transaction | Refused] = []
        seen: set[bytes] = set()
        for raw in raws:
            tx = None
            try:
                tx = decode_transaction(raw, self.chain_id, self._hash, self.params.max_tx_size)
                if tx.hash in seen:
                    raise DuplicateTransaction("the same transaction twice in one batch")
                self._check_state(tx)
                seen.add(tx.hash)
                out.append(tx)
            except XinlianError as exc:
                out.append(Refused(exc, tx.hash if tx is not None else None))
        return out

    def _check_state(self, tx: Transaction) -> None:
        body = tx.body
        if body.expiry <= self.height:
            raise Expired(f"expiry height {body.expiry} has passed (height {self.height})")
        if self.params.permissioned and not self._permitted(tx.sender_address):
            raise NotPermitted("the sender is not permitted to submit transactions")
        if body.fee_limit < base_cost(self.params, body.kind):
            raise FeeTooLow(f"fee limit {body.fee_limit} is below the base cost")
        account = self._accounts(tx.sender_address)
        if body.nonce < account.nonce:
            raise NonceTooLow(f"nonce {body.nonce} is spent; next is {account.nonce}")
        if body.nonce >= account.nonce + self.params.nonce_window:
            raise NonceTooHigh(f"nonce {body.nonce} is beyond the window from {account.nonce}")
        self._check_pending(tx, account)

    def _check_pending(self, tx: Transaction, account: Account | None = None) -> None:
        """The checks that depend on other pending transactions of the sender."""
        if tx.hash in self._by_hash:
            raise DuplicateTransaction("already pending")
        sender = self._senders.get(tx.sender_address)
        if sender is not None and tx.body.nonce in sender.txs:
            raise DuplicateTransaction(f"nonce {tx.body.nonce} is already pending for the sender")
        if account is None:
            account = self._accounts(tx.sender_address)
        pending_fees = sender.fees if sender is not None else 0
        if account.balance < pending_fees + tx.body.fee_limit:
            raise InsufficientFunds("balance does not cover the pending fee limits")

    def admit(self, txs: Sequence[Transaction], valid: Sequence[bool], *,
              prechecked_at: int | None = None) -> list[XinlianError | None]:
        """Step 3: insert the prechecked transactions whose signatures verified.

        `prechecked_at` is `commits` as it was at precheck: if no block has committed since,
        only what other admissions may have changed is checked again (duplicate nonce, fee
        budget); otherwise every state check runs again."""
        fresh = prechecked_at is not None and prechecked_at == self._commits
        out: list[XinlianError | None] = []
        for tx, ok in zip(txs, valid, strict=True):
            try:
                if not ok:
                    raise BadSignature("signature does not verify")
                if fresh:
                    self._check_pending(tx)
                else:
                    self._check_state(tx)
                self._make_room(tx.sender_address)
                self._insert(tx)
                out.append(None)
            except XinlianError as exc:
                out.append(exc)
        return out

    def _insert(self, tx: Transaction) -> None:
        sender = self._senders.get(tx.sender_address)
        if sender is None:
            sender = self._senders[tx.sender_address] = _Sender()
        sender.txs[tx.body.nonce] = tx
        sender.fees += tx.body.fee_limit
        self._by_hash[tx.hash] = tx
        heapq.heappush(self._expiries, (tx.body.expiry, tx.hash))

    def _remove(self, address: bytes, nonce: int) -> None:
        sender = self._senders[address]
        tx = sender.txs.pop(nonce)
        sender.fees -= tx.body.fee_limit
        del self._by_hash[tx.hash]
        if not sender.txs:
            del self._senders[address]

    def _make_room(self, incoming: bytes) -> None:
        if len(self._by_hash) < self.capacity:
            return
        self.drop_expired()
        if len(self._by_hash) < self.capacity:
            return
        address, biggest = max(self._senders.items(), key=lambda kv: len(kv[1].txs))
        mine = self._senders.get(incoming)
        if mine is not None and len(mine.txs) >= len(biggest.txs):
            raise MempoolFull("mempool is full and this sender holds the most transactions")
        self._remove(address, max(biggest.txs))

    def drop_expired(self) -> int:
        dropped = 0
        while self._expiries and self._expiries[0][0] <= self.height:
            _, tx_hash = heapq.heappop(self._expiries)
            tx = self._by_hash.get(tx_hash)
            if tx is not None:
                self._remove(tx.sender_address, tx.body.nonce)
                dropped += 1
        if len(self._expiries) > 2 * len(self._by_hash) + 1024:
            self._expiries = [(tx.body.expiry, h) for h, tx in self._by_hash.items()]
            heapq.heapify(self._expiries)
        return dropped

    # -- blocks ------------------------------------------------------------------------

    def select(self, limit: int) -> list[Transaction]:
        """Up to `limit` executable transactions: consecutive nonces per sender, round-robin."""
        runs: list[list[Transaction]] = []
        total = 0
        for address, sender in self._senders.items():
            nonce = self._accounts(address).nonce
            run = []
            while nonce in sender.txs:
                run.append(sender.txs[nonce])
                nonce += 1
            if run:
                runs.append(run)
                total += len(run)
        # Depth by depth across senders: each sender's nonces stay in order.
        picked: list[Transaction] = []
        depth = 0
        while len(picked) < min(limit, total):
            for run in runs:
                if depth < len(run):
                    picked.append(run[depth])
                    if len(picked) == limit:
                        break
            depth += 1
        return picked

    def on_commit(self, height: int, committed: Iterable[Transaction]) -> None:
        """Remove committed transactions and any that the new state makes stale or expired."""
        self.height = height
        self._commits += 1
        touched = set()
        for tx in committed:
            touched.add(tx.sender_address)
            sender = self._senders.get(tx.sender_address)
            if sender is not None and tx.body.nonce in sender.txs:
                self._remove(tx.sender_address, tx.body.nonce)
        for address in touched:
            sender = self._senders.get(address)
            if sender is None:
                continue
            spent = self._accounts(address).nonce
            for nonce in [n for n in sender.txs if n < spent]:
                self._remove(address, nonce)
        self.drop_expired()

