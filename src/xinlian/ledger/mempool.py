"""The mempool: admission checks, per-sender nonce order, bounded size, block selection.

Theory of operation. Admission is a batch pipeline in three steps so that the expensive
part runs once per batch on every core and the cheap checks reject junk before it:

1. `precheck(raws)`: decode, size, chain id, kind, a migration's key rule, expiry,
   duplicate, nonce window, permission and fee checks against the latest committed state.
   Pure Python, no crypto.
2. the caller verifies the survivors' signatures in one batch (crypto.batch.verify_batch,
   all cores) — the mempool itself does no I/O and starts no processes;
3. `admit(txs, valid)`: re-checks what a concurrent commit may have changed and inserts.

Replay protection: a transaction is admitted only if its nonce is at least the sender's
committed nonce and no pending transaction holds that nonce; once committed, its nonce is
spent, so the same bytes can never be admitted again.

Budget: a sender's pending transactions together may take at most its committed balance:
each counts its `spend` (fee limit plus what it moves, e.g. a transfer's amount), so a
transaction admitted here can pay its fee when it executes unless something outside this
pool drains the sender (another validator's pool, a revocation).

Leaving without executing (docs/operations.md, "Pool and admission"): a transaction that a
block leaves out as not executable (unpayable, expired, sender not permitted; ledger/rules.py)
is dropped, with the sender's later nonces, which could not run before it; one left out
only because an earlier nonce had not run yet (NonceTooHigh) stays, and one whose nonce
another transaction took (NonceTooLow) leaves alone on commit. A transaction also
leaves when its expiry height passes or when it has waited `max_age_ms` by the node's clock,
so the pool empties on an idle chain too. Nothing here touches consensus: exclusion is
decided by execution, alike on every validator, and a pool only forgets.

Shares: a sender holds at most `per_sender` pending transactions, counting those ahead of
it in the batch being admitted, and the budget counts them too, so a sender's excess and
what it could never pay for are refused before signature verification: its share of the
pool and of the verification work is bounded.

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
from collections import deque
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
    KeyNotAccepted,
    LedgerError,
    MempoolFull,
    NonceTooHigh,
    NonceTooLow,
    NotPermitted,
    SenderQuota,
)
from xinlian.ledger.genesis import ChainParams
from xinlian.ledger.rules import Fees, fee_limit_error, is_expired
from xinlian.ledger.transaction import Transaction, decode_transaction

Hasher = Callable[[bytes], bytes]
AccountReader = Callable[[bytes], Account]
PermissionReader = Callable[[bytes], bool]
Spend = Callable[[Transaction], int]  # the most a transaction can take from its sender
FeeReader = Callable[[Transaction], Fees]  # its fee figures (ledger/rules.py)
Clock = Callable[[], int]  # the node's monotonic clock, milliseconds
# a suite migration's key rule for a transaction going into block `height` (it also points
# a bound key's transaction at its account: execution/migration.py); None: it may sign
KeyRule = Callable[[Transaction, int], LedgerError | None]
_Ahead = tuple[int, int]  # a sender's transactions ahead in a batch: how many, their spend
# Exclusions that no later block can undo for the transaction (ledger/rules.py).
_NEVER_EXECUTABLE = (InsufficientFunds, Expired, NotPermitted, FeeTooLow, KeyNotAccepted)


@dataclass(frozen=True, slots=True)
class PoolLimits:
    """Node-local pool policy (not chain rules: validators may differ without forking)."""

    max_age_ms: int = 600_000  # a pending transaction leaves after this long
    per_sender: int = 64       # pending transactions one sender may hold


@dataclass(frozen=True, slots=True)
class Refused:
    """Why a transaction was refused, with its hash when it decoded far enough to have one."""

    error: XinlianError
    tx_hash: bytes | None


@dataclass
class _Sender:
    txs: dict[int, Transaction] = field(default_factory=dict)  # nonce -> tx
    spend: int = 0  # sum of the pending transactions' spends


class Mempool:
    def __init__(self, chain_id: str, params: ChainParams, hash_bytes: Hasher,
                 accounts: AccountReader, permitted: PermissionReader, *, spend: Spend,
                 fees: FeeReader, clock: Clock, limits: PoolLimits | None = None,
                 keys: KeyRule | None = None) -> None:
        self.chain_id = chain_id
        self.params = params
        self.capacity = params.mempool_capacity
        self.limits = limits or PoolLimits()
        self._hash = hash_bytes
        self._accounts = accounts
        self._permitted = permitted
        self._spend = spend
        self._fees = fees
        self._clock = clock
        self._keys = keys
        self._senders: dict[bytes, _Sender] = {}  # insertion order = arrival order
        self._by_hash: dict[bytes, Transaction] = {}
        self._spends: dict[bytes, int] = {}  # tx hash -> its spend, as counted on insertion
        self._expiries: list[tuple[int, bytes]] = []  # heap; entries of removed txs linger
        self._arrivals: deque[tuple[int, bytes]] = deque()  # (ms, hash) in arrival order
        self._arrived: dict[bytes, int] = {}  # tx hash -> arrival ms
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
        self.drop_aged()
        out: list[Transaction | Refused] = []
        seen: set[tuple[bytes, int]] = set()  # (sender, nonce) passed in this batch
        ahead: dict[bytes, _Ahead] = {}  # what each sender's passed transactions add
        for raw in raws:
            tx = None
            try:
                tx = decode_transaction(raw, self.chain_id, self._hash, self.params.max_tx_size)
                refused = None if self._keys is None else self._keys(tx, self.height + 1)
                if refused is not None:
                    raise refused
                address = tx.sender_address
                if (address, tx.body.nonce) in seen:
                    raise DuplicateTransaction("the sender's nonce twice in one batch")
                count, spend = ahead.get(address, (0, 0))
                spend += self._check_state(tx, (count, spend))
                seen.add((address, tx.body.nonce))
                ahead[address] = (count + 1, spend)
                out.append(tx)
            except XinlianError as exc:
                out.append(Refused(exc, tx.hash if tx is not None else None))
        return out

    def _check_state(self, tx: Transaction, ahead: _Ahead = (0, 0)) -> int:
        """Every check but the signature's; the transaction's spend."""
        body = tx.body
        if is_expired(body.expiry, self.height + 1):
            raise Expired(f"expiry height {body.expiry} has passed (height {self.height})")
        if self.params.permissioned and not self._permitted(tx.sender_address):
            raise NotPermitted("the sender is not permitted to submit transactions")
        too_low = fee_limit_error(self.params, tx, self._fees(tx))
        if too_low is not None:
            raise too_low
        account = self._accounts(tx.sender_address)
        if body.nonce < account.nonce:
            raise NonceTooLow(f"nonce {body.nonce} is spent; next is {account.nonce}")
        if body.nonce >= account.nonce + self.params.nonce_window:
            raise NonceTooHigh(f"nonce {body.nonce} is beyond the window from {account.nonce}")
        return self._check_pending(tx, account, ahead)

    def _check_pending(self, tx: Transaction, account: Account | None = None,
                       ahead: _Ahead = (0, 0)) -> int:
        """The checks that depend on the sender's other transactions, pending or `ahead` of
        this one in its batch (how many, what they spend); the transaction's spend."""
        if tx.hash in self._by_hash:
            raise DuplicateTransaction("already pending")
        sender = self._senders.get(tx.sender_address)
        if sender is not None and tx.body.nonce in sender.txs:
            raise DuplicateTransaction(f"nonce {tx.body.nonce} is already pending for the sender")
        count, spend = ahead
        if sender is not None:
            count, spend = count + len(sender.txs), spend + sender.spend
        if count >= self.limits.per_sender:
            raise SenderQuota(f"the sender holds its {self.limits.per_sender} "
                              "pending transactions")
        if account is None:
            account = self._accounts(tx.sender_address)
        mine = self._spend(tx)
        if account.balance < spend + mine:
            raise InsufficientFunds(f"balance {account.balance} does not cover what the "
                                    "sender's pending transactions and this one may spend")
        return mine

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
        spend = self._spend(tx)
        sender.txs[tx.body.nonce] = tx
        sender.spend += spend
        self._by_hash[tx.hash] = tx
        self._spends[tx.hash] = spend
        heapq.heappush(self._expiries, (tx.body.expiry, tx.hash))
        now = self._clock()
        self._arrived[tx.hash] = now
        self._arrivals.append((now, tx.hash))

    def _remove(self, address: bytes, nonce: int) -> None:
        sender = self._senders[address]
        tx = sender.txs.pop(nonce)
        sender.spend -= self._spends.pop(tx.hash)
        del self._by_hash[tx.hash]
        del self._arrived[tx.hash]
        if not sender.txs:
            del self._senders[address]

    def _drop_from(self, address: bytes, nonce: int) -> int:
        """Remove the sender's pending transactions at `nonce` and above (none of the later
        ones can run before it); how many went."""
        sender = self._senders.get(address)
        if sender is None:
            return 0
        doomed = [n for n in sender.txs if n >= nonce]
        for n in doomed:
            self._remove(address, n)
        return len(doomed)

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
        """Drop what can no longer go into the next block by its expiry height."""
        dropped = 0
        while self._expiries and is_expired(self._expiries[0][0], self.height + 1):
            _, tx_hash = heapq.heappop(self._expiries)
            tx = self._by_hash.get(tx_hash)
            if tx is not None:
                dropped += self._drop_from(tx.sender_address, tx.body.nonce)
        if len(self._expiries) > 2 * len(self._by_hash) + 1024:
            self._expiries = [(tx.body.expiry, h) for h, tx in self._by_hash.items()]
            heapq.heapify(self._expiries)
        return dropped

    def drop_aged(self) -> int:
        """Drop what has waited `max_age_ms` by the node's clock (works on an idle chain)."""
        cutoff = self._clock() - self.limits.max_age_ms
        dropped = 0
        while self._arrivals and self._arrivals[0][0] <= cutoff:
            arrived, tx_hash = self._arrivals.popleft()
            tx = self._by_hash.get(tx_hash)
            if tx is not None and self._arrived[tx_hash] == arrived:
                dropped += self._drop_from(tx.sender_address, tx.body.nonce)
        if len(self._arrivals) > 2 * len(self._arrived) + 1024:
            self._arrivals = deque(sorted((t, h) for h, t in self._arrived.items()))
        return dropped

    def drop_excluded(self, excluded: Iterable[tuple[Transaction, LedgerError]]) -> int:
        """Forget what a block left out as never executable, with the senders' later nonces;
        keep what only waited for an earlier nonce (NonceTooHigh) or lost its nonce to
        another transaction (NonceTooLow: `on_commit` removes it alone). How many went."""
        dropped = 0
        for tx, error in excluded:
            if not isinstance(error, _NEVER_EXECUTABLE) or tx.hash not in self._by_hash:
                continue
            dropped += self._drop_from(tx.sender_address, tx.body.nonce)
        return dropped

    # -- blocks ------------------------------------------------------------------------

    def select(self, limit: int) -> list[Transaction]:
        """Up to `limit` executable transactions: consecutive nonces per sender, round-robin."""
        self.drop_aged()
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

