"""Confidential-account proofs in the style of PGC: key registration, transfers and
withdrawals over twisted-ElGamal balances (elgamal.py), with the amount also encrypted to a
regulator key (tracing.py).

A transfer of v from A to B carries, with one randomness r for A's and B's parts,
    X_A = r*pk_A, X_B = r*pk_B, Y = v*G + r*H        (v to A and to B, sharing Y)
    C1 = s*B0, C2 = v*G + s*pk_R                     (v to the regulator, ElGamal in base B0)
    X' = r'*pk_A, Y' = v'*G + r'*H                   (A's remaining balance v', refreshed)
and a proof of knowledge of (r, v, s, sk_A, r', v') with pk_A = sk_A*H and
    (X_bal - X_A) - X' = sk_A * ((Y_bal - Y) - Y')
(the balance after the transfer and the refreshed one encrypt the same amount: PGC's
"correct refreshing"), plus one aggregated range proof that v and v' lie in [0, 2^32).
So the three ciphertexts carry the same v, the sender knows the key of the balance it
spends, and no balance goes negative. B0 is the group's standard generator: the
regulator's key comes from the DKG (crypto/threshold/dkg.py), whose keys are x*B0, so its
shares decrypt C1 linearly. The executor then subtracts (X_A, Y) from A's balance and adds
(X_B, Y) to B's without decrypting anything.

A withdrawal of a public amount a proves the same refresh for Y_bal - a*G and a range proof
for v'; a registration proves knowledge of sk for pk (against rogue keys). Every statement
starts its transcript with a protocol label and the caller's context (chain, sender
address, nonce), so a proof never verifies for another transaction.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace

from xinlian.crypto.primitives.groups import Element, Group, Rng, Scalar
from xinlian.crypto.privacy.confidential import range_proof, sigma
from xinlian.crypto.privacy.confidential.elgamal import (
    Ciphertext,
    decode_point,
    encrypt,
    public_key,
)
from xinlian.crypto.privacy.confidential.errors import (
    MalformedProofError,
    RangeProofStatementError,
)
from xinlian.crypto.privacy.confidential.generators import generators
from xinlian.crypto.privacy.confidential.range_proof import RangeProof
from xinlian.crypto.privacy.confidential.sigma import Equation, LinearProof
from xinlian.crypto.privacy.confidential.transcript import Transcript

BITS = 32  # amounts and balances: [0, 2^32), as PGC (decryption searches 32 bits)
MAX_AMOUNT = (1 << BITS) - 1
RangeItem = tuple[list[Element], RangeProof, int]


def _points(group: Group, data: bytes, count: int) -> list[Element]:
    e = group.element_size
    return [decode_point(group, data[i * e:(i + 1) * e]) for i in range(count)]


def _split(group: Group, data: bytes, points: int, witnesses: int,
           values: int) -> tuple[list[Element], LinearProof, RangeProof]:
    """Strictly decode points || sigma proof || range proof of `values` values."""
    e = group.element_size
    s = sigma.proof_size(group, witnesses)
    r = range_proof.proof_size(group, BITS, values)
    if len(data) != points * e + s + r:
        raise MalformedProofError(f"expected {points * e + s + r} bytes, got {len(data)}")
    return (_points(group, data, points),
            sigma.decode(group, data[points * e:points * e + s], witnesses),
            range_proof.decode(group, data[points * e + s:], BITS, values))


def _transcript(group: Group, label: bytes, context: bytes) -> Transcript:
    tr = Transcript(group, label)
    tr.append(b"context", context)
    return tr


# -- registration ----------------------------------------------------------------------------


def prove_key(sk: Scalar, context: bytes, rng: Rng = os.urandom) -> bytes:
    """Proof of knowledge of sk for pk = sk*H, bound to `context` (the registering account)."""
    group = sk.group
    eq = Equation(public_key(sk), ((0, generators(group).h),))
    return sigma.prove(_transcript(group, b"REGISTER", context), [eq], [sk], rng).encode(group)


def verify_key(pk: Element, context: bytes, proof: bytes) -> None:
    group = pk.group
    eq = Equation(pk, ((0, generators(group).h),))
    sigma.verify(_transcript(group, b"REGISTER", context), [eq],
                 sigma.decode(group, proof, 1))


# -- transfers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransferStatement:
    """What the verifier knows: the keys, the sender's balance now, the context."""

    context: bytes
    sender: Element
    receiver: Element
    regulator: Element
    balance: Ciphertext


