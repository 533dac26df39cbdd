"""Confidential accounts from the client side (docs/privacy.md, "Confidential transfers"):
build and prove the operations of execution/confidential.py, read balances and openings
verified against the chain's headers, decrypt with the account's own key.

The builders (`register_op` ... `share_op`, `payment`) are pure: they take the state they
prove against and return a payload. `ConfidentialAccounts` reads that state through a
`Client` (every read proven), proves, signs with a `Wallet` and waits for the receipt, raising
ConfidentialFailed when the transaction failed on chain.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from xinlian import codec
from xinlian.crypto.primitives.groups import Group, GroupError, Rng, Scalar
from xinlian.crypto.privacy.confidential import GROUPS, dlog, elgamal, get_group, transfer
from xinlian.crypto.privacy.confidential.elgamal import decode_point
from xinlian.crypto.privacy.confidential.errors import (
    ConfidentialError,
    MalformedProofError,
    RangeProofStatementError,
    UndecryptableError,
)
from xinlian.crypto.privacy.confidential.tracing import blind, decryption_share, open_blinded
from xinlian.execution.anonymous_payloads import AnonOpenShare, AnonymousOp
from xinlian.execution.confidential import (
    ACCOUNT_PREFIX,
    REGULATOR_KEY,
    SHARES_PREFIX,
    TRACE_PREFIX,
    VERIFY_FUEL,
    BlindOpened,
    ConfidentialAccount,
    Opened,
    OpenRequestRecord,
    ShareRecord,
    Trace,
    balance_digest,
    get_blind_opened,
    get_opened,
    get_request,
    pay_context,
    proof_context,
    request_context,
    share_context,
)
from xinlian.execution.confidential_monitor import (
    Finding,
    OpenedTx,
    Rule,
    anonymous_tx,
    confidential_tx,
)
from xinlian.execution.confidential_monitor import run as run_rules
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
    ConfidentialUnavailable,
    NotTraceable,
    UnknownConfidentialAccount,
)
from xinlian.ledger.block import Receipt
from xinlian.ledger.genesis import ChainParams
from xinlian.ledger.rules import fuel_fee
from xinlian.ledger.transaction import SignedTransaction, TxBody, TxKind
from xinlian.sdk.errors import ConfidentialFailed
from xinlian.sdk.wallet import Wallet

if TYPE_CHECKING:
    from xinlian.sdk.client import Client

Hasher = Callable[[bytes], bytes]


def fee_limit(params: ChainParams, group: str, op: ConfidentialOp) -> int:
    """What a confidential operation is charged: the system cost and its verification's
    fuel (execution/confidential.py, VERIFY_FUEL)."""
    return params.system_cost + fuel_fee(params, VERIFY_FUEL[group][type(op)])


def register_op(sk: Scalar, chain_id: str, sender: bytes, nonce: int,
                rng: Rng = os.urandom) -> Register:
    return Register(elgamal.public_key(sk).encode(),
                    transfer.prove_key(sk, proof_context(chain_id, sender, nonce), rng))


def transfer_op(sk: Scalar, sender: ConfidentialAccount, receiver: ConfidentialAccount,
                to: bytes, regulator: SetRegulator, amount: int, chain_id: str,
                sender_address: bytes, nonce: int, hash_bytes: Hasher,
                rng: Rng = os.urandom) -> ConfidentialTransfer:
    """Send `amount` to `to` (whose account is `receiver`) from `sender`, decrypted here."""
    group = GROUPS[regulator.group]
    balance_ct = elgamal.decode(group, sender.balance)
    statement = transfer.TransferStatement(
        proof_context(chain_id, sender_address, nonce), decode_point(group, sender.key),
        decode_point(group, receiver.key), decode_point(group, regulator.public_key),
        balance_ct)
    note = transfer.prove_transfer(statement, sk, elgamal.decrypt(sk, balance_ct), amount, rng)
    return ConfidentialTransfer(to, note.encode(), balance_digest(hash_bytes, sender.balance))


def withdraw_op(sk: Scalar, account: ConfidentialAccount, amount: int, chain_id: str,
                sender: bytes, nonce: int, hash_bytes: Hasher,
                rng: Rng = os.urandom) -> Withdraw:
    group = sk.group
    balance_ct = elgamal.decode(group, account.balance)
    note = transfer.prove_withdraw(sk, balance_ct, elgamal.decrypt(sk, balance_ct), amount,
                                   proof_context(chain_id, sender, nonce), rng)
    return Withdraw(amount, note.encode(), balance_digest(hash_bytes, account.balance))


def payment(sk: Scalar, sender: ConfidentialAccount, receiver: ConfidentialAccount,
            regulator: SetRegulator, amount: int, floor: int, chain_id: str, origin: bytes,
            nonce: int, contract: bytes, hash_bytes: Hasher, rng: Rng = os.urandom) -> bytes:
    """The `payment` argument of a contract's `conf_pay(to, floor, payment)`: `amount`
    (at least `floor`) from `origin` to the account `receiver`, proven for the
    transaction `origin` signs with `nonce` calling `contract`."""
    group = GROUPS[regulator.group]
    balance_ct = elgamal.decode(group, sender.balance)
    statement = transfer.TransferStatement(
        pay_context(chain_id, origin, nonce, contract), decode_point(group, sender.key),
        decode_point(group, receiver.key), decode_point(group, regulator.public_key),
        balance_ct)
    note, floor_proof = transfer.prove_transfer_floor(
        statement, sk, elgamal.decrypt(sk, balance_ct), amount, floor, rng)
    return codec.encode(ContractPayment(note.encode(), balance_digest(hash_bytes,
                                                                      sender.balance),
                                        floor_proof))


def request_op(group: Group, trace: Trace, chain_id: str, transfer_id: bytes, index: int,
               rng: Rng = os.urandom) -> tuple[OpenRequest, Scalar]:
    """Member `index`'s request to open `transfer_id`, and the blinding rho it must keep:
    without rho nobody, the requester included, reads the amount from the opening."""
    rho, blinded, proof = blind(decode_point(group, trace.c1),
                                request_context(chain_id, transfer_id, index), rng)
    return OpenRequest(transfer_id, blinded.encode(), proof), rho


def share_op(secret: Scalar, index: int, request: OpenRequestRecord, chain_id: str,
             transfer_id: bytes, rng: Rng = os.urandom) -> OpenShare:
    """Member `index`'s decryption share of transfer `transfer_id` on the pending
    request's blinded base, with its proof."""
    base = decode_point(secret.group, request.blinded)
    share, proof = decryption_share(secret, base, share_context(chain_id, transfer_id, index),
                                    rng)
    return OpenShare(transfer_id, share.encode(), proof)


