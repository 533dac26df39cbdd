"""BBS signatures (IRTF CFRG draft-irtf-cfrg-bbs-signatures) over BLS12-381.

Theory of operation. A signer with secret key x and public key W = x * BP2 (G2) signs a
header and a list of L messages m_i (hashed to scalars) as (A, e), where
B = P1 + Q_1 * domain + sum H_i * m_i, e is a deterministic hash of the key and the messages,
and A = B / (x + e); it verifies when e(A, W) * e(A * e - B, BP2) = 1. The signature is one
G1 point and one scalar, 80 bytes for any L. The holder can then prove, in zero knowledge,
that it holds a signature over messages of which it discloses any subset, bound to a
presentation header of its choice; proofs from the same signature are unlinkable because each
re-randomises the signature with fresh scalars from the OS CSPRNG.

Two ciphersuites, BLS12-381-SHA-256 and BLS12-381-SHAKE-256, each with the draft's
`H2G_HM2S_` interface. Pairings, multi-scalar multiplication and the SSWU map are native
(arkworks); hashing, encodings and the protocol steps are here, written to follow the draft
line by line. Malformed input raises MalformedBbsInputError (or BbsPointError, BbsIndexError);
a well-formed signature or proof that fails raises InvalidBbsSignatureError or
InvalidBbsProofError.
"""

from __future__ import annotations

from xinlian.crypto.privacy.bbs.encoding import PROOF_FLOOR, SIGNATURE_LEN, decode_secret_key
from xinlian.crypto.privacy.bbs.errors import (
    BbsError,
    BbsIndexError,
    BbsPointError,
    InvalidBbsProofError,
    InvalidBbsSignatureError,
    MalformedBbsInputError,
)
from xinlian.crypto.privacy.bbs.proof import calculate_random_scalars, proof_gen, proof_verify
from xinlian.crypto.privacy.bbs.signature import (
    generate_secret_key,
    key_gen,
    sign,
    sk_to_pk,
    verify,
)
from xinlian.crypto.privacy.bbs.suite import (
    BLS12_381_SHA_256,
    BLS12_381_SHAKE_256,
    SUITES,
    Ciphersuite,
    get_suite,
)

__all__ = [
    "BLS12_381_SHAKE_256",
    "BLS12_381_SHA_256",
    "PROOF_FLOOR",
    "SIGNATURE_LEN",
    "SUITES",
    "BbsError",
    "BbsIndexError",
    "BbsPointError",
    "Ciphersuite",
    "InvalidBbsProofError",
    "InvalidBbsSignatureError",
    "MalformedBbsInputError",
    "calculate_random_scalars",
    "decode_secret_key",
    "generate_secret_key",
    "get_suite",
    "key_gen",
    "proof_gen",
    "proof_verify",
    "sign",
    "sk_to_pk",
    "verify",
]
