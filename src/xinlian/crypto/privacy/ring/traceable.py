"""Traceable ring signatures (Fujisaki-Suzuki, PKC 2007): double use reveals the signer.

Theory of operation. A tag is a context together with its ring P_1..P_n. The signer i
with secret x has the tag point sigma_i = x*h, h = H(tag), which it never publishes: it
publishes A_1 such that the points sigma_j = A_0 + j*A_1 (A_0 = H(tag, message)) pass
through sigma_i at j = i, and proves with a 1-out-of-n Chaum-Pedersen proof (challenges that
sum to one hash, as in Cramer-Damgard-Schoenmakers) that for some j, log_G(P_j) =
log_h(sigma_j). For one message the "line" is fixed by sigma_i and A_0, so every signature
by i on that message is linked; for two different messages the two lines cross exactly at
j = i, so anyone holding both signatures learns the signer's key: double use in one tag
is traced without any opener, while a single signature keeps the signer anonymous (DDH).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

from xinlian import codec
from xinlian.crypto.primitives.groups import Element, Group, Rng, Scalar, transcript
from xinlian.crypto.privacy.ring.common import (
    InvalidRingError,
    InvalidRingSignatureError,
    MalformedRingSignatureError,
    check_ring,
    group_of,
)

_TAG = b"xinlian/ring/trace-tag/v1"
_LINE = b"xinlian/ring/trace-line/v1"
_CHALLENGE = b"xinlian/ring/trace-challenge/v1"


class TraceableSignature(codec.Struct):
    group: str
    context: bytes
    a1: bytes
    challenges: list[bytes]
    responses: list[bytes]


class Trace(Enum):
    INDEPENDENT = "independent"  # different signers (or different tags)
    LINKED = "linked"  # one signer, the same message twice
    TRACED = "traced"  # one signer, two messages: the key is revealed


def _tag(group: Group, context: bytes, ring_bytes: Sequence[bytes]) -> bytes:
    return transcript(group.name.encode(), context, *ring_bytes)


def _line(group: Group, tag: bytes, message: bytes, a1: Element, n: int) -> list[Element]:
    """sigma_j = A_0 + j*A_1 for j = 1..n."""
    a0 = group.hash_to_element(_LINE, transcript(tag, message))
    return [a0 + group.scalar(j) * a1 for j in range(1, n + 1)]


def _challenge(
    group: Group, tag: bytes, message: bytes, a1: Element, commitments: Sequence[Element]
) -> Scalar:
    parts = [tag, message, a1.encode(), *(c.encode() for c in commitments)]
    return group.hash_to_scalar(_CHALLENGE, transcript(*parts))


def sign_traceable(
    message: bytes, context: bytes, ring: Sequence[Element], secret: Scalar, rng: Rng
) -> TraceableSignature:
    group = secret.group
    ring_bytes = check_ring(group, ring)
    try:
        i = ring_bytes.index(group.base_mul(secret).encode())
    except ValueError:
        raise InvalidRingError("the signer's key is not in the ring") from None
    n = len(ring)
    tag = _tag(group, context, ring_bytes)
    h = group.hash_to_element(_TAG, tag)
    sigma_i = secret * h
    a0 = group.hash_to_element(_LINE, transcript(tag, message))
    a1 = group.scalar(i + 1).invert() * (sigma_i - a0)
    sigmas = _line(group, tag, message, a1, n)
    c = [group.random_scalar(rng) for _ in range(n)]
    z = [group.random_scalar(rng) for _ in range(n)]
    w = group.random_scalar(rng)
    commitments: list[Element] = []
    for j in range(n):
        if j == i:
            commitments += [group.base_mul(w), w * h]
        else:
            commitments += [group.base_mul(z[j]) + c[j] * ring[j], z[j] * h + c[j] * sigmas[j]]
    total = _challenge(group, tag, message, a1, commitments)
    c[i] = total - group.scalar(sum(c[j].value for j in range(n) if j != i))
    z[i] = w - c[i] * secret
    return TraceableSignature(
        group=group.name,
        context=context,
        a1=a1.encode(),
        challenges=[x.encode() for x in c],
        responses=[x.encode() for x in z],
    )


def _sigmas(
    signature: TraceableSignature, message: bytes, ring: Sequence[Element]
) -> list[Element]:
    """Check the signature and return its line sigma_1..sigma_n; raise if it is invalid."""
    group = group_of(signature.group)
    ring_bytes = check_ring(group, ring)
    n = len(ring)
    if len(signature.challenges) != n or len(signature.responses) != n:
        raise MalformedRingSignatureError(f"a traceable signature for {n} keys has {n} of each")
    a1 = group.decode_element(signature.a1)
    c = [group.decode_scalar(x) for x in signature.challenges]
    z = [group.decode_scalar(x) for x in signature.responses]
    tag = _tag(group, signature.context, ring_bytes)
    h = group.hash_to_element(_TAG, tag)
    sigmas = _line(group, tag, message, a1, n)
    commitments: list[Element] = []
    for j in range(n):
        commitments += [group.base_mul(z[j]) + c[j] * ring[j], z[j] * h + c[j] * sigmas[j]]
    if any(p.is_identity() for p in commitments):
        raise InvalidRingSignatureError("a commitment is the identity")
    expected = _challenge(group, tag, message, a1, commitments)
    if group.scalar(sum(x.value for x in c)) != expected:
        raise InvalidRingSignatureError("challenges do not sum to the hash")
    return sigmas


def verify_traceable(
    signature: TraceableSignature, message: bytes, ring: Sequence[Element]
) -> None:
    """Accept the signature or raise a typed error."""
    _sigmas(signature, message, ring)


def trace(
    first: tuple[TraceableSignature, bytes],
    second: tuple[TraceableSignature, bytes],
    ring: Sequence[Element],
) -> tuple[Trace, Element | None]:
    """Compare two valid signatures (with their messages) over one ring.

    Returns (TRACED, signer key) when one key signed two different messages in the same
    context, (LINKED, None) when it signed the same message twice (the signer stays
    anonymous), and (INDEPENDENT, None) otherwise. Both signatures are verified first.
    """
    (sig_a, msg_a), (sig_b, msg_b) = first, second
    line_a = _sigmas(sig_a, msg_a, ring)
    line_b = _sigmas(sig_b, msg_b, ring)
    if (sig_a.group, sig_a.context) != (sig_b.group, sig_b.context):
        return Trace.INDEPENDENT, None
    same = [j for j in range(len(ring)) if line_a[j] == line_b[j]]
    if len(same) == len(ring) and len(ring) > 1:
        return Trace.LINKED, None  # the same line: one signer, one message, still anonymous
    if len(same) == 1:
        return Trace.TRACED, ring[same[0]]
    return Trace.INDEPENDENT, None
