"""Sigma protocols for linear relations (Maurer's unified framework, 2009), made
non-interactive with Fiat-Shamir over the domain-separated transcript of transcript.py.

A statement is a list of equations P_k = sum_j w_(i_kj) * B_kj over secret witnesses w_i
and public bases; the prover picks k_i at random, sends T_k = sum_j k_(i_kj) * B_kj, gets
the challenge e from the transcript (which holds the whole statement first) and answers
z_i = k_i + e*w_i. The proof is (e, z): the verifier recomputes T_k = sum z*B - e*P_k and
checks that the transcript gives e again. Special soundness (two answers to two challenges
give the witnesses) and honest-verifier zero knowledge make it a proof of knowledge of
witnesses satisfying every equation at once; shared witness indices tie equations together
(the same r in several ciphertexts, the same v in a ciphertext and the regulator's).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from xinlian.crypto.primitives.groups import Element, Group, GroupError, Rng, Scalar
from xinlian.crypto.privacy.confidential.errors import (
    InvalidConfidentialProofError,
    MalformedProofError,
)
from xinlian.crypto.privacy.confidential.transcript import Transcript


@dataclass(frozen=True)
class Equation:
    """image = sum(w[i] * base for i, base in terms)."""

    image: Element
    terms: tuple[tuple[int, Element], ...]


@dataclass(frozen=True)
class LinearProof:
    challenge: int
    responses: tuple[int, ...]

    def encode(self, group: Group) -> bytes:
        return b"".join(group.scalar(k).encode() for k in (self.challenge, *self.responses))


def proof_size(group: Group, witnesses: int) -> int:
    return (1 + witnesses) * group.scalar_size


def decode(group: Group, data: bytes, witnesses: int) -> LinearProof:
    k = group.scalar_size
    if len(data) != proof_size(group, witnesses):
        raise MalformedProofError(
            f"a proof of {witnesses} witnesses is {proof_size(group, witnesses)} bytes, "
            f"got {len(data)}")
    try:
        scalars = [group.decode_scalar(data[i * k:(i + 1) * k]).value
                   for i in range(1 + witnesses)]
    except GroupError as exc:
        raise MalformedProofError(f"sigma proof: {exc}") from exc
    return LinearProof(scalars[0], tuple(scalars[1:]))


def _absorb_statement(tr: Transcript, equations: Sequence[Equation]) -> None:
    tr.append_int(b"equations", len(equations))
    for eq in equations:
        tr.append_element(b"P", eq.image)
        tr.append_int(b"terms", len(eq.terms))
        for i, base in eq.terms:
            tr.append_int(b"i", i)
            tr.append_element(b"B", base)


def prove(tr: Transcript, equations: Sequence[Equation], witnesses: Sequence[Scalar],
          rng: Rng = os.urandom) -> LinearProof:
    """Prove knowledge of `witnesses` satisfying `equations` (the caller's duty: a false
    witness gives a proof that does not verify)."""
    group = tr.group
    _absorb_statement(tr, equations)
    nonces = [group.random_scalar(rng) for _ in witnesses]
    for eq in equations:
        tr.append_element(b"T", group.msm([nonces[i] for i, _ in eq.terms],
                                          [b for _, b in eq.terms]))
    e = tr.challenge(b"e")
    q = group.order
    return LinearProof(e, tuple((k.value + e * w.value) % q
                                for k, w in zip(nonces, witnesses, strict=True)))


def verify(tr: Transcript, equations: Sequence[Equation], proof: LinearProof) -> None:
    """Raise InvalidConfidentialProofError unless `proof` holds for `equations`."""
    group = tr.group
    _absorb_statement(tr, equations)
    minus_e = group.scalar(-proof.challenge)
    for eq in equations:
        if any(i >= len(proof.responses) for i, _ in eq.terms):
            raise InvalidConfidentialProofError("a term names a witness the proof lacks")
        scalars = [group.scalar(proof.responses[i]) for i, _ in eq.terms] + [minus_e]
        tr.append_element(b"T", group.vartime_msm(scalars, [b for _, b in eq.terms]
                                                  + [eq.image]))
    if tr.challenge(b"e") != proof.challenge:
        raise InvalidConfidentialProofError("the proof does not verify for its statement")
