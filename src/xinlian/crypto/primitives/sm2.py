"""SM2 (GB/T 32918): signatures with the signer-ID digest Z_A, and public-key encryption.

Signing runs in Tongsuo (tongsuopy), constant time, whose `ECDSA(SM3())` on an SM2 key
computes e = SM3(Z_A || M) with the default ID 1234567812345678, exactly as GB/T 32918.2
requires; the tests check this against the standard's example. Verification handles no
secret and is the node's hottest crypto path, so it runs in the project's own C extension
(`_sm2verify`, built by `make venv`; see docs/crypto.md), several times faster than Tongsuo:
Python computes e = SM3(Z_A || M), with Z_A cached per key and signer ID, and the extension
checks r || s against e, one signature (`verify`) or a whole batch in one call
(`verify_many`). There is no fallback: a missing build fails the import. Signatures travel
as the fixed 64-byte r || s (DER is not canonical); public keys as the 65-byte uncompressed
point.

Encryption (GB/T 32918.4) runs in GmSSL (gmssl-pyx) and uses the 2016 C1 || C3 || C2 layout.
GmSSL limits one SM2 encryption to 255 bytes, so `seal`/`open_sealed` wrap longer data in a
digital envelope: SM2 encrypts a fresh SM4 key and SM4-GCM carries the data.

Contracts need two variants that every node computes alike: signatures with a chosen signer
ID (`sign_with_id`, `verify_with_id`, in GmSSL, whose binding takes the ID) and encryption
whose ephemeral k is derived from a seed rather than drawn at random (`encrypt_with_seed`,
GB/T 32918.4 on Tongsuo's point arithmetic; GmSSL decrypts it, which the tests check).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import gmssl_pyx
from tongsuopy.crypto import hashes as _hashes
from tongsuopy.crypto import serialization as _ser
from tongsuopy.crypto.asymciphers import ec as _ec

from xinlian.crypto.errors import DecryptionError, InvalidKey
from xinlian.crypto.hashes import sm3
from xinlian.crypto.primitives.sm2_exchange import SM2_CURVE, kdf

try:
    from xinlian.crypto.primitives import _sm2verify
except ImportError as exc:  # no silent fallback to a slower verifier
    raise ImportError("the native SM2 verifier is not built: run `make venv` (or "
                      "`python setup.py build_ext --inplace`)") from exc

DEFAULT_ID = b"1234567812345678"
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0

PUBLIC_KEY_SIZE = 65
SIGNATURE_SIZE = 64
MAX_DIRECT_PLAINTEXT = 255
_ECDSA_SM3 = _ec.ECDSA(_hashes.SM3())
# a || b || xG || yG, the part of every Z_A that is the curve's (joined once: a fresh key's
# Z_A is on the batch verifier's path)
_CURVE_FIELDS = b"".join(v.to_bytes(32, "big") for v in (A, B, GX, GY))


def z_a(public_key: bytes, signer_id: bytes = DEFAULT_ID) -> bytes:
    """Z_A = SM3(ENTL || ID || a || b || xG || yG || xA || yA), GB/T 32918.2 section 5.5."""
    entl = (len(signer_id) * 8).to_bytes(2, "big")
    return sm3(entl + signer_id + _CURVE_FIELDS + public_key[1:])


@lru_cache(maxsize=65536)
def _cached_z_a(public_key: bytes, signer_id: bytes) -> bytes:
    return z_a(public_key, signer_id)


def digest(public_key: bytes, message: bytes, signer_id: bytes = DEFAULT_ID) -> bytes:
    """e = SM3(Z_A || M), the value an SM2 signature signs (GB/T 32918.2 section 7.1)."""
    return sm3(_cached_z_a(bytes(public_key), bytes(signer_id)) + message)


class SM2PrivateKey:
    """An SM2 signing and decryption key (a scalar d in [1, n-2])."""

    __slots__ = ("_key", "public_bytes", "secret")

    def __init__(self, secret: bytes) -> None:
        d = int.from_bytes(secret, "big")
        if len(secret) != 32 or not 1 <= d <= N - 2:
            raise InvalidKey("an SM2 private key is a 32-byte scalar in [1, n-2]")
        self.secret = bytes(secret)
        self._key = _ec.derive_private_key(d, _ec.SM2())
        self.public_bytes = self._key.public_key().public_bytes(
            _ser.Encoding.X962, _ser.PublicFormat.UncompressedPoint)

    @classmethod
    def generate(cls) -> SM2PrivateKey:
        _pub, secret = gmssl_pyx.sm2_key_generate()
        return cls(secret)

    def sign(self, message: bytes) -> bytes:
        """r || s over SM3(Z_A || message) with the default signer ID."""
        return _der_to_rs(self._key.sign(message, _ECDSA_SM3))

    def sign_with_id(self, message: bytes, signer_id: bytes) -> bytes:
        """r || s over SM3(Z_A || message) with Z_A over `signer_id` (by GmSSL, which
        takes the ID)."""
        return _der_to_rs(gmssl_pyx.sm2_sign(self.secret, self.public_bytes[1:], message,
                                             signer_id=signer_id))

    def decrypt(self, ciphertext: bytes) -> bytes:
        """GB/T 32918.4 decryption of a C1 || C3 || C2 ciphertext."""
        try:
            return bytes(gmssl_pyx.sm2_decrypt(self.secret, _c1c3c2_to_der(ciphertext)))
        except (gmssl_pyx.GmsslInnerError, ValueError) as exc:
            raise DecryptionError("SM2 decryption failed") from exc


@lru_cache(maxsize=65536)
def _public_key(data: bytes) -> _ec.EllipticCurvePublicKey:
    if len(data) != PUBLIC_KEY_SIZE or data[0] != 4:
        raise InvalidKey("an SM2 public key is a 65-byte uncompressed point")
    try:
        return _ec.EllipticCurvePublicKey.from_encoded_point(_ec.SM2(), data)
    except ValueError as exc:
        raise InvalidKey("the SM2 public key is not a point on the curve") from exc


def check_public_key(data: bytes) -> None:
    """Raise InvalidKey unless `data` is an uncompressed point on the SM2 curve."""
    _public_key(bytes(data))


def _well_formed(public_key: bytes, signature: bytes) -> bool:
    return len(public_key) == PUBLIC_KEY_SIZE and len(signature) == SIGNATURE_SIZE


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Verify r || s over SM3(Z_A || message) with the default signer ID. A key off the
    curve, r or s outside [1, n-1] or r + s = n verify false."""
    if not _well_formed(public_key, signature):
        return False
    return _sm2verify.verify(public_key, digest(public_key, message), signature)


