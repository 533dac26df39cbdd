"""Anonymous notes from the client side (docs/privacy.md, "Anonymous transfers"): build
and prove the operations of execution/anonymous.py, find the wallet's notes by scanning
the chain's notes with its view key (every read proven against the chain's headers),
and read the regulator's openings.

The builders (`register_op` ... `share_op`) are pure: they take the state they prove
against and return a payload. `AnonymousNotes` reads that state through a `Client`,
picks rings and receiver sets, proves, signs with a `Wallet` and waits for the receipt,
raising AnonymousFailed when the transaction failed on chain.

Who signs a transfer: the account that submits it, which pays its fee and is refunded
from the notes. A sender that submits its own transfer is named by its signature; to
stay hidden it hands the prepared transfer (`prepare_transfer(..., submitter=relayer)`)
to another account, the relayer, which submits it (`relay`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from xinlian import codec
from xinlian.crypto.primitives.groups import Element, Group, GroupError, Rng, Scalar
from xinlian.crypto.privacy import anonymous as anon
from xinlian.crypto.privacy.anonymous.keys import Keys
from xinlian.crypto.privacy.anonymous_binding import prove_binding
from xinlian.crypto.privacy.confidential import GROUPS, dlog, get_group
from xinlian.crypto.privacy.confidential.elgamal import decode_point
from xinlian.crypto.privacy.confidential.errors import MalformedProofError, UndecryptableError
from xinlian.crypto.privacy.confidential.tracing import blind, decryption_share, unblind
from xinlian.execution.anonymous import (
    ADDRESS_PREFIX,
    COUNT_KEY,
    IMAGE_PREFIX,
    OPENED_PREFIX,
    SHARES_PREFIX,
    SPEND_KEY_PREFIX,
    SUPPLY_KEY,
    TRACE_PREFIX,
    AnonBlindOpened,
    AnonOpened,
    AnonRequestRecord,
    AnonShareRecord,
    AnonTrace,
    StoredNote,
    binding_message,
    chain_context,
    get_blind_opened,
    get_request,
    note_key,
    op_fuel,
    request_context,
    share_context,
    transfer_fuel,
)
from xinlian.execution.anonymous_payloads import (
    MAX_INPUTS,
    AnonOpenRequest,
    AnonOpenShare,
    AnonTransfer,
    AnonymousOp,
    RegisterAddress,
    Shield,
)
from xinlian.execution.confidential import REGULATOR_KEY, proof_context
from xinlian.execution.confidential_payloads import SetRegulator
from xinlian.execution.errors import (
    AnonymousOverflow,
    BadRing,
    ConfidentialUnavailable,
    NotTraceable,
    ReceiverNotRegistered,
)
from xinlian.ledger.block import Receipt
from xinlian.ledger.genesis import ChainParams
from xinlian.ledger.rules import fuel_fee
from xinlian.ledger.transaction import TxKind
from xinlian.sdk.errors import AnonymousFailed
from xinlian.sdk.wallet import Wallet

if TYPE_CHECKING:
    from xinlian.sdk.client import Client

DEFAULT_RING = 4


def fee_of(params: ChainParams, fuel: int) -> int:
    """What an anonymous operation of `fuel` verification fuel is charged."""
    return params.system_cost + fuel_fee(params, fuel)


def register_op(keys: Keys, chain_id: str, sender: bytes, nonce: int,
                rng: Rng = os.urandom) -> RegisterAddress:
    return RegisterAddress(keys.address(), anon.prove_registration(
        keys, proof_context(chain_id, sender, nonce), rng))


def shield_op(address: anon.Address, amount: int, receivers: Sequence[bytes],
              addresses: Sequence[anon.Address], regulator: Element, chain_id: str,
              rng: Rng = os.urandom) -> Shield:
    """A note of `amount` for `address`, hidden among `receivers` (accounts, whose
    registered `addresses` they are, in the same order)."""
    return Shield(list(receivers), anon.build_shield(
        address, amount, addresses, regulator=regulator, context=chain_context(chain_id),
        rng=rng))


@dataclass(frozen=True)
class Payment:
    """One output: `amount` to `address`, hidden in the receiver set `accounts` (whose
    registered addresses are `addresses`, in order)."""

    address: anon.Address
    amount: int
    accounts: list[bytes]
    addresses: list[anon.Address]


def transfer_op(spends: Sequence[anon.OwnedNote], rings: Sequence[Sequence[int]],
                ring_notes: Sequence[Sequence[anon.Note]], payments: Sequence[Payment],
                fee: int, regulator: Element, chain_id: str, submitter: bytes,
                public_out: int = 0, to: bytes | None = None,
                rng: Rng = os.urandom) -> AnonTransfer:
    """Spend `spends`, each in its ring (note indices `rings`, the notes `ring_notes`),
    into `payments`, with `fee` for `submitter` and `public_out` for the account `to`."""
    context = chain_context(chain_id)
    t = anon.build_transfer(spends, ring_notes, [(p.address, p.amount) for p in payments],
                            [p.addresses for p in payments], fee=fee, regulator=regulator,
                            context=context, public_out=public_out, rng=rng)
    binding = prove_binding(spends[0], ring_notes[0], t, context,
                            binding_message(submitter, to), rng)
    return AnonTransfer([list(r) for r in rings], [p.accounts for p in payments], t,
                        binding, to)


def request_op(group: Group, trace: AnonTrace, chain_id: str, tx_hash: bytes, index: int,
               rng: Rng = os.urandom) -> tuple[AnonOpenRequest, list[Scalar]]:
    """Member `index`'s request to open transfer `tx_hash`, and the blindings (one per
    ciphertext, independent) it must keep: without them nobody reads the opening."""
    context = request_context(chain_id, tx_hash, index)
    made = [blind(ct.c1, ct.share_context(context), rng)
            for ct in (c.decode(group) for c in trace.ciphers)]
    return (AnonOpenRequest(tx_hash, [b.encode() for _, b, _ in made],
                            [p for _, _, p in made]), [rho for rho, _, _ in made])


def share_op(secret: Scalar, index: int, trace: AnonTrace, request: AnonRequestRecord,
             chain_id: str, tx_hash: bytes, rng: Rng = os.urandom) -> AnonOpenShare:
    """Member `index`'s decryption shares of every ciphertext of transfer `tx_hash`, on
    the pending request's blinded bases."""
    group = secret.group
    context = share_context(chain_id, tx_hash, index)
    shares, proofs = [], []
    for cipher, base in zip(trace.ciphers, request.blinded, strict=True):
        ct = cipher.decode(group)
        share, proof = decryption_share(secret, decode_point(group, base),
                                        ct.share_context(context), rng)
        shares.append(share.encode())
        proofs.append(proof)
    return AnonOpenShare(tx_hash, shares, proofs)


