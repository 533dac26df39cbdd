"""Linkable ring signatures with per-context key images, accountable opening and revocation.

Theory of operation (LSAG, Liu-Wei-Wong 2004, with Monero-style key images). A member of a
ring P_1..P_n signs without revealing which member it is. It publishes a key image
I = x * H_ctx, where H_ctx is hashed from the signing *context* (an election, an epoch, a
coupon): two signatures by one key in one context carry the same I and are linked, while
signatures in different contexts are unlinkable. The proof is a ring of Schnorr challenges:
for each member i, L_i = s_i*G + c_i*P_i and R_i = s_i*H_ctx + c_i*I, c_{i+1} = H(..., L_i, R_i),
closing only if the signer knew some x_pi with P_pi = x_pi*G and I = x_pi*H_ctx.

Accountable variant: the signer also ElGamal-encrypts its public key to an opener key Y
(C1 = r*G, C2 = P_pi + r*Y) and the same ring proves, with the same challenge c_i per member,
that the ciphertext holds that member's key (M_i = t_i*G + c_i*C1, N_i = t_i*Y + c_i*(C2 - P_i)).
The opener, possibly a t-of-m committee sharing y through the DKG, reveals P = C2 - y*C1 with
Chaum-Pedersen proofs that anyone can check, so an opening can neither be refused by a
minority nor pin the signature on the wrong member.

Revocation: verification takes the set of revoked keys and rejects any ring that contains
one, so a revoked member cannot sign again (its key cannot appear in an acceptable ring).
"""

from __future__ import annotations

from xinlian.crypto.privacy.ring.common import (
    MAX_RING,
    InvalidOpeningError,
    InvalidRingError,
    InvalidRingSignatureError,
    LinkedSignatureError,
    MalformedRingSignatureError,
    RevokedKeyError,
    RingError,
)
from xinlian.crypto.privacy.ring.lsag import (
    Escrow,
    LinkRegistry,
    RingSignature,
    key_image,
    link_base,
    linked,
    sign,
    verify,
)
from xinlian.crypto.privacy.ring.opening import (
    Openers,
    Opening,
    PartialOpening,
    open_signature,
    partial_open,
    verify_opening,
)
from xinlian.crypto.privacy.ring.traceable import (
    Trace,
    TraceableSignature,
    sign_traceable,
    trace,
    verify_traceable,
)

__all__ = [
    "MAX_RING",
    "Escrow",
    "InvalidOpeningError",
    "InvalidRingError",
    "InvalidRingSignatureError",
    "LinkRegistry",
    "LinkedSignatureError",
    "MalformedRingSignatureError",
    "Openers",
    "Opening",
    "PartialOpening",
    "RevokedKeyError",
    "RingError",
    "RingSignature",
    "Trace",
    "TraceableSignature",
    "key_image",
    "link_base",
    "linked",
    "open_signature",
    "partial_open",
    "sign",
    "sign_traceable",
    "trace",
    "verify",
    "verify_opening",
    "verify_traceable",
]
