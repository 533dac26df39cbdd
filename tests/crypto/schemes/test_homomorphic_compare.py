"""Comparing an encrypted aggregate with a threshold: t members and a prover make a proof
of [sum >= T] that anyone checks; the claim is right on both sides of T, the proof holds
for no other question, tampering never verifies, and members, prover and verifier refuse
what is not theirs."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.crypto.primitives.groups import SM2
from xinlian.crypto.privacy.homomorphic import comparison, contribution, elgamal
from xinlian.crypto.privacy.homomorphic.ceremony import local_keygen
from xinlian.crypto.privacy.homomorphic.comparison import ComparisonProof, Question
from xinlian.crypto.privacy.homomorphic.errors import (
    AggregateStatementError,
    InvalidDecryptionShareError,
    NotAMemberError,
    TooFewSharesError,
)
from xinlian.crypto.threshold.dkg import KeyShare, share_secret

VALUES = [100, 2000, 30000]  # the sum: 32100


def rng_of(seed: int) -> Callable[[int], bytes]:
    return random.Random(seed).randbytes


@pytest.fixture(scope="module")
def shares() -> list[KeyShare]:
    return local_keygen(SM2, 5, 3, b"test-compare", rng_of(5))


@pytest.fixture(scope="module")
def aggregate(shares: list[KeyShare]) -> tuple[elgamal.Ciphertext, int]:
    key = shares[0].public.group_public_key
    items = [(contribution.contribute(key, v, 16, b"c%d" % i, rng_of(i)), b"c%d" % i)
             for i, v in enumerate(VALUES)]
    return contribution.aggregate(key, items, rng_of(9))


def run(shares: list[KeyShare], question: Question, seed: int = 1,
        members: tuple[int, ...] = (1, 2, 4)) -> ComparisonProof:
    rng = rng_of(seed)
    chosen = [s for s in shares if s.identifier in members]
    made = [comparison.member_commit(s, question, rng) for s in chosen]
    public = shares[0].public
    challenge, state = comparison.prover_challenge(public, question, [m for m, _ in made], rng)
    responses = {s.identifier: comparison.member_respond(s, secret, question, challenge)
                 for s, (_, secret) in zip(chosen, made, strict=True)}
    return comparison.prover_finish(public, state, responses)


@pytest.fixture(scope="module")
def proven(shares: list[KeyShare], aggregate: tuple[elgamal.Ciphertext, int]
           ) -> tuple[Question, ComparisonProof]:
    question = Question(aggregate[0], aggregate[1], 32100, b"loans >= 32100")
    return question, run(shares, question)


@pytest.mark.parametrize(("at_least", "claim"), [(0, True), (1, True), (32099, True),
                                                 (32100, True), (32101, False),
                                                 (10**6, False), (2**64 - 1, False)])
def test_the_claim_is_right_and_verifies(shares: list[KeyShare],
                                         aggregate: tuple[elgamal.Ciphertext, int],
                                         at_least: int, claim: bool) -> None:
    question = Question(aggregate[0], aggregate[1], at_least, b"q")
    proof = run(shares, question, seed=at_least % 1000)
    assert proof.claim is claim
    assert comparison.verify(shares[0].public, question, proof)


def test_invalid_the_proof_holds_for_no_other_question(
        shares: list[KeyShare], aggregate: tuple[elgamal.Ciphertext, int],
        proven: tuple[Question, ComparisonProof]) -> None:
    question, proof = proven
    public = shares[0].public
    other_ct, _ = elgamal.encrypt(public.group_public_key, 5, rng_of(3))
    for other in (dataclasses.replace(question, at_least=32101),
                  dataclasses.replace(question, at_least=32099),
                  dataclasses.replace(question, context=b"loans >= 32101"),
                  dataclasses.replace(question, bound=question.bound + 1),
                  dataclasses.replace(question, aggregate=question.aggregate + other_ct)):
        assert not comparison.verify(public, other, proof)
    assert not comparison.verify(public, question, dataclasses.replace(proof, claim=False))
    stranger = share_secret(SM2, SM2.random_scalar(rng_of(4)), 3, [1, 2, 3, 4, 5], rng_of(4))
    assert not comparison.verify(stranger[0].public, question, proof)


@given(st.sampled_from(["v", "t1", "t2", "t3", "z_x", "z_m", "z_s", "range"]),
       st.integers(1, 2**20))
@settings(max_examples=40)
def test_invalid_tampering_never_verifies(shares: list[KeyShare],
                                          proven: tuple[Question, ComparisonProof],
                                          field: str, delta: int) -> None:
    question, proof = proven
    if field == "range":
        changed = dataclasses.replace(proof, range=dataclasses.replace(
            proof.range, tau_x=(proof.range.tau_x + delta) % SM2.order))
    elif field.startswith("z"):
        changed = dataclasses.replace(proof, **{field: (getattr(proof, field) + delta)
                                                % SM2.order})
    else:
        moved = getattr(proof, field) + SM2.base_mul(SM2.scalar(delta))
        changed = dataclasses.replace(proof, **{field: moved})
    assert not comparison.verify(shares[0].public, question, changed)


def test_invalid_members_refuse_a_challenge_that_is_not_theirs(
        shares: list[KeyShare], proven: tuple[Question, ComparisonProof]) -> None:
    question, _ = proven
    rng = rng_of(8)
    public = shares[0].public
    made = {s.identifier: comparison.member_commit(s, question, rng) for s in shares[:4]}
    commits = [made[i][0] for i in (1, 2, 3)]
    challenge, _ = comparison.prover_challenge(public, question, commits, rng)
    with pytest.raises(InvalidDecryptionShareError):  # member 4 is not in this challenge
        comparison.member_respond(shares[3], made[4][1], question, challenge)
    with pytest.raises(InvalidDecryptionShareError):  # member 1's nonces, member 2's key
        comparison.member_respond(shares[1], made[1][1], question, challenge)
    twice = dataclasses.replace(challenge, nonces=(*challenge.nonces, challenge.nonces[0]))
    with pytest.raises(InvalidDecryptionShareError):
        comparison.member_respond(shares[0], made[1][1], question, twice)
    elsewhere = dataclasses.replace(question, at_least=question.at_least - 1)
    with pytest.raises(AggregateStatementError):  # nonces committed to another question
        comparison.member_respond(shares[0], made[1][1], elsewhere, challenge)


@given(st.lists(st.integers(0, 255), min_size=1, max_size=4), st.integers(-3, 3),
       st.integers(0, 2**32))
@settings(max_examples=12)
def test_the_claim_matches_the_sum_for_random_values(shares: list[KeyShare], values: list[int],
                                                     offset: int, seed: int) -> None:
    rng = rng_of(seed)
    key = shares[0].public.group_public_key
    items = [(contribution.contribute(key, v, 8, b"h%d" % i, rng), b"h%d" % i)
             for i, v in enumerate(values)]
    total, bound = contribution.aggregate(key, items, rng)
    at_least = max(0, sum(values) + offset)
    question = Question(total, bound, at_least, b"random")
    proof = run(shares, question, seed=seed % 997)
    assert proof.claim is (sum(values) >= at_least)
    assert comparison.verify(shares[0].public, question, proof)


def test_invalid_the_prover_names_a_bad_response_and_refuses_bad_commits(
        shares: list[KeyShare], proven: tuple[Question, ComparisonProof]) -> None:
    question, _ = proven
    rng = rng_of(10)
    public = shares[0].public
    made = {s.identifier: comparison.member_commit(s, question, rng) for s in shares}
    challenge, state = comparison.prover_challenge(
        public, question, [made[i][0] for i in (1, 2, 3)], rng)
    responses = {i: comparison.member_respond(shares[i - 1], made[i][1], question, challenge)
                 for i in (1, 2, 3)}
    with pytest.raises(InvalidDecryptionShareError, match="member 2"):
        comparison.prover_finish(public, state, {**responses, 2: responses[2] + 1})
    with pytest.raises(TooFewSharesError):
        comparison.prover_finish(public, state, {1: responses[1], 2: responses[2]})
    with pytest.raises(TooFewSharesError):
        comparison.prover_challenge(public, question, [made[1][0], made[2][0]], rng)
    with pytest.raises(InvalidDecryptionShareError):
        comparison.prover_challenge(public, question, [made[1][0], made[1][0], made[2][0]],
                                    rng)
    outsider = share_secret(SM2, SM2.random_scalar(rng_of(6)), 3, [1, 2, 3, 4, 5, 6],
                            rng_of(6))[5]
    foreign, _ = comparison.member_commit(outsider, question, rng)
    with pytest.raises(NotAMemberError):
        comparison.prover_challenge(public, question,
                                    [made[1][0], made[2][0], foreign], rng)


def test_invalid_questions(shares: list[KeyShare],
                           aggregate: tuple[elgamal.Ciphertext, int]) -> None:
    ct, bound = aggregate
    for bad in (Question(ct - ct, bound, 5, b""), Question(ct, bound, -1, b""),
                Question(ct, bound, 2**64, b""), Question(ct, -1, 5, b"")):
        with pytest.raises(AggregateStatementError):
            comparison.member_commit(shares[0], bad, rng_of(1))
