"""Is an encrypted aggregate at least T? A publicly verifiable answer that reveals the bit
and nothing else about the sum to everyone but one prover.

Theory of operation. The question is (aggregate (R, C), bound, T, context). t members and a
prover (one member, an auditor) run two rounds:

1. Each member i sends the prover, privately, its decryption share D_i = x_i*R with its
   proof (threshold.py) and commitments to two fresh nonces d_i, e_i on both bases:
   (d_i*P, e_i*P, d_i*R, e_i*R). It keeps d_i, e_i.
2. The prover combines the shares, so it alone learns the sum S (dlog.py), and takes the
   claim b = [S >= T]; it commits V = m*G + s*H to m = S - T (b) or T - 1 - S (not b), proves
   m in [0, 2^n) with a Bulletproofs range proof (2^n above the bound and T, so the range
   says nothing more), and picks k_m, k_s: K_m = k_m*P, T3 = k_m*G + k_s*H. It sends every
   member the challenge: the claim, V, K_m, T3 and all t members' nonce commitments.
3. Member i derives the binding factors rho_j = H(question, claim, V, K_m, T3, every
   commitment, j), the nonce commitment T1 = sum lambda_j (d_j*P + rho_j e_j*P), likewise
   on R, T2 = sgn*K_m + (that on R) and the challenge c = H(question, claim, V, T1, T2, T3),
   checks its own commitments are in, and answers z_i = d_i + rho_i e_i + c x_i, once.
4. The prover checks each z_i against Y_i and D_i, and publishes the proof: the claim, V,
   T1, T2, T3, z_x = sum lambda_i z_i, z_m = k_m + c m, z_s = k_s + c s and the range proof.

With E = C - T_b*P (T_b = T and sgn = 1 for the claim S >= T; T - 1 and -1 otherwise) the
verifier checks z_x*P = T1 + c*Y, sgn*z_m*P + z_x*R = T2 + c*E, z_m*G + z_s*H = T3 + c*V and
the range proof: a sigma proof of x, m, s with Y = x*P, E - x*R = sgn*m*P and V = m*G + s*H.
Since E - x*R = (S - T_b)*P, m = sgn*(S - T_b) lies in [0, 2^n), which is the claim. The
two nonces bound to everything the prover chooses are FROST's defence (Komlo-Goldberg
2020) against ROS attacks over concurrent sessions.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from xinlian.crypto.primitives.groups import (
    Element,
    GroupError,
    Rng,
    Scalar,
    lagrange_coefficient,
    transcript,
)
from xinlian.crypto.privacy.confidential import pedersen, range_proof
from xinlian.crypto.privacy.confidential.errors import ConfidentialError
from xinlian.crypto.privacy.confidential.generators import generators
from xinlian.crypto.privacy.confidential.range_proof import RangeProof
from xinlian.crypto.privacy.confidential.transcript import Transcript
from xinlian.crypto.privacy.homomorphic import dlog, threshold
from xinlian.crypto.privacy.homomorphic.elgamal import Ciphertext, base
from xinlian.crypto.privacy.homomorphic.errors import (
    AggregateStatementError,
    InvalidDecryptionShareError,
    TooFewSharesError,
)
from xinlian.crypto.privacy.homomorphic.threshold import DecryptionShare
from xinlian.crypto.threshold.dkg import KeyShare, PublicKeyPackage

RANGES = range_proof.BIT_SIZES  # the difference's range sizes: 8, 16, 32, 64
_BINDING_DST = b"XINLIAN-HOMOMORPHIC-V1-COMPARE-BINDING"


@dataclass(frozen=True)
class Question:
    """Is the aggregate's value (in [0, bound]) at least `at_least`?"""

    aggregate: Ciphertext
    bound: int
    at_least: int
    context: bytes

    @property
    def bits(self) -> int:
        """The range of the difference: the smallest size with 2^bits above bound and T."""
        top = max(self.bound, self.at_least)
        return next(n for n in RANGES if top < 1 << n)

    def check(self, public: PublicKeyPackage) -> None:
        if self.aggregate.group is not public.group:
            raise AggregateStatementError("the aggregate is not under this key's group")
        if self.aggregate.r.is_identity():
            raise AggregateStatementError("an aggregate of no contribution has no value")
        if not 0 <= self.bound <= dlog.MAX_BOUND or not 0 <= self.at_least < 1 << 64:
            raise AggregateStatementError(
                f"a bound in [0, {dlog.MAX_BOUND}] and a threshold in [0, 2^64) are needed")


@dataclass(frozen=True)
class Nonces:
    """Member i's commitments (d*P, e*P, d*R, e*R)."""

    member: int
    points: tuple[Element, Element, Element, Element]


@dataclass(frozen=True)
class MemberCommit:
    """Round 1, member -> prover, privately: the decryption share and the nonce commitments."""

    share: DecryptionShare
    nonces: Nonces


