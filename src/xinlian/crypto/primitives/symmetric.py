"""Symmetric ciphers: SM4-GCM and AES-256-GCM (authenticated), SM4-CBC (GB/T 32907, PKCS#7).

AEAD output is ciphertext || 16-byte tag; nonces are 12 bytes. All three run in OpenSSL
(pyca/cryptography); GmSSL, which refuses empty messages, serves as the cross-check in tests.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from xinlian.crypto.errors import DecryptionError, InvalidKey, UnknownAlgorithm
from xinlian.crypto.keys import AlgId

NONCE_SIZE = 12
TAG_SIZE = 16
KEY_SIZES = {AlgId.SM4_GCM: 16, AlgId.AES256_GCM: 32}


def _check(alg: AlgId, key: bytes, nonce: bytes) -> None:
    size = KEY_SIZES.get(alg)
    if size is None:
        raise UnknownAlgorithm(f"{alg!r} is not an AEAD algorithm")
    if len(key) != size:
        raise InvalidKey(f"{alg.name} takes a {size}-byte key")
    if len(nonce) != NONCE_SIZE:
        raise InvalidKey(f"AEAD nonces are {NONCE_SIZE} bytes")


def seal(alg: AlgId, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
    _check(alg, key, nonce)
    if alg == AlgId.AES256_GCM:
        return AESGCM(key).encrypt(nonce, plaintext, aad)
    enc = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(aad)
    return enc.update(plaintext) + enc.finalize() + enc.tag


def open_sealed(alg: AlgId, key: bytes, nonce: bytes, sealed: bytes, aad: bytes = b"") -> bytes:
    _check(alg, key, nonce)
    if len(sealed) < TAG_SIZE:
        raise DecryptionError("ciphertext shorter than its tag")
    try:
        if alg == AlgId.AES256_GCM:
            return AESGCM(key).decrypt(nonce, sealed, aad)
        dec = Cipher(algorithms.SM4(key), modes.GCM(nonce, sealed[-TAG_SIZE:])).decryptor()
        dec.authenticate_additional_data(aad)
        return dec.update(sealed[:-TAG_SIZE]) + dec.finalize()
    except InvalidTag as exc:
        raise DecryptionError("authentication failed") from exc


def _sm4_cbc(key: bytes, iv: bytes) -> Cipher[modes.CBC]:
    if len(key) != 16 or len(iv) != 16:
        raise InvalidKey("SM4-CBC takes a 16-byte key and a 16-byte IV")
    return Cipher(algorithms.SM4(key), modes.CBC(iv))


def sm4_cbc_encrypt(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    """SM4-CBC with PKCS#7 padding (unauthenticated: pair it with a MAC)."""
    enc = _sm4_cbc(key, iv).encryptor()
    padder = padding.PKCS7(128).padder()
    return enc.update(padder.update(plaintext) + padder.finalize()) + enc.finalize()


def sm4_cbc_decrypt(key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    dec = _sm4_cbc(key, iv).decryptor()
    if not ciphertext or len(ciphertext) % 16:
        raise DecryptionError("SM4-CBC ciphertext is a non-empty multiple of 16 bytes")
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(dec.update(ciphertext) + dec.finalize()) + unpadder.finalize()
    except ValueError as exc:
        raise DecryptionError("bad SM4-CBC padding") from exc
