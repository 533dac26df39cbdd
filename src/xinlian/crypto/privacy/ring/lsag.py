"""LSAG ring signatures with per-context key images and an optional escrow to an opener."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from xinlian import codec
from xinlian.crypto.primitives.groups import (
    Element,
    Group,
    IdentityElementError,
    Rng,
    Scalar,
    transcript,
)
from xinlian.crypto.privacy.ring.common import (
    InvalidRingError,
    InvalidRingSignatureError,
    LinkedSignatureError,
    MalformedRingSignatureError,
    RevokedKeyError,
    check_ring,
    group_of,
)

_LINK = b"xinlian/ring/link-base/v1"
_CHALLENGE = b"xinlian/ring/challenge/v1"


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


def link_base(group: Group, context: bytes) -> Element:
    """H_ctx: the element key images are taken over; nobody knows its discrete log."""
    return group.hash_to_element(_LINK, transcript(group.name.encode(), context))


def key_image(secret: Scalar, context: bytes) -> Element:
    return secret * link_base(secret.group, context)


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


def sign(
    message: bytes,
    context: bytes,
    ring: Sequence[Element],
    secret: Scalar,
    *,
    opener_key: Element | None = None,
    rng: Rng,
) -> RingSignature:
    """Sign as the ring member whose key is secret*G; escrow that key if opener_key is given."""
    group = secret.group
    ring_bytes = check_ring(group, ring)
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
    group = group_of(signature.group)
    ring_bytes = check_ring(group, ring)
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
