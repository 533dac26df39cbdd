"""Anonymous transfers on ristretto255 and SM2: shield, scan, spend in a ring and pay into
receiver sets, verify alone and in a batch; scanning finds only one's own notes; key
images link spends of one note only; tampering with any byte never verifies; a proof
for another ring, receiver set, output set, context or regulator fails; overflowing
amounts and forged receiver escrows are refused with typed errors."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.crypto.primitives.groups import Element, Group, Scalar
from xinlian.crypto.privacy.anonymous import (
    MAX_RING,
    Address,
    AmountOverflowError,
    AnonymousError,
    BadRingError,
    InvalidTransferProofError,
    Keys,
    MalformedTransferError,
    Note,
    OwnedNote,
    RangeProofError,
    Statement,
    StatementError,
    Transfer,
    batch_verify,
    build_shield,
    build_transfer,
    keygen,
    keys,
    scan,
    transfer,
    verify_transfer,
)
from xinlian.crypto.privacy.confidential import GROUPS, range_proof
from xinlian.crypto.threshold.dkg import KeyShare, share_secret

ALL = list(GROUPS.values())
ids = [g.name for g in ALL]
R255 = GROUPS["ristretto255"]
CTX = b"xinlian-test-chain"


def rng_of(seed: int) -> Callable[[int], bytes]:
    return random.Random(seed).randbytes


@dataclass(frozen=True)
class World:
    """Six users, a regulator (2 of 3), one shielded note per user (amount 100*(i+1))."""

    group: Group
    users: list[Keys]
    regulator: list[KeyShare]
    notes: list[Note]

    @property
    def reg(self) -> Element:
        return self.regulator[0].public.group_public_key

    @property
    def addresses(self) -> list[Address]:
        return [u.address() for u in self.users]

    def owned(self, user: int) -> OwnedNote:
        (found,) = scan(self.users[user], enumerate(self.notes))
        return found


@cache
def world(group: Group) -> World:
    rng = rng_of(7)
    users = [keygen(group, rng) for _ in range(6)]
    regulator = share_secret(group, group.random_scalar(rng), 2, [1, 2, 3], rng)
    reg = regulator[0].public.group_public_key
    addresses = [u.address() for u in users]
    notes = [build_shield(a, 100 * (i + 1), addresses[:3] if i < 3 else addresses[3:],
                          regulator=reg, context=CTX, rng=rng).outputs[0].note
             for i, a in enumerate(addresses)]
    return World(group, users, regulator, notes)


@cache
def payment(group: Group) -> tuple[Transfer, Statement]:
    """User 0 (100) spends in a ring of 3, pays 60 to user 4 (set 3..5), 30 change to itself
    (set 0..2), fee 7, 3 out in public."""
    w = world(group)
    a = w.addresses
    ring, sets = w.notes[:3], [a[3:], a[:3]]
    tx = build_transfer([w.owned(0)], [ring], [(a[4], 60), (a[0], 30)], sets, fee=7,
                        public_out=3, regulator=w.reg, context=CTX, rng=rng_of(8))
    return tx, Statement(w.reg, CTX, [ring], sets)


@pytest.mark.parametrize("G", ALL, ids=ids)
def test_shield_scan_spend_and_receive(G: Group) -> None:
    w = world(G)
    assert [w.owned(i).amount for i in range(6)] == [100, 200, 300, 400, 500, 600]
    tx, stmt = payment(G)
    verify_transfer(tx, stmt, rng_of(1))
    assert codec.decode(codec.encode(tx), Transfer) == tx
    outputs = list(enumerate(o.note for o in tx.outputs))
    assert [n.amount for n in scan(w.users[4], outputs)] == [60]
    assert [n.amount for n in scan(w.users[0], outputs)] == [30]
    assert all(scan(w.users[i], outputs) == [] for i in (1, 2, 3, 5))
    shield = build_shield(w.addresses[1], 5, w.addresses[:2], regulator=w.reg, context=CTX,
                          rng=rng_of(2))
    batch_verify([(tx, stmt), (shield, Statement(w.reg, CTX, [], [w.addresses[:2]]))],
                 rng_of(3))


@settings(max_examples=8, deadline=None)
@given(cuts=st.lists(st.integers(0, 400), min_size=3, max_size=3), seed=st.integers(0, 2**32))
def test_any_split_of_the_inputs_verifies_and_each_receiver_reads_its_amount(
        cuts: list[int], seed: int) -> None:
    """User 3's 400 split into a payment, change, fee and public amount out (any split)."""
    w = world(R255)
    a = w.addresses
    low, mid, high = sorted(cuts)
    pay, change, fee, out = low, mid - low, high - mid, 400 - high
    ring, sets = [w.notes[3], w.notes[1]], [a[:3], a[3:]]
    tx = build_transfer([w.owned(3)], [ring], [(a[1], pay), (a[3], change)], sets, fee=fee,
                        public_out=out, regulator=w.reg, context=CTX, rng=rng_of(seed))
    verify_transfer(tx, Statement(w.reg, CTX, [ring], sets), rng_of(seed))
    outputs = list(enumerate(o.note for o in tx.outputs))
    assert [n.amount for n in scan(w.users[1], outputs)] == [pay]
    assert [n.amount for n in scan(w.users[3], outputs)] == [change]