def blind_opened_points(group: Group, regulator: SetRegulator, trace: AnonTrace,
                        opening: AnonBlindOpened, rhos: Sequence[Scalar]) -> list[Element]:
    """The plaintext of each ciphertext of a blinded opening, for whoever holds its
    request's blindings (MalformedProofError for others')."""
    public = decode_point(group, regulator.public_key)
    if len(rhos) != len(trace.ciphers):
        raise MalformedProofError(f"the transfer has {len(trace.ciphers)} ciphertexts, "
                                  f"the blinding file {len(rhos)}")
    points = []
    for k, (cipher, rho) in enumerate(zip(trace.ciphers, rhos, strict=True)):
        ct = cipher.decode(group)
        if ct.c1 + group.base_mul(rho) != decode_point(group, opening.blinded[k]):
            raise MalformedProofError("the blinding is not this opening's request's")
        shares = {s.index: decode_point(group, s.shares[k]) for s in opening.shares}
        points.append(unblind(group, ct.c2, shares, rho, public))
    return points


def pick_ring(real: int, count: int, size: int, rng: Rng) -> list[int]:
    """A ring of `size` note indices below `count` holding `real`, decoys drawn
    uniformly, in increasing order (the order says nothing of which is real)."""
    if count < size:
        raise BadRing(f"a ring of {size} needs {size} notes on chain, there are {count}")
    ring = {real}
    while len(ring) < size:
        ring.add(_below(rng, count))
    return sorted(ring)


def _below(rng: Rng, n: int) -> int:
    """Uniform in [0, n) by rejection from 8 random bytes."""
    limit = (1 << 64) - (1 << 64) % n
    while True:
        x = int.from_bytes(rng(8), "big")
        if x < limit:
            return x % n