@dataclass(frozen=True)
class TransferNote:
    """What a confidential transfer carries (its proof included)."""

    x_sender: Element
    x_receiver: Element
    y: Element
    c1: Element
    c2: Element
    x_rest: Element
    y_rest: Element
    proof: LinearProof
    range: RangeProof

    def encode(self) -> bytes:
        group = self.y.group
        return (b"".join(p.encode() for p in (self.x_sender, self.x_receiver, self.y, self.c1,
                                              self.c2, self.x_rest, self.y_rest))
                + self.proof.encode(group) + self.range.encode())

    @property
    def to_sender(self) -> Ciphertext:
        return Ciphertext(self.x_sender, self.y)

    @property
    def to_receiver(self) -> Ciphertext:
        return Ciphertext(self.x_receiver, self.y)

    def range_item(self) -> RangeItem:
        """(commitments, proof, bits) for range_proof.batch_verify."""
        return [self.y, self.y_rest], self.range, BITS


_TRANSFER_POINTS, _TRANSFER_WITNESSES = 7, 6


def decode_transfer(group: Group, data: bytes) -> TransferNote:
    p, proof, rng_proof = _split(group, data, _TRANSFER_POINTS, _TRANSFER_WITNESSES, 2)
    return TransferNote(p[0], p[1], p[2], p[3], p[4], p[5], p[6], proof, rng_proof)


def transfer_size(group: Group) -> int:
    return (_TRANSFER_POINTS * group.element_size
            + sigma.proof_size(group, _TRANSFER_WITNESSES)
            + range_proof.proof_size(group, BITS, 2))


def _transfer_equations(st: TransferStatement, n: TransferNote) -> list[Equation]:
    group = n.y.group
    gens = generators(group)
    g, h, b0 = gens.g, gens.h, group.generator()
    r, v, s, sk, r2, v2 = range(6)
    return [
        Equation(n.x_sender, ((r, st.sender),)),
        Equation(n.x_receiver, ((r, st.receiver),)),
        Equation(n.y, ((v, g), (r, h))),
        Equation(n.c1, ((s, b0),)),
        Equation(n.c2, ((v, g), (s, st.regulator))),
        Equation(st.sender, ((sk, h),)),
        Equation(st.balance.x - n.x_sender - n.x_rest, ((sk, st.balance.y - n.y - n.y_rest),)),
        Equation(n.x_rest, ((r2, st.sender),)),
        Equation(n.y_rest, ((v2, g), (r2, h))),
    ]


def _check_amounts(*values: int) -> None:
    for v in values:
        if not 0 <= v <= MAX_AMOUNT:
            raise RangeProofStatementError(f"amount or balance {v} is outside [0, 2^{BITS})")


def prove_transfer(st: TransferStatement, sk: Scalar, balance: int, amount: int,
                   rng: Rng = os.urandom) -> TransferNote:
    """A transfer of `amount` from a balance that decrypts to `balance` under sk.
    RangeProofStatementError when the amount exceeds the balance or 2^32 - 1."""
    return _prove_transfer(st, sk, balance, amount, rng)[0]


def prove_transfer_floor(st: TransferStatement, sk: Scalar, balance: int, amount: int,
                         floor: int, rng: Rng = os.urandom) -> tuple[TransferNote, bytes]:
    """A transfer as `prove_transfer` and the proof that its amount is at least the public
    `floor` (empty for a floor of 0, which the transfer's range proof shows already)."""
    _check_amounts(floor)
    if amount < floor:
        raise RangeProofStatementError(f"the amount {amount} is below the floor {floor}")
    note, r = _prove_transfer(st, sk, balance, amount, rng)
    return note, (prove_floor(note, amount, r, floor, rng) if floor else b"")


def _prove_transfer(st: TransferStatement, sk: Scalar, balance: int, amount: int,
                    rng: Rng) -> tuple[TransferNote, Scalar]:
    """The note and its randomness r (the floor proof opens Y with it)."""
    _check_amounts(amount, balance)
    _check_amounts(balance - amount)
    group = sk.group
    gens = generators(group)
    r, s, r2 = (group.random_scalar(rng) for _ in range(3))
    to_sender = encrypt(st.sender, amount, r)
    rest = encrypt(st.sender, balance - amount, r2)
    c1 = group.generator() * s
    c2 = group.msm([group.scalar(amount), s], [gens.g, st.regulator])
    rng_proof, _ = range_proof.prove(group, [amount, balance - amount], [r, r2], BITS, rng)
    draft = TransferNote(to_sender.x, st.receiver * r, to_sender.y, c1, c2, rest.x, rest.y,
                         LinearProof(0, ()), rng_proof)
    proof = sigma.prove(_transcript(group, b"TRANSFER", st.context),
                        _transfer_equations(st, draft),
                        [r, group.scalar(amount), s, sk, r2, group.scalar(balance - amount)],
                        rng)
    return replace(draft, proof=proof), r


def verify_transfer_sigma(st: TransferStatement, note: TransferNote) -> None:
    """The sigma part only (the range proof goes to a block's batch)."""
    sigma.verify(_transcript(note.y.group, b"TRANSFER", st.context),
                 _transfer_equations(st, note), note.proof)