def test_received_notes_spend_again_with_two_inputs() -> None:
    w = world(R255)
    tx, _ = payment(R255)
    received = [(100 + i, o.note) for i, o in enumerate(tx.outputs)]
    (change,) = scan(w.users[0], received)
    chain = w.notes + [n for _, n in received]
    rings = [[chain[0], change.note, chain[2]], chain[3:6]]
    mine = [change, w.owned(3)]
    assert change.index == 101 and sum(n.amount for n in mine) == 430
    sets = [w.addresses[1:3]]
    spent = build_transfer(mine, rings, [(w.addresses[2], 420)], sets, fee=10,
                           regulator=w.reg, context=CTX, rng=rng_of(4))
    verify_transfer(spent, Statement(w.reg, CTX, rings, sets), rng_of(5))


def test_scanning_finds_only_ones_own_notes_and_their_true_amounts() -> None:
    w = world(R255)
    everything = list(enumerate(w.notes))
    for i, user in enumerate(w.users):
        assert [(n.index, n.amount) for n in scan(user, everything)] == [(i, 100 * (i + 1))]
    assert scan(keygen(R255, rng_of(9)), everything) == []
    lying = msgspec.structs.replace(w.notes[0], sealed_amount=bytes(8))
    assert scan(w.users[0], [(0, lying)]) == []
    assert [n.amount for n in scan(w.users[0], [(0, lying)], recover=True)] == [100]
    broken = msgspec.structs.replace(w.notes[0], tx_key=b"\x01" * 32)
    assert scan(w.users[0], [(0, broken)]) == []


def test_key_images_link_spends_of_one_note_only() -> None:
    w = world(R255)
    a = w.addresses
    mine = w.owned(1)

    def spend(ring: Sequence[Note], seed: int) -> bytes:
        tx = build_transfer([mine], [ring], [(a[0], 200)], [a[:3]], fee=0, regulator=w.reg,
                            context=CTX, rng=rng_of(seed))
        return tx.spends[0].key_image

    first, second = spend(w.notes[:3], 1), spend([w.notes[5], w.notes[1]], 2)
    assert first == second == mine.key_image(CTX)
    images = {w.owned(i).key_image(CTX) for i in range(6)}
    assert len(images) == 6
    assert mine.key_image(b"another-chain") != first


def test_invalid_two_spends_of_one_note_in_one_transfer() -> None:
    w = world(R255)
    mine = w.owned(0)
    with pytest.raises(StatementError):
        build_transfer([mine, mine], [w.notes[:2], w.notes[:3]], [(w.addresses[0], 200)],
                       [w.addresses[:1]], fee=0, regulator=w.reg, context=CTX)
    tx, stmt = payment(R255)
    doubled = msgspec.structs.replace(tx, spends=[tx.spends[0], tx.spends[0]])
    with pytest.raises(StatementError):
        verify_transfer(doubled, Statement(w.reg, CTX, [stmt.rings[0]] * 2,
                                           stmt.receiver_sets))


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_tampering_any_byte_of_a_transfer_never_verifies(data: st.DataObject) -> None:
    tx, stmt = payment(R255)
    raw = bytearray(codec.encode(tx))
    at = data.draw(st.integers(0, len(raw) - 1))
    raw[at] ^= data.draw(st.integers(1, 255))
    with pytest.raises((CodecError, AnonymousError)):
        verify_transfer(codec.decode(bytes(raw), Transfer), stmt, rng_of(1))


