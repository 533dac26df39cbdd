"""The one-of-n linear-relation proof under anonymous transfers, and the address
registration proof built on it: completeness at every position, a false witness or
another statement never verifies, malformed proofs are typed errors."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.crypto.primitives.groups import Group, Scalar
from xinlian.crypto.privacy.anonymous import (
    InvalidTransferProofError,
    MalformedTransferError,
    keygen,
    oneof,
    prove_registration,
    verify_registration,
)
from xinlian.crypto.privacy.anonymous.oneof import Relation
from xinlian.crypto.privacy.confidential.generators import generators
from xinlian.crypto.privacy.confidential.sigma import Equation
from xinlian.crypto.privacy.confidential.transcript import Transcript

from .test_anonymous_transfer import ALL, R255, ids, rng_of


def members(group: Group, n: int, index: int, w: list[Scalar],
            rng: Callable[[int], bytes]) -> list[Relation]:
    """n relations of the shape (P = w0*G + w1*H, Q = w1*X_i) with true witnesses only at
    `index` (the others' images are random points)."""
    gens = generators(group)
    out: list[Relation] = []
    for i in range(n):
        x = group.hash_to_element(b"test", bytes([i]))
        if i == index:
            p, q = group.msm(w, [gens.g, gens.h]), x * w[1]
        else:
            p, q = (group.base_mul(group.random_scalar(rng)) for _ in range(2))
        out.append([Equation(p, ((0, gens.g), (1, gens.h))), Equation(q, ((1, x),))])
    return out


def tr(group: Group, label: bytes = b"t") -> Transcript:
    return Transcript(group, b"TEST-" + label)


@pytest.mark.parametrize("G", ALL, ids=ids)
def test_one_of_n_proves_at_each_position(G: Group) -> None:
    rng = rng_of(1)
    w = [G.random_scalar(rng), G.random_scalar(rng)]
    for n, index in ((1, 0), (4, 0), (4, 3)):
        rel = members(G, n, index, w, rng)
        proof = oneof.prove(tr(G), rel, index, w, rng)
        data = proof.encode(G)
        assert len(data) == oneof.proof_size(G, n, 2)
        oneof.verify(tr(G), rel, oneof.decode(G, data, n, 2))


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 6), data=st.data(), seed=st.integers(0, 2**32))
def test_proof_does_not_verify_for_another_statement(n: int, data: st.DataObject,
                                                     seed: int) -> None:
    rng = rng_of(seed)
    index = data.draw(st.integers(0, n - 1))
    w = [R255.random_scalar(rng), R255.random_scalar(rng)]
    rel = members(R255, n, index, w, rng)
    proof = oneof.prove(tr(R255), rel, index, w, rng)
    oneof.verify(tr(R255), rel, proof)
    with pytest.raises(InvalidTransferProofError):
        oneof.verify(tr(R255, b"other"), rel, proof)
    other = data.draw(st.integers(0, n - 1))
    changed = list(rel)
    changed[other] = [Equation(rel[other][0].image + R255.generator(), rel[other][0].terms),
                      rel[other][1]]
    with pytest.raises(InvalidTransferProofError):
        oneof.verify(tr(R255), changed, proof)
    with pytest.raises(InvalidTransferProofError):  # one member more
        oneof.verify(tr(R255), [*rel, rel[0]], oneof.OneOfProof(
            proof.challenge, (*proof.responses, proof.responses[0])))


def test_invalid_a_false_witness_gives_a_proof_that_does_not_verify() -> None:
    rng = rng_of(2)
    w = [R255.random_scalar(rng), R255.random_scalar(rng)]
    rel = members(R255, 3, 1, w, rng)
    for index in (0, 2):  # members whose images are random: no witness is known
        with pytest.raises(InvalidTransferProofError):
            oneof.verify(tr(R255), rel, oneof.prove(tr(R255), rel, index, w, rng))


def test_invalid_malformed_proofs_are_typed() -> None:
    rng = rng_of(3)
    w = [R255.random_scalar(rng), R255.random_scalar(rng)]
    rel = members(R255, 2, 0, w, rng)
    data = oneof.prove(tr(R255), rel, 0, w, rng).encode(R255)
    with pytest.raises(MalformedTransferError):
        oneof.decode(R255, data[:-1], 2, 2)
    with pytest.raises(MalformedTransferError):  # a scalar not reduced
        oneof.decode(R255, b"\xff" * 32 + data[32:], 2, 2)
    with pytest.raises(MalformedTransferError):  # responses for fewer members
        oneof.verify(tr(R255), rel, oneof.decode(R255, data[:3 * 32], 1, 2))


@pytest.mark.parametrize("G", ALL, ids=ids)
def test_registration_proves_knowledge_of_both_keys(G: Group) -> None:
    rng = rng_of(4)
    keys, other = keygen(G, rng), keygen(G, rng)
    proof = prove_registration(keys, b"account-1", rng)
    verify_registration(G, keys.address(), b"account-1", proof)
    with pytest.raises(InvalidTransferProofError):
        verify_registration(G, keys.address(), b"account-2", proof)
    with pytest.raises(InvalidTransferProofError):
        verify_registration(G, other.address(), b"account-1", proof)
    mixed = type(keys.address())(keys.address().view, other.address().spend)
    with pytest.raises(InvalidTransferProofError):
        verify_registration(G, mixed, b"account-1", proof)
    with pytest.raises(MalformedTransferError):
        verify_registration(G, type(mixed)(b"\x00" * 3, mixed.spend), b"account-1", proof)
