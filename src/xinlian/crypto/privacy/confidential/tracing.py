"""Regulator tracing: opening the regulator's part (C1, C2) = (s*B0, v*G + s*pk_R) of a
confidential transfer (transfer.py) with t of n key shares from the DKG.

Member i holds x_i with verifying share Y_i = x_i*B0 (crypto/threshold/dkg.py); its
decryption share is D_i = x_i*C1 with a Chaum-Pedersen proof that log_B0(Y_i) = log_C1(D_i)
(crypto/primitives/dleq.py), bound to the context (chain, transaction, member), so a share
is checkable by anyone and useless for another transfer. Any t valid shares give
x*C1 = sum lambda_i*D_i = s*pk_R, hence v*G = C2 - s*pk_R and v by the 32-bit search.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from xinlian.crypto.primitives import dleq
from xinlian.crypto.primitives.groups import (
    Element,
    Group,
    GroupError,
    Rng,
    Scalar,
    lagrange_coefficient,
)
from xinlian.crypto.privacy.confidential import dlog
from xinlian.crypto.privacy.confidential.errors import (
    InvalidDecryptionShareError,
    MalformedProofError,
)

DST = b"XINLIAN-CONFIDENTIAL-V1-OPEN"


@dataclass(frozen=True)
class RegulatorKey:
    """The regulator's threshold key: t, each member's verifying share, the public key."""

    threshold: int
    shares: Mapping[int, Element]
    public: Element

    def check(self) -> None:
        """Refuse shares that do not lie on one polynomial of degree t-1 through the
        public key (so any t members open the same way)."""
        ids = sorted(self.shares)
        if not 1 <= self.threshold <= len(ids) or ids[0] <= 0:
            raise InvalidDecryptionShareError("need 1 <= t <= n members with positive indices")
        group = self.public.group
        base = ids[:self.threshold]
        for x, expected in [(0, self.public), *((i, self.shares[i]) for i in ids[self.threshold:])]:
            got = group.msm([lagrange_coefficient(group, base, i, x) for i in base],
                            [self.shares[i] for i in base])
            if got != expected:
                raise InvalidDecryptionShareError(
                    "the verifying shares do not interpolate to the public key")


def decryption_share(secret: Scalar, c1: Element, context: bytes,
                     rng: Rng = os.urandom) -> tuple[Element, bytes]:
    """(D_i, proof) for the member holding `secret`."""
    group = secret.group
    d = c1 * secret
    proof = dleq.prove(DST, secret, [group.generator(), c1], [group.base_mul(secret), d],
                       context, rng)
    return d, proof.challenge + proof.response


def verify_share(verifying: Element, c1: Element, share: Element, proof: bytes,
                 context: bytes) -> None:
    group = verifying.group
    k = group.scalar_size
    if len(proof) != 2 * k:
        raise MalformedProofError(f"a share proof is {2 * k} bytes, got {len(proof)}")
    try:
        ok = dleq.verify(group, DST, [group.generator(), c1], [verifying, share],
                         dleq.DleqProof(proof[:k], proof[k:]), context)
    except GroupError as exc:
        raise MalformedProofError(f"share proof: {exc}") from exc
    if not ok:
        raise InvalidDecryptionShareError("the decryption share's proof does not verify")


def combine(group: Group, shares: Mapping[int, Element]) -> Element:
    """x*C1 = s*pk_R from t (already verified) shares by member index."""
    ids = sorted(shares)
    return group.msm([lagrange_coefficient(group, ids, i) for i in ids],
                     [shares[i] for i in ids])


def open_amount(group: Group, c2: Element, shares: Mapping[int, Element]) -> int:
    """The amount, from C2 and t (already verified) shares by member index."""
    return dlog.solve(c2 - combine(group, shares))
