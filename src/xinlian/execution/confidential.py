"""Confidential accounts (kind CONFIDENTIAL): twisted-ElGamal balances, transfers with
regulator tracing, deposits and withdrawals; the rules of each operation are in
execution/confidential_payloads.py, the proofs in crypto/privacy/confidential/transfer.py.

State (world-state keys, proven like any account):
  conf/reg              the regulator key (SetRegulator, by governance)
  conf/acct/<addr>      an account's key and balance ciphertext (ConfidentialAccount)
  conf/supply           the value held in confidential balances: deposits - withdrawals
  conf/trace/<tx>       a transfer's parties and regulator ciphertext (Trace)
  conf/req/<tx>         a regulator member's pending open request: the blinded base
  conf/share/<tx>       the decryption shares published on it so far
  conf/open2/<tx>       once t shares are in: the opening (BlindOpened; the amount only
                        for the requester, who knows the blinding)
  conf/open/<tx>        an opening made before blinding (Opened, amount public): read only

<tx> is a transfer's id: its transaction hash for the CONFIDENTIAL kind, or the id
`conf_pay` returns for a transfer a contract executed (execution/vm/services.py).

Every proof is verified before anything is written (the range proofs of a block's
transfers and withdrawals together in one batch, `begin_block`); a proof that fails raises its typed
error (88xx) and the executor drops the operation's writes (the fee and nonce stay spent,
as for any failed transaction). Value is conserved: a deposit moves a public amount into
`conf/supply` and a ciphertext of it into the balance; a transfer moves an encrypted amount
between balances (proven equal on both sides, in range, covered by the sender's balance);
a withdrawal moves a public amount back, proven covered. Fees are the system cost plus the
fee of the fuel the proofs' verification is worth (VERIFY_FUEL), and that fuel counts
against the block's fuel cap like a contract's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from xinlian import codec
from xinlian.codec import Struct
from xinlian.crypto.primitives.groups import Element, Group, Rng
from xinlian.crypto.privacy.confidential import GROUPS, elgamal, transfer
from xinlian.crypto.privacy.confidential.elgamal import Ciphertext, decode_point
from xinlian.crypto.privacy.confidential.errors import ConfidentialError
from xinlian.crypto.privacy.confidential.tracing import RegulatorKey
from xinlian.crypto.privacy.homomorphic.counter_rng import counter_rng
from xinlian.execution.confidential_opening import (
    Traced,
    process_request,
    process_share,
    regulator_member,
)
from xinlian.execution.confidential_payloads import (
    ConfidentialOp,
    ConfidentialTransfer,
    ContractPayment,
    Deposit,
    OpenRequest,
    OpenShare,
    Register,
    SetRegulator,
    Withdraw,
)
from xinlian.execution.errors import (
    BadPayload,
    ConfidentialUnavailable,
    InsufficientBalance,
    InvalidOperation,
    StaleBalance,
    UnknownConfidentialAccount,
)
from xinlian.execution.state import Overlay
from xinlian.ledger.account import Account
from xinlian.ledger.block import Event
from xinlian.ledger.transaction import Transaction, TxKind

REGULATOR_KEY = b"conf/reg"
SUPPLY_KEY = b"conf/supply"
ACCOUNT_PREFIX = b"conf/acct/"
TRACE_PREFIX = b"conf/trace/"
REQUEST_PREFIX = b"conf/req/"
SHARES_PREFIX = b"conf/share/"
BLIND_OPENED_PREFIX = b"conf/open2/"
OPENED_PREFIX = b"conf/open/"  # openings before blinding: read only

Hasher = Callable[[bytes], bytes]
Read = Callable[[bytes], bytes | None]
T = TypeVar("T")


class Store(Protocol):
    """Where confidential state is read and written: a transaction's overlay, or a
    contract run's journaled state (a revert undoes the writes)."""

    def get(self, key: bytes) -> bytes | None: ...

    def set(self, key: bytes, value: bytes | None) -> None: ...

