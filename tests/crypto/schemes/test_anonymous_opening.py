"""The regulator opens an anonymous transfer with t of n decryption shares: each spend's
true owner, each output's receiver and amount; t - 1 members do not open it, and
shares checked against another member or context, reordered or altered are refused.
Blinded: a member's request blinds every ciphertext, shares on the blinded bases open only
with the requester's rhos, and a receiver who knows its own output cannot unblind the
sender from the published shares."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.crypto.privacy.anonymous import (
    MalformedTransferError,
    NotEnoughSharesError,
    OpenRequest,
    decryption_shares,
    open_transfer,
    regulator_ciphertexts,
    request_opening,
    verify_request,
    verify_shares,
)
from xinlian.crypto.privacy.confidential import GROUPS, elgamal, tracing
from xinlian.crypto.privacy.confidential.errors import (
    ConfidentialError,
    InvalidConfidentialProofError,
    InvalidDecryptionShareError,
    UndecryptableError,
)
from xinlian.crypto.privacy.confidential.tracing import RegulatorKey

from .test_anonymous_transfer import ids, payment, rng_of, world

R255 = GROUPS["ristretto255"]
OPEN = b"chain/tx-hash"


def regulator_key(group_name: str) -> RegulatorKey:
    w = world(GROUPS[group_name])
    return RegulatorKey(2, {k.identifier: k.secret.group.base_mul(k.secret)
                            for k in w.regulator}, w.reg)


@pytest.mark.parametrize("name", ids)
def test_t_shares_open_sender_receivers_and_amounts(name: str) -> None:
    group = GROUPS[name]
    w = world(group)
    tx, _ = payment(group)
    key = regulator_key(name)
    key.check()
    assert [c.role for c in regulator_ciphertexts(tx)] == ["sender", "receiver", "amount",
                                                          "receiver", "amount"]
    shares = {}
    for k in w.regulator[1:]:  # members 2 and 3
        mine = decryption_shares(k.secret, tx, OPEN, rng_of(k.identifier))
        verify_shares(key.shares[k.identifier], tx, mine, OPEN)
        shares[k.identifier] = [d for d, _ in mine]
    opening = open_transfer(key, tx, shares)
    a = w.addresses
    assert opening.senders == [a[0].spend]
    assert opening.receivers == [a[4].spend, a[0].spend]
    assert opening.amounts == [60, 30]


def test_invalid_t_minus_one_shares_do_not_open() -> None:
    w = world(R255)
    tx, _ = payment(R255)
    key = regulator_key("ristretto255")
    k = w.regulator[0]
    one = {k.identifier: [d for d, _ in decryption_shares(k.secret, tx, OPEN, rng_of(1))]}
    with pytest.raises(NotEnoughSharesError):
        open_transfer(key, tx, one)
    # what one share gives, interpolated as if it were enough, is not the plaintext
    sender = regulator_ciphertexts(tx)[0]
    alone = sender.c2 - tracing.combine(R255, {k.identifier: one[k.identifier][0]})
    assert alone.encode() != w.addresses[0].spend


def test_invalid_shares_of_another_member_or_context_or_altered() -> None:
    w = world(R255)
    tx, _ = payment(R255)
    key = regulator_key("ristretto255")
    mine = decryption_shares(w.regulator[0].secret, tx, OPEN, rng_of(2))
    verify_shares(key.shares[1], tx, mine, OPEN)
    with pytest.raises(InvalidDecryptionShareError):
        verify_shares(key.shares[2], tx, mine, OPEN)
    with pytest.raises(InvalidDecryptionShareError):
        verify_shares(key.shares[1], tx, mine, b"chain/another-tx")
    swapped = [mine[1], mine[0], *mine[2:]]
    with pytest.raises(InvalidDecryptionShareError):
        verify_shares(key.shares[1], tx, swapped, OPEN)
    wrong_point = [(mine[0][0] + R255.generator(), mine[0][1]), *mine[1:]]
    with pytest.raises(InvalidDecryptionShareError):
        verify_shares(key.shares[1], tx, wrong_point, OPEN)
    with pytest.raises(MalformedTransferError):
        verify_shares(key.shares[1], tx, mine[:-1], OPEN)


@pytest.mark.parametrize("name", ids)
def test_a_blinded_opening_reads_only_with_the_requesters_rhos(name: str) -> None:
    group = GROUPS[name]
    w = world(group)
    tx, _ = payment(group)
    key = regulator_key(name)
    rhos, request = request_opening(tx, OPEN, rng_of(11))  # member 1 asks
    verify_request(tx, request, OPEN)
    shares = {}
    for k in w.regulator[1:]:  # members 2 and 3 answer on the blinded bases
        mine = decryption_shares(k.secret, tx, OPEN, rng_of(k.identifier), request)
        verify_shares(key.shares[k.identifier], tx, mine, OPEN, request)
        shares[k.identifier] = [d for d, _ in mine]
    opening = open_transfer(key, tx, shares, rhos)
    a = w.addresses
    assert (opening.senders, opening.receivers, opening.amounts) == (
        [a[0].spend], [a[4].spend, a[0].spend], [60, 30])
    # the published shares alone, or with other rhos, give no amount
    with pytest.raises(UndecryptableError):
        open_transfer(key, tx, shares)
    other, _ = request_opening(tx, OPEN, rng_of(12))
    with pytest.raises(UndecryptableError):
        open_transfer(key, tx, shares, other)


def test_invalid_shares_on_the_clear_bases_for_a_blinded_request() -> None:
    w = world(R255)
    tx, _ = payment(R255)
    key = regulator_key("ristretto255")
    _, request = request_opening(tx, OPEN, rng_of(11))
    clear = decryption_shares(w.regulator[1].secret, tx, OPEN, rng_of(2))
    with pytest.raises(InvalidDecryptionShareError):
        verify_shares(key.shares[2], tx, clear, OPEN, request)


def test_invalid_requests_for_another_context_count_or_base() -> None:
    tx, _ = payment(R255)
    _, request = request_opening(tx, OPEN, rng_of(11))
    with pytest.raises(InvalidConfidentialProofError):
        verify_request(tx, request, b"chain/another-tx")
    with pytest.raises(MalformedTransferError):
        verify_request(tx, OpenRequest(request.blinded[:-1], request.proofs[:-1]), OPEN)
    swapped = OpenRequest([request.blinded[1], request.blinded[0], *request.blinded[2:]],
                          request.proofs)
    with pytest.raises(InvalidConfidentialProofError):
        verify_request(tx, swapped, OPEN)


def test_a_receiver_cannot_unblind_the_sender_from_its_own_output() -> None:
    """User 4 knows its output (its spend key, 60) and sees every published share: from
    its amount's shares it computes rho_k*pk_R for that ciphertext, which unblinds no
    other ciphertext (each has its own rho)."""
    group = R255
    w = world(group)
    tx, _ = payment(group)
    _, request = request_opening(tx, OPEN, rng_of(11))
    shares = {k.identifier: [d for d, _ in decryption_shares(k.secret, tx, OPEN,
                                                             rng_of(k.identifier), request)]
              for k in w.regulator[1:]}
    cts = regulator_ciphertexts(tx)
    combined = [tracing.combine(group, {i: d[k] for i, d in shares.items()})
                for k in range(len(cts))]
    amount = cts.index(next(c for c in cts if c.role == "amount" and c.index == 0))
    # x*c1 = c2 - 60*G, so the blinding term of that ciphertext is combined - x*c1
    term = combined[amount] - (cts[amount].c2 - group.base_mul(group.scalar(60)))
    guess = cts[0].c2 - (combined[0] - term)  # the sender's escrow, unblinded with it
    assert guess.encode() != w.addresses[0].spend


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_tampering_any_byte_of_an_anonymous_open_request_never_verifies(
        data: st.DataObject) -> None:
    tx, _ = payment(R255)
    _, request = request_opening(tx, OPEN, rng_of(11))
    k = data.draw(st.integers(0, len(request.proofs) - 1))
    raw = bytearray(request.blinded[k].encode() + request.proofs[k])
    at = data.draw(st.integers(0, len(raw) - 1))
    raw[at] ^= data.draw(st.integers(1, 255))
    size = R255.element_size
    with pytest.raises(ConfidentialError):
        blinded = list(request.blinded)
        proofs = list(request.proofs)
        blinded[k] = elgamal.decode_point(R255, bytes(raw[:size]))
        proofs[k] = bytes(raw[size:])
        verify_request(tx, OpenRequest(blinded, proofs), OPEN)