@dataclass(frozen=True)
class SecretNonces:
    """What a member keeps between the rounds (and uses once), with the question it
    committed to."""

    member: int
    d: Scalar
    e: Scalar
    nonces: Nonces
    question: Question


@dataclass(frozen=True)
class Challenge:
    """Round 2, prover -> members: the claim, the prover's commitments, every member's."""

    claim: bool
    v: Element
    k_m: Element
    t3: Element
    nonces: tuple[Nonces, ...]


@dataclass(frozen=True)
class ComparisonProof:
    claim: bool
    v: Element
    t1: Element
    t2: Element
    t3: Element
    z_x: int
    z_m: int
    z_s: int
    range: RangeProof


@dataclass(frozen=True)
class ProverState:
    """The prover's secrets between the rounds: the sum, the opening of V, its nonces."""

    question: Question
    shares: dict[int, DecryptionShare]
    challenge: Challenge
    value: int
    m: int
    s: Scalar
    k_m: Scalar
    k_s: Scalar
    range: RangeProof


def member_commit(key_share: KeyShare, question: Question,
                  rng: Rng = os.urandom) -> tuple[MemberCommit, SecretNonces]:
    question.check(key_share.public)
    group, r = key_share.group, question.aggregate.r
    d, e = group.random_scalar(rng), group.random_scalar(rng)
    nonces = Nonces(key_share.identifier, (group.base_mul(d), group.base_mul(e), r * d, r * e))
    share = threshold.make_share(key_share, question.aggregate, rng)
    return MemberCommit(share, nonces), SecretNonces(key_share.identifier, d, e, nonces,
                                                     question)


def _sign(claim: bool) -> int:
    return 1 if claim else -1


def _target(question: Question, claim: bool) -> Element:
    """E = C - T_b*P."""
    group = question.aggregate.group
    t_b = question.at_least if claim else question.at_least - 1
    return question.aggregate.c - base(group) * group.scalar(t_b)


def _question_parts(public: PublicKeyPackage, question: Question) -> list[bytes]:
    return [public.group_public_key.encode(), question.aggregate.encode(),
            question.bound.to_bytes(8, "big"), question.at_least.to_bytes(8, "big"),
            question.context]


def _binding(public: PublicKeyPackage, question: Question, challenge: Challenge
             ) -> dict[int, Scalar]:
    group = public.group
    head = [*_question_parts(public, question), bytes([challenge.claim]),
            challenge.v.encode(), challenge.k_m.encode(), challenge.t3.encode()]
    for n in challenge.nonces:
        head += [n.member.to_bytes(4, "big"), *(p.encode() for p in n.points)]
    return {n.member: group.hash_to_scalar(_BINDING_DST,
                                           transcript(*head, n.member.to_bytes(4, "big")))
            for n in challenge.nonces}


def _group_commitments(public: PublicKeyPackage, question: Question, challenge: Challenge
                       ) -> tuple[Element, Element]:
    """T1 = sum lambda_j (d_j P + rho_j e_j P) and T2 = sgn*K_m + the same on R."""
    group = public.group
    ids = [n.member for n in challenge.nonces]
    rho = _binding(public, question, challenge)
    lam = {i: lagrange_coefficient(group, ids, i) for i in ids}
    weights = [k for n in challenge.nonces for k in (lam[n.member], lam[n.member] * rho[n.member])]
    t1 = group.msm(weights, [p for n in challenge.nonces for p in n.points[:2]])
    on_r = group.msm(weights, [p for n in challenge.nonces for p in n.points[2:]])
    k_m = challenge.k_m if challenge.claim else -challenge.k_m
    return t1, k_m + on_r


def _challenge(public: PublicKeyPackage, question: Question, claim: bool, v: Element,
               t1: Element, t2: Element, t3: Element) -> int:
    tr = Transcript(public.group, b"HOMOMORPHIC-COMPARE")
    for label, part in zip((b"Y", b"ct", b"bound", b"T", b"context"),
                           _question_parts(public, question), strict=True):
        tr.append(label, part)
    tr.append(b"claim", bytes([claim]))
    for label, x in ((b"V", v), (b"T1", t1), (b"T2", t2), (b"T3", t3)):
        tr.append_element(label, x)
    return tr.challenge(b"c")