# Fuel each operation's verification is worth: its verify time measured by `make
# bench-privacy` (benchmarks/privacy_conftx.py, CPU time on the development machine)
# at plain Wasm code's 20 fuel per ns (execution/vm/engine.py), plus 10 %, rounded up (a
# deposit verifies no proof). ContractPayment: what `conf_pay` verifies (services.py), a
# transfer alone (no block batch) and its floor's range proof: the transfer's figure times
# the measured ratio of the two (1.43 on ristretto255, 1.55 on SM2, best of 9 each).
VERIFY_FUEL: dict[str, dict[type, int]] = {
    "ristretto255": {Register: 4_000_000, Deposit: 0, ConfidentialTransfer: 260_000_000,
                     Withdraw: 150_000_000, OpenShare: 6_000_000, OpenRequest: 5_000_000,
                     ContractPayment: 380_000_000},
    "sm2": {Register: 14_000_000, Deposit: 0, ConfidentialTransfer: 640_000_000,
            Withdraw: 450_000_000, OpenShare: 32_000_000, OpenRequest: 24_000_000,
            ContractPayment: 1_000_000_000},
}


class ConfidentialAccount(Struct):
    key: bytes  # pk = sk*H
    balance: bytes  # elgamal.Ciphertext.encode()


class Trace(Struct):
    sender: bytes
    receiver: bytes
    c1: bytes
    c2: bytes
    regulator: bytes  # the regulator public key it was encrypted to
    height: int


class ShareRecord(Struct):
    index: int
    share: bytes


class Opened(Struct):
    """An opening made before blinding: its parties, v*G (the amount, found by a 32-bit
    search, dlog.py), the members whose shares opened it and the block that did."""

    sender: bytes
    receiver: bytes
    amount_point: bytes
    members: list[int]
    height: int


class OpenRequestRecord(Struct):
    """A pending open request: the requesting member's index, C1' and the block."""

    requester: int
    blinded: bytes
    height: int


class BlindOpened(Struct):
    """An opening on chain: the parties, the requesting member, the blinded base and the
    t shares on it (each checked against its member's verifying share) and the block.
    The amount is C2 - (sum lambda_i*D_i' - rho*pk_R): the requester's to compute."""

    sender: bytes
    receiver: bytes
    requester: int
    blinded: bytes
    shares: list[ShareRecord]
    height: int


def verifier_rng(hash_bytes: Hasher, seed: bytes) -> Rng:
    """The random weights a range-proof verifier draws, derived from `seed` (transaction
    hashes, which commit to the proofs): every validator draws the same, so execution stays
    deterministic, and a prover cannot choose them without changing its proofs (the
    weights of batch verification made Fiat-Shamir)."""
    return counter_rng(hash_bytes(b"xinlian/conf/weights\x00" + seed))


def proof_context(chain_id: str, sender: bytes, nonce: int) -> bytes:
    """What every proof of a transaction is bound to: chain, sender account and nonce."""
    return codec.encode([chain_id, sender, nonce])


def balance_digest(hash_bytes: Hasher, encoded_balance: bytes) -> bytes:
    return hash_bytes(b"xinlian/conf/balance\x00" + encoded_balance)


def get_record(read: Read, key: bytes, kind: type[T]) -> T | None:
    """The state value at `key` decoded as `kind`, None if absent (the private schemes'
    records: confidential here, anonymous in anonymous.py)."""
    raw = read(key)
    return None if raw is None else codec.decode(raw, kind)


def get_regulator(read: Read) -> SetRegulator | None:
    return get_record(read, REGULATOR_KEY, SetRegulator)


def get_account(read: Read, address: bytes) -> ConfidentialAccount | None:
    return get_record(read, ACCOUNT_PREFIX + address, ConfidentialAccount)


def get_supply(read: Read) -> int:
    return get_record(read, SUPPLY_KEY, int) or 0


