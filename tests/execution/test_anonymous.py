"""Anonymous notes through the executor: addresses, shields, ring-signed transfers between
notes, relayed submission, unshielding and the regulator's blinded opening on a
dict-backed chain (the SDK's own code builds every operation, its reads served from the
chain's state), with value conserved, and each bad input (unknown, too few, repeated or
too many ring members, an unregistered receiver, a note spent twice, proofs and bindings
for another context, submitter or receiver, amounts out of range, bad requests and
shares, non-members' requests and shares, shares with no request) refused with its typed
error and nothing applied."""

from __future__ import annotations

import random
from dataclasses import dataclass
from types import SimpleNamespace

import msgspec
import pytest

from xinlian import codec
from xinlian.crypto.primitives.groups import Scalar
from xinlian.crypto.privacy import anonymous as anon
from xinlian.crypto.privacy.confidential import GROUPS
from xinlian.crypto.privacy.confidential.errors import MalformedProofError, UndecryptableError
from xinlian.crypto.threshold.dkg import share_secret
from xinlian.execution import anonymous as chain_anon
from xinlian.execution.anonymous_payloads import (
    AnonOpenRequest,
    AnonOpenShare,
    AnonTransfer,
    AnonymousOp,
    RegisterAddress,
    Shield,
)
from xinlian.execution.confidential import proof_context
from xinlian.execution.confidential_payloads import RegulatorMember, SetRegulator
from xinlian.execution.executor import tx_fees
from xinlian.execution.payloads import Propose
from xinlian.execution.system import genesis_writes
from xinlian.ledger.account import Account, account_key
from xinlian.ledger.block import Receipt
from xinlian.ledger.rules import fuel_fee
from xinlian.ledger.transaction import TxKind, decode_transaction
from xinlian.sdk.anonymous import AnonymousNotes, fee_of, request_op, share_op, shield_op
from xinlian.sdk.errors import AnonymousFailed
from xinlian.sdk.wallet import SignedTx, Wallet

from .test_confidential import (
    _GENESIS,
    _KEYS,
    BANK_A,
    BANK_B,
    MEMBERS,
    OTHER,
    START,
    SUITE,
    Chain,
    make_chain,
)

RELAYER = 3  # an account that submits others' transfers (also regulator member 2's)
PARAMS = _GENESIS.params


def bare_chain() -> Chain:
    """The genesis state, without a regulator key."""
    c = Chain("ristretto255", _KEYS)
    c.state.update(genesis_writes(_GENESIS))
    for acct in _GENESIS.accounts:
        c.state[account_key(acct.address)] = codec.encode(Account(acct.balance, 0))
    return c


