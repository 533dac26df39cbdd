"""Hash functions by algorithm id: SM3 (GB/T 32905), SHA-256, SHA3-256, Keccak-256; HKDF
over them, which turns a key-exchange secret into channel keys; and `hash_items`, many short
messages per call, for proof verifiers."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from Crypto.Hash import keccak as _keccak
from cryptography.hazmat.primitives import hashes as _hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from gmssl_pyx import sm3_hash as _sm3_hash

from xinlian.crypto.errors import UnknownAlgorithm
from xinlian.crypto.keys import AlgId, Digest

_sm3_items: Callable[[bytes, bytes, int], bytes] | None
try:
    from xinlian.crypto.primitives._sm3many import hash_items as _sm3_items
except ImportError:  # not built yet (`make venv`): hash_items takes its generic path
    _sm3_items = None


def sm3(data: bytes) -> bytes:
    return bytes(_sm3_hash(bytes(data)))


def hash_items(hasher: Callable[[bytes], bytes], prefix: bytes, packed: bytes,
               size: int) -> bytes:
    """hasher(prefix + item) of each `size`-byte item of `packed`, the digests concatenated.
    SM3 takes one native call for all of them (_sm3many.c: about half the CPU of a call
    each from Python, which is what a verifier hashing every record of a page pays); other
    hashes, or SM3 before `make venv` has built it, one call each."""
    if hasher is sm3 and _sm3_items is not None and len(prefix) <= 64:
        return _sm3_items(prefix, packed, size)
    return b"".join([hasher(prefix + packed[i:i + size]) for i in range(0, len(packed), size)])


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def sha3_256(data: bytes) -> bytes:
    return hashlib.sha3_256(data).digest()


def keccak256(data: bytes) -> bytes:
    """Keccak-256 as Ethereum uses it (the pre-standard padding, not SHA3-256)."""
    return _keccak.new(digest_bits=256, data=data).digest()


HASHES: dict[AlgId, Callable[[bytes], bytes]] = {
    AlgId.SM3: sm3,
    AlgId.SHA256: sha256,
    AlgId.SHA3_256: sha3_256,
    AlgId.KECCAK256: keccak256,
}


def hasher(alg: AlgId) -> Callable[[bytes], bytes]:
    """The raw 32-byte hash function for `alg`."""
    try:
        return HASHES[alg]
    except KeyError:
        raise UnknownAlgorithm(f"{alg!r} is not a hash algorithm") from None


def digest(alg: AlgId, data: bytes) -> Digest:
    return Digest(alg, hasher(alg)(data))


_HKDF_HASHES: dict[AlgId, _hashes.HashAlgorithm] = {
    AlgId.SM3: _hashes.SM3(), AlgId.SHA256: _hashes.SHA256(), AlgId.SHA3_256: _hashes.SHA3_256()}


def hkdf(alg: AlgId, secret: bytes, *, salt: bytes, info: bytes, length: int) -> bytes:
    """HKDF (RFC 5869) over hash `alg`: `length` bytes of keys from a shared secret."""
    try:
        algorithm = _HKDF_HASHES[alg]
    except KeyError:
        raise UnknownAlgorithm(f"{alg!r} is not an HKDF hash") from None
    return HKDF(algorithm, length, salt=salt, info=info).derive(secret)