def regulator_key(group: Group, reg: SetRegulator) -> RegulatorKey:
    """The regulator key of a SetRegulator, decoded and checked (MalformedProofError,
    InvalidDecryptionShareError)."""
    shares = {m.index: decode_point(group, m.verifying_share) for m in reg.members}
    key = RegulatorKey(reg.threshold, shares, decode_point(group, reg.public_key))
    key.check()
    return key


def check_regulator(read: Read, change: SetRegulator) -> None:
    """Refuse a regulator key that is malformed, inconsistent, of an unknown group, or of
    another group than the existing confidential balances'."""
    group = GROUPS.get(change.group)
    if group is None:
        raise InvalidOperation(f"unknown confidential group {change.group!r}")
    if len({m.index for m in change.members}) != len(change.members) or len(
            {m.address for m in change.members}) != len(change.members):
        raise InvalidOperation("regulator members need distinct indices and accounts")
    try:
        regulator_key(group, change)
    except ConfidentialError as exc:
        raise InvalidOperation(f"regulator key: {exc.message}") from exc
    current = get_regulator(read)
    if current is not None and current.group != change.group:
        raise ConfidentialUnavailable("the confidential group cannot change once set")


def set_regulator(state: Overlay, change: SetRegulator) -> list[Event]:
    check_regulator(state.get, change)
    state.set(REGULATOR_KEY, codec.encode(change))
    return [Event("confidential", "RegulatorSet", change.public_key)]


def verify_fuel(read: Read, op: ConfidentialOp) -> int:
    reg = get_regulator(read)
    return VERIFY_FUEL["ristretto255" if reg is None else reg.group][type(op)]


def deposit_amount(payload: bytes) -> int:
    """The public amount a CONFIDENTIAL payload takes from the sender (a deposit's), for
    the mempool's spending budget."""
    try:
        op = codec.decode(payload, ConfidentialOp)
    except codec.CodecError:
        return 0
    return max(op.amount, 0) if isinstance(op, Deposit) else 0


