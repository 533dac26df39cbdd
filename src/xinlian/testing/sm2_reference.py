"""Reference SM2 verifiers and signature makers that the native verifier is checked against.

Tongsuo (tongsuopy) and GmSSL (gmssl-pyx) verify over the message (each computes Z_A with
the default ID itself; GmSSL also takes another ID or a ready digest e). `sign_digest` makes
a signature over a chosen e with a chosen k (GB/T 32918.2 section 6.1, steps A3-A6, on
Tongsuo's point arithmetic), so tests reach digests and points that random messages never
give: e >= n, x1 >= n, a key with a known relation to G. `cross_check` runs the three
verifiers on seeded random keys and messages, for the slow test and the benchmark.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import gmssl_pyx
from tongsuopy.crypto import hashes
from tongsuopy.crypto.asymciphers import ec
from tongsuopy.crypto.asymciphers.utils import encode_dss_signature
from tongsuopy.crypto.exceptions import InvalidSignature

from xinlian.crypto.primitives import sm2
from xinlian.crypto.primitives.sm2_exchange import SM2_CURVE

_ECDSA_SM3 = ec.ECDSA(hashes.SM3())


def _der(signature: bytes) -> bytes:
    return bytes(encode_dss_signature(int.from_bytes(signature[:32], "big"),
                                      int.from_bytes(signature[32:], "big")))


def _chain_encoded(public: bytes, signature: bytes) -> bool:
    """The chain's encodings (docs/crypto.md): 04 || x || y and r || s. The libraries also
    read compressed points (Tongsuo) or take x || y without the prefix (GmSSL)."""
    return (len(public) == sm2.PUBLIC_KEY_SIZE and public[0] == 4
            and len(signature) == sm2.SIGNATURE_SIZE)


def tongsuo_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    """Tongsuo's SM2 verification with the default ID; malformed inputs are invalid."""
    if not _chain_encoded(public, signature):
        return False
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SM2(), public)
        key.verify(_der(signature), message, _ECDSA_SM3)
    except (InvalidSignature, ValueError):
        return False
    return True


def gmssl_verify(public: bytes, message: bytes, signature: bytes,
                 signer_id: bytes = sm2.DEFAULT_ID) -> bool:
    """GmSSL's SM2 verification with Z_A over `signer_id`."""
    if not _chain_encoded(public, signature):
        return False
    try:
        return bool(gmssl_pyx.sm2_verify(public[1:], message, _der(signature),
                                         signer_id=signer_id))
    except (gmssl_pyx.GmsslInnerError, ValueError):
        return False


def gmssl_verify_digest(public: bytes, e: bytes, signature: bytes) -> bool:
    """GmSSL's verification of r || s over a ready digest e (no Z_A applied)."""
    if not _chain_encoded(public, signature):
        return False
    try:
        return bool(gmssl_pyx.sm2_verify_sm3_digest(public[1:], e, _der(signature)))
    except (gmssl_pyx.GmsslInnerError, ValueError):
        return False


def sign_digest(secret: int, e: int, k: int) -> bytes | None:
    """r || s over the integer digest e with nonce k, or None where the standard draws
    another k (r = 0, r + k = n or s = 0)."""
    x1 = SM2_CURVE.base_mul(k)[0]
    r = (e + x1) % sm2.N
    if r == 0 or r + k == sm2.N:
        return None
    s = pow(1 + secret, -1, sm2.N) * (k - r * secret) % sm2.N
    if s == 0:
        return None
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def public_of(secret: int) -> bytes:
    return SM2_CURVE.encode_point(SM2_CURVE.base_mul(secret))


@dataclass(frozen=True)
class CrossCheck:
    """How many signatures each verifier accepted, and how many tampered ones it refused."""

    count: int
    native_valid: int
    tongsuo_valid: int
    gmssl_valid: int
    native_refused: int
    tongsuo_refused: int
    gmssl_refused: int
    disagreements: int


def cross_check(count: int, seed: int, *, gmssl_every: int = 1) -> CrossCheck:
    """Sign `count` random messages under as many seeded random keys, tamper with a copy of
    each (a flipped bit in the message, r or s), and verify every one with the native
    verifier (in one batch), Tongsuo and, for every `gmssl_every`-th item, GmSSL. Tongsuo
    signs, except every other GmSSL-checked item, which GmSSL signs."""
    rng = random.Random(seed)
    good: list[tuple[bytes, bytes, bytes]] = []
    bad: list[tuple[bytes, bytes, bytes]] = []
    for i in range(count):
        key = sm2.SM2PrivateKey(rng.randrange(1, sm2.N - 1).to_bytes(32, "big"))
        message = rng.randbytes(rng.randrange(0, 200))
        # GmSSL (sign_with_id, ~10 ms a signature) signs every other sampled item
        gmssl_signs = i % gmssl_every == 0 and (i // gmssl_every) % 2 == 1
        signature = (key.sign_with_id(message, sm2.DEFAULT_ID) if gmssl_signs
                     else key.sign(message))
        good.append((key.public_bytes, message, signature))
        bad.append(_tampered(rng, key.public_bytes, message, signature))
    native_good, native_bad = sm2.verify_many(good), sm2.verify_many(bad)
    tongsuo_good = [tongsuo_verify(*item) for item in good]
    tongsuo_bad = [tongsuo_verify(*item) for item in bad]
    sampled = range(0, count, gmssl_every)
    gmssl_good = {i: gmssl_verify(*good[i]) for i in sampled}
    gmssl_bad = {i: gmssl_verify(*bad[i]) for i in sampled}
    disagreements = sum(
        native_good[i] != tongsuo_good[i] or native_bad[i] != tongsuo_bad[i]
        or (i in gmssl_good and (native_good[i] != gmssl_good[i]
                                 or native_bad[i] != gmssl_bad[i]))
        for i in range(count))
    return CrossCheck(count, sum(native_good), sum(tongsuo_good), sum(gmssl_good.values()),
                      count - sum(native_bad), count - sum(tongsuo_bad),
                      len(gmssl_bad) - sum(gmssl_bad.values()), disagreements)


def _tampered(rng: random.Random, public: bytes, message: bytes,
              signature: bytes) -> tuple[bytes, bytes, bytes]:
    if rng.randrange(3) == 0:
        return public, _flip(rng, message) if message else b"\x00", signature
    return public, message, _flip(rng, signature)


def _flip(rng: random.Random, data: bytes) -> bytes:
    bit = rng.randrange(len(data) * 8)
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)
