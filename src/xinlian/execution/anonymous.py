"""Anonymous notes (kind ANONYMOUS): addresses, shielding, ring-signed transfers between
notes, unshielding and the regulator's opening; the rules of each operation are below,
the payloads in execution/anonymous_payloads.py, the proofs in crypto/privacy/anonymous/.

State (world-state keys, proven like any account):
  anon/addr/<account>   the account's registered address (records.Address)
  anon/spend/<B>        the account a spend key B belongs to (an opening names accounts)
  anon/note/<index>     note `index` (8 bytes, big-endian), in order of creation
  anon/notes            how many notes there are
  anon/ki/<image>       a spent note's key image: the transaction that spent it
  anon/otk/<P>          a stored note's one-time key: its index (no key is stored twice)
  anon/supply           the value held in notes: shielded - (unshielded + fees)
  anon/trace/<tx>       a transfer's ciphertexts for the regulator (AnonTrace)
  anon/req/<tx>         a regulator member's pending open request: the blinded bases
  anon/share/<tx>       the members' decryption shares on them published so far
  anon/open2/<tx>       once t members' shares are in: the opening (AnonBlindOpened),
                        readable only by the requester, who knows the blindings
  anon/open/<tx>        an opening made before blinding (AnonOpened, public): read only

Every proof is verified before anything is written (the whole of every transfer of a
block in one batch, `begin_block`); a failing one raises its typed error and the
executor drops the operation's writes. Value: a shield moves its public amount from the
sender into `anon/supply`; a transfer's proofs show its inputs cover its outputs plus
`fee + public_out`, which leave `anon/supply`: `public_out` to the public balance of
`to`, `fee` to the submitter (who paid the transaction's fee: a relayer is refunded
from the notes, so the sender need not sign). A key image is written once: a note
spent twice, even in one block, is refused. The regulator key is confidential
transfers' (`conf/reg`, execution/confidential.py); its members open a transfer by the
blinded opening of execution/confidential_opening.py, as they open a confidential one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from xinlian import codec
from xinlian.codec import Struct
from xinlian.crypto.primitives.groups import Group
from xinlian.crypto.privacy import anonymous as anon
from xinlian.crypto.privacy.anonymous.opening import RegulatorCiphertext, Role
from xinlian.crypto.privacy.anonymous_binding import verify_binding
from xinlian.crypto.privacy.confidential import GROUPS
from xinlian.crypto.privacy.confidential.elgamal import decode_point
from xinlian.crypto.privacy.confidential.errors import ConfidentialError
from xinlian.crypto.privacy.confidential.transfer import MAX_AMOUNT
from xinlian.execution.anonymous_payloads import (
    MAX_CIPHERS,
    MAX_INPUTS,
    MAX_OUTPUTS,
    MAX_RECEIVERS,
    MAX_RING,
    MIN_RING,
    AnonOpenRequest,
    AnonOpenShare,
    AnonTransfer,
    AnonymousOp,
    RegisterAddress,
    Shield,
)
from xinlian.execution.confidential import VERIFY_FUEL as CONFIDENTIAL_FUEL
from xinlian.execution.confidential import (
    Store,
    get_record,
    get_regulator,
    proof_context,
    verifier_rng,
)
from xinlian.execution.confidential_opening import (
    Traced,
    process_request,
    process_share,
    regulator_member,
)
from xinlian.execution.confidential_payloads import OpenRequest, SetRegulator
from xinlian.execution.errors import (
    AnonymousOverflow,
    BadPayload,
    BadRing,
    ConfidentialUnavailable,
    InsufficientBalance,
    KeyImageSpent,
    NoteExists,
    ReceiverNotRegistered,
    UnknownNote,
)
from xinlian.execution.state import Overlay
from xinlian.ledger.account import Account
from xinlian.ledger.block import Event
from xinlian.ledger.transaction import Transaction, TxKind

ADDRESS_PREFIX = b"anon/addr/"
SPEND_KEY_PREFIX = b"anon/spend/"
NOTE_PREFIX = b"anon/note/"
COUNT_KEY = b"anon/notes"
IMAGE_PREFIX = b"anon/ki/"
ONE_TIME_PREFIX = b"anon/otk/"
SUPPLY_KEY = b"anon/supply"
TRACE_PREFIX = b"anon/trace/"
SHARES_PREFIX = b"anon/share/"
REQUEST_PREFIX = b"anon/req/"
BLIND_OPENED_PREFIX = b"anon/open2/"
OPENED_PREFIX = b"anon/open/"  # openings before blinding: read only

Hasher = Callable[[bytes], bytes]
Read = Callable[[bytes], bytes | None]


class StoredNote(Struct):
    note: anon.Note
    tx: bytes  # the transaction that made it
    height: int


class Cipher(Struct):
    """One ciphertext for the regulator (opening.RegulatorCiphertext): the sender of
    spend `index`, or the receiver or amount of output `index`."""

    role: str
    index: int
    c1: bytes
    c2: bytes

    def decode(self, group: Group) -> RegulatorCiphertext:
        return RegulatorCiphertext(_ROLES[self.role], self.index,
                                   decode_point(group, self.c1), decode_point(group, self.c2))


_ROLES: dict[str, Role] = {"sender": "sender", "receiver": "receiver", "amount": "amount"}


class AnonTrace(Struct):
    """What the regulator opens, under the key `regulator`."""

    ciphers: list[Cipher]
    regulator: bytes
    height: int


class AnonShareRecord(Struct):
    index: int
    shares: list[bytes]


class AnonOpened(Struct):
    """An opening made before blinding: the accounts that owned the spent notes and that
    receive the new ones (by their registered spend keys), each output's v*G (the amount,
    found by a 32-bit search, dlog.py), the members whose shares opened it and the block."""

    senders: list[bytes]
    receivers: list[bytes]
    amount_points: list[bytes]
    members: list[int]
    height: int


class AnonRequestRecord(Struct):
    """A pending open request: the requesting member, each ciphertext's c1' and the block."""

    requester: int
    blinded: list[bytes]
    height: int


class AnonBlindOpened(Struct):
    """An opening on chain: the requesting member, the blinded bases and the t members'
    shares on them (each checked against its member's verifying share), and the block.
    Each plaintext is c2 - (sum lambda_i*D_i' - rho_k*pk_R): the requester's to compute."""

    requester: int
    blinded: list[bytes]
    shares: list[AnonShareRecord]
    height: int


def note_key(index: int) -> bytes:
    return NOTE_PREFIX + index.to_bytes(8, "big")


def get_address(read: Read, account: bytes) -> anon.Address | None:
    return get_record(read, ADDRESS_PREFIX + account, anon.Address)


def get_count(read: Read) -> int:
    return get_record(read, COUNT_KEY, int) or 0


def get_note(read: Read, index: int) -> StoredNote | None:
    return get_record(read, note_key(index), StoredNote)


def get_supply(read: Read) -> int:
    return get_record(read, SUPPLY_KEY, int) or 0


def get_trace(read: Read, tx_hash: bytes) -> AnonTrace | None:
    return get_record(read, TRACE_PREFIX + tx_hash, AnonTrace)


def get_opened(read: Read, tx_hash: bytes) -> AnonOpened | None:
    return get_record(read, OPENED_PREFIX + tx_hash, AnonOpened)


def get_request(read: Read, tx_hash: bytes) -> AnonRequestRecord | None:
    return get_record(read, REQUEST_PREFIX + tx_hash, AnonRequestRecord)


def get_blind_opened(read: Read, tx_hash: bytes) -> AnonBlindOpened | None:
    return get_record(read, BLIND_OPENED_PREFIX + tx_hash, AnonBlindOpened)


def get_shares(read: Read, tx_hash: bytes) -> list[AnonShareRecord]:
    return get_record(read, SHARES_PREFIX + tx_hash, list[AnonShareRecord]) or []


def is_spent(read: Read, key_image: bytes) -> bool:
    return read(IMAGE_PREFIX + key_image) is not None


def chain_context(chain_id: str) -> bytes:
    """The context of every anonymous proof and key image on a chain: fixed per chain
    (a note has one key image, whatever transaction spends it)."""
    return codec.encode(["xinlian/anonymous", chain_id])


def binding_message(submitter: bytes, to: bytes | None) -> bytes:
    """What a transfer's binding proof names: the account that submits it (and is
    refunded its fee) and the account its public amount goes to."""
    return codec.encode([submitter, to or b""])


def share_context(chain_id: str, tx_hash: bytes, index: int) -> bytes:
    """What member `index`'s decryption shares of a transfer are bound to (each share
    also to its ciphertext's role and position: RegulatorCiphertext.share_context)."""
    return codec.encode(["xinlian/anonymous", chain_id, tx_hash, index])


def request_context(chain_id: str, tx_hash: bytes, index: int) -> bytes:
    """What member `index`'s open request's proofs are bound to (each also to its
    ciphertext's role and position)."""
    return codec.encode(["xinlian/anonymous/open-request", chain_id, tx_hash, index])


def shield_amount(payload: bytes) -> int:
    """The public amount an ANONYMOUS payload takes from its sender (a shield's), for the
    mempool's spending budget."""
    try:
        op = codec.decode(payload, AnonymousOp)
    except codec.CodecError:
        return 0
    return max(op.transfer.public_in, 0) if isinstance(op, Shield) else 0


class Anonymous:
    """Runs anonymous-note operations on an overlay (the executor drops it on failure)."""

    def __init__(self, hash_bytes: Hasher) -> None:
        self.hash = hash_bytes
        # hashes of this block's transfers and shields whose proofs verified in one batch,
        # under the regulator key `batch_regulator` (a governance change later in the
        # block makes them verify again)
        self.verified: frozenset[bytes] = frozenset()
        self.batch_regulator = b""

    @staticmethod
    def verify_fuel(read: Read, op: AnonymousOp) -> int:
        """The fuel the verification of `op` is worth (VERIFY_FUEL, by its shape)."""
        reg = get_regulator(read)
        return op_fuel("ristretto255" if reg is None else reg.group, op)

    def begin_block(self, read: Read, txs: Sequence[Transaction]) -> None:
        """Verify the proofs of the block's transfers and shields in one batch (their
        range proofs in one multi-scalar multiplication). A statement reads only notes
        and addresses, which never change once written: one that names some not there
        before the block is left to its turn. If the batch fails, each is verified alone."""
        self.verified = frozenset()
        reg = get_regulator(read)
        if reg is None:
            return
        group = GROUPS[reg.group]
        items: list[tuple[anon.Transfer, anon.Statement]] = []
        hashes = []
        for tx in txs:
            if tx.body.kind != TxKind.ANONYMOUS:
                continue
            try:
                op = codec.decode(tx.body.payload, AnonymousOp)
                if not isinstance(op, Shield | AnonTransfer):
                    continue
                st = _statement(read, group, reg, tx.body.chain_id, op)
            except (codec.CodecError, ConfidentialError, BadPayload, BadRing, UnknownNote,
                    ReceiverNotRegistered, AnonymousOverflow):
                continue  # fails on its own turn, with its typed error
            items.append((op.transfer, st))
            hashes.append(tx.hash)
        if len(items) < 2:
            return
        try:
            anon.batch_verify(items, verifier_rng(self.hash, b"".join(hashes)))
        except ConfidentialError:
            return
        self.verified = frozenset(hashes)
        self.batch_regulator = reg.public_key

    def execute(self, state: Overlay, chain_id: str, sender: bytes, nonce: int,
                tx_hash: bytes, height: int, op: AnonymousOp) -> list[Event]:
        reg = get_regulator(state.get)
        if reg is None:
            raise ConfidentialUnavailable("no regulator key: governance sets one first")
        group = GROUPS[reg.group]
        if isinstance(op, RegisterAddress):
            return _register(state, group, chain_id, sender, nonce, op)
        if isinstance(op, AnonOpenRequest):
            index = process_request(state, _RECORDS, group, reg, sender, op.transfer,
                                    _traced(group, state.get, op.transfer, chain_id, reg,
                                            sender),
                                    list(op.blinded), list(op.proofs), height)
            return [Event("anonymous", "OpenRequested", codec.encode([op.transfer, index]))]
        if isinstance(op, AnonOpenShare):
            index, opened = process_share(state, _RECORDS, group, reg, sender, op.transfer,
                                          _traced(group, state.get, op.transfer, chain_id,
                                                  reg, sender),
                                          list(op.shares), list(op.proofs), height)
            events = [Event("anonymous", "OpenShare", codec.encode([op.transfer, index]))]
            return [*events, Event("anonymous", "Opened", op.transfer)] if opened else events
        st = _statement(state.get, group, reg, chain_id, op)
        t = op.transfer
        for image in {s.key_image for s in t.spends}:
            if is_spent(state.get, image):
                raise KeyImageSpent(f"key image {image.hex()[:16]}... is spent already")
        for out in t.outputs:
            if state.get(ONE_TIME_PREFIX + out.note.one_time_key) is not None:
                raise NoteExists("an output's one-time key is a stored note's already")
        if isinstance(op, AnonTransfer):
            verify_binding(group, t, st.rings[0], st.context,
                           binding_message(sender, op.to), op.binding)
        if tx_hash not in self.verified or reg.public_key != self.batch_regulator:
            anon.verify_transfer(t, st, verifier_rng(self.hash, tx_hash))
        supply = get_supply(state.get) + t.public_in - t.fee - t.public_out
        if supply < 0:  # the proofs make this impossible; a ledger never goes negative
            raise AnonymousOverflow("the notes hold less than the transfer takes out")
        if isinstance(op, Shield):
            public = state.account(sender)
            if public.balance < t.public_in:
                raise InsufficientBalance(f"balance {public.balance} < shield {t.public_in}")
            state.set_account(sender, Account(public.balance - t.public_in, public.nonce))
        else:
            _pay(state, sender, t.fee)
            if op.to is not None:
                _pay(state, op.to, t.public_out)
        for spend in t.spends:
            state.set(IMAGE_PREFIX + spend.key_image, tx_hash)
        first = get_count(state.get)
        for k, out in enumerate(t.outputs):
            state.set(note_key(first + k), codec.encode(StoredNote(out.note, tx_hash, height)))
            state.set(ONE_TIME_PREFIX + out.note.one_time_key, codec.encode(first + k))
        state.set(COUNT_KEY, codec.encode(first + len(t.outputs)))
        state.set(SUPPLY_KEY, codec.encode(supply))
        state.set(TRACE_PREFIX + tx_hash, codec.encode(AnonTrace(
            [Cipher(c.role, c.index, c.c1.encode(), c.c2.encode())
             for c in anon.regulator_ciphertexts(t)], reg.public_key, height)))
        name = "Shield" if isinstance(op, Shield) else "Transfer"
        return [Event("anonymous", name, codec.encode(
            [first, len(t.outputs), t.public_in, t.fee, t.public_out]))]


def _pay(state: Overlay, to: bytes, amount: int) -> None:
    account = state.account(to)
    state.set_account(to, Account(account.balance + amount, account.nonce))


def _register(state: Overlay, group: Group, chain_id: str, sender: bytes, nonce: int,
              op: RegisterAddress) -> list[Event]:
    if get_address(state.get, sender) is not None:
        raise ReceiverNotRegistered("the account has an anonymous address already")
    if state.get(SPEND_KEY_PREFIX + op.address.spend) is not None:
        raise ReceiverNotRegistered("that spend key is another account's")
    anon.verify_registration(group, op.address, proof_context(chain_id, sender, nonce),
                             op.proof)
    state.set(ADDRESS_PREFIX + sender, codec.encode(op.address))
    state.set(SPEND_KEY_PREFIX + op.address.spend, sender)
    return [Event("anonymous", "Registered", sender)]


def _ring(read: Read, ring: Sequence[int]) -> list[anon.Note]:
    if not MIN_RING <= len(ring) <= MAX_RING:
        raise BadRing(f"a ring holds {MIN_RING} to {MAX_RING} notes, got {len(ring)}")
    if len(set(ring)) != len(ring):
        raise BadRing("a ring names a note twice")
    count = get_count(read)
    notes = []
    for index in ring:
        found = get_note(read, index) if 0 <= index < count else None
        if found is None:
            raise UnknownNote(f"no note {index} (there are {count})")
        notes.append(found.note)
    return notes


def _receivers(read: Read, accounts: Sequence[bytes]) -> list[anon.Address]:
    """The registered addresses of a receiver set's accounts."""
    if not 1 <= len(accounts) <= MAX_RECEIVERS:
        raise BadRing(f"a receiver set holds 1 to {MAX_RECEIVERS} accounts, "
                      f"got {len(accounts)}")
    if len(set(accounts)) != len(accounts):
        raise BadRing("a receiver set names an account twice")
    found = []
    for account in accounts:
        address = get_address(read, account)
        if address is None:
            raise ReceiverNotRegistered(f"0x{account.hex()} has registered no anonymous "
                                        "address")
        found.append(address)
    return found


def _statement(read: Read, group: Group, reg: SetRegulator, chain_id: str,
               op: Shield | AnonTransfer) -> anon.Statement:
    """What the transfer's proofs are checked against, resolved from the state, after
    the shape and amount rules the chain adds to the proofs'."""
    t = op.transfer
    if t.group != group.name:
        raise BadPayload(f"a {t.group} transfer on a chain of {group.name} notes")
    if min(t.fee, t.public_in, t.public_out) < 0 or max(
            t.fee, t.public_in, t.public_out) > MAX_AMOUNT:
        raise AnonymousOverflow(f"public amounts are 0 to {MAX_AMOUNT}")
    if isinstance(op, Shield):
        if t.spends or len(t.outputs) != 1 or t.fee or t.public_out or t.public_in <= 0:
            raise BadPayload("a shield makes one note of a positive public amount")
        rings: list[list[anon.Note]] = []
        receivers = [_receivers(read, op.receivers)]
    else:
        if not 1 <= len(t.spends) <= MAX_INPUTS or not 1 <= len(t.outputs) <= MAX_OUTPUTS:
            raise BadRing(f"a transfer spends 1 to {MAX_INPUTS} notes into 1 to "
                          f"{MAX_OUTPUTS}")
        if len(op.rings) != len(t.spends) or len(op.receivers) != len(t.outputs):
            raise BadRing("one ring per spend and one receiver set per output")
        if t.public_in:
            raise BadPayload("a transfer takes no public amount in (shield it)")
        if (op.to is None) != (t.public_out == 0):
            raise BadPayload("a public amount out needs its receiving account, and only it")
        rings = [_ring(read, r) for r in op.rings]
        receivers = [_receivers(read, r) for r in op.receivers]
    return anon.Statement(decode_point(group, reg.public_key), chain_context(chain_id),
                          rings, receivers)


def _traced(group: Group, read: Read, tx_hash: bytes, chain_id: str, reg: SetRegulator,
            sender: bytes) -> Traced | None:
    """An anonymous transfer's ciphertexts as the opening sees them."""
    trace = get_trace(read, tx_hash)
    if trace is None:
        return None
    index = regulator_member(reg, sender).index
    ciphers = [c.decode(group) for c in trace.ciphers]
    requests = request_context(chain_id, tx_hash, index)
    shares = share_context(chain_id, tx_hash, index)
    return Traced(trace.regulator, [c.c1 for c in ciphers],
                  [c.share_context(requests) for c in ciphers],
                  [c.share_context(shares) for c in ciphers])


class _Records:
    """Anonymous openings' records (anon/req, anon/share, anon/open2) for
    execution/confidential_opening.py."""

    @staticmethod
    def is_opened(read: Read, tx_hash: bytes) -> bool:
        return (read(BLIND_OPENED_PREFIX + tx_hash) is not None
                or read(OPENED_PREFIX + tx_hash) is not None)

    @staticmethod
    def request(read: Read, tx_hash: bytes) -> tuple[int, list[bytes]] | None:
        found = get_request(read, tx_hash)
        return None if found is None else (found.requester, found.blinded)

    @staticmethod
    def put_request(state: Store, tx_hash: bytes, requester: int, blinded: list[bytes],
                    height: int) -> None:
        state.set(REQUEST_PREFIX + tx_hash,
                  codec.encode(AnonRequestRecord(requester, blinded, height)))

    @staticmethod
    def shares(read: Read, tx_hash: bytes) -> list[tuple[int, list[bytes]]]:
        return [(s.index, s.shares) for s in get_shares(read, tx_hash)]

    @staticmethod
    def put_shares(state: Store, tx_hash: bytes, shares: list[tuple[int, list[bytes]]]
                   ) -> None:
        state.set(SHARES_PREFIX + tx_hash, codec.encode(
            [AnonShareRecord(i, d) for i, d in shares]) if shares else None)

    @staticmethod
    def put_opened(state: Store, tx_hash: bytes, requester: int, blinded: list[bytes],
                   shares: list[tuple[int, list[bytes]]], height: int) -> None:
        state.set(SHARES_PREFIX + tx_hash, None)
        state.set(REQUEST_PREFIX + tx_hash, None)
        state.set(BLIND_OPENED_PREFIX + tx_hash, codec.encode(AnonBlindOpened(
            requester, blinded, [AnonShareRecord(i, d) for i, d in shares], height)))


_RECORDS = _Records()


class Costs(Struct):
    """Fuel of one verification, by part."""

    base: int  # a transfer's fixed part (balance proof, range proof's fixed share)
    ring_member: int  # each ring member (spend proof; the binding's, for the first ring)
    receiver: int  # each receiver-set member
    output: int  # each output (amount-escrow proof, its range-proof share)
    register: int
    share: int  # one decryption share's proof


def transfer_fuel(group: str, rings: Sequence[int], receivers: Sequence[int]) -> int:
    """The fuel of a transfer's verification: `rings` and `receivers` are the sizes of its
    rings and receiver sets (a shield has no ring)."""
    c = VERIFY_FUEL[group]
    binding = min(rings[0], MAX_RING) if rings else 0
    return (c.base + c.ring_member * (sum(min(n, MAX_RING) for n in rings[:MAX_INPUTS])
                                      + binding)
            + c.receiver * sum(min(m, MAX_RECEIVERS) for m in receivers[:MAX_OUTPUTS])
            + c.output * min(len(receivers), MAX_OUTPUTS))


def op_fuel(group: str, op: AnonymousOp) -> int:
    """The fuel `op`'s verification is worth on a chain of `group`'s notes."""
    if isinstance(op, RegisterAddress):
        return VERIFY_FUEL[group].register
    if isinstance(op, AnonOpenShare):
        return VERIFY_FUEL[group].share * min(len(op.shares), MAX_CIPHERS)
    if isinstance(op, AnonOpenRequest):  # each proof as a confidential request's, measured
        return CONFIDENTIAL_FUEL[group][OpenRequest] * min(len(op.blinded), MAX_CIPHERS)
    if isinstance(op, Shield):
        return transfer_fuel(group, [], [len(op.receivers)])
    return transfer_fuel(group, [len(r) for r in op.rings], [len(r) for r in op.receivers])


# Fuel each part's verification is worth: its verify time measured by `python -m
# benchmarks.privacy_anontx` (CPU time on the development machine, fitted over four
# shapes; the larger figure of two runs) at plain Wasm code's 20 fuel per ns
# (execution/vm/engine.py), plus 10 %, rounded up to a million. A transfer of one spend
# in a ring of 4 to two outputs in sets of 2 is 37 + 13*(4 + 4) + 11*4 + 133*2 = 451 M
# fuel on ristretto255.
VERIFY_FUEL: dict[str, Costs] = {
    "ristretto255": Costs(base=37_000_000, ring_member=13_000_000, receiver=11_000_000,
                          output=133_000_000, register=9_000_000, share=6_000_000),
    "sm2": Costs(base=191_000_000, ring_member=65_000_000, receiver=61_000_000,
                 output=321_000_000, register=45_000_000, share=36_000_000),
}