class Confidential:
    """Runs confidential operations on an overlay (the executor drops it on failure)."""

    def __init__(self, hash_bytes: Hasher) -> None:
        self.hash = hash_bytes
        # hashes of this block's transactions whose range proofs verified in one batch
        self.ranges_verified: frozenset[bytes] = frozenset()

    def begin_block(self, read: Read, txs: Sequence[Transaction]) -> None:
        """Verify the range proofs of the block's confidential transfers and withdrawals
        in one multi-scalar multiplication (they depend on no state). If the batch fails,
        none counts as verified: each is then verified alone, which finds the bad ones."""
        self.ranges_verified = frozenset()
        reg = get_regulator(read)
        if reg is None:
            return
        group = GROUPS[reg.group]
        items: list[transfer.RangeItem] = []
        hashes = []
        for tx in txs:
            if tx.body.kind != TxKind.CONFIDENTIAL:
                continue
            try:
                op = codec.decode(tx.body.payload, ConfidentialOp)
                if isinstance(op, ConfidentialTransfer):
                    items.append(transfer.decode_transfer(group, op.note).range_item())
                elif isinstance(op, Withdraw):
                    items.append(transfer.decode_withdraw(group, op.note).range_item())
                else:
                    continue
            except (codec.CodecError, ConfidentialError):
                continue  # fails on its own turn, with its typed error
            hashes.append(tx.hash)
        if len(items) < 2:
            return
        try:
            transfer.batch_verify_ranges(group, items,
                                         verifier_rng(self.hash, b"".join(hashes)))
        except ConfidentialError:
            return
        self.ranges_verified = frozenset(hashes)

    def execute(self, state: Overlay, chain_id: str, sender: bytes, nonce: int,
                tx_hash: bytes, height: int, op: ConfidentialOp) -> list[Event]:
        reg = get_regulator(state.get)
        if reg is None:
            raise ConfidentialUnavailable("no regulator key: governance sets one first")
        group = GROUPS[reg.group]
        context = proof_context(chain_id, sender, nonce)
        if isinstance(op, Register):
            return self._register(state, group, sender, context, op)
        if isinstance(op, OpenRequest):
            return self._request(state, group, reg, sender, chain_id, height, op)
        if isinstance(op, OpenShare):
            return self._share(state, group, reg, sender, chain_id, height, op)
        account = get_account(state.get, sender)
        if account is None:
            raise UnknownConfidentialAccount("the sender has registered no confidential key")
        pk = decode_point(group, account.key)
        balance = elgamal.decode(group, account.balance)
        if isinstance(op, Deposit):
            return self._deposit(state, group, sender, account, balance, op.amount)
        if balance_digest(self.hash, account.balance) != op.balance:
            raise StaleBalance("the proof was made for another balance than the sender's")
        batched = tx_hash in self.ranges_verified
        if isinstance(op, Withdraw):
            return self._withdraw(state, group, sender, account, pk, balance, context,
                                  tx_hash, op, batched)
        return self._transfer(state, group, reg, sender, account, pk, balance, context,
                              tx_hash, height, op, batched)

    def _register(self, state: Overlay, group: Group, sender: bytes, context: bytes,
                  op: Register) -> list[Event]:
        if get_account(state.get, sender) is not None:
            raise UnknownConfidentialAccount("the account has a confidential key already")
        pk = decode_point(group, op.key)
        transfer.verify_key(pk, context, op.proof)
        _put(state, sender, op.key, elgamal.zero(group))
        return [Event("confidential", "Registered", sender)]

    @staticmethod
    def _deposit(state: Overlay, group: Group, sender: bytes, account: ConfidentialAccount,
                 balance: Ciphertext, amount: int) -> list[Event]:
        if not 0 < amount <= transfer.MAX_AMOUNT:
            raise BadPayload(f"a deposit is 1 to {transfer.MAX_AMOUNT}, got {amount}")
        public = state.account(sender)
        if public.balance < amount:
            raise InsufficientBalance(f"balance {public.balance} < deposit {amount}")
        state.set_account(sender, Account(public.balance - amount, public.nonce))
        _put(state, sender, account.key, balance + elgamal.public_amount(group, amount))
        state.set(SUPPLY_KEY, codec.encode(get_supply(state.get) + amount))
        return [Event("confidential", "Deposit", codec.encode([sender, amount]))]

    def _withdraw(self, state: Overlay, group: Group, sender: bytes,
                  account: ConfidentialAccount, pk: Element, balance: Ciphertext,
                  context: bytes, tx_hash: bytes, op: Withdraw, batched: bool
                  ) -> list[Event]:
        """`batched`: its range proof verified in the block's batch already."""
        if not 0 < op.amount <= transfer.MAX_AMOUNT:
            raise BadPayload(f"a withdrawal is 1 to {transfer.MAX_AMOUNT}, got {op.amount}")
        note = transfer.decode_withdraw(group, op.note)
        if batched:
            transfer.verify_withdraw_sigma(pk, balance, op.amount, context, note)
        else:
            transfer.verify_withdraw(pk, balance, op.amount, context, note,
                                     verifier_rng(self.hash, tx_hash))
        public = state.account(sender)
        state.set_account(sender, Account(public.balance + op.amount, public.nonce))
        _put(state, sender, account.key, balance - elgamal.public_amount(group, op.amount))
        state.set(SUPPLY_KEY, codec.encode(get_supply(state.get) - op.amount))
        return [Event("confidential", "Withdraw", codec.encode([sender, op.amount]))]

    def _transfer(self, state: Store, group: Group, reg: SetRegulator, sender: bytes,
                  account: ConfidentialAccount, pk: Element, balance: Ciphertext,
                  context: bytes, tx_hash: bytes, height: int,
                  op: ConfidentialTransfer, batched: bool) -> list[Event]:
        if op.to == sender:
            raise InvalidOperation("a confidential transfer needs another receiver")
        receiver = get_account(state.get, op.to)
        if receiver is None:
            raise UnknownConfidentialAccount("the receiver has registered no confidential key")
        note = transfer.decode_transfer(group, op.note)
        statement = transfer.TransferStatement(
            context, pk, decode_point(group, receiver.key),
            decode_point(group, reg.public_key), balance)
        if batched:
            transfer.verify_transfer_sigma(statement, note)
        else:
            transfer.verify_transfer(statement, note, verifier_rng(self.hash, tx_hash))
        _put(state, sender, account.key, balance - note.to_sender)
        _put(state, op.to, receiver.key,
             elgamal.decode(group, receiver.balance) + note.to_receiver)
        state.set(TRACE_PREFIX + tx_hash, codec.encode(Trace(
            sender, op.to, note.c1.encode(), note.c2.encode(), reg.public_key, height)))
        return [Event("confidential", "Transfer", codec.encode([sender, op.to]))]

    def pay(self, store: Store, chain_id: str, origin: bytes, nonce: int, contract: bytes,
            transfer_id: bytes, height: int, to: bytes, floor: int,
            payment: ContractPayment) -> None:
        """A confidential transfer a contract executes (`conf_pay`) from the account that
        signed the transaction, `origin`, to `to`, of at least `floor`: proven by origin
        for this transaction and this contract (pay_context), so no contract moves another
        account's balance or replays a payment. Recorded under `transfer_id`."""
        if not 0 <= floor <= transfer.MAX_AMOUNT:
            raise BadPayload(f"a floor is 0 to {transfer.MAX_AMOUNT}, got {floor}")
        reg = get_regulator(store.get)
        if reg is None:
            raise ConfidentialUnavailable("no regulator key: governance sets one first")
        group = GROUPS[reg.group]
        account = get_account(store.get, origin)
        if account is None:
            raise UnknownConfidentialAccount("the origin has registered no confidential key")
        if balance_digest(self.hash, account.balance) != payment.balance:
            raise StaleBalance("the proof was made for another balance than the origin's")
        note = transfer.decode_transfer(group, payment.note)
        transfer.verify_floor(note, floor, payment.floor,
                              verifier_rng(self.hash, b"floor" + transfer_id))
        self._transfer(store, group, reg, origin, account, decode_point(group, account.key),
                       elgamal.decode(group, account.balance),
                       pay_context(chain_id, origin, nonce, contract), transfer_id, height,
                       ConfidentialTransfer(to, payment.note, payment.balance), False)

    def _request(self, state: Overlay, group: Group, reg: SetRegulator, sender: bytes,
                 chain_id: str, height: int, op: OpenRequest) -> list[Event]:
        """A member asks to open a transfer on its blinded base (the rules:
        execution/confidential_opening.py)."""
        index = process_request(
            state, _Records(get_trace(state.get, op.transfer)), group, reg, sender,
            op.transfer, _traced(group, state.get, op.transfer, chain_id, reg, sender),
            [op.blinded], [op.proof], height)
        return [Event("confidential", "OpenRequested", codec.encode([op.transfer, index]))]

    def _share(self, state: Overlay, group: Group, reg: SetRegulator, sender: bytes,
               chain_id: str, height: int, op: OpenShare) -> list[Event]:
        index, opened = process_share(
            state, _Records(get_trace(state.get, op.transfer)), group, reg, sender,
            op.transfer, _traced(group, state.get, op.transfer, chain_id, reg, sender),
            [op.share], [op.proof], height)
        events = [Event("confidential", "OpenShare", codec.encode([op.transfer, index]))]
        return [*events, Event("confidential", "Opened", op.transfer)] if opened else events


