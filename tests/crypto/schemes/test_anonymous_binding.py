"""The binding of a message (submitter, public receiver) to an anonymous transfer, on
ristretto255 and SM2: it verifies for the spender's message, and never for another
message, another context, another ring or another transfer's key image; a proof made
without the spent note's secret fails; malformed proofs are typed."""

from __future__ import annotations

import random

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.crypto.primitives.groups import Group
from xinlian.crypto.privacy import anonymous as anon
from xinlian.crypto.privacy.anonymous_binding import prove_binding, verify_binding
from xinlian.crypto.privacy.confidential import GROUPS

CTX = b"xinlian-test-chain"


def world(group: Group, seed: int) -> tuple[anon.OwnedNote, list[anon.Note], anon.Transfer]:
    """A note of user 0 in a ring of three, spent into one output."""
    rng = random.Random(seed).randbytes
    regulator = group.base_mul(group.random_scalar(rng))
    users = [anon.keygen(group, rng) for _ in range(3)]
    book = [u.address() for u in users]
    notes = [anon.build_shield(a, 100 + k, book, regulator=regulator, context=CTX,
                               rng=rng).outputs[0].note for k, a in enumerate(book)]
    (mine,) = anon.scan(users[0], enumerate(notes))
    t = anon.build_transfer([mine], [notes], [(book[1], 90)], [book], fee=10,
                            regulator=regulator, context=CTX, rng=rng)
    return mine, notes, t


@pytest.mark.parametrize("name", sorted(GROUPS))
def test_the_spenders_binding_verifies_for_its_message_only(name: str) -> None:
    group = GROUPS[name]
    mine, ring, t = world(group, 1)
    rng = random.Random(2).randbytes
    proof = prove_binding(mine, ring, t, CTX, b"relayer A", rng)
    verify_binding(group, t, ring, CTX, b"relayer A", proof)
    for context, message, members in ((CTX, b"relayer B", ring), (b"other", b"relayer A", ring),
                                      (CTX, b"relayer A", ring[::-1])):
        with pytest.raises(anon.InvalidTransferProofError):
            verify_binding(group, t, members, context, message, proof)


@settings(max_examples=10, deadline=None, derandomize=True)
@given(message=st.binary(max_size=40), seed=st.integers(0, 2**16))
def test_a_binding_is_for_its_transfers_key_image(message: bytes, seed: int) -> None:
    group = GROUPS["ristretto255"]
    mine, ring, t = world(group, 3)
    proof = prove_binding(mine, ring, t, CTX, message, random.Random(seed).randbytes)
    verify_binding(group, t, ring, CTX, message, proof)
    _, _, other = world(group, 4)  # another note's spend: another key image
    moved = msgspec.structs.replace(t, spends=other.spends)
    with pytest.raises(anon.InvalidTransferProofError):
        verify_binding(group, moved, ring, CTX, message, proof)


def test_invalid_binding_without_the_notes_secret() -> None:
    group = GROUPS["ristretto255"]
    mine, ring, t = world(group, 5)
    thief = anon.OwnedNote(mine.index, mine.note, mine.amount, mine.blinding,
                           group.random_scalar(random.Random(6).randbytes))
    proof = prove_binding(thief, ring, t, CTX, b"thief", random.Random(7).randbytes)
    with pytest.raises(anon.InvalidTransferProofError):
        verify_binding(group, t, ring, CTX, b"thief", proof)


def test_invalid_binding_malformed_or_for_no_spend() -> None:
    group = GROUPS["ristretto255"]
    mine, ring, t = world(group, 8)
    proof = prove_binding(mine, ring, t, CTX, b"m", random.Random(9).randbytes)
    with pytest.raises(anon.MalformedTransferError):
        verify_binding(group, t, ring, CTX, b"m", proof[:-1])
    with pytest.raises(anon.StatementError):
        verify_binding(group, msgspec.structs.replace(t, spends=[]), ring, CTX, b"m", proof)