def test_tampering_sm2_transfer_never_verifies() -> None:
    tx, stmt = payment(GROUPS["sm2"])
    raw = codec.encode(tx)
    for at in random.Random(3).sample(range(len(raw)), 4):
        flipped = bytearray(raw)
        flipped[at] ^= 0x40
        with pytest.raises((CodecError, AnonymousError)):
            verify_transfer(codec.decode(bytes(flipped), Transfer), stmt, rng_of(1))


@pytest.mark.parametrize("change", ["ring", "ring order", "receivers", "context", "regulator",
                                    "outputs", "fee"])
def test_invalid_proof_for_another_statement(change: str) -> None:
    w = world(R255)
    tx, stmt = payment(R255)
    rings, sets = list(stmt.rings), list(stmt.receiver_sets)
    other_tx = build_transfer([w.owned(1)], [w.notes[:3]],
                              [(w.addresses[4], 50), (w.addresses[0], 150)], sets, fee=0,
                              regulator=w.reg, context=CTX, rng=rng_of(6))
    reg, ctx = w.reg, CTX
    if change == "ring":
        rings = [[w.notes[0], w.notes[1], w.notes[4]]]
    elif change == "ring order":
        rings = [list(reversed(rings[0]))]
    elif change == "receivers":
        sets = [[w.addresses[3], w.addresses[4], w.addresses[1]], sets[1]]
    elif change == "context":
        ctx = b"another-chain"
    elif change == "regulator":
        reg = reg + R255.generator()
    elif change == "outputs":
        tx = msgspec.structs.replace(tx, outputs=[tx.outputs[0], other_tx.outputs[1]])
    else:
        tx = msgspec.structs.replace(tx, fee=6, public_out=4)
    with pytest.raises(InvalidTransferProofError):
        verify_transfer(tx, Statement(reg, ctx, rings, sets), rng_of(1))


def test_invalid_overflowing_amounts_are_refused_by_the_prover() -> None:
    w = world(R255)
    a = w.addresses
    for outputs, fee in (([(a[0], 2**32)], 0), ([(a[0], 2**32 - 1)], 2**32), ([(a[0], -1)], 0),
                         ([(a[0], 50), (a[0], 49)], 0)):
        sets = [a[:3]] * len(outputs)
        with pytest.raises(AmountOverflowError):
            build_transfer([w.owned(0)], [w.notes[:3]], outputs, sets, fee=fee,
                           regulator=w.reg, context=CTX)
    tx, stmt = payment(R255)
    with pytest.raises(AmountOverflowError):
        verify_transfer(msgspec.structs.replace(tx, fee=2**32), stmt)