@dataclass(frozen=True)
class OpenedTransfer:
    """A transfer the regulator opened on chain: parties, amount, who opened it, when
    (`requester`: the member who asked, None for an opening made before blinding)."""

    tx_hash: bytes
    sender: bytes
    receiver: bytes
    amount: int
    members: list[int]
    height: int
    requester: int | None = None


def opened_amount(group: Group, opened: Opened) -> int:
    """The amount of an opening made before blinding (public on chain)."""
    return dlog.solve(decode_point(group, opened.amount_point, identity_ok=True))


def blind_opened_amount(group: Group, regulator: SetRegulator, trace: Trace,
                        opening: BlindOpened, rho: Scalar) -> int:
    """The amount of a blinded opening, for whoever holds its request's rho."""
    if group.base_mul(rho) + decode_point(group, trace.c1) != decode_point(group,
                                                                           opening.blinded):
        raise MalformedProofError("the blinding is not this opening's request's")
    shares = {s.index: decode_point(group, s.share) for s in opening.shares}
    return open_blinded(group, decode_point(group, trace.c2), shares, rho,
                        decode_point(group, regulator.public_key))


@dataclass(frozen=True)
class MonitorReport:
    """What `monitor` found: the findings, how many opened transactions the rules saw,
    and the blinded openings it could not read (no blinding of theirs was given)."""

    findings: list[Finding]
    opened: int
    unread: list[bytes]


def opened_transfer_ids(client: Client, from_height: int = 0) -> list[bytes]:
    """The ids of the transfers (confidential and anonymous) that regulator members
    shared on in blocks `from_height` .. the tip, in order: each block is read verified
    against the chain's headers."""
    ids: dict[bytes, None] = {}
    for height in range(max(from_height, 1), client.status().height + 1):
        view = client.block(height, full=True)
        for raw in (view.txs or []) if view is not None else []:
            body = codec.decode(codec.decode(raw, SignedTransaction).body, TxBody)
            try:
                if body.kind == TxKind.CONFIDENTIAL:
                    op: object = codec.decode(body.payload, ConfidentialOp)
                elif body.kind == TxKind.ANONYMOUS:
                    op = codec.decode(body.payload, AnonymousOp)
                else:
                    continue
            except codec.CodecError:
                continue  # refused by the chain: opens nothing
            if isinstance(op, OpenShare | AnonOpenShare):
                ids[op.transfer] = None
    return list(ids)


