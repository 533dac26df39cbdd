"""Helpers shared by signing and proving: the domain scalar and the point B."""

from __future__ import annotations

from collections.abc import Sequence

from xinlian.crypto.primitives import bls
from xinlian.crypto.primitives.bls import G1Point
from xinlian.crypto.privacy.bbs.suite import Ciphersuite


def msm(points: Sequence[G1Point], scalars: Sequence[int]) -> G1Point:
    """sum(points[i] * scalars[i]) in one native multi-scalar multiplication."""
    if not points:
        return bls.G1_IDENTITY
    return bls.g1_multiexp(points, scalars)


def h2s_dst(suite: Ciphersuite) -> bytes:
    return suite.api_id + b"H2S_"


def calculate_domain(suite: Ciphersuite, pk: bytes, count: int, header: bytes) -> int:
    """Draft 4.2.3: bind the key, the suite's first `count` generators (Q_1, H_1..H_L),
    the suite and the header into one scalar."""
    dom_octs = (count - 1).to_bytes(8, "big") + suite.generator_octets(count) + suite.api_id
    dom_input = pk + dom_octs + len(header).to_bytes(8, "big") + header
    return suite.hash_to_scalar(dom_input, h2s_dst(suite))


def compute_b(
    suite: Ciphersuite,
    generators: Sequence[G1Point],
    domain: int,
    indexes: Sequence[int],
    scalars: Sequence[int],
) -> G1Point:
    """P1 + Q_1 * domain + sum of H_i * msg_i over the given message indexes."""
    hs = generators[1:]
    return msm([suite.p1, generators[0], *(hs[i] for i in indexes)], [1, domain, *scalars])
