"""Typed errors of homomorphic aggregates (895x, in the distributed-crypto family's privacy
ranges after BBS's 890x)."""

from __future__ import annotations

from xinlian.crypto.primitives.groups.errors import DistributedCryptoError


class HomomorphicError(DistributedCryptoError):
    """Root of the encrypted-aggregate errors."""

    code = 8950
    name = "homomorphic_error"


class MalformedAggregateInputError(HomomorphicError):
    """Bytes or documents that do not decode strictly: a wrong length, a point not on the
    curve or not canonical, a scalar not below the order, a missing or mistyped field."""

    code = 8951
    name = "homomorphic_malformed_input"


class AggregateStatementError(HomomorphicError):
    """Something no one may encrypt, prove or aggregate: a value outside [0, 2^bits) or not
    a bit, an unsupported bit size or group, ciphertexts under different keys or groups."""

    code = 8952
    name = "homomorphic_bad_statement"


class InvalidContributionError(HomomorphicError):
    """A well-formed contribution whose proof does not verify for its ciphertext, key,
    bit size and context (a tampered ciphertext, a proof for another statement)."""

    code = 8953
    name = "homomorphic_invalid_contribution"


class NotAMemberError(HomomorphicError):
    """A decryption share from a party that holds no share of the aggregate key."""

    code = 8954
    name = "homomorphic_not_a_member"


class InvalidDecryptionShareError(HomomorphicError):
    """A decryption share whose Chaum-Pedersen proof does not verify against the member's
    verifying share and the aggregate, or two shares from one member."""

    code = 8955
    name = "homomorphic_invalid_share"


class TooFewSharesError(HomomorphicError):
    """Fewer valid decryption shares than the key's threshold."""

    code = 8956
    name = "homomorphic_too_few_shares"


class DiscreteLogBoundError(HomomorphicError):
    """The decrypted aggregate is not in [0, bound]: the bound is too small for the
    contributions, or a table larger than the cap was asked for."""

    code = 8957
    name = "homomorphic_dlog_out_of_bound"
