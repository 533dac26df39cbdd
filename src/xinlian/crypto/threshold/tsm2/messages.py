"""Threshold SM2 wire messages, public outputs and typed errors (850x)."""

from __future__ import annotations

from collections.abc import Iterable

from xinlian import codec
from xinlian.crypto.primitives.dleq import DleqProof
from xinlian.crypto.primitives.groups import SM2, DistributedCryptoError

G = SM2
MAX_PARTIES = 256
MAX_BATCH = 1024


class Tsm2Error(DistributedCryptoError):
    """Threshold SM2 failures (850x)."""

    code = 8500
    name = "tsm2_error"


class AbortError(Tsm2Error):
    """Too few honest parties to finish; `culprits` names every party caught misbehaving."""

    code = 8501
    name = "tsm2_abort"

    def __init__(self, message: str, culprits: Iterable[int] = ()) -> None:
        super().__init__(message)
        self.culprits = tuple(sorted(set(culprits)))


class InvalidMessageError(Tsm2Error):
    """A message for another session or party, out of order, or replayed."""

    code = 8502
    name = "tsm2_invalid_message"


class PresignatureError(Tsm2Error):
    """An unknown or already used presignature (nonces are strictly one-time)."""

    code = 8503
    name = "tsm2_presignature"


class UnusableNonceError(Tsm2Error):
    """r = 0 or r + k = 0 for this message and nonce; the presignature is burnt, use another."""

    code = 8504
    name = "tsm2_unusable_nonce"


class InvalidParametersError(Tsm2Error):
    code = 8505
    name = "tsm2_invalid_parameters"


# --- messages (all canonical codec records) --------------------------------------------------


class Dealing(codec.Struct):
    """Broadcast: Feldman commitments per lane (and, when multiplying, product proofs)."""

    session: bytes
    dealer: int
    commitments: list[list[bytes]]
    proofs: list[DleqProof]


class PrivateShares(codec.Struct):
    """Point to point, over a confidential channel: the dealer's share for each lane."""

    session: bytes
    dealer: int
    recipient: int
    shares: list[bytes]


class Complaint(codec.Struct):
    session: bytes
    accuser: int
    dealer: int


class Reveal(codec.Struct):
    """A dealer's public answer to a complaint: the disputed shares in the clear."""

    session: bytes
    dealer: int
    recipient: int
    shares: list[bytes]


class OpenShare(codec.Struct):
    session: bytes
    index: int
    value: bytes


class KeySet(codec.Struct):
    """Public output of key generation, the same at every party."""

    threshold: int
    members: list[int]
    public_key: bytes  # 65-byte uncompressed SM2 key, as every SM2 verifier takes it
    inverse_key: bytes  # W = (1 + d)^-1 * G, compressed
    share_keys: list[bytes]  # W_i, aligned with members


class PresignaturePublic(codec.Struct):
    """What a combiner needs about one presignature: K = k*G and U_i = u_i*G."""

    id: bytes
    nonce: bytes
    members: list[int]
    share_keys: list[bytes]


class PartialSignature(codec.Struct):
    presignature: bytes
    index: int
    value: bytes


class Signed(codec.Struct):
    """A finished signature (64-byte r || s) and the signers whose partials were invalid."""

    signature: bytes
    culprits: list[int]


Round = tuple[Dealing, list[PrivateShares]]
