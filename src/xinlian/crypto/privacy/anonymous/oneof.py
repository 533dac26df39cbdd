"""One of n linear relations: a proof that the prover knows witnesses w satisfying the
equations of at least one member of a list, without saying which (Cramer, Damgard,
Schoenmakers 1994, in the ring-of-challenges form of Abe, Ohkubo, Suzuki 2002 that
ring/lsag.py uses for LSAG).

Member i's relation is a list of equations P_ik = sum_j w_(j) * B_ikj over one witness
vector (sigma.py's `Equation`, so the statements read like the confidential proofs). The
prover commits T_pi = sum k*B for its own member, then walks the ring: each next
challenge is c_(i+1) = H(prefix, i, T_i); for the others it picks the responses z_i at
random and sets T_i = sum z_i*B - c_i*P_i; it closes the ring with z_pi = k + c_pi*w.
The proof is (c_0, z_0..z_(n-1)): 1 + n*w scalars. The prefix is squeezed from a
transcript that has absorbed every member's equations after the caller's statement, so
each challenge binds all of it. Special soundness holds per member as in sigma.py (two
closings with different challenges at the real member give its witnesses), and for any
member the simulated transcripts are distributed as real ones: the proof is witness
indistinguishable, which is the spender's and the receiver's anonymity.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from xinlian.crypto.primitives.groups import Element, Group, GroupError, Rng, Scalar, transcript
from xinlian.crypto.privacy.anonymous.errors import (
    InvalidTransferProofError,
    MalformedTransferError,
)
from xinlian.crypto.privacy.confidential.sigma import Equation, _absorb_statement
from xinlian.crypto.privacy.confidential.transcript import Transcript

_DST = b"XINLIAN-ANONYMOUS-V1-ONE-OF-N"
Relation = Sequence[Equation]


@dataclass(frozen=True)
class OneOfProof:
    """The ring's first challenge and each member's responses (plain ints mod the order)."""

    challenge: int
    responses: tuple[tuple[int, ...], ...]

    def encode(self, group: Group) -> bytes:
        scalars = (self.challenge, *(z for member in self.responses for z in member))
        return b"".join(group.scalar(k).encode() for k in scalars)


def proof_size(group: Group, members: int, witnesses: int) -> int:
    return (1 + members * witnesses) * group.scalar_size


def decode(group: Group, data: bytes, members: int, witnesses: int) -> OneOfProof:
    """Strictly decode a proof for `members` relations of `witnesses` witnesses each."""
    size, k = proof_size(group, members, witnesses), group.scalar_size
    if len(data) != size:
        raise MalformedTransferError(
            f"a proof over {members} members of {witnesses} witnesses is {size} bytes, "
            f"got {len(data)}")
    try:
        scalars = [group.decode_scalar(data[i * k:(i + 1) * k]).value
                   for i in range(size // k)]
    except GroupError as exc:
        raise MalformedTransferError(f"one-of-n proof: {exc}") from exc
    return OneOfProof(scalars[0], tuple(tuple(scalars[1 + i * witnesses:1 + (i + 1) * witnesses])
                                        for i in range(members)))


def _prefix(tr: Transcript, members: Sequence[Relation]) -> bytes:
    tr.append_int(b"members", len(members))
    for relation in members:
        _absorb_statement(tr, relation)
    return tr.group.scalar(tr.challenge(b"ring")).encode()


def _next(group: Group, prefix: bytes, i: int, commitments: Sequence[Element]) -> int:
    parts = (b"" if t.is_identity() else t.encode() for t in commitments)
    return group.hash_to_scalar(_DST, transcript(prefix, i.to_bytes(4, "big"), *parts)).value


def _commit(group: Group, relation: Relation, z: Sequence[int], c: int,
            vartime: bool) -> list[Element]:
    """T_k = sum z_j * B_kj - c * P_k for each equation k."""
    msm = group.vartime_msm if vartime else group.msm
    return [msm([group.scalar(z[j]) for j, _ in eq.terms] + [group.scalar(-c)],
                [b for _, b in eq.terms] + [eq.image]) for eq in relation]


def prove(tr: Transcript, members: Sequence[Relation], index: int,
          witnesses: Sequence[Scalar], rng: Rng = os.urandom) -> OneOfProof:
    """Prove knowledge of `witnesses` for member `index` (the caller's duty: false
    witnesses give a proof that does not verify)."""
    group, q, n, w = tr.group, tr.group.order, len(members), len(witnesses)
    prefix = _prefix(tr, members)
    nonces = [group.random_scalar(rng).value for _ in range(w)]
    c = [0] * n
    z: list[tuple[int, ...]] = [()] * n
    c[(index + 1) % n] = _next(group, prefix, index,
                               _commit(group, members[index], nonces, 0, vartime=False))
    for step in range(1, n):
        i = (index + step) % n
        z[i] = tuple(group.random_scalar(rng).value for _ in range(w))
        c[(i + 1) % n] = _next(group, prefix, i,
                               _commit(group, members[i], z[i], c[i], vartime=True))
    z[index] = tuple((k + c[index] * x.value) % q for k, x in zip(nonces, witnesses, strict=True))
    return OneOfProof(c[0], tuple(z))


def verify(tr: Transcript, members: Sequence[Relation], proof: OneOfProof) -> None:
    """Raise InvalidTransferProofError unless the ring of challenges closes."""
    group = tr.group
    if len(proof.responses) != len(members):
        raise MalformedTransferError(
            f"{len(proof.responses)} responses for {len(members)} members")
    prefix = _prefix(tr, members)
    c = proof.challenge
    for i, (relation, z) in enumerate(zip(members, proof.responses, strict=True)):
        if any(j >= len(z) for eq in relation for j, _ in eq.terms):
            raise MalformedTransferError("an equation names a witness the proof lacks")
        c = _next(group, prefix, i, _commit(group, relation, z, c, vartime=True))
    if c != proof.challenge:
        raise InvalidTransferProofError("the ring of challenges does not close")