def monitor(client: Client, rules: list[Rule], *, from_height: int = 0,
            blindings: Mapping[bytes, Sequence[Scalar]] | None = None) -> MonitorReport:
    """Run the regulator's rules (execution/confidential_monitor.py) over every
    transaction opened from block `from_height` on, each opening read proven. A blinded
    opening reads with its request's blindings from `blindings` (by transfer id: a
    confidential transfer's [rho], an anonymous one's rhos); without them, it is listed
    as unread and no rule sees it."""
    from xinlian.sdk.anonymous import AnonymousNotes

    conf = ConfidentialAccounts(client)
    anon = AnonymousNotes(client)
    txs: list[OpenedTx] = []
    unread: list[bytes] = []
    for tx_id in opened_transfer_ids(client, from_height):
        rhos = (blindings or {}).get(tx_id)
        trace = conf.trace(tx_id)
        if trace is not None:
            if rhos is None and conf.blind_opening(tx_id) is not None:
                unread.append(tx_id)
                continue
            found = conf.opened(tx_id, None if rhos is None else rhos[0])
            if found is not None:
                txs.append(confidential_tx(tx_id, trace.height, found.sender,
                                           found.receiver, found.amount))
            continue
        anon_trace = anon.trace(tx_id)
        if anon_trace is None:
            continue
        if rhos is None and anon.blind_opening(tx_id) is not None:
            unread.append(tx_id)
            continue
        opened = anon.opened(tx_id, rhos)
        if opened is not None:
            txs.append(anonymous_tx(tx_id, anon_trace.height, opened.senders,
                                    opened.receivers, opened.amounts))
    return MonitorReport(run_rules(rules, txs), len(txs), unread)


