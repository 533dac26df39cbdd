"""The inner-product argument of Bulletproofs (Bünz et al. 2018, §3 with the logarithmic
protocol of §3.1): a proof of a, b with P = <a, G> + <b, H'> + <a, b>*Q in 2*log2(N)
elements and two scalars.

The prover folds vectors and generators each round; the verifier never folds: it expands
the round challenges u_j into the vector s (s_i = prod_j u_j^(+1 if bit j of i, counted
from the top, is set, else -1)), so the whole check joins the range proof's single
multi-scalar multiplication. Scalars are plain ints mod the group order in this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from xinlian.crypto.primitives.groups import Element, Group
from xinlian.crypto.privacy.confidential.transcript import Transcript


def msm(group: Group, scalars: Sequence[int], elements: Sequence[Element]) -> Element:
    """sum(k_i * P_i) over int scalars (the prover's: secret scalars, native products)."""
    return group.msm([group.scalar(k) for k in scalars], elements)


def inner(a: Sequence[int], b: Sequence[int], q: int) -> int:
    return sum(x * y for x, y in zip(a, b, strict=True)) % q


@dataclass(frozen=True)
class InnerProductProof:
    """The rounds' L_j, R_j and the final scalars a, b."""

    left: tuple[Element, ...]
    right: tuple[Element, ...]
    a: int
    b: int


def prove(tr: Transcript, q_point: Element, g: Sequence[Element], h: Sequence[Element],
          h_factors: Sequence[int], a: list[int], b: list[int]) -> InnerProductProof:
    """Prove a, b for P = <a, G> + <b, H'> + <a, b>Q where H'_i = h_factors_i * H_i.

    The factors let the range proof use H'_i = y^-i H_i without computing H' up front:
    they enter the first round's scalars and the first folding.
    """
    group = tr.group
    q = group.order
    n = len(a)
    gs, hs, h_f = list(g), list(h), list(h_factors)
    left: list[Element] = []
    right: list[Element] = []
    while n > 1:
        n //= 2
        a_lo, a_hi, b_lo, b_hi = a[:n], a[n:], b[:n], b[n:]
        big_l = msm(group, a_lo + [x * f % q for x, f in zip(b_hi, h_f[:n], strict=True)]
                    + [inner(a_lo, b_hi, q)], gs[n:] + hs[:n] + [q_point])
        big_r = msm(group, a_hi + [x * f % q for x, f in zip(b_lo, h_f[n:], strict=True)]
                    + [inner(a_hi, b_lo, q)], gs[:n] + hs[n:] + [q_point])
        left.append(big_l)
        right.append(big_r)
        tr.append_element(b"L", big_l)
        tr.append_element(b"R", big_r)
        u = tr.challenge(b"u")
        u_inv = pow(u, -1, q)
        a = [(x * u + y * u_inv) % q for x, y in zip(a_lo, a_hi, strict=True)]
        b = [(x * u_inv + y * u) % q for x, y in zip(b_lo, b_hi, strict=True)]
        gs = [msm(group, [u_inv, u], [gs[i], gs[n + i]]) for i in range(n)]
        hs = [msm(group, [u * h_f[i] % q, u_inv * h_f[n + i] % q], [hs[i], hs[n + i]])
              for i in range(n)]
        h_f = [1] * n
    return InnerProductProof(tuple(left), tuple(right), a[0], b[0])


def verification_scalars(tr: Transcript, proof: InnerProductProof,
                         n: int) -> tuple[list[int], list[int], list[int]]:
    """Replay the rounds: (u_j^2, u_j^-2, s) for the verifier's single equation
    P + sum(u_j^2 L_j + u_j^-2 R_j) = a<s, G> + b<s^-1, H'> + ab*Q, where s^-1_i = s_(N-1-i)."""
    q = tr.group.order
    us: list[int] = []
    for big_l, big_r in zip(proof.left, proof.right, strict=True):
        tr.append_element(b"L", big_l)
        tr.append_element(b"R", big_r)
        us.append(tr.challenge(b"u"))
    u_inv = [pow(u, -1, q) for u in us]
    s = [1] * n
    for u in u_inv:
        s[0] = s[0] * u % q
    k = len(us)
    for i in range(1, n):
        # i and i without its lowest set bit differ in one bit: the one round j splits on
        low = i & -i
        j = k - low.bit_length()
        s[i] = s[i - low] * us[j] % q * us[j] % q
    return [u * u % q for u in us], [v * v % q for v in u_inv], s
