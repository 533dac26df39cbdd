"""The regulator opens an anonymous transfer with t of n decryption shares: each spend's
true owner, each output's receiver and amount; t - 1 members do not open it, and
shares checked against another member or context, reordered or altered are refused."""

from __future__ import annotations

import pytest

from xinlian.crypto.privacy.anonymous import (
    MalformedTransferError,
    NotEnoughSharesError,
    decryption_shares,
    open_transfer,
    regulator_ciphertexts,
    verify_shares,
)
from xinlian.crypto.privacy.confidential import GROUPS, tracing
from xinlian.crypto.privacy.confidential.errors import InvalidDecryptionShareError
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