class ConfidentialAccounts:
    """A wallet's confidential account on a chain: `secret` decrypts and proves for it."""

    def __init__(self, client: Client, wallet: Wallet | None = None,
                 secret: Scalar | None = None, timeout: float = 30.0) -> None:
        """Without `wallet`, only the reads that name their account (`account(address)`,
        `trace`, `opened`); without `secret`, no balance and no proof."""
        self.client = client
        self.wallet = wallet
        self.secret = secret
        self.timeout = timeout

    # -- reads (each proven against the chain's headers) ---------------------------------

    def _read(self, key: bytes) -> bytes | None:
        return self.client.state_proof(key).value

    def regulator(self) -> SetRegulator | None:
        raw = self._read(REGULATOR_KEY)
        return None if raw is None else codec.decode(raw, SetRegulator)

    def _group(self) -> tuple[Group, SetRegulator]:
        reg = self.regulator()
        if reg is None:
            raise ConfidentialUnavailable("the chain has no regulator key yet")
        return GROUPS[reg.group], reg

    def account(self, address: bytes | None = None) -> ConfidentialAccount | None:
        raw = self._read(ACCOUNT_PREFIX + (address or self._wallet().address))
        return None if raw is None else codec.decode(raw, ConfidentialAccount)

    def balance(self) -> int:
        """This account's confidential balance, decrypted with `secret`."""
        account = self._need(self._wallet().address)
        sk = self._secret()
        return elgamal.decrypt(sk, elgamal.decode(sk.group, account.balance))

    def trace(self, tx_hash: bytes) -> Trace | None:
        raw = self._read(TRACE_PREFIX + tx_hash)
        return None if raw is None else codec.decode(raw, Trace)

    def shares(self, tx_hash: bytes) -> list[int]:
        """The members whose decryption shares of `tx_hash` are in, while it is not open."""
        raw = self._read(SHARES_PREFIX + tx_hash)
        return [] if raw is None else [s.index for s in codec.decode(raw, list[ShareRecord])]

    def request(self, tx_hash: bytes) -> OpenRequestRecord | None:
        """The pending open request of transfer `tx_hash`, if any."""
        return get_request(self._read, tx_hash)

    def blind_opening(self, tx_hash: bytes) -> BlindOpened | None:
        """The on-chain record of a blinded opening of `tx_hash` (no amount in it)."""
        return get_blind_opened(self._read, tx_hash)

    def opened(self, tx_hash: bytes, rho: Scalar | None = None) -> OpenedTransfer | None:
        """The transfer `tx_hash` as opened on chain (None: not opened yet). A blinded
        opening needs its request's blinding `rho` (UndecryptableError without it); an
        opening made before blinding reads without."""
        group, reg = self._group()
        found = self.blind_opening(tx_hash)
        if found is not None:
            trace = self.trace(tx_hash)
            if rho is None or trace is None:
                raise UndecryptableError("a blinded opening reads only with its request's "
                                         "blinding (the requester's --blinding file)")
            return OpenedTransfer(tx_hash, found.sender, found.receiver,
                                  blind_opened_amount(group, reg, trace, found, rho),
                                  [s.index for s in found.shares], found.height,
                                  found.requester)
        old = get_opened(self._read, tx_hash)
        if old is None:
            return None
        return OpenedTransfer(tx_hash, old.sender, old.receiver, opened_amount(group, old),
                              old.members, old.height)

    def payment(self, to: bytes, amount: int, floor: int, contract: bytes) -> bytes:
        """The `payment` argument of `conf_pay` for this wallet's next transaction, a call
        of `contract`: `amount` (at least `floor`) to the confidential account of `to`."""
        _, reg = self._group()
        w = self._wallet()
        return payment(self._secret(), self._need(w.address), self._need(to), reg, amount,
                       floor, w.chain_id, w.address, w.nonce, contract, w.suite.hash_bytes)

    # -- transactions ---------------------------------------------------------------------

    def register(self) -> Receipt:
        w = self._wallet()
        return self._send(register_op(self._secret(), w.chain_id, w.address, w.nonce))

    def deposit(self, amount: int) -> Receipt:
        return self._send(Deposit(amount))

    def transfer(self, to: bytes, amount: int) -> Receipt:
        """Send `amount` to the confidential account of `to`; the receipt's hash is what
        the regulator opens."""
        _, reg = self._group()
        w = self._wallet()
        op = transfer_op(self._secret(), self._need(w.address), self._need(to), to, reg,
                         amount, w.chain_id, w.address, w.nonce, w.suite.hash_bytes)
        return self._send(op)

    def withdraw(self, amount: int) -> Receipt:
        w = self._wallet()
        return self._send(withdraw_op(self._secret(), self._need(w.address), amount,
                                      w.chain_id, w.address, w.nonce, w.suite.hash_bytes))

    def request_open(self, tx_hash: bytes, index: int) -> tuple[Receipt, Scalar]:
        """As regulator member `index`: ask to open transfer `tx_hash`. Returns the receipt
        and the blinding rho, which only the caller holds: keep it to read the amount."""
        trace = self.trace(tx_hash)
        if trace is None:
            raise NotTraceable("no confidential transfer with that id")
        group, _ = self._group()
        op, rho = request_op(group, trace, self._wallet().chain_id, tx_hash, index)
        return self._send(op), rho

    def share(self, tx_hash: bytes, secret_share: Scalar, index: int) -> Receipt:
        """As regulator member `index` holding `secret_share`: publish the decryption share
        of transfer `tx_hash` on its pending request's blinded base (t of them record the
        opening on chain)."""
        request = self.request(tx_hash)
        if request is None:
            raise NotTraceable("no open request for that transfer: a regulator member "
                               "requests it first (xinlian private request)")
        return self._send(share_op(secret_share, index, request, self._wallet().chain_id,
                                   tx_hash))

    def _wallet(self) -> Wallet:
        if self.wallet is None:
            raise UnknownConfidentialAccount("this operation needs the account's wallet")
        return self.wallet

    def _secret(self) -> Scalar:
        """The account's key, refused when it is of another group than the chain's."""
        if self.secret is None:
            raise UnknownConfidentialAccount("this operation needs the confidential key")
        group, _ = self._group()
        if self.secret.group is not group:
            raise RangeProofStatementError(
                f"the key is a {self.secret.group.name} key; this chain's confidential "
                f"accounts are {group.name} (xinlian private keygen --group {group.name})")
        return self.secret

    def _need(self, address: bytes) -> ConfidentialAccount:
        found = self.account(address)
        if found is None:
            raise UnknownConfidentialAccount(
                f"0x{address.hex()} has registered no confidential key")
        return found

    def _send(self, op: ConfidentialOp) -> Receipt:
        reg = self.regulator()
        group = "ristretto255" if reg is None else reg.group
        w = self._wallet()
        tx = w.sign(TxKind.CONFIDENTIAL, codec.encode(op),
                    fee_limit=fee_limit(w.params, group, op))
        receipt = self.client.send(tx, self.timeout)
        if receipt.status != 0:
            raise ConfidentialFailed(receipt)
        return receipt


def new_secret(group: str, rng: Rng = os.urandom) -> Scalar:
    """A fresh confidential-account key (OS CSPRNG) in the chain's confidential group."""
    return GROUPS[group].random_scalar(rng)


def load_secret(path: str) -> Scalar:
    """The key of a confidential key file (`xinlian private keygen`); MalformedProofError
    for a file that is not one, or whose secret does not match its public key."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        group = get_group(doc["group"])
        sk = group.decode_scalar(bytes.fromhex(doc["secret"]))
        public = bytes.fromhex(doc["public_key"])
    except (OSError, ValueError, KeyError, TypeError, GroupError) as exc:
        raise MalformedProofError(f"confidential key file {path}: {exc}") from exc
    except ConfidentialError as exc:
        raise MalformedProofError(f"confidential key file {path}: {exc.message}") from exc
    if elgamal.public_key(sk).encode() != public:
        raise MalformedProofError(f"{path}: the secret does not match the public key")
    return sk
