"""Typed errors of the distributed-crypto family (8xxx), starting with group elements.

Code ranges: 800x groups, 810x DKG, 820x FROST, 830x ROAST. Other distributed-crypto
modules (threshold BLS, threshold SM2, ring signatures, PRE) subclass
`DistributedCryptoError` with their own ranges.
"""

from __future__ import annotations

from xinlian.errors import XinlianError


class DistributedCryptoError(XinlianError):
    """Root of the 8xxx family."""

    code = 8000
    name = "distributed_crypto_error"


class GroupError(DistributedCryptoError):
    """Bad group input: an encoding, point or scalar that must not be accepted."""

    code = 8001
    name = "group_error"


class InvalidEncodingError(GroupError):
    """Wrong length or wrong format byte for this group's encoding."""

    code = 8002
    name = "invalid_encoding"


class NonCanonicalEncodingError(GroupError):
    """A valid value, but not its one canonical encoding (e.g. a coordinate >= p)."""

    code = 8003
    name = "non_canonical_encoding"


class NotOnCurveError(GroupError):
    """The bytes do not describe a point of this curve (a wrong-curve or invalid point)."""

    code = 8004
    name = "not_on_curve"


class SmallSubgroupError(GroupError):
    """A curve point outside the prime-order subgroup (it has a torsion component)."""

    code = 8005
    name = "small_subgroup"


class IdentityElementError(GroupError):
    """The identity element where a non-identity element is required."""

    code = 8006
    name = "identity_element"


class InvalidScalarError(GroupError):
    """A scalar encoding >= the group order, or zero where zero has no inverse."""

    code = 8007
    name = "invalid_scalar"


class GroupMismatchError(GroupError):
    """Values of two different groups were combined."""

    code = 8008
    name = "group_mismatch"


class HashToGroupError(GroupError):
    """Hashing to an element found no point (probability ~2^-128; treat as a bug)."""

    code = 8009
    name = "hash_to_group_failed"
