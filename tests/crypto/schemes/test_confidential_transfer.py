"""Twisted ElGamal, the linear sigma proofs and PGC-style transfer, withdrawal and
registration proofs, and regulator decryption shares, on ristretto255 and the SM2 curve:
completeness, homomorphism, tampering with any byte never verifies, a proof never verifies
for another statement, overflowing amounts are refused, shares from another key fail."""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.crypto.primitives.groups import Element, Group, Scalar
from xinlian.crypto.privacy.confidential import GROUPS, dlog, elgamal, tracing, transfer
from xinlian.crypto.privacy.confidential.errors import (
    ConfidentialError,
    InvalidConfidentialProofError,
    InvalidDecryptionShareError,
    RangeProofStatementError,
    UndecryptableError,
)
from xinlian.crypto.privacy.confidential.generators import generators
from xinlian.crypto.threshold.dkg import KeyShare, share_secret

ALL = list(GROUPS.values())
ids = [g.name for g in ALL]
R255 = GROUPS["ristretto255"]


def rng_of(seed: int) -> Callable[[int], bytes]:
    return random.Random(seed).randbytes


@cache
def parties(group: Group) -> tuple[Scalar, Scalar, list[KeyShare]]:
    rng = rng_of(5)
    return (group.random_scalar(rng), group.random_scalar(rng),
            share_secret(group, group.random_scalar(rng), 2, [1, 2, 3], rng))


def statement(group: Group, balance: int, context: bytes = b"ctx"
              ) -> tuple[transfer.TransferStatement, Scalar]:
    ska, skb, reg = parties(group)
    bal = elgamal.encrypt(elgamal.public_key(ska), balance, group.random_scalar(rng_of(9)))
    return transfer.TransferStatement(context, elgamal.public_key(ska), elgamal.public_key(skb),
                                      reg[0].public.group_public_key, bal), ska


@cache
def note_of(group: Group) -> tuple[transfer.TransferStatement, transfer.TransferNote]:
    st_, ska = statement(group, 1000)
    return st_, transfer.prove_transfer(st_, ska, 1000, 250, rng_of(3))


# -- twisted ElGamal -----------------------------------------------------------------------

@pytest.mark.parametrize("G", ALL, ids=ids)
@settings(max_examples=10)
@given(a=st.integers(0, 2**31), b=st.integers(0, 2**31 - 1), seed=st.integers(0, 2**32))
def test_ciphertexts_decrypt_and_add(G: Group, a: int, b: int, seed: int) -> None:
    rng = rng_of(seed)
    sk, pk = elgamal.keypair(G, rng)
    ca, cb = (elgamal.encrypt(pk, v, G.random_scalar(rng)) for v in (a, b))
    assert elgamal.decrypt(sk, ca + cb) == a + b
    assert elgamal.decrypt(sk, ca - elgamal.public_amount(G, a)) == 0
    assert elgamal.decode(G, (ca + cb).encode()) == ca + cb
    assert elgamal.decode(G, elgamal.zero(G).encode()) == elgamal.zero(G)


def test_dlog_covers_exactly_32_bits() -> None:
    g = generators(R255).g
    assert dlog.solve(g * R255.scalar(2**32 - 1)) == 2**32 - 1
    assert dlog.solve(R255.identity()) == 0
    with pytest.raises(UndecryptableError):
        dlog.solve(g * R255.scalar(2**32))


def test_a_wrong_key_does_not_decrypt() -> None:
    rng = rng_of(2)
    _, pk = elgamal.keypair(R255, rng)
    ct = elgamal.encrypt(pk, 77, R255.random_scalar(rng))
    with pytest.raises(UndecryptableError):
        elgamal.decrypt(R255.random_scalar(rng), ct)


# -- transfers -------------------------------------------------------------------------------

@pytest.mark.parametrize("G", ALL, ids=ids)
def test_a_transfer_verifies_and_every_party_decrypts_its_part(G: Group) -> None:
    st_, note = note_of(G)
    ska, skb, reg = parties(G)
    transfer.verify_transfer(st_, note, rng_of(1))
    again = transfer.decode_transfer(G, note.encode())
    transfer.verify_transfer(st_, again, rng_of(1))
    assert len(note.encode()) == transfer.transfer_size(G)
    assert elgamal.decrypt(ska, st_.balance - note.to_sender) == 750
    assert elgamal.decrypt(skb, note.to_receiver) == 250
    shares = {k.identifier: tracing.decryption_share(k.secret, note.c1, b"o", rng_of(4))[0]
              for k in reg[1:]}
    assert tracing.open_amount(G, note.c2, shares) == 250


@settings(max_examples=40)
@given(data=st.data())
def test_tampering_any_byte_of_a_transfer_never_verifies(data: st.DataObject) -> None:
    st_, note = note_of(R255)
    raw = bytearray(note.encode())
    at = data.draw(st.integers(0, len(raw) - 1))
    raw[at] ^= data.draw(st.integers(1, 255))
    with pytest.raises(ConfidentialError):
        transfer.verify_transfer(st_, transfer.decode_transfer(R255, bytes(raw)), rng_of(1))