class LocalClient:
    """The SDK client's two calls the notes use, served by a dict-backed chain: reads from
    its state, a sent transaction executed as a block of its own."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain

    def state_proof(self, key: bytes) -> SimpleNamespace:
        return SimpleNamespace(value=self.chain.state.get(key))

    def send(self, tx: SignedTx, timeout: float = 30.0) -> Receipt:
        return self.chain.one(tx.raw)


@dataclass
class Bank:
    notes: AnonymousNotes
    index: int

    @property
    def address(self) -> bytes:
        wallet = self.notes.wallet
        assert wallet is not None
        return wallet.address


class Anon:
    """A chain with a regulator key and anonymous wallets for some of its accounts."""

    def __init__(self, seed: int, group: str = "ristretto255") -> None:
        self.chain = make_chain(group, seed)
        self.client = LocalClient(self.chain)
        self.rng = random.Random(seed + 1000).randbytes
        self.wallets: dict[int, Bank] = {}

    def bank(self, i: int, register: bool = True) -> Bank:
        if i not in self.wallets:
            wallet = Wallet(self.chain.keys[i], "t", SUITE, params=PARAMS,
                            nonce=self.chain.nonce(i))
            keys = anon.keygen(GROUPS[self.chain.group], self.rng)
            notes = AnonymousNotes(self.client, wallet, keys,  # type: ignore[arg-type]
                                   rng=self.rng)
            self.wallets[i] = Bank(notes, i)
            if register:
                notes.register()
        return self.wallets[i]

    def sign(self, i: int, op: AnonymousOp) -> bytes:
        """`op` signed by account `i` (with its wallet's next nonce, if it has one)."""
        fee = fee_of(PARAMS, chain_anon.op_fuel(self.chain.group, op))
        wallet = self.wallets[i].notes.wallet if i in self.wallets else None
        nonce = self.chain.nonce(i) if wallet is None else wallet.nonce
        raw = self.chain.sign(i, TxKind.ANONYMOUS, codec.encode(op), fee=fee, nonce=nonce)
        if wallet is not None:
            wallet.nonce = nonce + 1
        return raw

    def supply(self) -> int:
        return chain_anon.get_supply(self.chain.read)

    def check_conservation(self) -> None:
        """Public balances + notes' supply + burned fees = the genesis supply; the
        supply is what the unspent notes hold."""
        c = self.chain
        total = sum(c.public(i) for i in range(len(c.keys)))
        assert total + self.supply() + c.fees == START * len(c.keys)
        assert sum(b.notes.balance() for b in self.wallets.values()) == self.supply()


@pytest.fixture(scope="module")
def funded() -> tuple[Anon, bytes]:
    """A and B registered, A shielded 1000 and B 500, A sent B 300 through the relayer;
    that transfer's hash."""
    a = Anon(21)
    bank_a, bank_b = a.bank(BANK_A), a.bank(BANK_B)
    bank_a.notes.shield(1000)
    bank_b.notes.shield(500)
    relayer = a.bank(RELAYER, register=False)
    op = bank_a.notes.prepare_transfer(bank_b.address, 300, submitter=relayer.address,
                                       ring=2)
    receipt = relayer.notes.relay(op)
    return a, receipt.tx_hash


def test_a_relayed_transfer_moves_notes_and_refunds_the_relayer(
        funded: tuple[Anon, bytes]) -> None:
    a, _ = funded
    bank_a, bank_b = a.wallets[BANK_A], a.wallets[BANK_B]
    assert bank_b.notes.balance() == 800
    fee = 1000 - 300 - bank_a.notes.balance()
    assert fee == fee_of(PARAMS, chain_anon.transfer_fuel("ristretto255", [2], [2, 2]))
    # the relayer paid the transaction's fee and got it back from the notes
    assert a.chain.public(RELAYER) == START
    assert a.supply() == 1500 - fee
    assert chain_anon.get_count(a.chain.read) == 4
    a.check_conservation()


def test_the_sender_is_neither_signer_nor_named(funded: tuple[Anon, bytes]) -> None:
    a, tx_hash = funded
    sender = a.wallets[BANK_A].address
    trace = chain_anon.get_trace(a.chain.read, tx_hash)
    assert trace is not None and [c.role for c in trace.ciphers] == [
        "sender", "receiver", "amount", "receiver", "amount"]
    written = [v for k, v in a.chain.state.items() if k.startswith(
        (chain_anon.NOTE_PREFIX, chain_anon.IMAGE_PREFIX, chain_anon.TRACE_PREFIX))]
    assert written and not any(sender in raw for raw in written)
    address = a.wallets[BANK_A].notes.address(sender)
    assert address is not None
    assert not any(address.spend in raw or address.view in raw for raw in written)


def test_t_members_shares_open_sender_receivers_and_amounts(
        funded: tuple[Anon, bytes]) -> None:
    a, tx_hash = funded
    c = a.chain
    reader = AnonymousNotes(a.client)  # type: ignore[arg-type]
    request, rhos = _request(c, 0, tx_hash)
    asked = c.one(a.sign(MEMBERS[0], request))
    assert [e.name for e in asked.events] == ["OpenRequested"]
    pending = reader.request(tx_hash)
    assert pending is not None and pending.requester == 1
    first = c.one(a.sign(MEMBERS[0], _share(c, 0, tx_hash)))
    assert [e.name for e in first.events] == ["OpenShare"] and reader.shares(tx_hash) == [1]
    assert reader.opened(tx_hash, rhos) is None
    second = c.one(a.sign(MEMBERS[2], _share(c, 2, tx_hash)))
    assert [e.name for e in second.events] == ["OpenShare", "Opened"]
    assert reader.request(tx_hash) is None and reader.shares(tx_hash) == []
    # on chain: the blinded bases and the shares, no account and no amount
    record = reader.blind_opening(tx_hash)
    assert record is not None and record.requester == 1
    bank_a, bank_b = a.wallets[BANK_A].address, a.wallets[BANK_B].address
    raw = c.read(chain_anon.BLIND_OPENED_PREFIX + tx_hash)
    assert raw is not None and bank_a not in raw and bank_b not in raw
    with pytest.raises(UndecryptableError):
        reader.opened(tx_hash)
    _, others = _request(c, 1, tx_hash)
    with pytest.raises(MalformedProofError):
        reader.opened(tx_hash, others)
    opened = reader.opened(tx_hash, rhos)
    assert opened is not None and opened.members == [1, 3] and opened.requester == 1
    assert opened.senders == [bank_a]
    assert sorted(zip(opened.receivers, opened.amounts, strict=True)) == sorted(
        [(bank_b, 300), (bank_a, a.wallets[BANK_A].notes.balance())])
    late = c.one(a.sign(MEMBERS[1], _share(c, 1, tx_hash)))
    assert late.error == "confidential_not_traceable"
    again = c.one(a.sign(MEMBERS[1], _request(c, 1, tx_hash)[0]))
    assert again.error == "confidential_not_traceable"


def _request(c: Chain, member: int, tx_hash: bytes) -> tuple[AnonOpenRequest, list[Scalar]]:
    key = c.regulator_shares[member]
    trace = chain_anon.get_trace(c.read, tx_hash)
    assert trace is not None
    return request_op(key.secret.group, trace, "t", tx_hash, key.identifier, c.draw)


def _share(c: Chain, member: int, tx_hash: bytes) -> AnonOpenShare:
    """Member `member`'s shares on the pending request (or, with none, on the c1s)."""
    key = c.regulator_shares[member]
    trace = chain_anon.get_trace(c.read, tx_hash)
    assert trace is not None
    request = chain_anon.get_request(c.read, tx_hash) or chain_anon.AnonRequestRecord(
        0, [cipher.c1 for cipher in trace.ciphers], 0)
    return share_op(key.secret, key.identifier, trace, request, "t", tx_hash, c.draw)


def test_unshield_pays_a_public_account() -> None:
    a = Anon(22)
    bank_a = a.bank(BANK_A)
    a.bank(BANK_B).notes.shield(50)  # a decoy for the ring
    bank_a.notes.shield(900)
    before = a.chain.public(OTHER)
    op = bank_a.notes.prepare_transfer(None, 0, public_out=400, public_to=a.chain.addr(OTHER),
                                       ring=2)
    receipt = bank_a.notes.relay(op)
    assert receipt.status == 0
    assert a.chain.public(OTHER) == before + 400
    fee = fee_of(PARAMS, chain_anon.transfer_fuel("ristretto255", [2], [1]))
    assert bank_a.notes.balance() == 900 - 400 - fee
    assert a.supply() == 950 - 400 - fee
    a.check_conservation()


def test_fees_price_ring_members_and_outputs_and_count_as_block_fuel() -> None:
    a = Anon(23)
    bank_a, bank_b = a.bank(BANK_A), a.bank(BANK_B)
    for k in range(3):
        (bank_a if k else bank_b).notes.shield(1000 + k)
    op = bank_a.notes.prepare_transfer(bank_b.address, 10, ring=3)
    raw = a.sign(BANK_A, op)
    tx = decode_transaction(raw, "t", SUITE.hash_bytes)
    fees = tx_fees(PARAMS, tx, read=a.chain.read)
    costs = chain_anon.VERIFY_FUEL["ristretto255"]
    assert fees.fuel_limit == (costs.base + costs.ring_member * (3 + 3)
                               + costs.receiver * 4 + costs.output * 2)
    result = a.chain.execute([raw])
    assert result.fuel_used == fees.fuel_limit
    assert result.receipts[0].fee_paid == PARAMS.system_cost + fuel_fee(PARAMS,
                                                                        fees.fuel_limit)
    assert result.receipts[0].status == 0


def test_a_blocks_transfers_verify_in_one_batch() -> None:
    a = Anon(24)
    banks = [a.bank(i) for i in (BANK_A, BANK_B, OTHER)]
    for bank in banks:
        bank.notes.shield(2000)
    ops = [banks[0].notes.prepare_transfer(banks[1].address, 5, ring=2),
           banks[1].notes.prepare_transfer(banks[2].address, 6, ring=2)]
    raws = [a.sign(BANK_A, ops[0]), a.sign(BANK_B, ops[1])]
    txs = [decode_transaction(r, "t", SUITE.hash_bytes) for r in raws]
    batch = chain_anon.Anonymous(SUITE.hash_bytes)
    batch.begin_block(a.chain.read, txs)
    assert batch.verified == {tx.hash for tx in txs}
    # one bad proof fails the batch: none counts as verified, each is verified alone
    t = ops[1].transfer
    bad = msgspec.structs.replace(ops[1], transfer=msgspec.structs.replace(
        t, balance_proof=t.balance_proof[::-1]))
    batch.begin_block(a.chain.read, [txs[0], decode_transaction(
        a.chain.sign(BANK_B, TxKind.ANONYMOUS, codec.encode(bad), nonce=99), "t",
        SUITE.hash_bytes)])
    assert batch.verified == frozenset()
    executor_result = a.chain.execute(raws)
    assert [r.status for r in executor_result.receipts] == [0, 0]
    assert banks[2].notes.balance() == 2006
    a.check_conservation()


# -- bad input ------------------------------------------------------------------------------


def _unchanged(a: Anon, raw: bytes, error: str) -> None:
    """`raw` fails with `error` and nothing but its fee and nonce is applied."""
    c = a.chain
    before = {k: v for k, v in c.state.items() if not k.startswith(account_key(b""))}
    receipt = c.one(raw)
    assert (receipt.status != 0, receipt.error) == (True, error)
    after = {k: v for k, v in c.state.items() if not k.startswith(account_key(b""))}
    assert after == before


@pytest.fixture()
def two() -> Anon:
    """A with a note of 600 and B with one of 400 (notes 0, 1), both registered."""
    a = Anon(31)
    a.bank(BANK_A).notes.shield(600)
    a.bank(BANK_B).notes.shield(400)
    return a


def _prepared(a: Anon, **kw: object) -> AnonTransfer:
    return a.wallets[BANK_A].notes.prepare_transfer(a.wallets[BANK_B].address, 100, ring=2,
                                                    **kw)  # type: ignore[arg-type]


def test_invalid_second_registration_and_a_taken_spend_key(two: Anon) -> None:
    c = two.chain
    keys = two.wallets[BANK_A].notes.keys
    assert keys is not None
    again = RegisterAddress(keys.address(), anon.prove_registration(
        keys, proof_context("t", c.addr(BANK_A), c.nonce(BANK_A)), c.draw))
    _unchanged(two, two.sign(BANK_A, again), "anonymous_receiver_unknown")
    taken = RegisterAddress(keys.address(), anon.prove_registration(
        keys, proof_context("t", c.addr(OTHER), c.nonce(OTHER)), c.draw))
    _unchanged(two, two.sign(OTHER, taken), "anonymous_receiver_unknown")


def test_invalid_registration_proof_for_another_account(two: Anon) -> None:
    c = two.chain
    keys = anon.keygen(GROUPS["ristretto255"], c.draw)
    other = RegisterAddress(keys.address(), anon.prove_registration(
        keys, proof_context("t", c.addr(BANK_A), 0), c.draw))
    _unchanged(two, two.sign(OTHER, other), "anonymous_invalid_proof")


def test_invalid_shield_to_an_unregistered_account(two: Anon) -> None:
    c = two.chain
    bank_a = two.wallets[BANK_A]
    addr = bank_a.notes.address(bank_a.address)
    assert addr is not None
    op = Shield([c.addr(OTHER)], anon.build_shield(
        addr, 10, [addr], regulator=bank_a.notes._regulator_key(),
        context=chain_anon.chain_context("t"), rng=c.draw))
    _unchanged(two, two.sign(BANK_A, op), "anonymous_receiver_unknown")


def test_invalid_shield_above_the_public_balance() -> None:
    a = Anon(32)
    bank = a.bank(BANK_A)
    with pytest.raises(AnonymousFailed) as failed:
        bank.notes.shield(START)
    assert failed.value.remote_name == "insufficient_balance"


def test_invalid_shield_submitted_again(two: Anon) -> None:
    bank_a = two.wallets[BANK_A]
    address = bank_a.notes.address(bank_a.address)
    assert address is not None
    op = shield_op(address, 30, [bank_a.address], [address],
                   bank_a.notes._regulator_key(), "t", two.chain.draw)
    assert two.chain.one(two.sign(BANK_A, op)).status == 0
    _unchanged(two, two.sign(BANK_A, op), "anonymous_note_exists")


def test_invalid_ring_members(two: Anon) -> None:
    op = _prepared(two)
    for rings, error in (([[0, 7]], "anonymous_unknown_note"),
                         ([[0, -1]], "anonymous_unknown_note"),
                         ([[0]], "anonymous_bad_ring"),
                         ([[0, 0]], "anonymous_bad_ring"),
                         ([list(range(17))], "bad_payload")):
        bad = msgspec.structs.replace(op, rings=rings)
        _unchanged(two, two.sign(BANK_A, bad), error)


def test_invalid_ring_other_than_proven(two: Anon) -> None:
    two.wallets[BANK_B].notes.shield(5)  # note 2; A's note is 0
    op = _prepared(two)
    other = next(i for i in range(3) if i not in op.rings[0])
    _unchanged(two, two.sign(BANK_A, msgspec.structs.replace(op, rings=[[0, other]])),
               "anonymous_invalid_proof")


def test_invalid_receiver_not_registered(two: Anon) -> None:
    op = _prepared(two)
    receivers = [[*r[:-1], two.chain.addr(OTHER)] for r in op.receivers]
    _unchanged(two, two.sign(BANK_A, msgspec.structs.replace(op, receivers=receivers)),
               "anonymous_receiver_unknown")
    doubled = [[r[0], r[0]] for r in op.receivers]
    _unchanged(two, two.sign(BANK_A, msgspec.structs.replace(op, receivers=doubled)),
               "anonymous_bad_ring")


def test_invalid_double_spend_later_and_in_one_block(two: Anon) -> None:
    bank_a = two.wallets[BANK_A]
    first, second = _prepared(two), _prepared(two)  # both spend A's one note
    result = two.chain.execute([two.sign(BANK_A, first), two.sign(BANK_A, second)])
    assert [r.error for r in result.receipts] == ["", "anonymous_double_spend"]
    assert bank_a.notes.balance() == 500 - first.transfer.fee
    _unchanged(two, two.sign(BANK_A, first), "anonymous_double_spend")
    two.check_conservation()


def test_invalid_proof_for_another_chain(two: Anon) -> None:
    op = _prepared(two)
    bank_a = two.wallets[BANK_A]
    assert bank_a.notes.wallet is not None
    bank_a.notes.wallet.chain_id = "other"  # proves in the other chain's context
    try:
        other = _prepared(two)
    finally:
        bank_a.notes.wallet.chain_id = "t"
    assert other.transfer.spends[0].key_image != op.transfer.spends[0].key_image
    _unchanged(two, two.sign(BANK_A, other), "anonymous_invalid_proof")


def test_invalid_binding_for_another_submitter_or_public_receiver(two: Anon) -> None:
    c = two.chain
    for_relayer = _prepared(two, submitter=c.addr(RELAYER))
    _unchanged(two, two.sign(OTHER, for_relayer), "anonymous_invalid_proof")
    out = two.wallets[BANK_A].notes.prepare_transfer(
        None, 0, public_out=50, public_to=c.addr(OTHER), ring=2)
    stolen = msgspec.structs.replace(out, to=c.addr(BANK_B))
    _unchanged(two, two.sign(BANK_A, stolen), "anonymous_invalid_proof")


def test_invalid_amounts_out_of_range(two: Anon) -> None:
    op = _prepared(two)
    for field, value in (("fee", -1), ("public_out", 2**32)):
        t = msgspec.structs.replace(op.transfer, **{field: value})
        bad = msgspec.structs.replace(op, transfer=t, to=two.chain.addr(OTHER)
                                      if field == "public_out" else None)
        _unchanged(two, two.sign(BANK_A, bad), "anonymous_overflow")
    t = msgspec.structs.replace(op.transfer, public_out=1)
    _unchanged(two, two.sign(BANK_A, msgspec.structs.replace(op, transfer=t)), "bad_payload")


def test_invalid_fee_taken_above_the_proven_one(two: Anon) -> None:
    op = _prepared(two)
    t = msgspec.structs.replace(op.transfer, fee=op.transfer.fee + 1000)
    _unchanged(two, two.sign(BANK_A, msgspec.structs.replace(op, transfer=t)),
               "anonymous_invalid_proof")


def test_invalid_requests_and_shares() -> None:
    a = Anon(33)
    a.bank(BANK_A).notes.shield(7000)
    a.bank(BANK_B).notes.shield(8000)
    tx_hash = a.wallets[BANK_A].notes.transfer(a.wallets[BANK_B].address, 1, ring=2).tx_hash
    c = a.chain
    # shares on the ciphertexts themselves, with no request: the opening would be public
    _unchanged(a, a.sign(MEMBERS[0], _share(c, 0, tx_hash)), "confidential_not_traceable")
    request, _ = _request(c, 0, tx_hash)
    _unchanged(a, a.sign(OTHER, request), "not_regulator_member")
    # member 1's request sent by member 2's account: its proofs name member 1
    _unchanged(a, a.sign(MEMBERS[1], request), "confidential_invalid_proof")
    short = msgspec.structs.replace(request, blinded=request.blinded[:-1])
    _unchanged(a, a.sign(MEMBERS[0], short), "bad_payload")
    other = _request(c, 0, tx_hash)[0]
    swapped = msgspec.structs.replace(other, blinded=other.blinded[::-1])
    _unchanged(a, a.sign(MEMBERS[0], swapped), "confidential_invalid_proof")
    unknown = msgspec.structs.replace(request, transfer=bytes(32))
    _unchanged(a, a.sign(MEMBERS[0], unknown), "confidential_not_traceable")
    assert c.one(a.sign(MEMBERS[0], request)).status == 0
    # another member's request while member 1's is pending
    _unchanged(a, a.sign(MEMBERS[1], _request(c, 1, tx_hash)[0]),
               "confidential_not_traceable")
    _unchanged(a, a.sign(OTHER, _share(c, 0, tx_hash)), "not_regulator_member")
    # member 1's account sends member 2's shares under its index: the proofs fail
    key = c.regulator_shares[1]
    trace = chain_anon.get_trace(c.read, tx_hash)
    pending = chain_anon.get_request(c.read, tx_hash)
    assert trace is not None and pending is not None
    wrong = share_op(key.secret, 1, trace, pending, "t", tx_hash, c.draw)
    _unchanged(a, a.sign(MEMBERS[0], wrong), "confidential_invalid_share")
    # shares on the c1s, not on the request's blinded bases
    clear = share_op(c.regulator_shares[0].secret, 1, trace, chain_anon.AnonRequestRecord(
        1, [cipher.c1 for cipher in trace.ciphers], 0), "t", tx_hash, c.draw)
    _unchanged(a, a.sign(MEMBERS[0], clear), "confidential_invalid_share")
    short_share = msgspec.structs.replace(_share(c, 0, tx_hash), shares=[], proofs=[])
    _unchanged(a, a.sign(MEMBERS[0], short_share), "bad_payload")
    assert c.one(a.sign(MEMBERS[0], _share(c, 0, tx_hash))).status == 0
    _unchanged(a, a.sign(MEMBERS[0], _share(c, 0, tx_hash)), "confidential_not_traceable")


def test_invalid_before_a_regulator_key() -> None:
    c = bare_chain()
    keys = anon.keygen(GROUPS["ristretto255"], c.draw)
    op = RegisterAddress(keys.address(), anon.prove_registration(
        keys, proof_context("t", c.addr(0), 0), c.draw))
    receipt = c.one(c.sign(0, TxKind.ANONYMOUS, codec.encode(op)))
    assert receipt.error == "confidential_unavailable"


def test_sm2_notes_transfer_and_open() -> None:
    a = Anon(41, "sm2")
    bank_a, bank_b = a.bank(BANK_A), a.bank(BANK_B)
    bank_a.notes.shield(9000)
    bank_b.notes.shield(1000)
    receipt = bank_a.notes.transfer(bank_b.address, 2000, ring=2)
    fee = fee_of(PARAMS, chain_anon.transfer_fuel("sm2", [2], [2, 2]))
    assert (bank_a.notes.balance(), bank_b.notes.balance()) == (7000 - fee, 3000)
    request, rhos = _request(a.chain, 0, receipt.tx_hash)
    a.chain.one(a.sign(MEMBERS[0], request))
    for member in (0, 1):
        a.chain.one(a.sign(MEMBERS[member], _share(a.chain, member, receipt.tx_hash)))
    opened = AnonymousNotes(a.client).opened(receipt.tx_hash,  # type: ignore[arg-type]
                                             rhos)
    assert opened is not None and opened.senders == [bank_a.address]
    assert dict(zip(opened.receivers, opened.amounts, strict=True))[bank_b.address] == 2000
    a.check_conservation()


def test_invalid_after_the_regulator_key_changes_in_the_block() -> None:
    """Transfers proven for the old key, batch-verified before the block's governance
    change, verify again under the new key and fail."""
    a = Anon(51)
    banks = [a.bank(i) for i in (BANK_A, BANK_B)]
    for bank in banks:
        bank.notes.shield(3000)
    ops = [banks[0].notes.prepare_transfer(banks[1].address, 5, ring=2),
           banks[1].notes.prepare_transfer(banks[0].address, 6, ring=2)]
    c = a.chain
    group = GROUPS[c.group]
    shares = share_secret(group, group.random_scalar(c.draw), 2, [1, 2, 3], c.draw)
    change = SetRegulator(c.group, 2, shares[0].public.group_public_key.encode(), [
        RegulatorMember(i, c.addr(MEMBERS[i - 1]), group.base_mul(k.secret).encode())
        for i, k in zip((1, 2, 3), shares, strict=True)])
    wallet = banks[0].notes.wallet
    assert wallet is not None
    propose = c.sign(BANK_A, TxKind.SYSTEM, codec.encode(Propose(change)), nonce=wallet.nonce)
    wallet.nonce += 1
    result = c.execute([propose, a.sign(BANK_A, ops[0]), a.sign(BANK_B, ops[1])])
    assert [r.error for r in result.receipts] == [
        "", "anonymous_invalid_proof", "anonymous_invalid_proof"]