@dataclass(frozen=True)
class OpenedTransfer:
    """A transfer the regulator opened on chain: the accounts owning the spent notes,
    the receivers and amounts of the outputs, who opened it, when (`requester`: the
    member who asked, None for an opening made before blinding)."""

    tx_hash: bytes
    senders: list[bytes]
    receivers: list[bytes]
    amounts: list[int]
    members: list[int]
    height: int
    requester: int | None = None


class AnonymousNotes:
    """A wallet's anonymous notes on a chain: `keys` find, read and spend them."""

    def __init__(self, client: Client, wallet: Wallet | None = None, keys: Keys | None = None,
                 timeout: float = 30.0, rng: Rng = os.urandom) -> None:
        """Without `wallet`, only reads; without `keys`, no scan and no proof. `rng`:
        the OS CSPRNG unless a test seeds it."""
        self.client = client
        self.wallet = wallet
        self.keys = keys
        self.timeout = timeout
        self.rng = rng
        self._notes: list[anon.Note] = []  # the chain's notes read so far, by index

    # -- reads (each proven against the chain's headers) ---------------------------------

    def _read(self, key: bytes) -> bytes | None:
        return self.client.state_proof(key).value

    def regulator(self) -> SetRegulator:
        raw = self._read(REGULATOR_KEY)
        if raw is None:
            raise ConfidentialUnavailable("the chain has no regulator key yet")
        return codec.decode(raw, SetRegulator)

    def address(self, account: bytes) -> anon.Address | None:
        raw = self._read(ADDRESS_PREFIX + account)
        return None if raw is None else codec.decode(raw, anon.Address)

    def supply(self) -> int:
        raw = self._read(SUPPLY_KEY)
        return 0 if raw is None else codec.decode(raw, int)

    def notes(self) -> list[anon.Note]:
        """Every note on chain, by index (those read before are not read again)."""
        raw = self._read(COUNT_KEY)
        count = 0 if raw is None else codec.decode(raw, int)
        for index in range(len(self._notes), count):
            found = self._read(note_key(index))
            assert found is not None  # notes 0..count-1 exist: the proof says so
            self._notes.append(codec.decode(found, StoredNote).note)
        return self._notes

    def scan(self) -> list[anon.OwnedNote]:
        """The wallet's unspent notes: those its view key finds whose key images are not
        spent on chain."""
        keys = self._keys()
        context = chain_context(self._wallet().chain_id)
        owned = anon.scan(keys, enumerate(self.notes()))
        return [n for n in owned if self._read(IMAGE_PREFIX + n.key_image(context)) is None]

    def balance(self) -> int:
        return sum(n.amount for n in self.scan())

    def trace(self, tx_hash: bytes) -> AnonTrace | None:
        raw = self._read(TRACE_PREFIX + tx_hash)
        return None if raw is None else codec.decode(raw, AnonTrace)

    def shares(self, tx_hash: bytes) -> list[int]:
        """The members whose shares of `tx_hash` are in, while it is not open."""
        raw = self._read(SHARES_PREFIX + tx_hash)
        return [] if raw is None else [
            s.index for s in codec.decode(raw, list[AnonShareRecord])]

    def request(self, tx_hash: bytes) -> AnonRequestRecord | None:
        """The pending open request of transfer `tx_hash`, if any."""
        return get_request(self._read, tx_hash)

    def blind_opening(self, tx_hash: bytes) -> AnonBlindOpened | None:
        """The on-chain record of a blinded opening of `tx_hash` (no plaintext in it)."""
        return get_blind_opened(self._read, tx_hash)

    def opened(self, tx_hash: bytes, rhos: Sequence[Scalar] | None = None
               ) -> OpenedTransfer | None:
        """The transfer `tx_hash` as opened on chain (None: not opened yet). A blinded
        opening needs its request's blindings `rhos` (UndecryptableError without them);
        the spend keys it finds are named by their accounts (`anon/spend/<B>`, proven)."""
        reg = self.regulator()
        group = GROUPS[reg.group]
        blinded = self.blind_opening(tx_hash)
        if blinded is not None:
            trace = self.trace(tx_hash)
            if rhos is None or trace is None:
                raise UndecryptableError("a blinded opening reads only with its request's "
                                         "blindings (the requester's --blinding file)")
            points = blind_opened_points(group, reg, trace, blinded, rhos)
            found: dict[str, list[Element]] = {"sender": [], "receiver": [], "amount": []}
            for cipher, point in zip(trace.ciphers, points, strict=True):
                found[cipher.role].append(point)
            return OpenedTransfer(
                tx_hash, [self._account_of(p) for p in found["sender"]],
                [self._account_of(p) for p in found["receiver"]],
                [dlog.solve(p) for p in found["amount"]],
                [s.index for s in blinded.shares], blinded.height, blinded.requester)
        raw = self._read(OPENED_PREFIX + tx_hash)
        if raw is None:
            return None
        found_old = codec.decode(raw, AnonOpened)
        amounts = [dlog.solve(decode_point(group, p, identity_ok=True))
                   for p in found_old.amount_points]
        return OpenedTransfer(tx_hash, found_old.senders, found_old.receivers, amounts,
                              found_old.members, found_old.height)

    def _account_of(self, spend_key: Element) -> bytes:
        """The account that registered `spend_key` (b"": none, or not a key at all)."""
        if spend_key.is_identity():
            return b""
        return self._read(SPEND_KEY_PREFIX + spend_key.encode()) or b""

    # -- transactions ---------------------------------------------------------------------

    def register(self) -> Receipt:
        w = self._wallet()
        return self._send(register_op(self._keys(), w.chain_id, w.address, w.nonce, self.rng))

    def shield(self, amount: int, among: Sequence[bytes] = ()) -> Receipt:
        """Move `amount` of the public balance into a note of this wallet's, its
        receiver set this account and the accounts `among`."""
        w = self._wallet()
        accounts, addresses = self._receiver_set([w.address, *among])
        op = shield_op(self._keys().address(), amount, accounts, addresses,
                       self._regulator_key(), w.chain_id, self.rng)
        return self._send(op)

    def prepare_transfer(self, to: bytes | None, amount: int, *, among: Sequence[bytes] = (),
                         public_out: int = 0, public_to: bytes | None = None,
                         submitter: bytes | None = None, ring: int = DEFAULT_RING
                         ) -> AnonTransfer:
        """Pay `amount` to the anonymous address of account `to` (None: nothing), and
        `public_out` to the public balance of `public_to` (an unshield), from this
        wallet's notes, the change back to it. Each note spent hides in a ring of `ring`
        notes, each output in the receiver set {to, this account} + `among`. The fee
        refunds `submitter` (default: this wallet), who alone can submit it."""
        w = self._wallet()
        group = self.regulator().group
        sub = submitter or w.address
        accounts, addresses = self._receiver_set(
            [a for a in (to, w.address) if a is not None] + list(among))
        mine = addresses[accounts.index(w.address)]
        owned = sorted(self.scan(), key=lambda n: -n.amount)
        outputs = 2 if to is not None and amount else 1
        for k in range(1, min(len(owned), MAX_INPUTS) + 1):
            fee = fee_of(w.params, transfer_fuel(group, [ring] * k,
                                                 [len(accounts)] * outputs))
            change = sum(n.amount for n in owned[:k]) - amount - public_out - fee
            if change >= 0:
                break
        else:
            raise AnonymousOverflow(f"the notes ({sum(n.amount for n in owned)}) do not "
                                    f"cover {amount} + {public_out} and the fee")
        spends = owned[:k]
        notes = self.notes()
        rings = [pick_ring(n.index, len(notes), ring, self.rng) for n in spends]
        payments = [Payment(mine, change, accounts, addresses)]
        if outputs == 2:
            assert to is not None
            payments.insert(0, Payment(addresses[accounts.index(to)], amount, accounts,
                                       addresses))
        return transfer_op(spends, rings, [[notes[i] for i in r] for r in rings], payments,
                           fee, self._regulator_key(), w.chain_id, sub, public_out,
                           public_to if public_out else None, self.rng)

    def relay(self, op: AnonTransfer) -> Receipt:
        """Submit a prepared transfer (made for this wallet as its submitter)."""
        return self._send(op)

    def transfer(self, to: bytes, amount: int, *, among: Sequence[bytes] = (),
                 ring: int = DEFAULT_RING) -> Receipt:
        """Prepare and submit a transfer from this wallet (whose signature names it)."""
        return self._send(self.prepare_transfer(to, amount, among=among, ring=ring))

    def unshield(self, amount: int, to: bytes | None = None, *, ring: int = DEFAULT_RING
                 ) -> Receipt:
        """Move `amount` from the notes to the public balance of `to` (this account)."""
        w = self._wallet()
        return self._send(self.prepare_transfer(None, 0, public_out=amount,
                                                public_to=to or w.address, ring=ring))

    def request_open(self, tx_hash: bytes, index: int) -> tuple[Receipt, list[Scalar]]:
        """As regulator member `index`: ask to open transfer `tx_hash`. Returns the receipt
        and the blindings, which only the caller holds: keep them to read the opening."""
        trace = self.trace(tx_hash)
        if trace is None:
            raise NotTraceable("no anonymous transfer with that hash")
        op, rhos = request_op(GROUPS[self.regulator().group], trace,
                              self._wallet().chain_id, tx_hash, index, self.rng)
        return self._send(op), rhos

    def share(self, tx_hash: bytes, secret_share: Scalar, index: int) -> Receipt:
        """As regulator member `index` holding `secret_share`: publish the decryption
        shares of transfer `tx_hash` on its pending request's blinded bases (t members'
        record the opening on chain)."""
        trace = self.trace(tx_hash)
        if trace is None:
            raise NotTraceable("no anonymous transfer with that hash")
        request = self.request(tx_hash)
        if request is None:
            raise NotTraceable("no open request for that transfer: a regulator member "
                               "requests it first (xinlian private anon request)")
        return self._send(share_op(secret_share, index, trace, request,
                                   self._wallet().chain_id, tx_hash, self.rng))

    def _receiver_set(self, accounts: Sequence[bytes]) -> tuple[list[bytes], list[anon.Address]]:
        """The distinct accounts, sorted, with their registered addresses."""
        ordered = sorted(set(accounts))
        addresses = []
        for account in ordered:
            found = self.address(account)
            if found is None:
                raise ReceiverNotRegistered(
                    f"0x{account.hex()} has registered no anonymous address")
            addresses.append(found)
        return ordered, addresses

    def _regulator_key(self) -> Element:
        reg = self.regulator()
        return decode_point(GROUPS[reg.group], reg.public_key)

    def _wallet(self) -> Wallet:
        if self.wallet is None:
            raise ReceiverNotRegistered("this operation needs the account's wallet")
        return self.wallet

    def _keys(self) -> Keys:
        if self.keys is None:
            raise ReceiverNotRegistered("this operation needs the anonymous keys")
        reg = self.regulator()
        if self.keys.view.group is not GROUPS[reg.group]:
            raise anon.StatementError(
                f"the keys are {self.keys.view.group.name} keys; this chain's notes are "
                f"{reg.group} (xinlian private anon keygen --group {reg.group})")
        return self.keys

    def _send(self, op: AnonymousOp) -> Receipt:
        w = self._wallet()
        fee = fee_of(w.params, op_fuel(self.regulator().group, op))
        tx = w.sign(TxKind.ANONYMOUS, codec.encode(op), fee_limit=fee)
        receipt = self.client.send(tx, self.timeout)
        if receipt.status != 0:
            raise AnonymousFailed(receipt)
        return receipt


