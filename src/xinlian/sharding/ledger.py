"""One shard's state transition: transfers, cross-shard debits with receipts, and claims.

`ShardLedger.apply_block` is the whole rule set, a deterministic function of the shard's
state, the ordered transactions and the beacon's cross-links up to the heights the claims
name. A transaction the rules refuse leaves the state as it was and gets its typed error as
its outcome; the block applies all the same (as a ledger block's receipts carry failures).

- A transfer is signed by its sender (checked in one batch per block), spends the sender's
  next account nonce, and debits it. If the recipient lives on this shard it is credited at
  once; otherwise the block emits a receipt numbered by this shard's counter towards the
  recipient's shard, and the header commits to the receipts' Merkle root.
- A claim credits a receipt from another shard once: it must be addressed here, proven by
  its audit path under a header the beacon cross-linked at or below the claim's beacon
  height, of that header's epoch, and its (source, nonce) not consumed (`NonceSet`).

A validator applies a block only once its view of the beacon chain has reached every beacon
height the block's claims name (`beacon_height_needed`); it waits, never judges early, so
all replicas decide alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from xinlian import codec
from xinlian.crypto.errors import CryptoError
from xinlian.crypto.signing import verify_many_raw
from xinlian.ledger import merkle
from xinlian.sharding.assignment import shard_of
from xinlian.sharding.beacon import GENESIS_PARENT, CrossLinks
from xinlian.sharding.errors import (
    InvalidReceiptProof,
    InvalidTransfer,
    ReplayedReceipt,
    ShardingError,
    WrongEpoch,
    WrongShard,
)
from xinlian.sharding.receipts import (
    Claim,
    Receipt,
    ShardHeader,
    ShardTx,
    SignedTransfer,
    address_of,
    header_hash,
    transfer_message,
)


@dataclass
class NonceSet:
    """The receipt nonces consumed from one source shard: every nonce below `watermark`,
    and `above` it the ones that arrived out of order. Memory is bounded by how far out of
    order receipts arrive, not by how many there were."""

    watermark: int = 0
    above: set[int] = field(default_factory=set)

    def __contains__(self, nonce: int) -> bool:
        return nonce < self.watermark or nonce in self.above

    def consume(self, nonce: int) -> None:
        self.above.add(nonce)
        while self.watermark in self.above:
            self.above.remove(self.watermark)
            self.watermark += 1


@dataclass
class Account:
    balance: int
    nonce: int = 0


@dataclass(frozen=True)
class BlockResult:
    header: ShardHeader
    receipts: list[Receipt]
    outcomes: list[ShardingError | None]  # per transaction: None when applied

    def receipt_path(self, index: int, hash_bytes: Callable[[bytes], bytes]
                     ) -> merkle.AuditPath:
        """The audit path proving receipt `index` under this header's receipts root."""
        return merkle.audit_path([codec.encode(r) for r in self.receipts], index, hash_bytes)


