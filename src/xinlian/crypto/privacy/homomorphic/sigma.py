"""The two sigma proofs of a contribution, in commitment form so that a verifier can check
any number of them in one multi-scalar multiplication.

- `BitProof` (Cramer-Damgard-Schoenmakers OR of two Chaum-Pedersen proofs): (R, C) encrypts
  0 or 1 under Y, i.e. (P, Y, R, C) or (P, Y, R, C - P) is a Diffie-Hellman tuple. The
  prover answers the true branch honestly and simulates the other with a challenge it
  picks; the two challenges must add up to the Fiat-Shamir challenge.
- `LinkProof`: knowledge of (m, r, s) with R = r*P, C = m*P + r*Y and V = m*G + s*H, so the
  Pedersen commitment V that a Bulletproofs range proof covers holds the ciphertext's m.

Every check has the form z*B = T + c*X; a proof contributes its equations to `Equations`
each times a fresh random weight from the verifier, and the batch holds when the weighted
sum is the identity (a false equation survives with probability about 1/order). The
challenge comes from a transcript that starts with the group, the key, the ciphertext and
the caller's context (a poll, a record, a member), so a proof never verifies elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from xinlian.crypto.primitives.groups import Element, Group, GroupError, Rng, Scalar
from xinlian.crypto.privacy.confidential.generators import generators
from xinlian.crypto.privacy.confidential.transcript import Transcript
from xinlian.crypto.privacy.homomorphic.elgamal import Ciphertext, base
from xinlian.crypto.privacy.homomorphic.errors import MalformedAggregateInputError


class Equations:
    """The coefficients of one batch's multi-scalar multiplication (public scalars only).
    Terms on shared bases (P, Y, G, H) are merged, so a batch pays for each once."""

    def __init__(self, group: Group, rng: Rng) -> None:
        self.group = group
        self.rng = rng
        self.shared: dict[bytes, tuple[Element, int]] = {}
        self.scalars: list[int] = []
        self.points: list[Element] = []

    def weight(self) -> int:
        return self.group.random_scalar(self.rng).value

    def add(self, weight: int, terms: list[tuple[int, Element]],
            shared: list[tuple[int, Element]]) -> None:
        """Add weight * (sum of k*X over `terms` and `shared`) = 0 to the batch."""
        q = self.group.order
        for k, x in terms:
            self.scalars.append(weight * k % q)
            self.points.append(x)
        for k, x in shared:
            key = x.encode()
            base, old = self.shared.get(key, (x, 0))
            self.shared[key] = (base, (old + weight * k) % q)

    def holds(self) -> bool:
        scalars = self.scalars + [k for _, k in self.shared.values()]
        points = self.points + [x for x, _ in self.shared.values()]
        group = self.group
        return group.vartime_msm([group.scalar(k) for k in scalars], points).is_identity()


def _transcript(protocol: bytes, key: Element, ct: Ciphertext, context: bytes) -> Transcript:
    tr = Transcript(key.group, b"HOMOMORPHIC-" + protocol)
    tr.append_element(b"Y", key)
    tr.append_element(b"R", ct.r)
    tr.append_element(b"C", ct.c)
    tr.append(b"context", context)
    return tr


def _decode_parts(group: Group, data: bytes, points: int, scalars: int,
                  what: str) -> tuple[list[Element], list[int]]:
    e, k = group.element_size, group.scalar_size
    if len(data) != points * e + scalars * k:
        raise MalformedAggregateInputError(
            f"{what} is {points * e + scalars * k} bytes, got {len(data)}")
    try:
        elements = [group.decode_element(data[i * e:(i + 1) * e]) for i in range(points)]
        at = points * e
        values = [group.decode_scalar(data[at + i * k:at + (i + 1) * k]).value
                  for i in range(scalars)]
    except GroupError as exc:
        raise MalformedAggregateInputError(f"{what}: {exc}") from exc
    return elements, values


def _encode_parts(group: Group, elements: list[Element], scalars: list[int]) -> bytes:
    return (b"".join(x.encode() for x in elements)
            + b"".join(group.scalar(k).encode() for k in scalars))


# -- bit proofs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BitProof:
    """Branch j's commitments (a_j, b_j), branch 0's challenge c0 and the responses."""

    a0: Element
    b0: Element
    a1: Element
    b1: Element
    c0: int
    z0: int
    z1: int

    def encode(self) -> bytes:
        return _encode_parts(self.a0.group, [self.a0, self.b0, self.a1, self.b1],
                             [self.c0, self.z0, self.z1])


def bit_proof_size(group: Group) -> int:
    return 4 * group.element_size + 3 * group.scalar_size


def decode_bit_proof(group: Group, data: bytes) -> BitProof:
    (a0, b0, a1, b1), (c0, z0, z1) = _decode_parts(group, data, 4, 3, "bit proof")
    return BitProof(a0, b0, a1, b1, c0, z0, z1)


def _bit_challenge(key: Element, ct: Ciphertext, context: bytes,
                   commitments: list[Element]) -> int:
    tr = _transcript(b"BIT", key, ct, context)
    for label, x in zip((b"a0", b"b0", b"a1", b"b1"), commitments, strict=True):
        tr.append_element(label, x)
    return tr.challenge(b"c")


def prove_bit(key: Element, ct: Ciphertext, bit: int, r: Scalar, context: bytes,
              rng: Rng) -> BitProof:
    """Prove that ct = Enc_key(bit; r) with bit 0 or 1 (the caller checked `bit`): an OR
    of two Chaum-Pedersen proofs, the one for the other bit simulated from a chosen
    challenge and response (Cramer-Damgard-Schoenmakers)."""
    group = key.group
    q, p = group.order, base(group)
    k = group.random_scalar(rng)
    c_sim, z_sim = group.random_scalar(rng), group.random_scalar(rng)
    other = 1 - bit
    shifted = ct.c - p if other else ct.c  # C - other*P
    simulated = (z_sim * p - c_sim * ct.r, z_sim * key - c_sim * shifted)
    real = (group.base_mul(k), k * key)
    (a0, b0), (a1, b1) = (real, simulated) if bit == 0 else (simulated, real)
    c = _bit_challenge(key, ct, context, [a0, b0, a1, b1])
    c_real = (c - c_sim.value) % q
    z_real = (k.value + c_real * r.value) % q
    if bit == 0:
        return BitProof(a0, b0, a1, b1, c_real, z_real, z_sim.value)
    return BitProof(a0, b0, a1, b1, c_sim.value, z_sim.value, z_real)


def add_bit_proof(eq: Equations, key: Element, ct: Ciphertext, proof: BitProof,
                  context: bytes) -> None:
    """Add the four equations z_j*P = a_j + c_j*R, z_j*Y = b_j + c_j*(C - j*P)."""
    group = key.group
    q, p = group.order, base(group)
    c = _bit_challenge(key, ct, context, [proof.a0, proof.b0, proof.a1, proof.b1])
    c0, c1 = proof.c0, (c - proof.c0) % q
    for z, cj, a, b, j in ((proof.z0, c0, proof.a0, proof.b0, 0),
                           (proof.z1, c1, proof.a1, proof.b1, 1)):
        eq.add(eq.weight(), [(-1, a), (-cj, ct.r)], [(z, p)])
        eq.add(eq.weight(), [(-1, b), (-cj, ct.c)], [(z, key), (cj * j, p)])


# -- link proofs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkProof:
    """Commitments T1 (to r), T2 (to m, r), T3 (to m, s) and the responses."""

    t1: Element
    t2: Element
    t3: Element
    z_m: int
    z_r: int
    z_s: int

    def encode(self) -> bytes:
        return _encode_parts(self.t1.group, [self.t1, self.t2, self.t3],
                             [self.z_m, self.z_r, self.z_s])


def link_proof_size(group: Group) -> int:
    return 3 * group.element_size + 3 * group.scalar_size


def decode_link_proof(group: Group, data: bytes) -> LinkProof:
    (t1, t2, t3), (z_m, z_r, z_s) = _decode_parts(group, data, 3, 3, "link proof")
    return LinkProof(t1, t2, t3, z_m, z_r, z_s)


def _link_challenge(key: Element, ct: Ciphertext, v: Element, context: bytes,
                    commitments: list[Element]) -> int:
    tr = _transcript(b"LINK", key, ct, context)
    tr.append_element(b"V", v)
    for label, x in zip((b"T1", b"T2", b"T3"), commitments, strict=True):
        tr.append_element(label, x)
    return tr.challenge(b"c")


def prove_link(key: Element, ct: Ciphertext, v: Element, value: int, r: Scalar, s: Scalar,
               context: bytes, rng: Rng) -> LinkProof:
    """Prove that ct = Enc_key(value; r) and v = value*G + s*H."""
    group = key.group
    q, gens = group.order, generators(group)
    k_m, k_r, k_s = (group.random_scalar(rng) for _ in range(3))
    t1 = group.base_mul(k_r)
    t2 = group.msm([k_m, k_r], [base(group), key])
    t3 = group.msm([k_m, k_s], [gens.g, gens.h])
    c = _link_challenge(key, ct, v, context, [t1, t2, t3])
    return LinkProof(t1, t2, t3, (k_m.value + c * value) % q, (k_r.value + c * r.value) % q,
                     (k_s.value + c * s.value) % q)


def add_link_proof(eq: Equations, key: Element, ct: Ciphertext, v: Element, proof: LinkProof,
                   context: bytes) -> None:
    """Add z_r*P = T1 + c*R, z_m*P + z_r*Y = T2 + c*C and z_m*G + z_s*H = T3 + c*V."""
    group = key.group
    p, gens = base(group), generators(group)
    c = _link_challenge(key, ct, v, context, [proof.t1, proof.t2, proof.t3])
    eq.add(eq.weight(), [(-1, proof.t1), (-c, ct.r)], [(proof.z_r, p)])
    eq.add(eq.weight(), [(-1, proof.t2), (-c, ct.c)], [(proof.z_m, p), (proof.z_r, key)])
    eq.add(eq.weight(), [(-1, proof.t3), (-c, v)], [(proof.z_m, gens.g), (proof.z_s, gens.h)])
