"""Typed errors of confidential amounts (88xx, in the distributed-crypto family's privacy
ranges beside ring signatures 86xx, PRE 87xx and BBS 89xx)."""

from __future__ import annotations

from xinlian.crypto.primitives.groups.errors import DistributedCryptoError


class ConfidentialError(DistributedCryptoError):
    """Root of the Pedersen-commitment and range-proof errors."""

    code = 8800
    name = "confidential_error"


class MalformedProofError(ConfidentialError):
    """Proof or commitment bytes that do not decode strictly: a wrong length, a point not
    on the curve or not canonically encoded, a scalar not below the group order."""

    code = 8801
    name = "confidential_malformed_proof"


class RangeProofStatementError(ConfidentialError):
    """A statement the prover must not prove or the verifier must not check: a value
    outside [0, 2^n), a bit size other than 8, 16, 32 or 64, a count of values that is not
    a power of two up to 16, or values and blindings of different counts."""

    code = 8802
    name = "confidential_bad_statement"


class InvalidRangeProofError(ConfidentialError):
    """A range proof that does not verify for the given commitments and bit size."""

    code = 8803
    name = "confidential_invalid_range_proof"


class InvalidConfidentialProofError(ConfidentialError):
    """A proof of a confidential transfer, withdrawal or key registration (the sigma
    protocols of transfer.py) that does not verify for its statement."""

    code = 8810
    name = "confidential_invalid_proof"


class InvalidDecryptionShareError(ConfidentialError):
    """A regulator's decryption share whose DLEQ proof does not verify against the member's
    verifying share, or a regulator key whose verifying shares do not lie on one polynomial."""

    code = 8811
    name = "confidential_invalid_share"


class UndecryptableError(ConfidentialError):
    """A ciphertext whose amount is not in [0, 2^32): the discrete-log search that recovers
    twisted-ElGamal amounts covers 32 bits only (a wrong key gives this too)."""

    code = 8812
    name = "confidential_undecryptable"
