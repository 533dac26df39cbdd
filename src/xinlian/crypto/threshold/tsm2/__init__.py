"""Threshold SM2: distributed key generation and t-of-n signing that yields GB/T 32918 signatures.

Theory of operation. SM2 signs with s = (1 + d)^-1 * (k - r*d), r = e + x(k*G). Writing
w = (1 + d)^-1 this is s = w*(k + r) - r, so the parties never share d itself: they share w.
All sharings are Shamir sharings of degree t-1 with Feldman commitments on the SM2 curve.

- Key generation: a joint random sharing of w and of a mask rho (every party deals, bad
  dealers are disqualified through complaints), one multiplication giving a sharing of
  mu = w*rho, which is opened; then (1 + d)*G = w^-1*G = mu^-1 * (rho*G), so P = mu^-1*R - G.
- Presigning (offline, batched): a joint random sharing of each nonce k (K = k*G is public)
  and one multiplication giving a degree t-1 sharing of u = w*k.
- Signing (online, non-interactive): with r from the message and K, party i publishes
  sigma_i = u_i + r*w_i, a share of w*(k + r); anyone checks sigma_i*G = U_i + r*W_i against
  public share keys, so a bad partial names its sender; any t valid partials interpolate to
  w*(k + r) and s = that - r. The output is an ordinary SM2 signature under P.

Multiplication follows Gennaro-Rabin-Rabin (PODC 1998) degree reduction: each party reshares
its product a_i*b_i with a Feldman sharing whose constant commitment is proven equal to
a_i*B_i by a Chaum-Pedersen proof against the public share keys A_i and B_i; any 2t-1 valid
resharings interpolate to a degree t-1 sharing of a*b. Hence the scheme needs n >= 2t-1 for
key generation and presigning, and t honest signers online. The construction is that of the
Shamir-based threshold SM2 schemes (Shang, Ma, Lin, Jing, "A threshold scheme for SM2",
Journal of Cryptologic Research 2014) with the robust-DSS techniques of Gennaro, Jarecki,
Krawczyk and Rabin (Eurocrypt 1996); docs/crypto/tsm2.md states assumptions and limits.

Every party is a sans-I/O object: round methods take the previous round's messages and
return the next messages. The protocol's core, `tsm2.core.Tsm2Party` (an
`xinlian.protocol.Core` for the simulator and the network runtime), runs them as stages of a
consistent broadcast: key generation, presigning, refresh, signing (`xinlian crypto tsm2`).
"""

from __future__ import annotations

from xinlian.crypto.threshold.tsm2.messages import (
    AbortError,
    Complaint,
    Dealing,
    InvalidMessageError,
    InvalidParametersError,
    KeySet,
    OpenShare,
    PartialSignature,
    PresignatureError,
    PresignaturePublic,
    PrivateShares,
    Reveal,
    Signed,
    Tsm2Error,
    UnusableNonceError,
)
from xinlian.crypto.threshold.tsm2.party import Party, combine, message_scalar

__all__ = [
    "AbortError",
    "Complaint",
    "Dealing",
    "InvalidMessageError",
    "InvalidParametersError",
    "KeySet",
    "OpenShare",
    "PartialSignature",
    "Party",
    "PresignatureError",
    "PresignaturePublic",
    "PrivateShares",
    "Reveal",
    "Signed",
    "Tsm2Error",
    "UnusableNonceError",
    "combine",
    "message_scalar",
]
