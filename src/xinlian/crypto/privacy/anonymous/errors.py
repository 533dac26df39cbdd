"""Typed errors of anonymous transfers (8820-8829, inside the confidential family 88xx:
the same groups, generators and regulator key). Catching ConfidentialError catches both."""

from __future__ import annotations

from xinlian.crypto.privacy.confidential.errors import ConfidentialError


class AnonymousError(ConfidentialError):
    """Root of the anonymous-transfer errors."""

    code = 8820
    name = "anonymous_error"


class MalformedTransferError(AnonymousError):
    """Bytes that do not decode strictly: a point not canonical or not in the group, a
    scalar not reduced, a proof of the wrong length for its ring or receiver set."""

    code = 8821
    name = "anonymous_malformed"


class InvalidTransferProofError(AnonymousError):
    """A well-formed proof that does not verify for its statement: a spend's ring proof,
    an output's receiver or amount-escrow proof, the balance proof or the range proof. A
    proof made for another ring, receiver set, output set or context fails here."""

    code = 8822
    name = "anonymous_invalid_proof"


class BadRingError(AnonymousError):
    """A ring or receiver set the protocol refuses: empty, too large, a member listed
    twice, or (when building) the spent note or the receiver not in it."""

    code = 8823
    name = "anonymous_bad_ring"


class StatementError(AnonymousError):
    """A transfer that does not match the statement it is checked against: another group,
    a count of rings or receiver sets other than of spends or outputs, too many inputs or
    outputs, two spends of one note."""

    code = 8824
    name = "anonymous_bad_statement"


class AmountOverflowError(AnonymousError):
    """An amount, fee or public amount outside [0, 2^32), or outputs that the inputs do
    not cover: the prover refuses it, so it never makes a proof of a false statement."""

    code = 8825
    name = "anonymous_range_overflow"


class NotEnoughSharesError(AnonymousError):
    """An opening with fewer verified decryption shares than the regulator's threshold."""

    code = 8826
    name = "anonymous_not_enough_shares"


class RangeProofError(InvalidTransferProofError):
    """The outputs' aggregated range proof does not verify: some output amount is not in
    [0, 2^32) (or the proof was made for other commitments)."""

    code = 8827
    name = "anonymous_invalid_range_proof"
