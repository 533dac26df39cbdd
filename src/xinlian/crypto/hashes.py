"""Hash functions by algorithm id: SM3 (GB/T 32905), SHA-256, SHA3-256, Keccak-256."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from Crypto.Hash import keccak as _keccak
from gmssl_pyx import sm3_hash as _sm3_hash

from xinlian.crypto.errors import UnknownAlgorithm
from xinlian.crypto.keys import AlgId, Digest


def sm3(data: bytes) -> bytes:
    return bytes(_sm3_hash(bytes(data)))


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
