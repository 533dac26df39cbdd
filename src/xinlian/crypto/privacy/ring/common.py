"""What every ring-signature variant shares: the error family (860x) and ring checks."""

from __future__ import annotations

from collections.abc import Sequence

from xinlian.crypto.primitives.groups import (
    DistributedCryptoError,
    Element,
    Group,
    GroupError,
    get_group,
)

MAX_RING = 4096


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


def check_ring(group: Group, ring: Sequence[Element]) -> list[bytes]:
    """The members' encodings, after checking size, group, identity and duplicates."""
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


def group_of(name: str) -> Group:
    """The group a signature names; an unknown name is a malformed signature."""
    try:
        return get_group(name)
    except GroupError:
        raise MalformedRingSignatureError(f"unknown group {name!r}") from None