def _traced(group: Group, read: Read, transfer_id: bytes, chain_id: str, reg: SetRegulator,
            sender: bytes) -> Traced | None:
    """A confidential transfer's one ciphertext as the opening sees it."""
    trace = get_trace(read, transfer_id)
    if trace is None:
        return None
    index = regulator_member(reg, sender).index
    return Traced(trace.regulator, [decode_point(group, trace.c1)],
                  [request_context(chain_id, transfer_id, index)],
                  [share_context(chain_id, transfer_id, index)])


@dataclass(frozen=True)
class _Records:
    """Confidential openings' records (conf/req, conf/share, conf/open2) for
    execution/confidential_opening.py: one ciphertext a transfer."""

    trace: Trace | None

    @staticmethod
    def is_opened(read: Read, transfer_id: bytes) -> bool:
        return is_opened(read, transfer_id)

    @staticmethod
    def request(read: Read, transfer_id: bytes) -> tuple[int, list[bytes]] | None:
        found = get_request(read, transfer_id)
        return None if found is None else (found.requester, [found.blinded])

    @staticmethod
    def put_request(state: Store, transfer_id: bytes, requester: int, blinded: list[bytes],
                    height: int) -> None:
        state.set(REQUEST_PREFIX + transfer_id,
                  codec.encode(OpenRequestRecord(requester, blinded[0], height)))

    @staticmethod
    def shares(read: Read, transfer_id: bytes) -> list[tuple[int, list[bytes]]]:
        return [(s.index, [s.share]) for s in _shares(read, transfer_id)]

    @staticmethod
    def put_shares(state: Store, transfer_id: bytes,
                   shares: list[tuple[int, list[bytes]]]) -> None:
        state.set(SHARES_PREFIX + transfer_id, codec.encode(
            [ShareRecord(i, d[0]) for i, d in shares]) if shares else None)

    def put_opened(self, state: Store, transfer_id: bytes, requester: int,
                   blinded: list[bytes], shares: list[tuple[int, list[bytes]]],
                   height: int) -> None:
        assert self.trace is not None  # process_share checked it
        state.set(SHARES_PREFIX + transfer_id, None)
        state.set(REQUEST_PREFIX + transfer_id, None)
        state.set(BLIND_OPENED_PREFIX + transfer_id, codec.encode(BlindOpened(
            self.trace.sender, self.trace.receiver, requester, blinded[0],
            [ShareRecord(i, d[0]) for i, d in shares], height)))


