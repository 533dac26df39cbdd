"""Decrypting only the aggregate, by t of the n members that hold shares of its key.

Member i (key share x_i from the DKG, verifying share Y_i = x_i*P in the public key
package) publishes D_i = x_i*R for the aggregate (R, C), with a Chaum-Pedersen proof that
log_P Y_i = log_R D_i, bound to the aggregate's encoding. Anyone checks each share against
the package, refuses non-members and bad proofs, and with t valid shares interpolates
x*R = sum lambda_i D_i, so m*P = C - x*R; no member's share, and no other ciphertext,
is decrypted. A share of one aggregate tells nothing about another: each ciphertext has its
own R, and a share is x_i*R for that R only.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from xinlian.crypto.primitives import dleq
from xinlian.crypto.primitives.groups import (
    Element,
    GroupError,
    Rng,
    lagrange_coefficient,
)
from xinlian.crypto.privacy.homomorphic import dlog
from xinlian.crypto.privacy.homomorphic.elgamal import Ciphertext, base
from xinlian.crypto.privacy.homomorphic.errors import (
    AggregateStatementError,
    InvalidDecryptionShareError,
    MalformedAggregateInputError,
    NotAMemberError,
    TooFewSharesError,
)
from xinlian.crypto.threshold.dkg import KeyShare, PublicKeyPackage

DST = b"XINLIAN-HOMOMORPHIC-V1-DECRYPTION-SHARE"
_ID = 4  # bytes of the member id in a share's encoding


@dataclass(frozen=True)
class DecryptionShare:
    """Member `member`'s D_i = x_i*R with its proof."""

    member: int
    point: Element
    proof: dleq.DleqProof

    def encode(self) -> bytes:
        return (self.member.to_bytes(_ID, "big") + self.point.encode() + self.proof.challenge
                + self.proof.response)


def decode_share(public: PublicKeyPackage, data: bytes) -> DecryptionShare:
    """A share from its encoding: member id (4 bytes) || D || challenge || response."""
    group = public.group
    e, k = group.element_size, group.scalar_size
    if len(data) != _ID + e + 2 * k:
        raise MalformedAggregateInputError(
            f"a decryption share is {_ID + e + 2 * k} bytes, got {len(data)}")
    try:
        point = group.decode_element(data[_ID:_ID + e])
        c, z = data[_ID + e:_ID + e + k], data[_ID + e + k:]
        group.decode_scalar(c)
        group.decode_scalar(z)
    except GroupError as exc:
        raise MalformedAggregateInputError(f"decryption share: {exc}") from exc
    return DecryptionShare(int.from_bytes(data[:_ID], "big"), point, dleq.DleqProof(c, z))


def _check_aggregate(public: PublicKeyPackage, ct: Ciphertext) -> None:
    if ct.group is not public.group:
        raise AggregateStatementError(f"a {ct.group.name} aggregate under a "
                                      f"{public.group.name} key")
    if ct.r.is_identity():
        raise AggregateStatementError("an aggregate of no contribution has nothing to decrypt")


def make_share(key_share: KeyShare, ct: Ciphertext, rng: Rng = os.urandom) -> DecryptionShare:
    """This member's decryption share of aggregate `ct`, with its proof."""
    _check_aggregate(key_share.public, ct)
    point = ct.r * key_share.secret
    group = key_share.group
    y = key_share.public.verifying_share(key_share.identifier)
    assert y is not None  # KeyShare checks it is a member's
    proof = dleq.prove(DST, key_share.secret, [base(group), ct.r], [y, point], ct.encode(), rng)
    return DecryptionShare(key_share.identifier, point, proof)


def verify_share(public: PublicKeyPackage, ct: Ciphertext, share: DecryptionShare) -> None:
    """Raise NotAMemberError or InvalidDecryptionShareError unless `share` is member's
    x_i*R for this aggregate."""
    _check_aggregate(public, ct)
    y = public.verifying_share(share.member)
    if y is None:
        raise NotAMemberError(f"party {share.member} holds no share of this key "
                              f"(members {list(public.members)})")
    try:
        ok = dleq.verify(public.group, DST, [base(public.group), ct.r], [y, share.point],
                         share.proof, ct.encode())
    except GroupError as exc:
        raise InvalidDecryptionShareError(f"member {share.member}: {exc}") from exc
    if not ok:
        raise InvalidDecryptionShareError(
            f"member {share.member}'s share does not match its verifying share")


def combine(public: PublicKeyPackage, ct: Ciphertext,
            shares: Sequence[DecryptionShare]) -> Element:
    """m*P from `threshold` valid shares of distinct members (the lowest ids are used).
    Every share given is checked: one bad or non-member share is refused, not skipped."""
    seen: dict[int, DecryptionShare] = {}
    for share in shares:
        verify_share(public, ct, share)
        if share.member in seen:
            raise InvalidDecryptionShareError(f"two shares from member {share.member}")
        seen[share.member] = share
    if len(seen) < public.threshold:
        raise TooFewSharesError(f"{len(seen)} valid shares; the key needs {public.threshold}")
    ids = sorted(seen)[:public.threshold]
    group = public.group
    xr = group.msm([lagrange_coefficient(group, ids, i) for i in ids],
                   [seen[i].point for i in ids])
    return ct.c - xr


def decrypt(public: PublicKeyPackage, ct: Ciphertext, shares: Sequence[DecryptionShare],
            bound: int, table_size: int | None = None) -> int:
    """The aggregate's value in [0, bound] from t valid shares (combine, then dlog.solve)."""
    return dlog.solve(combine(public, ct, shares), bound, table_size)