@pytest.mark.parametrize("change", ["context", "receiver", "regulator", "balance"])
def test_invalid_proof_for_another_statement(change: str) -> None:
    st_, note = note_of(R255)
    other = R255.base_mul(R255.scalar(12345))
    fields = {"context": (b"other", st_.sender, st_.receiver, st_.regulator, st_.balance),
              "receiver": (st_.context, st_.sender, other, st_.regulator, st_.balance),
              "regulator": (st_.context, st_.sender, st_.receiver, other, st_.balance),
              "balance": (st_.context, st_.sender, st_.receiver, st_.regulator,
                          st_.balance + elgamal.public_amount(R255, 1))}[change]
    with pytest.raises(InvalidConfidentialProofError):
        transfer.verify_transfer(transfer.TransferStatement(*fields), note, rng_of(1))


def test_invalid_overflowing_amounts_are_refused_by_the_prover() -> None:
    st_, ska = statement(R255, 100)
    for balance, amount in [(100, 101), (100, -1), (2**32, 1), (2**32 + 5, 2**32)]:
        with pytest.raises(RangeProofStatementError):
            transfer.prove_transfer(st_, ska, balance, amount, rng_of(1))
    with pytest.raises(RangeProofStatementError):
        transfer.prove_withdraw(ska, st_.balance, 100, 101, b"w", rng_of(1))


def test_invalid_range_proof_of_another_transfer() -> None:
    """A range proof is bound to its commitments: an overspender, who has none for a
    negative remaining balance, cannot borrow one from another transfer."""
    st_, ska = statement(R255, 100)
    honest = transfer.prove_transfer(st_, ska, 100, 10, rng_of(1))
    forged_st = st_
    forged = transfer.prove_transfer(forged_st, ska, 100, 90, rng_of(2))
    mixed = transfer.TransferNote(forged.x_sender, forged.x_receiver, forged.y, forged.c1,
                                  forged.c2, forged.x_rest, forged.y_rest, forged.proof,
                                  honest.range)
    transfer.verify_transfer_sigma(forged_st, mixed)  # the sigma part alone holds...
    with pytest.raises(ConfidentialError):  # ...the range proof is for other commitments
        transfer.verify_transfer(forged_st, mixed, rng_of(1))


def test_range_proofs_of_many_transfers_batch_verify() -> None:
    _, note = note_of(R255)
    w_st, ska = statement(R255, 500, b"w")
    withdraw = transfer.prove_withdraw(ska, w_st.balance, 500, 20, b"w", rng_of(8))
    transfer.batch_verify_ranges(R255, [note.range_item(), withdraw.range_item()], rng_of(1))
    bad = ([note.y_rest, note.y], note.range, transfer.BITS)
    with pytest.raises(ConfidentialError):
        transfer.batch_verify_ranges(R255, [withdraw.range_item(), bad], rng_of(1))


# -- withdrawals and registration -------------------------------------------------------------

@pytest.mark.parametrize("G", ALL, ids=ids)
def test_withdrawal_verifies_only_for_its_amount(G: Group) -> None:
    st_, ska = statement(G, 600)
    note = transfer.prove_withdraw(ska, st_.balance, 600, 200, b"w", rng_of(6))
    again = transfer.decode_withdraw(G, note.encode())
    transfer.verify_withdraw(st_.sender, st_.balance, 200, b"w", again, rng_of(1))
    with pytest.raises(InvalidConfidentialProofError):
        transfer.verify_withdraw(st_.sender, st_.balance, 201, b"w", again, rng_of(1))
    with pytest.raises(InvalidConfidentialProofError):
        transfer.verify_withdraw(st_.sender, st_.balance, 200, b"x", again, rng_of(1))


def test_registration_proves_knowledge_of_the_key() -> None:
    sk = R255.random_scalar(rng_of(3))
    proof = transfer.prove_key(sk, b"alice", rng_of(3))
    transfer.verify_key(elgamal.public_key(sk), b"alice", proof)
    with pytest.raises(InvalidConfidentialProofError):
        transfer.verify_key(elgamal.public_key(sk), b"mallory", proof)
    with pytest.raises(InvalidConfidentialProofError):
        transfer.verify_key(elgamal.public_key(sk + R255.scalar(1)), b"alice", proof)


# -- regulator shares ---------------------------------------------------------------------------

def _verifying(k: KeyShare) -> Element:
    return k.secret.group.base_mul(k.secret)


def test_invalid_share_from_another_key_or_context() -> None:
    _, note = note_of(R255)
    _, _, reg = parties(R255)
    share, proof = tracing.decryption_share(reg[0].secret, note.c1, b"ctx", rng_of(1))
    tracing.verify_share(_verifying(reg[0]), note.c1, share, proof, b"ctx")
    with pytest.raises(InvalidDecryptionShareError):
        tracing.verify_share(_verifying(reg[1]), note.c1, share, proof, b"ctx")
    with pytest.raises(InvalidDecryptionShareError):
        tracing.verify_share(_verifying(reg[0]), note.c1, share, proof, b"other")
    with pytest.raises(InvalidDecryptionShareError):
        tracing.verify_share(_verifying(reg[0]), note.c1, share + note.c1, proof, b"ctx")


