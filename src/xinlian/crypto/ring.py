"""Linkable ring signatures with per-context key images, accountable opening and revocation.

Theory of operation (LSAG, Liu-Wei-Wong 2004, with Monero-style key images). A member of a
ring P_1..P_n signs without revealing which member it is. It publishes a key image
I = x * H_ctx, where H_ctx is hashed from the signing *context* (an election, an epoch, a
coupon): two signatures by one key in one context carry the same I and are linked, while
signatures in different contexts are unlinkable. The proof is a ring of Schnorr challenges:
for each member i, L_i = s_i*G + c_i*P_i and R_i = s_i*H_ctx + c_i*I, c_{i+1} = H(..., L_i, R_i),
closing only if the signer knew some x_pi with P_pi = x_pi*G and I = x_pi*H_ctx.

Accountable variant: the signer also ElGamal-encrypts its public key to an opener key Y
(C1 = r*G, C2 = P_pi + r*Y) and the same ring proves, with the same challenge c_i per member,
that the ciphertext holds that member's key (M_i = t_i*G + c_i*C1, N_i = t_i*Y + c_i*(C2 - P_i)).
The opener, possibly a t-of-m committee sharing y through the DKG, reveals P = C2 - y*C1 with
Chaum-Pedersen proofs that anyone can check, so an opening can neither be refused by a
minority nor pin the signature on the wrong member.

Revocation: verification takes the set of revoked keys and rejects any ring that contains
one, so a revoked member cannot sign again (its key cannot appear in an acceptable ring).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence

from xinlian import codec
from xinlian.crypto import dleq
from xinlian.crypto.dkg import PublicKeyPackage
from xinlian.crypto.dleq import DleqProof
from xinlian.crypto.groups import (
    DistributedCryptoError,
    Element,
    Group,
    GroupError,
    IdentityElementError,
    Rng,
    Scalar,
    get_group,
    lagrange_coefficient,
    transcript,
)

MAX_RING = 4096
_LINK = b"xinlian/ring/link-base/v1"
_CHALLENGE = b"xinlian/ring/challenge/v1"
_OPEN = b"xinlian/ring/open/v1"


class RingError(DistributedCryptoError):
    """Ring signature failures (860x)."""

    code = 8600
    name = "ring_error"


class MalformedRingSignatureError(RingError):
    """The signature's shape does not match its ring (response count, missing escrow...)."""

    code = 8601
    name = "ring_malformed_signature"


class InvalidRingError(RingError):
    """An empty, oversized or duplicated ring, or a signer whose key is not in it."""

    code = 8602
    name = "ring_invalid_ring"


class InvalidRingSignatureError(RingError):
    """A well-formed signature whose ring of challenges does not close."""

    code = 8603
    name = "ring_invalid_signature"


class RevokedKeyError(RingError):
    """The ring contains a revoked member's key."""

    code = 8604
    name = "ring_revoked_key"


class LinkedSignatureError(RingError):
    """A second signature by the same key in the same context (double use)."""

    code = 8605
    name = "ring_double_use"


