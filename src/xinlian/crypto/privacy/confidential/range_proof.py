"""Aggregated Bulletproofs range proofs (Bünz et al. 2018, §4.1-§4.3): m Pedersen
commitments V_j = v_j*G + gamma_j*H each open to a value in [0, 2^n), in one proof of
2*log2(n*m) + 4 elements and 5 scalars.

The prover commits to the values' bits (A) and to blinding vectors (S), answers the
challenges y, z with the coefficients of t(X) = <l(X), r(X)> (T1, T2), opens them at the
challenge x (tau_x, mu, t_hat) and proves <l, r> = t_hat with the inner-product argument.
The verifier checks both equations of the paper as one multi-scalar multiplication: the
t-equation is weighted by a random scalar c, and in a batch every proof's equations by a
random weight, so the shared generators appear once whatever the number of proofs.
Challenges come from a Fiat-Shamir transcript that starts with the group, the generators'
seed, n, m and the commitments; a proof therefore never verifies for other commitments.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from xinlian.crypto.primitives.groups import Element, Group, GroupError, Rng, Scalar
from xinlian.crypto.privacy.confidential import inner_product
from xinlian.crypto.privacy.confidential.errors import (
    InvalidRangeProofError,
    MalformedProofError,
    RangeProofStatementError,
)
from xinlian.crypto.privacy.confidential.generators import SEED, Generators, generators
from xinlian.crypto.privacy.confidential.inner_product import InnerProductProof, inner, msm
from xinlian.crypto.privacy.confidential.pedersen import commit
from xinlian.crypto.privacy.confidential.transcript import Transcript

BIT_SIZES = (8, 16, 32, 64)
MAX_VALUES = 16


@dataclass(frozen=True)
class RangeProof:
    """A (possibly aggregated) range proof; `encode` gives its canonical bytes."""

    a: Element
    s: Element
    t1: Element
    t2: Element
    tau_x: int
    mu: int
    t_hat: int
    ipp: InnerProductProof

    def encode(self) -> bytes:
        """A || S || T1 || T2 || (L_j || R_j)* || tau_x || mu || t_hat || a || b."""
        group = self.a.group
        rounds = [p for pair in zip(self.ipp.left, self.ipp.right, strict=True) for p in pair]
        scalars = [self.tau_x, self.mu, self.t_hat, self.ipp.a, self.ipp.b]
        return (b"".join(p.encode() for p in [self.a, self.s, self.t1, self.t2, *rounds])
                + b"".join(group.scalar(k).encode() for k in scalars))


def check_statement(n: int, m: int) -> None:
    """Refuse a bit size or value count outside what the protocol and its caps allow."""
    if n not in BIT_SIZES:
        raise RangeProofStatementError(f"bit size must be one of {BIT_SIZES}, got {n}")
    if not 1 <= m <= MAX_VALUES or m & (m - 1):
        raise RangeProofStatementError(
            f"value count must be a power of two from 1 to {MAX_VALUES}, got {m}")


def proof_size(group: Group, n: int, m: int) -> int:
    """The encoded size in bytes of a proof for m values of n bits."""
    check_statement(n, m)
    rounds = (n * m).bit_length() - 1
    return (4 + 2 * rounds) * group.element_size + 5 * group.scalar_size


def decode(group: Group, data: bytes, n: int, m: int) -> RangeProof:
    """Strictly decode a proof for m values of n bits (exact length, canonical encodings)."""
    size = proof_size(group, n, m)
    if len(data) != size:
        raise MalformedProofError(
            f"range proof for {m} values of {n} bits is {size} bytes, got {len(data)}")
    e, k = group.element_size, group.scalar_size
    try:
        rounds = (n * m).bit_length() - 1
        points = [group.decode_element(data[i * e:(i + 1) * e]) for i in range(4 + 2 * rounds)]
        at = (4 + 2 * rounds) * e
        scalars = [group.decode_scalar(data[at + i * k:at + (i + 1) * k]).value
                   for i in range(5)]
    except GroupError as exc:
        raise MalformedProofError(f"range proof: {exc}") from exc
    ipp = InnerProductProof(tuple(points[4::2]), tuple(points[5::2]), scalars[3], scalars[4])
    return RangeProof(points[0], points[1], points[2], points[3],
                      scalars[0], scalars[1], scalars[2], ipp)


def _statement(group: Group, n: int, commitments: Sequence[Element]) -> Transcript:
    tr = Transcript(group, b"RANGE-PROOF")
    tr.append(b"generators", SEED)
    tr.append_int(b"n", n)
    tr.append_int(b"m", len(commitments))
    for v in commitments:
        tr.append_element(b"V", v)
    return tr


def _powers(x: int, count: int, q: int) -> list[int]:
    out = [1] * count
    for i in range(1, count):
        out[i] = out[i - 1] * x % q
    return out


def prove(group: Group, values: Sequence[int], blindings: Sequence[Scalar], n: int,
          rng: Rng = os.urandom) -> tuple[RangeProof, list[Element]]:
    """Prove that every value lies in [0, 2^n); returns the proof and the commitments
    v_j*G + blinding_j*H it is bound to. Refuses (RangeProofStatementError) any value
    outside the range: it never produces a proof of a false statement."""
    m = len(values)
    check_statement(n, m)
    if len(blindings) != m:
        raise RangeProofStatementError(f"{m} values but {len(blindings)} blindings")
    for v in values:
        if not 0 <= v < 1 << n:
            raise RangeProofStatementError(f"a value is outside [0, 2^{n})")
    gens = generators(group)
    q, big_n = group.order, n * m
    gi, hi = gens.gi[:big_n], gens.hi[:big_n]
    commitments = [commit(group, v, gamma) for v, gamma in zip(values, blindings, strict=True)]
    tr = _statement(group, n, commitments)

    bits = [(v >> i) & 1 for v in values for i in range(n)]
    alpha, rho, tau1, tau2 = (group.random_scalar(rng).value for _ in range(4))
    s_l = [group.random_scalar(rng).value for _ in range(big_n)]
    s_r = [group.random_scalar(rng).value for _ in range(big_n)]
    # <a_L, G> + <a_R, H> with a_L the bits and a_R = a_L - 1: N additions whatever the bits
    a_point = group.sum([gi[i] if b else gens.hi_neg[i] for i, b in enumerate(bits)]
                        + [gens.h * group.scalar(alpha)])
    s_point = msm(group, [rho, *s_l, *s_r], [gens.h, *gi, *hi])
    tr.append_element(b"A", a_point)
    tr.append_element(b"S", s_point)
    y, z = tr.challenge(b"y"), tr.challenge(b"z")

    y_n = _powers(y, big_n, q)
    zz = [z * z * pow(z, j, q) % q for j in range(m)]  # z^(2+j)
    l0 = [(b - z) % q for b in bits]
    r0 = [(y_n[i] * (bits[i] - 1 + z) + zz[i // n] * (1 << (i % n))) % q
          for i in range(big_n)]
    r1 = [y_n[i] * s_r[i] % q for i in range(big_n)]
    t1 = (inner(l0, r1, q) + inner(s_l, r0, q)) % q
    t2 = inner(s_l, r1, q)
    t1_point = msm(group, [t1, tau1], [gens.g, gens.h])
    t2_point = msm(group, [t2, tau2], [gens.g, gens.h])
    tr.append_element(b"T1", t1_point)
    tr.append_element(b"T2", t2_point)
    x = tr.challenge(b"x")

    l_vec = [(a + s * x) % q for a, s in zip(l0, s_l, strict=True)]
    r_vec = [(a + s * x) % q for a, s in zip(r0, r1, strict=True)]
    t_hat = inner(l_vec, r_vec, q)
    tau_x = (tau2 * x * x + tau1 * x
             + sum(zj * g.value for zj, g in zip(zz, blindings, strict=True))) % q
    mu = (alpha + rho * x) % q
    tr.append_scalar(b"tau_x", tau_x)
    tr.append_scalar(b"mu", mu)
    tr.append_scalar(b"t_hat", t_hat)
    w = tr.challenge(b"w")
    y_inv = _powers(pow(y, -1, q), big_n, q)
    ipp = inner_product.prove(tr, gens.g * group.scalar(w), gi, hi, y_inv, l_vec, r_vec)
    return RangeProof(a_point, s_point, t1_point, t2_point, tau_x, mu, t_hat, ipp), commitments


class _Equation:
    """The coefficients of one batch's single multi-scalar multiplication."""

    def __init__(self, gens: Generators) -> None:
        self.gens = gens
        self.gi = [0] * len(gens.gi)
        self.hi = [0] * len(gens.hi)
        self.g = 0
        self.h = 0
        self.scalars: list[int] = []
        self.points: list[Element] = []

    def add(self, commitments: Sequence[Element], proof: RangeProof, n: int, weight: int,
            c: int) -> None:
        """Add weight * (proof's inner-product equation + c * its t-equation)."""
        group = self.gens.group
        q, m = group.order, len(commitments)
        check_statement(n, m)
        big_n = n * m
        rounds = big_n.bit_length() - 1
        if len(proof.ipp.left) != rounds or len(proof.ipp.right) != rounds:
            raise InvalidRangeProofError(f"proof has the wrong number of rounds for n*m={big_n}")
        for e in (*commitments, proof.a, proof.s, proof.t1, proof.t2, *proof.ipp.left,
                  *proof.ipp.right):
            if e.group is not group:
                raise RangeProofStatementError(f"{e.group.name} element in a {group.name} proof")
        tr = _statement(group, n, commitments)
        tr.append_element(b"A", proof.a)
        tr.append_element(b"S", proof.s)
        y, z = tr.challenge(b"y"), tr.challenge(b"z")
        tr.append_element(b"T1", proof.t1)
        tr.append_element(b"T2", proof.t2)
        x = tr.challenge(b"x")
        tr.append_scalar(b"tau_x", proof.tau_x)
        tr.append_scalar(b"mu", proof.mu)
        tr.append_scalar(b"t_hat", proof.t_hat)
        w = tr.challenge(b"w")
        u_sq, u_inv_sq, s = inner_product.verification_scalars(tr, proof.ipp, big_n)

        y_n = _powers(y, big_n, q)
        y_inv = _powers(pow(y, -1, q), big_n, q)
        zz = [z * z * pow(z, j, q) % q for j in range(m)]
        delta = ((z - z * z) * sum(y_n) - z * sum(zz) * ((1 << n) - 1)) % q
        a, b = proof.ipp.a, proof.ipp.b
        for i in range(big_n):
            self.gi[i] = (self.gi[i] + weight * (-z - a * s[i])) % q
            two = zz[i // n] * (1 << (i % n))
            self.hi[i] = (self.hi[i] + weight * (z + y_inv[i] * (two - b * s[big_n - 1 - i]))) % q
        self.g = (self.g + weight * (w * (proof.t_hat - a * b) + c * (delta - proof.t_hat))) % q
        self.h = (self.h + weight * (-proof.mu - c * proof.tau_x)) % q
        wc = weight * c % q
        self.scalars += [weight, weight * x, wc * x, wc * x * x,
                         *(wc * zj for zj in zz),
                         *(weight * u for u in u_sq), *(weight * u for u in u_inv_sq)]
        self.points += [proof.a, proof.s, proof.t1, proof.t2, *commitments,
                        *proof.ipp.left, *proof.ipp.right]

    def holds(self) -> bool:
        group = self.gens.group
        used = max((i + 1 for i, (k, j) in enumerate(zip(self.gi, self.hi, strict=True))
                    if k or j), default=0)
        scalars = [*self.gi[:used], *self.hi[:used], self.g, self.h, *self.scalars]
        points = [*self.gens.gi[:used], *self.gens.hi[:used], self.gens.g, self.gens.h,
                  *self.points]
        # public scalars only: the verifier may use the variable-time bucket method
        return group.vartime_msm([group.scalar(k) for k in scalars], points).is_identity()


def _weight(group: Group, rng: Rng) -> int:
    return group.random_scalar(rng).value


def verify(group: Group, commitments: Sequence[Element], proof: RangeProof, n: int,
           rng: Rng = os.urandom) -> None:
    """Raise InvalidRangeProofError unless `proof` shows every commitment opens to a value
    in [0, 2^n). `rng` draws the weight that joins the two checks into one."""
    eq = _Equation(generators(group))
    eq.add(commitments, proof, n, 1, _weight(group, rng))
    if not eq.holds():
        raise InvalidRangeProofError("range proof does not verify")


def batch_verify(group: Group, statements: Sequence[tuple[Sequence[Element], RangeProof, int]],
                 rng: Rng = os.urandom) -> None:
    """Verify many (commitments, proof, n) at once with random weights: one multi-scalar
    multiplication; a false proof passes with probability about 1/order. On failure it
    does not say which proof is bad: verify them one by one to find out."""
    eq = _Equation(generators(group))
    for commitments, proof, n in statements:
        eq.add(commitments, proof, n, _weight(group, rng), _weight(group, rng))
    if statements and not eq.holds():
        raise InvalidRangeProofError("a range proof of the batch does not verify")
