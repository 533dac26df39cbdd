"""Building and verifying anonymous transfers (records.Transfer).

Every part is bound to one Fiat-Shamir statement: the chain's context, the group, the
public fee and amounts, every ring member and receiver-set member, every spend's public
values and every output note. Each proof's transcript starts with that statement's
digest and the proof's position, so no proof verifies in another transfer, ring,
receiver set or output set. The range proof is bound to the output commitments, which
the statement holds.

The verifier's work is priced by the chain from measurement (benchmarks/privacy_anon.py):
about n ring members times five double multiplications per spend, m times three per
output, and one aggregated range proof, which a block verifies for all its transfers in
one multi-scalar multiplication (`range_item`, `batch_verify`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

from xinlian import codec
from xinlian.crypto.primitives.groups import Element, Group, Rng, Scalar
from xinlian.crypto.privacy.anonymous import oneof
from xinlian.crypto.privacy.anonymous.errors import (
    AmountOverflowError,
    BadRingError,
    MalformedTransferError,
    RangeProofError,
    StatementError,
)
from xinlian.crypto.privacy.anonymous.keys import (
    SEALED_SIZE,
    OwnedNote,
    address_points,
    decode_point,
    derive,
    key_base,
    seal,
)
from xinlian.crypto.privacy.anonymous.oneof import Relation
from xinlian.crypto.privacy.anonymous.records import Address, Note, Output, Spend, Transfer
from xinlian.crypto.privacy.confidential import GROUPS, range_proof
from xinlian.crypto.privacy.confidential.errors import (
    InvalidRangeProofError,
    MalformedProofError,
)
from xinlian.crypto.privacy.confidential.generators import generators
from xinlian.crypto.privacy.confidential.pedersen import commit
from xinlian.crypto.privacy.confidential.range_proof import RangeProof
from xinlian.crypto.privacy.confidential.sigma import Equation
from xinlian.crypto.privacy.confidential.transcript import Transcript
from xinlian.crypto.privacy.confidential.transfer import BITS, MAX_AMOUNT

MAX_INPUTS = 16
MAX_OUTPUTS = range_proof.MAX_VALUES
MAX_RING = 64
MAX_RECEIVERS = 64
SPEND_WITNESSES, RECEIVER_WITNESSES, AMOUNT_WITNESSES = 3, 2, 3
RangeItem = tuple[list[Element], RangeProof, int]


@dataclass(frozen=True)
class Statement:
    """What the verifier resolves from its state for one transfer: the regulator key
    (its group is the transfer's), the chain's context (fixed per chain: key images are
    taken in it), each spend's ring of notes and each output's receiver set."""

    regulator: Element
    context: bytes
    rings: Sequence[Sequence[Note]]
    receiver_sets: Sequence[Sequence[Address]]


# -- decoding and shapes ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Member:
    """A ring member's points (and its key-image base)."""

    one_time: Element
    commitment: Element
    owner: tuple[Element, Element]
    base: Element


@dataclass(frozen=True)
class _Coins:
    """A spend's or output's public points: owner escrow E (or E'), commitment C (or C')."""

    commitment: Element
    owner: tuple[Element, Element]


def _check_amount(what: str, value: int) -> None:
    if not 0 <= value <= MAX_AMOUNT:
        raise AmountOverflowError(f"{what} {value} is outside [0, 2^{BITS})")


def _pad(count: int) -> int:
    """The range proof's value count: the next power of two."""
    return 1 << (count - 1).bit_length()


def _ring(group: Group, context: bytes, ring: Sequence[Note]) -> list[_Member]:
    if not 1 <= len(ring) <= MAX_RING:
        raise BadRingError(f"a ring has 1..{MAX_RING} notes, got {len(ring)}")
    if len({n.one_time_key for n in ring}) != len(ring):
        raise BadRingError("a ring lists each note once")
    members = []
    for note in ring:
        p = decode_point(group, note.one_time_key, "ring one-time key")
        members.append(_Member(p, decode_point(group, note.commitment, "ring commitment"),
                               (decode_point(group, note.owner_c1, "ring owner escrow"),
                                decode_point(group, note.owner_c2, "ring owner escrow")),
                               key_base(group, context, p)))
    return members


def _receivers(group: Group, receivers: Sequence[Address]) -> list[Element]:
    """The receiver set's spend keys."""
    if not 1 <= len(receivers) <= MAX_RECEIVERS:
        raise BadRingError(f"a receiver set has 1..{MAX_RECEIVERS} addresses, "
                           f"got {len(receivers)}")
    if len({a.spend for a in receivers}) != len(receivers):
        raise BadRingError("a receiver set lists each address once")
    return [address_points(group, a)[1] for a in receivers]


def group_of(transfer: Transfer) -> Group:
    """The group a transfer names (StatementError if none of confidential.GROUPS)."""
    group = GROUPS.get(transfer.group)
    if group is None:
        raise StatementError(f"unknown group {transfer.group!r}; expected one of {sorted(GROUPS)}")
    return group


def _check_shape(transfer: Transfer, st: Statement) -> Group:
    group = group_of(transfer)
    if st.regulator.group is not group:
        raise StatementError(f"a {transfer.group} transfer under a "
                             f"{st.regulator.group.name} regulator key")
    if len(st.rings) != len(transfer.spends) or len(st.receiver_sets) != len(transfer.outputs):
        raise StatementError("one ring per spend and one receiver set per output")
    _check_counts(len(transfer.spends), len(transfer.outputs))
    for what, value in (("fee", transfer.fee), ("public amount in", transfer.public_in),
                        ("public amount out", transfer.public_out)):
        _check_amount(what, value)
    if len({s.key_image for s in transfer.spends}) != len(transfer.spends):
        raise StatementError("two spends of one note (same key image)")
    if len({o.note.one_time_key for o in transfer.outputs}) != len(transfer.outputs):
        raise StatementError("two outputs with one one-time key")
    return group


def _check_counts(spends: int, outputs: int) -> None:
    if spends > MAX_INPUTS:
        raise StatementError(f"at most {MAX_INPUTS} spends, got {spends}")
    if not 1 <= outputs <= MAX_OUTPUTS:
        raise StatementError(f"1..{MAX_OUTPUTS} outputs, got {outputs}")


def _spend_coins(group: Group, s: Spend) -> tuple[Element, _Coins]:
    """(key image, pseudo coins)."""
    return (decode_point(group, s.key_image, "key image"),
            _Coins(decode_point(group, s.pseudo_commitment, "pseudo commitment"),
                   (decode_point(group, s.owner_c1, "spend owner escrow"),
                    decode_point(group, s.owner_c2, "spend owner escrow"))))


@dataclass(frozen=True)
class _OutputPoints:
    one_time: Element
    coins: _Coins
    amount: tuple[Element, Element]


def _output_points(group: Group, note: Note) -> _OutputPoints:
    decode_point(group, note.tx_key, "output tx key")
    if len(note.sealed_amount) != SEALED_SIZE:
        raise MalformedTransferError(
            f"a sealed amount is {SEALED_SIZE} bytes, got {len(note.sealed_amount)}")
    return _OutputPoints(
        decode_point(group, note.one_time_key, "output one-time key"),
        _Coins(decode_point(group, note.commitment, "output commitment"),
               (decode_point(group, note.owner_c1, "output owner escrow"),
                decode_point(group, note.owner_c2, "output owner escrow"))),
        (decode_point(group, note.amount_c1, "output amount escrow"),
         decode_point(group, note.amount_c2, "output amount escrow")))


# -- the relations ------------------------------------------------------------------------------


def _spend_relations(group: Group, regulator: Element, ring: Sequence[_Member],
                     image: Element, pseudo: _Coins) -> list[Relation]:
    """Member i: P_i = x*G, I = x*Hp(P_i), C_i - C' = z*H, E' - E_i = k'*(B0, pk_R)."""
    gens = generators(group)
    x, z, k = range(SPEND_WITNESSES)
    return [[Equation(m.one_time, ((x, gens.g),)),
             Equation(image, ((x, m.base),)),
             Equation(m.commitment - pseudo.commitment, ((z, gens.h),)),
             Equation(pseudo.owner[0] - m.owner[0], ((k, group.generator()),)),
             Equation(pseudo.owner[1] - m.owner[1], ((k, regulator),))] for m in ring]


def _receiver_relations(group: Group, regulator: Element, receivers: Sequence[Element],
                        out: _OutputPoints) -> list[Relation]:
    """Member j: E1 = k*B0, E2 - B_j = k*pk_R, P - B_j = s*G."""
    g = generators(group).g
    k, s = range(RECEIVER_WITNESSES)
    e1, e2 = out.coins.owner
    return [[Equation(e1, ((k, group.generator()),)),
             Equation(e2 - b, ((k, regulator),)),
             Equation(out.one_time - b, ((s, g),))] for b in receivers]


def _amount_relation(group: Group, regulator: Element, out: _OutputPoints) -> Relation:
    """C = v*G + m*H, T1 = t*B0, T2 = v*G + t*pk_R."""
    gens = generators(group)
    v, m, t = range(AMOUNT_WITNESSES)
    return [Equation(out.coins.commitment, ((v, gens.g), (m, gens.h))),
            Equation(out.amount[0], ((t, group.generator()),)),
            Equation(out.amount[1], ((v, gens.g), (t, regulator)))]


def _balance_relation(group: Group, transfer: Transfer, pseudo: Sequence[Element],
                      outputs: Sequence[Element]) -> Relation:
    """sum C' + public_in*G - sum C - (fee + public_out)*G = z*H."""
    gens = generators(group)
    public = group.scalar(transfer.public_in - transfer.fee - transfer.public_out)
    excess = group.sum([*pseudo, gens.g * public, *(-c for c in outputs)])
    return [Equation(excess, ((0, gens.h),))]


def _statement_digest(group: Group, transfer: Transfer, st: Statement) -> bytes:
    """Everything the transfer states, proofs left out: what every proof is bound to."""
    tr = Transcript(group, b"ANON-TRANSFER")
    tr.append(b"context", st.context)
    tr.append(b"regulator", st.regulator.encode())
    for label, value in ((b"fee", transfer.fee), (b"public in", transfer.public_in),
                         (b"public out", transfer.public_out),
                         (b"spends", len(transfer.spends)), (b"outputs", len(transfer.outputs))):
        tr.append_int(label, value)
    for ring, spend in zip(st.rings, transfer.spends, strict=True):
        tr.append_int(b"ring", len(ring))
        for note in ring:
            tr.append(b"member", codec.encode(note))
        tr.append(b"spend", codec.encode(msgspec.structs.replace(spend, proof=b"")))
    for receivers, output in zip(st.receiver_sets, transfer.outputs, strict=True):
        tr.append_int(b"receivers", len(receivers))
        for address in receivers:
            tr.append(b"receiver", codec.encode(address))
        tr.append(b"note", codec.encode(output.note))
    return group.scalar(tr.challenge(b"statement")).encode()


def _transcript(group: Group, label: bytes, digest: bytes, index: int) -> Transcript:
    tr = Transcript(group, label)
    tr.append(b"statement", digest)
    tr.append_int(b"index", index)
    return tr


# -- building ------------------------------------------------------------------------------------


def build_transfer(spends: Sequence[OwnedNote], rings: Sequence[Sequence[Note]],
                   outputs: Sequence[tuple[Address, int]],
                   receiver_sets: Sequence[Sequence[Address]], *, fee: int, regulator: Element,
                   context: bytes, public_out: int = 0, public_in: int = 0,
                   rng: Rng = os.urandom) -> Transfer:
    """Spend `spends` (notes from keys.scan), each hidden in its ring (which holds it),
    paying each (address, amount) of `outputs` hidden in its receiver set (which holds
    the address), plus the public `fee` and `public_out`; `public_in` is a public
    deposit (see build_shield). `context` is the chain's, fixed per chain.

    Raises AmountOverflowError for an amount outside [0, 2^32) or amounts that do not
    balance, BadRingError for a ring or set without the spent note or the receiver,
    StatementError for counts out of bounds or a note spent twice."""
    group = regulator.group
    if len(rings) != len(spends) or len(receiver_sets) != len(outputs):
        raise StatementError("one ring per spend and one receiver set per output")
    _check_counts(len(spends), len(outputs))
    if len({s.note.one_time_key for s in spends}) != len(spends):
        raise StatementError("two spends of one note")
    for what, value in (("fee", fee), ("public amount in", public_in),
                        ("public amount out", public_out),
                        *(("output amount", v) for _, v in outputs)):
        _check_amount(what, value)
    if sum(s.amount for s in spends) + public_in != sum(v for _, v in outputs) + fee + public_out:
        raise AmountOverflowError("inputs + public in must equal outputs + fee + public out")
    st = Statement(regulator, context, rings, receiver_sets)
    spend_parts = [_draft_spend(group, st, owned, ring, rng)
                   for owned, ring in zip(spends, rings, strict=True)]
    output_parts = [_draft_output(group, regulator, address, amount, receivers, rng)
                    for (address, amount), receivers in zip(outputs, receiver_sets, strict=True)]
    draft = Transfer(group.name, [s.record for s in spend_parts], [o.record for o in output_parts],
                     fee, public_in, public_out, b"", b"")
    digest = _statement_digest(group, draft, st)

    done_spends = [msgspec.structs.replace(p.record, proof=oneof.prove(
        _transcript(group, b"ANON-SPEND", digest, i),
        _spend_relations(group, regulator, p.ring, p.image, p.pseudo), p.position,
        p.witnesses, rng).encode(group)) for i, p in enumerate(spend_parts)]
    done_outputs = [msgspec.structs.replace(
        o.record,
        receiver_proof=oneof.prove(
            _transcript(group, b"ANON-RECEIVER", digest, i),
            _receiver_relations(group, regulator, o.receivers, o.points), o.position,
            o.receiver_witnesses, rng).encode(group),
        amount_proof=oneof.prove(
            _transcript(group, b"ANON-AMOUNT", digest, i),
            [_amount_relation(group, regulator, o.points)], 0, o.amount_witnesses,
            rng).encode(group)) for i, o in enumerate(output_parts)]

    padding = _pad(len(outputs)) - len(outputs)
    proof, _ = range_proof.prove(group, [v for _, v in outputs] + [0] * padding,
                                 [o.amount_witnesses[1] for o in output_parts]
                                 + [group.scalar(0)] * padding, BITS, rng)
    z = group.scalar(sum(p.blinding.value for p in spend_parts)
                     - sum(o.amount_witnesses[1].value for o in output_parts))
    relation = _balance_relation(group, draft, [p.pseudo.commitment for p in spend_parts],
                                 [o.points.coins.commitment for o in output_parts])
    balance = oneof.prove(_transcript(group, b"ANON-BALANCE", digest, 0), [relation], 0, [z],
                          rng)
    return msgspec.structs.replace(draft, spends=done_spends, outputs=done_outputs,
                                   balance_proof=balance.encode(group),
                                   range_proof=proof.encode())


def build_shield(address: Address, amount: int, receivers: Sequence[Address], *,
                 regulator: Element, context: bytes, rng: Rng = os.urandom) -> Transfer:
    """A deposit: the public `amount` (paid by the submitting account, chain side)
    becomes one note to `address`, hidden in `receivers`. The note's amount is public
    in this transfer (public_in), its later spends are not."""
    return build_transfer([], [], [(address, amount)], [receivers], fee=0,
                          regulator=regulator, context=context, public_in=amount, rng=rng)


@dataclass(frozen=True)
class _SpendDraft:
    record: Spend
    ring: list[_Member]
    position: int
    image: Element
    pseudo: _Coins
    blinding: Scalar  # m'
    witnesses: list[Scalar]  # x, z = m - m', k'


def _draft_spend(group: Group, st: Statement, owned: OwnedNote, ring: Sequence[Note],
                 rng: Rng) -> _SpendDraft:
    members = _ring(group, st.context, ring)
    keys = [n.one_time_key for n in ring]
    if owned.note.one_time_key not in keys:
        raise BadRingError("the spent note is not in its ring")
    pi = keys.index(owned.note.one_time_key)
    if ring[pi] != owned.note:
        raise BadRingError("the ring's note with the spent one-time key differs from it")
    b0 = group.generator()
    blinding, rerandomise = group.random_scalar(rng), group.random_scalar(rng)
    e1, e2 = members[pi].owner
    pseudo = _Coins(commit(group, owned.amount, blinding),
                    (e1 + b0 * rerandomise, e2 + st.regulator * rerandomise))
    image = members[pi].base * owned.secret
    record = Spend(image.encode(), pseudo.commitment.encode(), pseudo.owner[0].encode(),
                   pseudo.owner[1].encode(), b"")
    return _SpendDraft(record, members, pi, image, pseudo, blinding,
                       [owned.secret, owned.blinding - blinding, rerandomise])


@dataclass(frozen=True)
class _OutputDraft:
    record: Output
    receivers: list[Element]
    position: int
    points: _OutputPoints
    receiver_witnesses: list[Scalar]  # k, s
    amount_witnesses: list[Scalar]  # v, m, t


def _draft_output(group: Group, regulator: Element, address: Address, amount: int,
                  receivers: Sequence[Address], rng: Rng) -> _OutputDraft:
    spend_keys = _receivers(group, receivers)
    if address not in receivers:
        raise BadRingError("the receiver is not in its receiver set")
    view, spend = address_points(group, address)
    gens, b0 = generators(group), group.generator()
    r, k, t = (group.random_scalar(rng) for _ in range(3))
    d = derive(view * r)
    v = group.scalar(amount)
    points = _OutputPoints(gens.g * d.offset + spend,
                           _Coins(commit(group, amount, d.blinding),
                                  (b0 * k, spend + regulator * k)),
                           (b0 * t, group.msm([v, t], [gens.g, regulator])))
    note = Note(points.one_time.encode(), (gens.g * r).encode(),
                points.coins.commitment.encode(), points.coins.owner[0].encode(),
                points.coins.owner[1].encode(), points.amount[0].encode(),
                points.amount[1].encode(), seal(amount, d.mask))
    return _OutputDraft(Output(note, b"", b""), spend_keys, receivers.index(address), points,
                        [k, d.offset], [v, d.blinding, t])


# -- verifying -----------------------------------------------------------------------------------


def verify_transfer(transfer: Transfer, st: Statement, rng: Rng = os.urandom, *,
                    range_verified: bool = False) -> None:
    """Raise an AnonymousError unless `transfer` is valid for `st`. `range_verified`
    skips the range proof when a block's batch (`batch_verify_ranges`) already checked it.
    The caller checks the key images against those already spent."""
    group = _check_shape(transfer, st)
    rings = [_ring(group, st.context, ring) for ring in st.rings]
    receiver_keys = [_receivers(group, receivers) for receivers in st.receiver_sets]
    digest = _statement_digest(group, transfer, st)
    pseudo = []
    for i, (spend, members) in enumerate(zip(transfer.spends, rings, strict=True)):
        image, coins = _spend_coins(group, spend)
        pseudo.append(coins.commitment)
        oneof.verify(_transcript(group, b"ANON-SPEND", digest, i),
                     _spend_relations(group, st.regulator, members, image, coins),
                     oneof.decode(group, spend.proof, len(members), SPEND_WITNESSES))
    commitments = []
    for i, (output, keys) in enumerate(zip(transfer.outputs, receiver_keys, strict=True)):
        points = _output_points(group, output.note)
        commitments.append(points.coins.commitment)
        oneof.verify(_transcript(group, b"ANON-RECEIVER", digest, i),
                     _receiver_relations(group, st.regulator, keys, points),
                     oneof.decode(group, output.receiver_proof, len(keys), RECEIVER_WITNESSES))
        oneof.verify(_transcript(group, b"ANON-AMOUNT", digest, i),
                     [_amount_relation(group, st.regulator, points)],
                     oneof.decode(group, output.amount_proof, 1, AMOUNT_WITNESSES))
    oneof.verify(_transcript(group, b"ANON-BALANCE", digest, 0),
                 [_balance_relation(group, transfer, pseudo, commitments)],
                 oneof.decode(group, transfer.balance_proof, 1, 1))
    if not range_verified:
        batch_verify_ranges(group, [range_item(transfer)], rng)


def range_item(transfer: Transfer) -> RangeItem:
    """(commitments, proof, bits) of the transfer's range proof, for a block's batch."""
    group = group_of(transfer)
    count = len(transfer.outputs)
    _check_counts(0, count)
    commitments = [decode_point(group, o.note.commitment, "output commitment")
                   for o in transfer.outputs]
    padded = _pad(count)
    try:
        proof = range_proof.decode(group, transfer.range_proof, BITS, padded)
    except MalformedProofError as exc:
        raise MalformedTransferError(str(exc)) from exc
    return commitments + [group.identity()] * (padded - count), proof, BITS


def batch_verify_ranges(group: Group, items: Sequence[RangeItem], rng: Rng = os.urandom) -> None:
    """Many transfers' range proofs in one multi-scalar multiplication; RangeProofError
    if any fails (verify them one by one to find which)."""
    try:
        range_proof.batch_verify(group, items, rng)
    except InvalidRangeProofError as exc:
        raise RangeProofError(str(exc)) from exc


def batch_verify(items: Sequence[tuple[Transfer, Statement]], rng: Rng = os.urandom) -> None:
    """A block's transfers (of one group): every ring, receiver, amount and balance proof,
    and the range proofs together. Raises the first failure's AnonymousError; a range
    failure does not say which transfer (verify them alone to find out)."""
    if not items:
        return
    group = group_of(items[0][0])
    ranges = []
    for transfer, st in items:
        if group_of(transfer) is not group:
            raise StatementError("a batch holds transfers of one group")
        verify_transfer(transfer, st, rng, range_verified=True)
        ranges.append(range_item(transfer))
    batch_verify_ranges(group, ranges, rng)
