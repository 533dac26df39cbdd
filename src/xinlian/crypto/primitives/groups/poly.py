"""Polynomials over a group's scalar field: the arithmetic of Shamir sharing."""

from __future__ import annotations

import os
from collections.abc import Sequence

from xinlian.crypto.primitives.groups.base import Group, Rng, Scalar
from xinlian.crypto.primitives.groups.errors import InvalidScalarError


def random_polynomial(group: Group, degree: int, constant: Scalar | None = None,
                      rng: Rng = os.urandom) -> list[Scalar]:
    """Coefficients a_0..a_degree, uniform except a_0 = `constant` when given."""
    coeffs = [group.random_scalar(rng) for _ in range(degree + 1)]
    if constant is not None:
        coeffs[0] = constant
    return coeffs


def evaluate(coeffs: Sequence[Scalar], x: int) -> Scalar:
    """f(x) by Horner's rule."""
    group = coeffs[0].group
    acc = 0
    for a in reversed(coeffs):
        acc = (acc * x + a.value) % group.order
    return Scalar(group, acc)


def lagrange_coefficient(group: Group, ids: Sequence[int], i: int, x: int = 0) -> Scalar:
    """lambda_i(x) over the distinct non-zero identifiers `ids` (RFC 9591 §4.2 at x = 0)."""
    if i not in ids or len(set(ids)) != len(ids) or any(j % group.order == 0 for j in ids):
        raise InvalidScalarError("Lagrange interpolation needs distinct non-zero ids including i")
    q = group.order
    num = den = 1
    for j in ids:
        if j != i:
            num = num * (x - j) % q
            den = den * (i - j) % q
    return Scalar(group, num * pow(den, -1, q))
