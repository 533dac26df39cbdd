"""ristretto255 (RFC 9496) on the system libsodium, through cffi's ABI mode.

PyNaCl bundles libsodium but binds none of its ristretto255 functions, so this backend
opens the shared library (Debian's libsodium23) and declares the few it calls. Elements are
their canonical 32-byte encodings, as libsodium takes them; ristretto255 is a prime-order
group, so decoding has no torsion to reject: the canonical-encoding and identity checks
are done here (the system's libsodium 1.0.18 ignores the top bit and accepts the identity)
and `is_valid_point` refuses the rest. libsodium refuses the
identity and scalar 0 in its multiplications; `base.Element` keeps those out of the hooks.
"""

from __future__ import annotations

import ctypes.util
import functools
import hashlib
from typing import Any, Literal

import cffi

from xinlian.crypto.primitives.groups.base import Element, Group, Scalar
from xinlian.crypto.primitives.groups.errors import (
    GroupError,
    HashToGroupError,
    IdentityElementError,
    NonCanonicalEncodingError,
    NotOnCurveError,
)
from xinlian.crypto.primitives.groups.xmd import expand_message_xmd

L = 2**252 + 27742317777372353535851937790883648493
P = 2**255 - 19

_ffi = cffi.FFI()
_ffi.cdef("""
int sodium_init(void);
int crypto_core_ristretto255_is_valid_point(const unsigned char *p);
int crypto_core_ristretto255_add(unsigned char *r, const unsigned char *p, const unsigned char *q);
int crypto_core_ristretto255_sub(unsigned char *r, const unsigned char *p, const unsigned char *q);
int crypto_core_ristretto255_from_hash(unsigned char *p, const unsigned char *r);
int crypto_scalarmult_ristretto255(unsigned char *q, const unsigned char *n,
                                   const unsigned char *p);
int crypto_scalarmult_ristretto255_base(unsigned char *q, const unsigned char *n);
""")


@functools.cache
def _sodium() -> Any:
    """The system libsodium, opened on first use: importing this module (as the command
    line does) works without it, and using the group without it is a typed error."""
    path = ctypes.util.find_library("sodium") or "libsodium.so.23"
    try:
        lib = _ffi.dlopen(path)
    except OSError as exc:
        raise GroupError(f"ristretto255 needs the system libsodium (libsodium23): {exc}") from None
    if lib.sodium_init() < 0:
        raise GroupError("ristretto255: sodium_init failed")
    return lib


_IDENTITY = bytes(32)


class Ristretto255Group(Group):
    name = "ristretto255"
    order = L
    scalar_size = 32
    element_size = 32
    scalar_byteorder: Literal["little", "big"] = "little"

    def _add(self, a: Any, b: Any) -> Any:
        r = _ffi.new("unsigned char[32]")
        _sodium().crypto_core_ristretto255_add(r, a, b)
        out = bytes(r)
        return None if out == _IDENTITY else out

    def _neg(self, a: Any) -> Any:
        r = _ffi.new("unsigned char[32]")
        _sodium().crypto_core_ristretto255_sub(r, _IDENTITY, a)
        return bytes(r)

    def _mul(self, a: Any, k: int) -> Any:
        r = _ffi.new("unsigned char[32]")
        if _sodium().crypto_scalarmult_ristretto255(r, k.to_bytes(32, "little"), a) != 0:
            return None  # libsodium reports an identity result as an error
        return bytes(r)

    def _base_mul(self, k: int) -> Any:
        r = _ffi.new("unsigned char[32]")
        _sodium().crypto_scalarmult_ristretto255_base(r, k.to_bytes(32, "little"))
        return bytes(r)

    def _encode(self, a: Any) -> bytes:
        return bytes(a)

    def _decode(self, data: bytes) -> Any:
        # libsodium 1.0.18 ignores the top bit and accepts the identity: check both here
        s = int.from_bytes(data, "little")
        if s >= P or s & 1:
            raise NonCanonicalEncodingError("ristretto255 encoding is not canonical")
        if s == 0:
            raise IdentityElementError("ristretto255 identity element")
        if _sodium().crypto_core_ristretto255_is_valid_point(data) != 1:
            raise NotOnCurveError("bytes are not a ristretto255 encoding")
        return data

    def digest(self, data: bytes) -> bytes:
        return hashlib.sha512(data).digest()

    def hash_to_scalar(self, dst: bytes, msg: bytes) -> Scalar:
        """SHA-512(dst || msg) read little-endian mod L (RFC 9591 §6.2 H1/H2/H3)."""
        return Scalar(self, int.from_bytes(hashlib.sha512(dst + msg).digest(), "little"))

    def hash_to_element(self, dst: bytes, msg: bytes) -> Element:
        """hash_to_ristretto255 (RFC 9380 appendix B): the RFC 9496 §4.3.4 one-way map of
        64 bytes of expand_message_xmd with SHA-512."""
        h = expand_message_xmd(msg, dst, 64, "sha512")
        r = _ffi.new("unsigned char[32]")
        _sodium().crypto_core_ristretto255_from_hash(r, h)
        out = bytes(r)
        if out == _IDENTITY:
            raise HashToGroupError("ristretto255 hash_to_element hit the identity")
        return Element(self, out)


RISTRETTO255 = Ristretto255Group()