def test_invalid_an_output_above_2_to_32_fails_the_range_proof(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A dishonest prover spends 100 into outputs of 2^32 + 40 and 60 - 2^32 (a
    negative amount, q - 2^32 + 60 in the group): every sigma proof holds, and only the
    range proof (here one for the amounts mod 2^32, so of other commitments) fails."""
    w = world(R255)
    honest_prove, honest_seal = range_proof.prove, keys.seal

    def cheating_prove(group: Group, values: Sequence[int], blindings: Sequence[Scalar],
                       n: int, rng: Callable[[int], bytes]) -> object:
        return honest_prove(group, [v % 2**32 for v in values], blindings, n, rng)

    monkeypatch.setattr(transfer, "_check_amount", lambda what, value: None)
    monkeypatch.setattr(transfer, "seal", lambda v, mask: honest_seal(v % 2**64, mask))
    monkeypatch.setattr(range_proof, "prove", cheating_prove)
    outputs = [(w.addresses[1], 2**32 + 40), (w.addresses[0], 60 - 2**32)]
    sets = [w.addresses[:3]] * 2
    tx = build_transfer([w.owned(0)], [w.notes[:3]], outputs, sets, fee=0,
                        regulator=w.reg, context=CTX, rng=rng_of(3))
    monkeypatch.undo()
    stmt = Statement(w.reg, CTX, [w.notes[:3]], sets)
    verify_transfer(tx, stmt, rng_of(1), range_verified=True)  # everything else holds
    with pytest.raises(RangeProofError):
        verify_transfer(tx, stmt, rng_of(1))
    good, good_stmt = payment(R255)
    with pytest.raises(RangeProofError):
        batch_verify([(good, good_stmt), (tx, stmt)], rng_of(2))


@pytest.mark.parametrize("outsider_in_set", [False, True])
def test_invalid_forged_receiver_escrow(monkeypatch: pytest.MonkeyPatch,
                                        outsider_in_set: bool) -> None:
    """The sender pays user 1 but escrows user 5's (or a set member's) spend key to the
    regulator, and proves with its true witnesses k, s: the receiver proof fails."""
    w = world(R255)
    a = w.addresses
    victim = R255.decode_element(a[5 if not outsider_in_set else 2].spend)
    honest_draft = transfer._draft_output

    def forged(*args: object, **kwargs: object) -> object:
        d = honest_draft(*args, **kwargs)  # type: ignore[arg-type]
        receiver = d.receivers[d.position]
        c2 = d.points.coins.owner[1] - receiver + victim
        note = msgspec.structs.replace(d.record.note, owner_c2=c2.encode())
        points = transfer._OutputPoints(d.points.one_time,
                                        transfer._Coins(d.points.coins.commitment,
                                                        (d.points.coins.owner[0], c2)),
                                        d.points.amount)
        return transfer._OutputDraft(msgspec.structs.replace(d.record, note=note), d.receivers,
                                     d.position, points, d.receiver_witnesses,
                                     d.amount_witnesses)

    monkeypatch.setattr(transfer, "_draft_output", forged)
    sets = [a[:3]]
    tx = build_transfer([w.owned(0)], [w.notes[:3]], [(a[1], 100)], sets, fee=0,
                        regulator=w.reg, context=CTX, rng=rng_of(4))
    monkeypatch.undo()
    with pytest.raises(InvalidTransferProofError):
        verify_transfer(tx, Statement(w.reg, CTX, [w.notes[:3]], sets), rng_of(1))


def test_invalid_rings_and_shapes_are_typed() -> None:
    w = world(R255)
    a = w.addresses
    mine = w.owned(0)
    with pytest.raises(BadRingError):  # the spent note is not in the ring
        build_transfer([mine], [w.notes[1:3]], [(a[0], 100)], [a[:1]], fee=0,
                       regulator=w.reg, context=CTX)
    with pytest.raises(BadRingError):
        build_transfer([mine], [[w.notes[0], w.notes[0]]], [(a[0], 100)], [a[:1]], fee=0,
                       regulator=w.reg, context=CTX)
    with pytest.raises(BadRingError):  # the receiver is not in its set
        build_transfer([mine], [w.notes[:2]], [(a[0], 100)], [a[1:3]], fee=0,
                       regulator=w.reg, context=CTX)
    tx, stmt = payment(R255)
    with pytest.raises(BadRingError):
        verify_transfer(tx, Statement(w.reg, CTX, [w.notes[:1] * (MAX_RING + 1)],
                                      stmt.receiver_sets))
    with pytest.raises(BadRingError):
        verify_transfer(tx, Statement(w.reg, CTX, stmt.rings,
                                      [stmt.receiver_sets[0], [a[0], a[0]]]))
    with pytest.raises(StatementError):
        verify_transfer(tx, Statement(w.reg, CTX, [], stmt.receiver_sets))
    with pytest.raises(StatementError):
        verify_transfer(msgspec.structs.replace(tx, group="ed25519"), stmt)
    sm2_tx, sm2_stmt = payment(GROUPS["sm2"])
    with pytest.raises(StatementError):
        verify_transfer(tx, Statement(sm2_stmt.regulator, CTX, stmt.rings, stmt.receiver_sets))
    with pytest.raises(StatementError):
        batch_verify([(tx, stmt), (sm2_tx, sm2_stmt)])
    with pytest.raises(MalformedTransferError):
        verify_transfer(msgspec.structs.replace(tx, range_proof=tx.range_proof[:-1]), stmt)
    with pytest.raises(StatementError):
        build_transfer([mine], [w.notes[:3]], [], [], fee=100, regulator=w.reg, context=CTX)