def verify_many(items: Sequence[tuple[bytes, bytes, bytes]]) -> list[bool]:
    """`verify` for each (public key, message, signature), in one call to the extension."""
    formed = [i for i, (public, _, sig) in enumerate(items) if _well_formed(public, sig)]
    results = [False] * len(items)
    if not formed:
        return results
    checked = _sm2verify.verify_many(
        b"".join(items[i][0] for i in formed),
        b"".join(digest(items[i][0], items[i][1]) for i in formed),
        b"".join(items[i][2] for i in formed))
    for i, ok in zip(formed, checked, strict=True):
        results[i] = ok == 1
    return results


def encrypt(public_key: bytes, plaintext: bytes) -> bytes:
    """GB/T 32918.4 encryption of 1..255 bytes, as C1 || C3 || C2."""
    check_public_key(public_key)
    if not 1 <= len(plaintext) <= MAX_DIRECT_PLAINTEXT:
        raise ValueError("direct SM2 encryption takes 1 to 255 bytes; use seal() for more")
    return _der_to_c1c3c2(gmssl_pyx.sm2_encrypt(public_key[1:], plaintext))


def verify_with_id(public_key: bytes, message: bytes, signature: bytes,
                   signer_id: bytes) -> bool:
    """Verify r || s over SM3(Z_A || message) with Z_A over `signer_id` (GB/T 32918.2).
    Raises InvalidKey for a key that is not a point on the curve."""
    # ENTL, the ID's length in bits, is two bytes
    if len(signature) != SIGNATURE_SIZE or len(signer_id) >= 1 << 13:
        return False
    check_public_key(public_key)
    return _sm2verify.verify(public_key, digest(public_key, message, signer_id), signature)