def new_keys(group: str, rng: Rng = os.urandom) -> Keys:
    """Fresh anonymous keys (OS CSPRNG) in the chain's group."""
    return anon.keygen(get_group(group), rng)


def keys_doc(keys: Keys) -> dict[str, str]:
    """The JSON document of a key file (`xinlian private anon keygen`)."""
    address = keys.address()
    return {"kind": "anonymous-keys", "group": keys.view.group.name,
            "view": keys.view.encode().hex(), "spend": keys.spend.encode().hex(),
            "view_key": address.view.hex(), "spend_key": address.spend.hex()}


def load_keys(path: str) -> Keys:
    """The keys of a key file; MalformedProofError for a file that is not one, or whose
    secrets do not match its public keys."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        group = get_group(doc["group"])
        keys = Keys(group.decode_scalar(bytes.fromhex(doc["view"])),
                    group.decode_scalar(bytes.fromhex(doc["spend"])))
        public = (bytes.fromhex(doc["view_key"]), bytes.fromhex(doc["spend_key"]))
    except (OSError, ValueError, KeyError, TypeError, GroupError) as exc:
        raise MalformedProofError(f"anonymous key file {path}: {exc}") from exc
    address = keys.address()
    if (address.view, address.spend) != public:
        raise MalformedProofError(f"{path}: the secrets do not match the public keys")
    return keys
