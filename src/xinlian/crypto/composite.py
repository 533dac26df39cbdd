"""Composite (hybrid) signatures: ML-DSA-65 and a classical signature over one message.

The construction follows the IETF LAMPS composite ML-DSA draft
(draft-ietf-lamps-pq-composite-sigs): both components sign the message representative

    M' = Prefix || Label || len(ctx) || ctx || PH(M)

ML-DSA-65 with `Label` as its FIPS 204 context, the classical scheme over M' itself. A
composite public key is ML-DSA key || classical key and a composite signature is ML-DSA
signature || classical signature, both of fixed size, tagged with the composite algorithm id.
The signature is valid only if both components verify, so it stands while either problem
stays hard. The label binds each signature to its combination: a component cannot be lifted
into another composite or used as a plain signature of M. The draft has no SM2 combination;
`COMPSIG-MLDSA65-SM2-SM3` is ours, built the same way with SM3 as PH.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from xinlian.crypto.hashes import sm3

PREFIX = b"CompositeAlgorithmSignatures2025"
MLDSA65_PUBLIC_KEY_SIZE = 1952
MLDSA65_SIGNATURE_SIZE = 3309


@dataclass(frozen=True, slots=True)
class Combination:
    """One composite algorithm: its label, pre-hash and the classical part's sizes."""

    label: bytes
    prehash: str  # "sha512" or "sm3"
    classical_public_size: int
    classical_signature_size: int

    @property
    def public_size(self) -> int:
        return MLDSA65_PUBLIC_KEY_SIZE + self.classical_public_size

    @property
    def signature_size(self) -> int:
        return MLDSA65_SIGNATURE_SIZE + self.classical_signature_size

    def representative(self, message: bytes, ctx: bytes = b"") -> bytes:
        """M', the bytes both components sign."""
        if len(ctx) > 255:
            raise ValueError("a composite signature context is at most 255 bytes")
        digest = sm3(message) if self.prehash == "sm3" else hashlib.sha512(message).digest()
        return PREFIX + self.label + bytes([len(ctx)]) + ctx + digest

    def split_public(self, data: bytes) -> tuple[bytes, bytes]:
        """(ML-DSA key, classical key); the caller checks the total size first."""
        return data[:MLDSA65_PUBLIC_KEY_SIZE], data[MLDSA65_PUBLIC_KEY_SIZE:]

    def split_signature(self, data: bytes) -> tuple[bytes, bytes]:
        return data[:MLDSA65_SIGNATURE_SIZE], data[MLDSA65_SIGNATURE_SIZE:]


MLDSA65_ED25519 = Combination(b"COMPSIG-MLDSA65-Ed25519-SHA512", "sha512", 32, 64)
MLDSA65_SM2 = Combination(b"COMPSIG-MLDSA65-SM2-SM3", "sm3", 65, 64)
