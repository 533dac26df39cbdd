"""BBS key generation, signing and signature verification (draft sections 3.3, 3.4, 3.6)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from xinlian.crypto.primitives import bls
from xinlian.crypto.privacy.bbs.core import calculate_domain, compute_b, h2s_dst
from xinlian.crypto.privacy.bbs.encoding import (
    Signature,
    decode_public_key,
    decode_signature,
    encode_signature,
    serialize,
)
from xinlian.crypto.privacy.bbs.errors import (
    InvalidBbsSignatureError,
    MalformedBbsInputError,
)
from xinlian.crypto.privacy.bbs.suite import BLS12_381_SHA_256, Ciphersuite, R

BP2 = bls.G2_BASE  # the standard generator of G2


def key_gen(
    key_material: bytes,
    key_info: bytes = b"",
    key_dst: bytes | None = None,
    suite: Ciphersuite = BLS12_381_SHA_256,
) -> int:
    """Derive a secret key from at least 32 secret bytes (draft 3.3.1)."""
    if len(key_material) < 32:
        raise MalformedBbsInputError("key material must be at least 32 bytes")
    if len(key_info) > 65535:
        raise MalformedBbsInputError("key info longer than 65535 bytes")
    if key_dst is None:
        key_dst = suite.api_id + b"KEYGEN_DST_"
    sk = suite.hash_to_scalar(key_material + len(key_info).to_bytes(2, "big") + key_info, key_dst)
    if sk == 0:
        raise MalformedBbsInputError("key material hashes to the zero scalar")
    return sk


def generate_secret_key(suite: Ciphersuite = BLS12_381_SHA_256) -> int:
    """A fresh secret key from 32 bytes of the OS CSPRNG."""
    return key_gen(secrets.token_bytes(32), suite=suite)


def sk_to_pk(sk: int) -> bytes:
    """The 96-byte compressed G2 public key W = SK * BP2."""
    if not 0 < sk < R:
        raise MalformedBbsInputError("secret key is not in 1..r-1")
    return bls.encode_point(bls.multiply(BP2, sk))


def sign(
    sk: int,
    pk: bytes,
    header: bytes,
    messages: Sequence[bytes],
    suite: Ciphersuite = BLS12_381_SHA_256,
) -> bytes:
    """Sign a header and a list of messages: an 80-byte signature whatever their number."""
    scalars = suite.messages_to_scalars(messages)
    generators = suite.generators(len(scalars) + 1)
    if not 0 < sk < R:
        raise MalformedBbsInputError("secret key is not in 1..r-1")
    domain = calculate_domain(suite, pk, len(generators), header)
    e = suite.hash_to_scalar(serialize(sk, *scalars, domain), h2s_dst(suite))
    b = compute_b(suite, generators, domain, range(len(scalars)), scalars)
    if (sk + e) % R == 0:
        raise MalformedBbsInputError("SK + e is zero: no signature exists for this input")
    a = bls.multiply(b, pow(sk + e, -1, R))
    return encode_signature(Signature(a, e))


def verify(
    pk: bytes,
    signature: bytes,
    header: bytes,
    messages: Sequence[bytes],
    suite: Ciphersuite = BLS12_381_SHA_256,
) -> None:
    """Accept the signature or raise: malformed bytes get MalformedBbsInputError (or a
    subclass), a well-formed signature that does not hold gets InvalidBbsSignatureError."""
    sig = decode_signature(signature)
    w = decode_public_key(pk)
    scalars = suite.messages_to_scalars(messages)
    generators = suite.generators(len(scalars) + 1)
    domain = calculate_domain(suite, pk, len(generators), header)
    b = compute_b(suite, generators, domain, range(len(scalars)), scalars)
    # e(A, W) * e(A * e - B, BP2) == 1
    if not bls.pairing_check([sig.a, bls.multiply(sig.a, sig.e) - b], [w, BP2]):
        raise InvalidBbsSignatureError("the BBS signature does not verify")
