"""Checking a run's output with the ordinary verifiers, not the protocol's own code."""

from __future__ import annotations

import nacl.exceptions
import nacl.signing

from xinlian.crypto.primitives.groups import Element
from xinlian.crypto.threshold import frost


def verify_schnorr(public_key: Element, message: bytes, signature: bytes) -> bool:
    """Ed25519 keys: libsodium's RFC 8032 verifier; secp256k1: RFC 9591's (R, z) check."""
    if public_key.group.name == "ed25519":
        try:
            nacl.signing.VerifyKey(public_key.encode()).verify(message, signature)
        except (nacl.exceptions.BadSignatureError, ValueError):
            return False
        return True
    suite = frost.suite_for(public_key.group)
    return frost.verify_bytes(suite, public_key.encode(), message, signature)