def prover_challenge(public: PublicKeyPackage, question: Question,
                     commits: Sequence[MemberCommit], rng: Rng = os.urandom
                     ) -> tuple[Challenge, ProverState]:
    """Check the shares, open the sum (this prover alone), commit to the difference."""
    question.check(public)
    group = public.group
    chosen: dict[int, MemberCommit] = {}
    for c in commits:
        threshold.verify_share(public, question.aggregate, c.share)
        if c.nonces.member != c.share.member or c.share.member in chosen:
            raise InvalidDecryptionShareError(f"member {c.share.member}: one commit each")
        chosen[c.share.member] = c
    if len(chosen) < public.threshold:
        raise TooFewSharesError(f"{len(chosen)} members; the key needs {public.threshold}")
    used = {i: chosen[i] for i in sorted(chosen)[:public.threshold]}
    value = dlog.solve(threshold.combine(public, question.aggregate,
                                         [c.share for c in used.values()]), question.bound)
    claim = value >= question.at_least
    m = value - question.at_least if claim else question.at_least - 1 - value
    s = pedersen.random_blinding(group, rng)
    proof, (v,) = range_proof.prove(group, [m], [s], question.bits, rng)
    k_m, k_s = group.random_scalar(rng), group.random_scalar(rng)
    gens = generators(group)
    challenge = Challenge(claim, v, group.base_mul(k_m), group.msm([k_m, k_s], [gens.g, gens.h]),
                          tuple(c.nonces for c in used.values()))
    state = ProverState(question, {i: c.share for i, c in used.items()}, challenge, value, m, s,
                        k_m, k_s, proof)
    return challenge, state


def member_respond(key_share: KeyShare, secret: SecretNonces, question: Question,
                   challenge: Challenge) -> int:
    """z_i = d_i + rho_i e_i + c x_i, after checking that the challenge holds this member's
    commitments and derives from this question (the caller must never reuse `secret`)."""
    public = key_share.public
    question.check(public)
    if question != secret.question:
        raise AggregateStatementError("these nonces were committed to another question")
    mine = [n for n in challenge.nonces if n.member == key_share.identifier]
    if mine != [secret.nonces] or secret.member != key_share.identifier:
        raise InvalidDecryptionShareError("the challenge does not hold this member's nonces")
    ids = [n.member for n in challenge.nonces]
    if len(set(ids)) != len(ids) or any(public.verifying_share(i) is None for i in ids):
        raise InvalidDecryptionShareError("the challenge names a member twice or a non-member")
    t1, t2 = _group_commitments(public, question, challenge)
    c = _challenge(public, question, challenge.claim, challenge.v, t1, t2, challenge.t3)
    rho = _binding(public, question, challenge)[key_share.identifier]
    q = public.group.order
    return (secret.d.value + rho.value * secret.e.value + c * key_share.secret.value) % q


def prover_finish(public: PublicKeyPackage, state: ProverState,
                  responses: dict[int, int]) -> ComparisonProof:
    """Check every member's response (InvalidDecryptionShareError names a bad one) and make
    the proof."""
    group, question, challenge = public.group, state.question, state.challenge
    t1, t2 = _group_commitments(public, question, challenge)
    c = _challenge(public, question, challenge.claim, challenge.v, t1, t2, challenge.t3)
    rho = _binding(public, question, challenge)
    ids = [n.member for n in challenge.nonces]
    if sorted(responses) != sorted(ids):
        raise TooFewSharesError(f"responses from {sorted(responses)}, expected {ids}")
    p, q = base(group), group.order
    for n in challenge.nonces:
        z = group.scalar(responses[n.member])
        y = public.verifying_share(n.member)
        assert y is not None
        share = state.shares[n.member].point
        d_p, e_p, d_r, e_r = n.points
        if (z * p != d_p + e_p * rho[n.member] + y * group.scalar(c)
                or z * question.aggregate.r != d_r + e_r * rho[n.member]
                + share * group.scalar(c)):
            raise InvalidDecryptionShareError(f"member {n.member}'s response does not verify")
    z_x = sum(lagrange_coefficient(group, ids, i).value * responses[i] for i in ids) % q
    return ComparisonProof(challenge.claim, challenge.v, t1, t2, challenge.t3, z_x,
                           (state.k_m.value + c * state.m) % q,
                           (state.k_s.value + c * state.s.value) % q, state.range)


def verify(public: PublicKeyPackage, question: Question, proof: ComparisonProof) -> bool:
    """Whether the proof shows its claim (value >= T, or value < T) for this question."""
    question.check(public)
    group = public.group
    if not proof.claim and question.at_least == 0:
        return False  # no value is below 0
    p, gens, y = base(group), generators(group), public.group_public_key
    c = _challenge(public, question, proof.claim, proof.v, proof.t1, proof.t2, proof.t3)
    z_x, z_m, z_s = (group.scalar(k) for k in (proof.z_x, proof.z_m, proof.z_s))
    cs = group.scalar(c)
    target = _target(question, proof.claim)
    sgn = group.scalar(_sign(proof.claim))
    if (z_x * p != proof.t1 + y * cs
            or p * (sgn * z_m) + question.aggregate.r * z_x != proof.t2 + target * cs
            or group.msm([z_m, z_s], [gens.g, gens.h]) != proof.t3 + proof.v * cs):
        return False
    try:
        range_proof.verify(group, [proof.v], proof.range, question.bits)
    except (ConfidentialError, GroupError):
        return False
    return True