def test_a_regulator_key_must_be_one_polynomial() -> None:
    _, _, reg = parties(R255)
    shares = {k.identifier: _verifying(k) for k in reg}
    public = reg[0].public.group_public_key
    tracing.RegulatorKey(2, shares, public).check()
    with pytest.raises(InvalidDecryptionShareError):
        tracing.RegulatorKey(2, {**shares, 3: shares[1]}, public).check()
    with pytest.raises(InvalidDecryptionShareError):
        tracing.RegulatorKey(2, shares, shares[1]).check()


# -- floors (a contract's `conf_pay`) and blinded opening ------------------------------------

@settings(max_examples=12, deadline=None)
@given(amount=st.integers(0, 600), floor=st.integers(0, 600), seed=st.integers(0, 2**16))
def test_a_floor_proof_exists_and_verifies_exactly_when_the_amount_reaches_it(
        amount: int, floor: int, seed: int) -> None:
    st_, ska = statement(R255, 1000)
    if amount < floor:
        with pytest.raises(RangeProofStatementError):
            transfer.prove_transfer_floor(st_, ska, 1000, amount, floor, rng_of(seed))
        return
    note, proof = transfer.prove_transfer_floor(st_, ska, 1000, amount, floor, rng_of(seed))
    transfer.verify_transfer(st_, note, rng_of(seed))
    transfer.verify_floor(note, floor, proof, rng_of(seed))
    assert (proof == b"") == (floor == 0)
    if amount + 1 <= transfer.MAX_AMOUNT and proof:  # the same proof for a higher floor
        with pytest.raises(ConfidentialError):
            transfer.verify_floor(note, amount + 1, proof, rng_of(seed))


def test_invalid_floor_proof_of_another_transfer_or_missing() -> None:
    st_, ska = statement(R255, 1000)
    note, proof = transfer.prove_transfer_floor(st_, ska, 1000, 300, 200, rng_of(4))
    other, _ = transfer.prove_transfer_floor(st_, ska, 1000, 300, 200, rng_of(5))
    with pytest.raises(ConfidentialError):
        transfer.verify_floor(other, 200, proof, rng_of(1))
    with pytest.raises(ConfidentialError):
        transfer.verify_floor(note, 200, b"", rng_of(1))
    with pytest.raises(ConfidentialError):
        transfer.verify_floor(note, 0, proof, rng_of(1))  # a floor of 0 takes no proof


@pytest.mark.parametrize("G", ALL, ids=ids)
def test_a_blinded_opening_reads_only_with_the_blinding(G: Group) -> None:
    st_, ska = statement(G, 1000)
    note = transfer.prove_transfer(st_, ska, 1000, 250, rng_of(3))
    _, _, reg = parties(G)
    rho, blinded, proof = tracing.blind(note.c1, b"req", rng_of(6))
    tracing.verify_blinding(note.c1, blinded, proof, b"req")
    shares = {k.identifier: tracing.decryption_share(k.secret, blinded, b"s", rng_of(7))[0]
              for k in reg[:2]}
    public = reg[0].public.group_public_key
    assert tracing.open_blinded(G, note.c2, shares, rho, public) == 250
    with pytest.raises(UndecryptableError):  # the shares alone, combined in the clear
        tracing.open_amount(G, note.c2, shares)
    with pytest.raises(UndecryptableError):
        tracing.open_blinded(G, note.c2, shares, G.random_scalar(rng_of(8)), public)


def test_invalid_blinding_for_another_base_or_context() -> None:
    _, note = note_of(R255)
    st_, ska = statement(R255, 1000, b"other")
    other = transfer.prove_transfer(st_, ska, 1000, 5, rng_of(2))
    _, blinded, proof = tracing.blind(other.c1, b"req", rng_of(6))
    with pytest.raises(InvalidConfidentialProofError):  # another transfer's C1, re-blinded
        tracing.verify_blinding(note.c1, blinded, proof, b"req")
    _, blinded, proof = tracing.blind(note.c1, b"req", rng_of(6))
    with pytest.raises(InvalidConfidentialProofError):
        tracing.verify_blinding(note.c1, blinded, proof, b"another request")


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_tampering_any_byte_of_an_open_request_never_verifies(data: st.DataObject) -> None:
    _, note = note_of(R255)
    _, blinded, proof = tracing.blind(note.c1, b"req", rng_of(6))
    raw = bytearray(blinded.encode() + proof)
    at = data.draw(st.integers(0, len(raw) - 1))
    raw[at] ^= data.draw(st.integers(1, 255))
    size = R255.element_size
    with pytest.raises(ConfidentialError):
        tampered = elgamal.decode_point(R255, bytes(raw[:size]))
        tracing.verify_blinding(note.c1, tampered, bytes(raw[size:]), b"req")
