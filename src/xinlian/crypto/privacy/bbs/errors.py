"""Typed errors of the BBS signature scheme (89xx, in the distributed-crypto family)."""

from __future__ import annotations

from xinlian.crypto.primitives.groups.errors import DistributedCryptoError


class BbsError(DistributedCryptoError):
    """Root of the BBS errors."""

    code = 8900
    name = "bbs_error"


class MalformedBbsInputError(BbsError):
    """Bytes that do not decode: a wrong length, a scalar out of range, a short key material."""

    code = 8901
    name = "bbs_malformed_input"


class BbsPointError(MalformedBbsInputError):
    """A point that is not on the curve, not in the prime-order subgroup, or the identity."""

    code = 8902
    name = "bbs_bad_point"


class BbsIndexError(MalformedBbsInputError):
    """Disclosed indexes out of range, not strictly ascending, or not matching the messages."""

    code = 8903
    name = "bbs_bad_index"


class InvalidBbsSignatureError(BbsError):
    """A well-formed signature that does not verify for these messages, header and key."""

    code = 8904
    name = "bbs_invalid_signature"


class InvalidBbsProofError(BbsError):
    """A well-formed proof that does not verify for these disclosed messages and headers."""

    code = 8905
    name = "bbs_invalid_proof"