def encrypt_with_seed(public_key: bytes, plaintext: bytes, seed: bytes) -> bytes:
    """GB/T 32918.4 encryption of 1..255 bytes (C1 || C3 || C2) with the ephemeral k
    derived from `seed`, the key and the message: the same inputs give the same
    ciphertext. Whoever knows the seed and the key can test guesses of the message, so
    the seed must not be predictable to those who must not read it."""
    check_public_key(public_key)
    if not 1 <= len(plaintext) <= MAX_DIRECT_PLAINTEXT:
        raise ValueError("direct SM2 encryption takes 1 to 255 bytes")
    counter = 0
    while True:
        counter += 1
        k = int.from_bytes(sm3(b"xinlian/sm2-encrypt-k" + counter.to_bytes(4, "big") + seed
                               + public_key + plaintext), "big") % N
        ct = encrypt_with_k(public_key, plaintext, k)
        if ct is not None:
            return ct


def encrypt_with_k(public_key: bytes, plaintext: bytes, k: int) -> bytes | None:
    """Steps A2-A8 of GB/T 32918.4 for a given k in [1, n-1] (None where the standard
    says to pick another k: the key stream is all zero)."""
    pb = SM2_CURVE.decode_point(bytes(public_key))
    shared = SM2_CURVE.mul(k, pb) if 1 <= k < N else None
    if shared is None:
        return None
    xy = shared[0].to_bytes(32, "big") + shared[1].to_bytes(32, "big")
    t = kdf(xy, len(plaintext))
    if not any(t):
        return None
    c2 = bytes(a ^ b for a, b in zip(plaintext, t, strict=True))
    c3 = sm3(xy[:32] + plaintext + xy[32:])
    return SM2_CURVE.encode_point(SM2_CURVE.base_mul(k)) + c3 + c2


# --- DER <-> C1 || C3 || C2 -------------------------------------------------------------
# GmSSL speaks SEQUENCE { INTEGER x1, INTEGER y1, OCTET STRING C3, OCTET STRING C2 }.

def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der_int(v: int) -> bytes:
    body = v.to_bytes(v.bit_length() // 8 + 1, "big")
    return b"\x02" + _der_len(len(body)) + body


def _c1c3c2_to_der(ct: bytes) -> bytes:
    if len(ct) < 65 + 32 + 1 or ct[0] != 4:
        raise DecryptionError("malformed SM2 ciphertext")
    x1, y1 = int.from_bytes(ct[1:33], "big"), int.from_bytes(ct[33:65], "big")
    c3, c2 = ct[65:97], ct[97:]
    body = (_der_int(x1) + _der_int(y1) + b"\x04" + _der_len(32) + c3
            + b"\x04" + _der_len(len(c2)) + c2)
    return b"\x30" + _der_len(len(body)) + body


def _der_read(data: bytes, pos: int, tag: int) -> tuple[bytes, int]:
    if data[pos] != tag:
        raise ValueError("unexpected DER tag")
    n = data[pos + 1]
    pos += 2
    if n & 0x80:
        width = n & 0x7F
        n = int.from_bytes(data[pos:pos + width], "big")
        pos += width
    return data[pos:pos + n], pos + n


def _der_to_rs(der: bytes) -> bytes:
    body, _ = _der_read(der, 0, 0x30)
    r, pos = _der_read(body, 0, 0x02)
    s, _ = _der_read(body, pos, 0x02)
    return _int32(r) + _int32(s)


def _der_to_c1c3c2(der: bytes) -> bytes:
    body, _ = _der_read(der, 0, 0x30)
    x1, pos = _der_read(body, 0, 0x02)
    y1, pos = _der_read(body, pos, 0x02)
    c3, pos = _der_read(body, pos, 0x04)
    c2, _ = _der_read(body, pos, 0x04)
    return b"\x04" + _int32(x1) + _int32(y1) + c3 + c2


def _int32(der_integer: bytes) -> bytes:
    return int.from_bytes(der_integer, "big").to_bytes(32, "big")
