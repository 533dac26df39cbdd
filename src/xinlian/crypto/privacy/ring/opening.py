"""Opening accountable ring signatures by a (threshold) opener, with public proofs."""

from __future__ import annotations

from collections.abc import Sequence

from xinlian import codec
from xinlian.crypto.primitives import dleq
from xinlian.crypto.primitives.dleq import DleqProof
from xinlian.crypto.primitives.groups import (
    Element,
    Group,
    GroupError,
    Rng,
    Scalar,
    lagrange_coefficient,
)
from xinlian.crypto.privacy.ring.common import (
    InvalidOpeningError,
    MalformedRingSignatureError,
    check_ring,
    group_of,
)
from xinlian.crypto.privacy.ring.lsag import RingSignature
from xinlian.crypto.threshold.dkg import PublicKeyPackage

_OPEN = b"xinlian/ring/open/v1"


class Openers(codec.Struct):
    """An opener committee: threshold, joint key Y and each member's share key Y_i.

    A single opener is `Openers(threshold=1, key=Y, share_keys=[(1, Y)])`; a committee is
    made from the DKG's output with `Openers.from_package`.
    """

    threshold: int
    key: bytes
    share_keys: list[tuple[int, bytes]]

    @staticmethod
    def from_package(package: PublicKeyPackage) -> Openers:
        """The committee of a `threshold.dkg` key: members open with their KeyShares."""
        keys = []
        for i in package.members:
            share = package.verifying_share(i)
            assert share is not None  # i is a member
            keys.append((i, share.encode()))
        return Openers(package.threshold, package.group_public_key.encode(), keys)


class PartialOpening(codec.Struct):
    """Opener `index`'s decryption share D_i = y_i * C1 with a proof that it used y_i."""

    index: int
    share: bytes
    proof: DleqProof


class Opening(codec.Struct):
    """The revealed signer key and the threshold of partial openings that prove it."""

    signer: bytes
    partials: list[PartialOpening]


def _escrow_points(group: Group, signature: RingSignature) -> tuple[Element, Element]:
    if signature.escrow is None:
        raise MalformedRingSignatureError("the signature is not accountable (no escrow)")
    return group.decode_element(signature.escrow.c1), group.decode_element(signature.escrow.c2)


def _opening_context(signature: RingSignature) -> bytes:
    return codec.encode(signature)


def partial_open(signature: RingSignature, index: int, share: Scalar,
                 rng: Rng) -> PartialOpening:
    """Opener `index`'s share y_i * C1, with a proof against its public share key y_i * G
    (`rng`: the proof's nonce source, seeded only for reproducible runs)."""
    group = share.group
    c1, _ = _escrow_points(group, signature)
    d = share * c1
    proof = dleq.prove(
        _OPEN,
        share,
        [group.generator(), c1],
        [group.base_mul(share), d],
        context=_opening_context(signature) + index.to_bytes(4, "big"),
        rng=rng,
    )
    return PartialOpening(index=index, share=d.encode(), proof=proof)


def _check_partial(
    group: Group, signature: RingSignature, openers: Openers, c1: Element, part: PartialOpening
) -> Element | None:
    encoded = dict(openers.share_keys).get(part.index)
    if encoded is None:
        return None
    try:
        key = group.decode_element(encoded)
        d = group.decode_element(part.share)
        ok = dleq.verify(
            group,
            _OPEN,
            [group.generator(), c1],
            [key, d],
            part.proof,
            context=_opening_context(signature) + part.index.to_bytes(4, "big"),
        )
    except GroupError:
        return None
    return d if ok else None


def open_signature(
    signature: RingSignature,
    ring: Sequence[Element],
    openers: Openers,
    partials: Sequence[PartialOpening],
) -> Opening:
    """Combine partial openings into the signer's key, naming openers whose shares fail."""
    group = group_of(signature.group)
    c1, c2 = _escrow_points(group, signature)
    if len({p.index for p in partials}) != len(partials):
        raise InvalidOpeningError("two partial openings from one opener")
    good: list[tuple[PartialOpening, Element]] = []
    culprits = []
    for part in partials:
        d = _check_partial(group, signature, openers, c1, part)
        if d is None:
            culprits.append(part.index)
        else:
            good.append((part, d))
    if len(good) < openers.threshold:
        raise InvalidOpeningError(
            f"{len(good)} valid partial openings, need {openers.threshold}", tuple(culprits)
        )
    chosen = good[: openers.threshold]
    ids = [p.index for p, _ in chosen]
    lambdas = [lagrange_coefficient(group, ids, i) for i in ids]
    signer = c2 - group.msm(lambdas, [d for _, d in chosen])
    if signer.is_identity() or signer.encode() not in check_ring(group, ring):
        raise InvalidOpeningError("the escrow does not decrypt to a ring member")
    return Opening(signer=signer.encode(), partials=[p for p, _ in chosen])


def verify_opening(
    signature: RingSignature, ring: Sequence[Element], openers: Openers, opening: Opening
) -> Element:
    """Anyone's check of an opening: returns the signer's key or raises InvalidOpeningError."""
    if len(opening.partials) != openers.threshold:
        raise InvalidOpeningError(f"an opening carries exactly {openers.threshold} partials")
    result = open_signature(signature, ring, openers, opening.partials)
    if result.signer != opening.signer:
        raise InvalidOpeningError("the partial openings reveal a different signer")
    return group_of(signature.group).decode_element(opening.signer)
