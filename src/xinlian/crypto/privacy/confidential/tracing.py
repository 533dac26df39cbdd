"""Regulator tracing: opening the regulator's part (C1, C2) = (s*B0, v*G + s*pk_R) of a
confidential transfer (transfer.py) with t of n key shares from the DKG.

Member i holds x_i with verifying share Y_i = x_i*B0 (crypto/threshold/dkg.py); its
decryption share is D_i = x_i*C1 with a Chaum-Pedersen proof that log_B0(Y_i) = log_C1(D_i)
(crypto/primitives/dleq.py), bound to the context (chain, transaction, member), so a share
is checkable by anyone and useless for another transfer. Any t valid shares give
x*C1 = sum lambda_i*D_i = s*pk_R, hence v*G = C2 - s*pk_R and v by the 32-bit search.

Blinded opening (what the chain runs): shares on C1 itself are public, so once t are in,
anyone could combine them. Instead the requester draws rho, publishes the blinded base
C1' = C1 + rho*B0 with a proof of knowledge of rho (so C1' hides no other transfer's C1),
and members answer D_i' = x_i*C1' with the same DLEQ proof on base C1'. The t shares give
x*C1' = x*C1 + rho*pk_R: only who knows rho gets x*C1 = x*C1' - rho*pk_R. Anyone else
holds (B0, pk_R, rho*B0, x*C1' - C2 + v*G) and would need to tell whether it is a DH tuple
to test a candidate amount v: the amount stays hidden under DDH.
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
from xinlian.crypto.privacy.confidential import dlog, sigma
from xinlian.crypto.privacy.confidential.errors import (
    InvalidDecryptionShareError,
    MalformedProofError,
)
from xinlian.crypto.privacy.confidential.sigma import Equation
from xinlian.crypto.privacy.confidential.transcript import Transcript

DST = b"XINLIAN-CONFIDENTIAL-V1-OPEN"
REQUEST_LABEL = b"OPEN-REQUEST"


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


# -- blinded opening ---------------------------------------------------------------------------


def _blinding_statement(c1: Element, blinded: Element, context: bytes
                        ) -> tuple[Transcript, list[Equation]]:
    group = c1.group
    tr = Transcript(group, REQUEST_LABEL)
    tr.append(b"context", context)
    tr.append_element(b"C1", c1)
    return tr, [Equation(blinded - c1, ((0, group.generator()),))]


def blind(c1: Element, context: bytes, rng: Rng = os.urandom) -> tuple[Scalar, Element, bytes]:
    """(rho, C1' = C1 + rho*B0, proof of knowledge of rho) for an open request; rho is the
    requester's secret: without it the opening's shares do not reveal the amount."""
    group = c1.group
    rho = group.random_scalar(rng)
    blinded = c1 + group.base_mul(rho)
    tr, eqs = _blinding_statement(c1, blinded, context)
    return rho, blinded, sigma.prove(tr, eqs, [rho], rng).encode(group)


def verify_blinding(c1: Element, blinded: Element, proof: bytes, context: bytes) -> None:
    """Raise unless `proof` shows the requester knows rho with C1' - C1 = rho*B0."""
    group = c1.group
    tr, eqs = _blinding_statement(c1, blinded, context)
    sigma.verify(tr, eqs, sigma.decode(group, proof, 1))


def open_blinded(group: Group, c2: Element, shares: Mapping[int, Element], rho: Scalar,
                 public: Element) -> int:
    """The amount, from C2, t (already verified) shares on the blinded base and rho:
    v*G = C2 - (sum lambda_i*D_i' - rho*pk_R)."""
    return dlog.solve(unblind(group, c2, shares, rho, public))


def unblind(group: Group, c2: Element, shares: Mapping[int, Element], rho: Scalar,
            public: Element) -> Element:
    """The plaintext point M = C2 - (sum lambda_i*D_i' - rho*pk_R) of a blinded opening."""
    return c2 - (combine(group, shares) - public * rho)