class ShardLedger:
    """The replicated state of shard `shard` of `shards` (see the module docstring)."""

    def __init__(self, shard: int, shards: int, hash_bytes: Callable[[bytes], bytes],
                 balances: Mapping[bytes, int], epoch: int = 0) -> None:
        self.shard, self.shards, self.hash = shard, shards, hash_bytes
        self.epoch = epoch
        self.height = 0
        self.last_hash = GENESIS_PARENT
        self.accounts: dict[bytes, Account] = {}
        for address, balance in balances.items():
            if self._home(address) != shard:
                raise WrongShard(f"genesis account {address.hex()[:16]} belongs to shard "
                                 f"{self._home(address)}")
            self.accounts[address] = Account(balance)
        self.outbox = [0] * shards  # next receipt nonce towards each shard
        self.consumed = [NonceSet() for _ in range(shards)]  # per source shard

    def _home(self, address: bytes) -> int:
        return shard_of(address, self.shards, self.hash)

    def start_epoch(self, epoch: int) -> None:
        if epoch < self.epoch:
            raise WrongEpoch(f"shard {self.shard} is in epoch {self.epoch}, not {epoch}")
        self.epoch = epoch

    def total(self) -> int:
        """The value held on this shard (not counting receipts in flight)."""
        return sum(a.balance for a in self.accounts.values())

    def balance(self, address: bytes) -> int:
        account = self.accounts.get(address)
        return account.balance if account else 0

    @staticmethod
    def beacon_height_needed(txs: Sequence[ShardTx]) -> int:
        """The beacon height a validator's view must reach before it applies `txs`."""
        return max((tx.claim.beacon_height for tx in txs if tx.claim is not None), default=0)

    def _leaves(self) -> list[bytes]:
        leaves = [account_leaf(a, acc.balance, acc.nonce)
                  for a, acc in sorted(self.accounts.items())]
        leaves.append(codec.encode(self.outbox))
        leaves += [codec.encode([s.watermark, sorted(s.above)]) for s in self.consumed]
        return leaves

    def state_root(self) -> bytes:
        """Merkle root over the accounts (sorted), the receipt counters and the nonce sets.
        Recomputed whole per block: fine for the simulations it serves; a node keeps its
        shard's state in the state tree (storage/jmt.py) instead."""
        return merkle.root(self._leaves(), self.hash)

    def account_proof(self, address: bytes) -> merkle.AuditPath:
        """The path proving `address`'s balance and nonce under `state_root()`."""
        index = sorted(self.accounts).index(address)
        return merkle.audit_path(self._leaves(), index, self.hash)

    # -- the block -------------------------------------------------------------------------

    def apply_block(self, txs: Sequence[ShardTx], links: CrossLinks) -> BlockResult:
        signed = self._signatures([tx.transfer for tx in txs if tx.transfer is not None])
        receipts: list[Receipt] = []
        outcomes: list[ShardingError | None] = []
        for tx in txs:
            try:
                if tx.transfer is not None and tx.claim is None:
                    self._transfer(tx.transfer, signed.get(id(tx.transfer), False), receipts)
                elif tx.claim is not None and tx.transfer is None:
                    self._claim(tx.claim, links)
                else:
                    raise InvalidTransfer("a shard transaction is a transfer or a claim")
                outcomes.append(None)
            except ShardingError as exc:
                outcomes.append(exc)
        self.height += 1
        header = ShardHeader(
            shard=self.shard, epoch=self.epoch, height=self.height, parent=self.last_hash,
            state_root=self.state_root(),
            receipts_root=merkle.root([codec.encode(r) for r in receipts], self.hash),
            receipt_count=len(receipts))
        self.last_hash = header_hash(header, self.hash)
        return BlockResult(header, receipts, outcomes)

    def _signatures(self, transfers: list[SignedTransfer]) -> dict[int, bool]:
        """Each transfer's signature checked, one batch per algorithm."""
        by_alg: dict[int, list[SignedTransfer]] = {}
        for st in transfers:
            if st.transfer.sender.alg == st.signature.alg:
                by_alg.setdefault(int(st.signature.alg), []).append(st)
        ok: dict[int, bool] = {}
        for alg, group in by_alg.items():
            items = [(bytes(st.transfer.sender.data), transfer_message(st.transfer),
                      bytes(st.signature.data)) for st in group]
            try:
                results = verify_many_raw(alg, items)
            except CryptoError:
                results = [False] * len(group)
            ok.update((id(st), good) for st, good in zip(group, results, strict=True))
        return ok

    def _transfer(self, signed: SignedTransfer, valid: bool, receipts: list[Receipt]) -> None:
        t = signed.transfer
        sender = address_of(t.sender, self.hash)
        if self._home(sender) != self.shard:
            raise WrongShard(f"sender lives on shard {self._home(sender)}, not {self.shard}")
        if not valid:
            raise InvalidTransfer("the transfer's signature does not verify")
        account = self.accounts.get(sender)
        if account is None or t.nonce != account.nonce:
            raise InvalidTransfer(f"nonce {t.nonce}, expected "
                                  f"{account.nonce if account else 0}")
        if not 0 < t.amount <= account.balance:
            raise InvalidTransfer(f"amount {t.amount} with a balance of {account.balance}")
        account.balance -= t.amount
        account.nonce += 1
        dest = self._home(bytes(t.to))
        if dest == self.shard:
            self._credit(bytes(t.to), t.amount)
            return
        receipts.append(Receipt(source=self.shard, dest=dest, nonce=self.outbox[dest],
                                epoch=self.epoch, to=bytes(t.to), amount=t.amount))
        self.outbox[dest] += 1

    def _claim(self, claim: Claim, links: CrossLinks) -> None:
        r, header = claim.receipt, claim.header
        if r.dest != self.shard or self._home(bytes(r.to)) != self.shard:
            raise WrongShard(f"receipt for shard {r.dest} claimed on shard {self.shard}")
        if header.shard != r.source or not 0 <= r.source < self.shards:
            raise InvalidReceiptProof("the receipt's source is not the header's shard")
        if r.epoch != header.epoch or header.epoch > self.epoch:
            raise WrongEpoch(f"receipt of epoch {r.epoch} under a header of epoch "
                             f"{header.epoch}, claimed in epoch {self.epoch}")
        links.require(header, claim.beacon_height)
        if claim.path.size != header.receipt_count or not merkle.verify_path(
                bytes(header.receipts_root), codec.encode(r), claim.path, self.hash):
            raise InvalidReceiptProof(f"receipt {r.source}/{r.nonce} is not under header "
                                      f"{header.shard}/{header.height}")
        if r.nonce in self.consumed[r.source]:
            raise ReplayedReceipt(f"receipt {r.source}/{r.nonce} was already credited")
        self.consumed[r.source].consume(r.nonce)
        self._credit(bytes(r.to), r.amount)

    def _credit(self, address: bytes, amount: int) -> None:
        account = self.accounts.setdefault(address, Account(0))
        account.balance += amount


def account_leaf(address: bytes, balance: int, nonce: int) -> bytes:
    return codec.encode([address, balance, nonce])


def verify_account(state_root: bytes, address: bytes, balance: int, nonce: int,
                   path: merkle.AuditPath, hash_bytes: Callable[[bytes], bytes]) -> bool:
    """True iff the state with `state_root` holds `address` with `balance` and `nonce`."""
    return merkle.verify_path(state_root, account_leaf(address, balance, nonce), path,
                              hash_bytes)