class InvalidOpeningError(RingError):
    """An opening whose partial decryptions or proofs do not check, or too few of them."""

    code = 8606
    name = "ring_invalid_opening"

    def __init__(self, message: str, culprits: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.culprits = culprits


class Escrow(codec.Struct):
    """ElGamal encryption of the signer's key to the opener, and the per-member responses."""

    c1: bytes
    c2: bytes
    responses: list[bytes]


class RingSignature(codec.Struct):
    group: str
    context: bytes
    key_image: bytes
    challenge: bytes
    responses: list[bytes]
    escrow: Escrow | None = None


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
        """The committee of a `xinlian.crypto.dkg` key: members open with their KeyShares."""
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


# --- helpers -------------------------------------------------------------------------------


def link_base(group: Group, context: bytes) -> Element:
    """H_ctx: the element key images are taken over; nobody knows its discrete log."""
    return group.hash_to_element(_LINK, transcript(group.name.encode(), context))


def key_image(secret: Scalar, context: bytes) -> Element:
    return secret * link_base(secret.group, context)


def _check_ring(group: Group, ring: Sequence[Element]) -> list[bytes]:
    if not 1 <= len(ring) <= MAX_RING:
        raise InvalidRingError(f"a ring has 1..{MAX_RING} members, got {len(ring)}")
    encoded = []
    for member in ring:
        if member.group is not group or member.is_identity():
            raise InvalidRingError("ring members must be non-identity elements of the group")
        encoded.append(member.encode())
    if len(set(encoded)) != len(encoded):
        raise InvalidRingError("a ring lists each key once")
    return encoded


def _prefix(
    group: Group,
    context: bytes,
    message: bytes,
    ring_bytes: Sequence[bytes],
    image: Element,
    escrow: tuple[Element, Element, Element] | None,
) -> bytes:
    extra = [] if escrow is None else [e.encode() for e in escrow]
    body = transcript(group.name.encode(), context, message, *ring_bytes, image.encode(), *extra)
    return group.digest(body)


def _next(group: Group, prefix: bytes, points: Sequence[Element]) -> Scalar:
    return group.hash_to_scalar(_CHALLENGE, transcript(prefix, *(p.encode() for p in points)))


# --- signing -------------------------------------------------------------------------------


def sign(
    message: bytes,
    context: bytes,
    ring: Sequence[Element],
    secret: Scalar,
    *,
    opener_key: Element | None = None,
    rng: Rng = os.urandom,
) -> RingSignature:
    """Sign as the ring member whose key is secret*G; escrow that key if opener_key is given."""
    group = secret.group
    ring_bytes = _check_ring(group, ring)
    public = group.base_mul(secret)
    try:
        pi = ring_bytes.index(public.encode())
    except ValueError:
        raise InvalidRingError("the signer's key is not in the ring") from None
    g, h = group.generator(), link_base(group, context)
    image = secret * h
    n = len(ring)

    escrow: tuple[Element, Element, Element] | None = None
    if opener_key is not None:
        r = group.random_scalar(rng)
        escrow = (r * g, public + r * opener_key, opener_key)
    prefix = _prefix(group, context, message, ring_bytes, image, escrow)

    alpha, beta = group.random_scalar(rng), group.random_scalar(rng)
    points = [alpha * g, alpha * h]
    if escrow is not None:
        points += [beta * g, beta * escrow[2]]
    c = [group.scalar(0)] * n
    s = [group.scalar(0)] * n
    t = [group.scalar(0)] * n
    c[(pi + 1) % n] = _next(group, prefix, points)
    for step in range(1, n):
        i = (pi + step) % n
        s[i] = group.random_scalar(rng)
        points = [group.base_mul(s[i]) + c[i] * ring[i], s[i] * h + c[i] * image]
        if escrow is not None:
            c1, c2, y = escrow
            t[i] = group.random_scalar(rng)
            points += [group.base_mul(t[i]) + c[i] * c1, t[i] * y + c[i] * (c2 - ring[i])]
        c[(i + 1) % n] = _next(group, prefix, points)
    s[pi] = alpha - c[pi] * secret
    escrow_record = None
    if escrow is not None:
        t[pi] = beta - c[pi] * r
        escrow_record = Escrow(
            c1=escrow[0].encode(), c2=escrow[1].encode(), responses=[x.encode() for x in t]
        )
    return RingSignature(
        group=group.name,
        context=context,
        key_image=image.encode(),
        challenge=c[0].encode(),
        responses=[x.encode() for x in s],
        escrow=escrow_record,
    )


# --- verification --------------------------------------------------------------------------


def _group_of(signature: RingSignature) -> Group:
    try:
        return get_group(signature.group)
    except GroupError:
        raise MalformedRingSignatureError(f"unknown group {signature.group!r}") from None


def verify(
    signature: RingSignature,
    message: bytes,
    ring: Sequence[Element],
    *,
    opener_key: Element | None = None,
    revoked: Collection[bytes] = frozenset(),
) -> None:
    """Accept the signature or raise a typed error.

    `opener_key` set means the signature must be accountable to that opener. `revoked` holds
    encoded keys that may no longer sign. Malformed points or scalars raise GroupError.
    """
    group = _group_of(signature)
    ring_bytes = _check_ring(group, ring)
    hit = next((k for k in ring_bytes if k in revoked), None)
    if hit is not None:
        raise RevokedKeyError(f"ring contains revoked key {hit.hex()}")
    n = len(ring)
    if len(signature.responses) != n:
        raise MalformedRingSignatureError(f"{len(signature.responses)} responses for {n} keys")
    if (signature.escrow is None) != (opener_key is None):
        raise MalformedRingSignatureError("escrow present exactly when an opener is required")
    image = group.decode_element(signature.key_image)
    s = [group.decode_scalar(x) for x in signature.responses]
    c0 = group.decode_scalar(signature.challenge)
    escrow: tuple[Element, Element, Element] | None = None
    t: list[Scalar] = []
    if signature.escrow is not None and opener_key is not None:
        if len(signature.escrow.responses) != n:
            raise MalformedRingSignatureError("escrow responses do not match the ring")
        escrow = (
            group.decode_element(signature.escrow.c1),
            group.decode_element(signature.escrow.c2),
            opener_key,
        )
        t = [group.decode_scalar(x) for x in signature.escrow.responses]
    h = link_base(group, signature.context)
    prefix = _prefix(group, signature.context, message, ring_bytes, image, escrow)
    c = c0
    try:
        for i in range(n):
            points = [group.base_mul(s[i]) + c * ring[i], s[i] * h + c * image]
            if escrow is not None:
                c1, c2, y = escrow
                points += [group.base_mul(t[i]) + c * c1, t[i] * y + c * (c2 - ring[i])]
            c = _next(group, prefix, points)
    except IdentityElementError:
        raise InvalidRingSignatureError("a ring commitment is the identity") from None
    if c != c0:
        raise InvalidRingSignatureError("the ring of challenges does not close")


def linked(a: RingSignature, b: RingSignature) -> bool:
    """True when both signatures come from the same key in the same context."""
    return (a.group, a.context, a.key_image) == (b.group, b.context, b.key_image)


class LinkRegistry:
    """Remembers key images per context so that a second use of a key is caught.

    Call `record` only after `verify` accepted the signature; it raises LinkedSignatureError
    naming the earlier signature's message digest when the key was already used.
    """

    def __init__(self) -> None:
        self._seen: dict[tuple[str, bytes, bytes], bytes] = {}

    def record(self, signature: RingSignature, message_digest: bytes) -> None:
        key = (signature.group, signature.context, signature.key_image)
        earlier = self._seen.get(key)
        if earlier is not None:
            raise LinkedSignatureError(
                f"key already signed in this context (earlier message {earlier.hex()})"
            )
        self._seen[key] = message_digest

    def __len__(self) -> int:
        return len(self._seen)


# --- opening ---------------------------------------------------------------------------------


def _escrow_points(group: Group, signature: RingSignature) -> tuple[Element, Element]:
    if signature.escrow is None:
        raise MalformedRingSignatureError("the signature is not accountable (no escrow)")
    return group.decode_element(signature.escrow.c1), group.decode_element(signature.escrow.c2)


def _opening_context(signature: RingSignature) -> bytes:
    return codec.encode(signature)


def partial_open(signature: RingSignature, index: int, share: Scalar) -> PartialOpening:
    """Opener `index`'s share y_i * C1, with a proof against its public share key y_i * G."""
    group = share.group
    c1, _ = _escrow_points(group, signature)
    d = share * c1
    proof = dleq.prove(
        _OPEN,
        share,
        [group.generator(), c1],
        [group.base_mul(share), d],
        context=_opening_context(signature) + index.to_bytes(4, "big"),
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
    group = _group_of(signature)
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
    if signer.is_identity() or signer.encode() not in _check_ring(group, ring):
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
    return _group_of(signature).decode_element(opening.signer)