def verify_transfer(st: TransferStatement, note: TransferNote, rng: Rng = os.urandom) -> None:
    """Raise a ConfidentialError unless `note` is a valid transfer for `st`."""
    verify_transfer_sigma(st, note)
    range_proof.verify(note.y.group, [note.y, note.y_rest], note.range, BITS, rng)


# -- floors: a transfer's amount at least a public value -------------------------------------


def prove_floor(note: TransferNote, amount: int, r: Scalar, floor: int,
                rng: Rng = os.urandom) -> bytes:
    """A range proof that the amount `note` carries (committed in Y = v*G + r*H with the
    transfer's randomness r) is at least the public `floor`: Y - floor*G opens to
    v - floor in [0, 2^32). RangeProofStatementError when amount < floor."""
    _check_amounts(floor, amount - floor)
    group = note.y.group
    proof, _ = range_proof.prove(group, [amount - floor], [r], BITS, rng)
    return proof.encode()


def verify_floor(note: TransferNote, floor: int, proof: bytes, rng: Rng = os.urandom) -> None:
    """Raise a ConfidentialError unless `proof` shows the note's amount is >= `floor`
    (the note's own proofs show Y commits to its amount, so the floor binds that amount).
    A floor of 0 takes no proof."""
    _check_amounts(floor)
    group = note.y.group
    if floor == 0:
        if proof:
            raise MalformedProofError("a floor of 0 takes no proof")
        return
    decoded = range_proof.decode(group, proof, BITS, 1)
    range_proof.verify(group, [note.y - generators(group).g * group.scalar(floor)], decoded,
                       BITS, rng)


def floor_size(group: Group) -> int:
    return range_proof.proof_size(group, BITS, 1)


# -- withdrawals --------------------------------------------------------------------------------


@dataclass(frozen=True)
class WithdrawNote:
    x_rest: Element
    y_rest: Element
    proof: LinearProof
    range: RangeProof

    def encode(self) -> bytes:
        group = self.y_rest.group
        return (self.x_rest.encode() + self.y_rest.encode() + self.proof.encode(group)
                + self.range.encode())

    def range_item(self) -> RangeItem:
        return [self.y_rest], self.range, BITS


def decode_withdraw(group: Group, data: bytes) -> WithdrawNote:
    points, proof, rng_proof = _split(group, data, 2, 3, 1)
    return WithdrawNote(points[0], points[1], proof, rng_proof)


def _withdraw_equations(pk: Element, balance: Ciphertext, amount: int,
                        n: WithdrawNote) -> list[Equation]:
    group = pk.group
    gens = generators(group)
    sk, r2, v2 = range(3)
    rest_y = balance.y - gens.g * group.scalar(amount)
    return [
        Equation(pk, ((sk, gens.h),)),
        Equation(balance.x - n.x_rest, ((sk, rest_y - n.y_rest),)),
        Equation(n.x_rest, ((r2, pk),)),
        Equation(n.y_rest, ((v2, gens.g), (r2, gens.h))),
    ]


def _withdraw_transcript(group: Group, context: bytes, amount: int) -> Transcript:
    tr = _transcript(group, b"WITHDRAW", context)
    tr.append_int(b"amount", amount)
    return tr


def prove_withdraw(sk: Scalar, balance_ct: Ciphertext, balance: int, amount: int,
                   context: bytes, rng: Rng = os.urandom) -> WithdrawNote:
    """Withdraw the public `amount` from a balance that decrypts to `balance`."""
    _check_amounts(amount, balance)
    _check_amounts(balance - amount)
    group = sk.group
    pk = public_key(sk)
    r2 = group.random_scalar(rng)
    rest = encrypt(pk, balance - amount, r2)
    rng_proof, _ = range_proof.prove(group, [balance - amount], [r2], BITS, rng)
    draft = WithdrawNote(rest.x, rest.y, LinearProof(0, ()), rng_proof)
    proof = sigma.prove(_withdraw_transcript(group, context, amount),
                        _withdraw_equations(pk, balance_ct, amount, draft),
                        [sk, r2, group.scalar(balance - amount)], rng)
    return replace(draft, proof=proof)


def verify_withdraw_sigma(pk: Element, balance: Ciphertext, amount: int, context: bytes,
                          note: WithdrawNote) -> None:
    _check_amounts(amount)
    sigma.verify(_withdraw_transcript(pk.group, context, amount),
                 _withdraw_equations(pk, balance, amount, note), note.proof)


def verify_withdraw(pk: Element, balance: Ciphertext, amount: int, context: bytes,
                    note: WithdrawNote, rng: Rng = os.urandom) -> None:
    verify_withdraw_sigma(pk, balance, amount, context, note)
    range_proof.verify(pk.group, [note.y_rest], note.range, BITS, rng)


def batch_verify_ranges(group: Group, items: Sequence[RangeItem], rng: Rng = os.urandom) -> None:
    """The range proofs of many transfers and withdrawals in one multi-scalar
    multiplication (range_proof.batch_verify)."""
    range_proof.batch_verify(group, items, rng)