def pay_context(chain_id: str, origin: bytes, nonce: int, contract: bytes) -> bytes:
    """What the proofs of a contract-executed transfer are bound to: chain, the origin
    account and its transaction's nonce, and the contract that executes it (a proof made
    for one contract is refused by another, even in the same transaction)."""
    return codec.encode([chain_id, origin, nonce, contract])


def request_context(chain_id: str, transfer_id: bytes, index: int) -> bytes:
    """What an open request's proof is bound to: chain, transfer and requesting member."""
    return codec.encode(["open-request", chain_id, transfer_id, index])


def share_context(chain_id: str, tx_hash: bytes, index: int) -> bytes:
    """What a decryption share's proof is bound to: chain, transfer and member."""
    return codec.encode([chain_id, tx_hash, index])


def _shares(read: Read, tx_hash: bytes) -> list[ShareRecord]:
    return get_record(read, SHARES_PREFIX + tx_hash, list[ShareRecord]) or []


def _put(state: Store, address: bytes, key: bytes, balance: Ciphertext) -> None:
    state.set(ACCOUNT_PREFIX + address, codec.encode(ConfidentialAccount(key, balance.encode())))


def get_trace(read: Read, transfer_id: bytes) -> Trace | None:
    return get_record(read, TRACE_PREFIX + transfer_id, Trace)


def get_opened(read: Read, transfer_id: bytes) -> Opened | None:
    """An opening made before blinding (amount in the clear)."""
    return get_record(read, OPENED_PREFIX + transfer_id, Opened)


def get_request(read: Read, transfer_id: bytes) -> OpenRequestRecord | None:
    return get_record(read, REQUEST_PREFIX + transfer_id, OpenRequestRecord)


def get_blind_opened(read: Read, transfer_id: bytes) -> BlindOpened | None:
    return get_record(read, BLIND_OPENED_PREFIX + transfer_id, BlindOpened)


def is_opened(read: Read, transfer_id: bytes) -> bool:
    """Opened on chain, blinded or (before blinding) in the clear."""
    return (read(BLIND_OPENED_PREFIX + transfer_id) is not None
            or read(OPENED_PREFIX + transfer_id) is not None)
