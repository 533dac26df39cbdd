"""Variable-time multi-scalar multiplication: the bucket method (SM2 from 64 terms) equals
the sum of single products, with zero scalars, repeated points and cancelling terms."""

from __future__ import annotations

import random

import pytest

from xinlian.crypto.primitives.groups import SM2, GroupMismatchError
from xinlian.crypto.primitives.groups.ristretto255 import RISTRETTO255


@pytest.mark.parametrize("size", [64, 65, 300])
def test_bucket_msm_equals_single_products(size: int) -> None:
    rng = random.Random(size)
    points = [SM2.hash_to_element(b"msm-test", i.to_bytes(4, "big")) for i in range(size)]
    points[3] = points[2]  # a repeated point: bucket additions meet doublings
    scalars = [SM2.scalar(rng.randrange(SM2.order)) for _ in range(size)]
    scalars[0] = SM2.scalar(0)
    scalars[1] = SM2.scalar(SM2.order - 1)
    expected = SM2.sum(k * p for k, p in zip(scalars, points, strict=True))
    assert SM2.vartime_msm(scalars, points) == expected
    # terms that cancel give the identity
    assert SM2.vartime_msm(scalars + [-k for k in scalars], points + points).is_identity()


def test_bucket_msm_refuses_mixed_groups() -> None:
    points = [SM2.generator()] * 63 + [RISTRETTO255.generator()]
    with pytest.raises(GroupMismatchError):
        SM2.vartime_msm([SM2.scalar(1)] * 64, points)
