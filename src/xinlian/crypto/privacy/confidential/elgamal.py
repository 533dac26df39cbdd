"""Twisted ElGamal (Chen, Ma, Tang, Au: PGC, 2020): confidential balances and amounts.

A key is sk with pk = sk*H; a ciphertext of amount v under pk is (X, Y) = (r*pk, v*G + r*H)
with the Pedersen generators G, H of generators.py. Y is a Pedersen commitment to v, so the
range proofs of range_proof.py apply to ciphertexts unchanged, and one Y shared by several
X_i = r*pk_i encrypts the same amount to several keys. Ciphertexts add: balances are
updated without decryption. Decryption gives v*G = Y - sk^-1*X; the amount is then found by
a bounded discrete-log search (dlog.py): amounts and balances are 32-bit, as in PGC.

IND-CPA under DDH (PGC, Theorem 1): X and Y-vG = r*H are a DH tuple in base H with pk.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from xinlian.crypto.primitives.groups import Element, Group, GroupError, Rng, Scalar
from xinlian.crypto.privacy.confidential import dlog
from xinlian.crypto.privacy.confidential.errors import MalformedProofError
from xinlian.crypto.privacy.confidential.generators import generators


@dataclass(frozen=True)
class Ciphertext:
    """(X, Y) = (r*pk, v*G + r*H); the zero balance is (identity, identity)."""

    x: Element
    y: Element

    def __add__(self, other: Ciphertext) -> Ciphertext:
        return Ciphertext(self.x + other.x, self.y + other.y)

    def __sub__(self, other: Ciphertext) -> Ciphertext:
        return Ciphertext(self.x - other.x, self.y - other.y)

    def encode(self) -> bytes:
        """X || Y, the identity as zero bytes (a balance may hold it; no valid point
        encodes as zeros in either group)."""
        return encode_point(self.x) + encode_point(self.y)


def zero(group: Group) -> Ciphertext:
    return Ciphertext(group.identity(), group.identity())


def public_amount(group: Group, value: int) -> Ciphertext:
    """The ciphertext of a public amount with randomness 0 (a deposit): (identity, v*G)."""
    return Ciphertext(group.identity(), generators(group).g * group.scalar(value))


def keypair(group: Group, rng: Rng = os.urandom) -> tuple[Scalar, Element]:
    """A fresh (sk, pk = sk*H) from the OS CSPRNG unless told."""
    sk = group.random_scalar(rng)
    return sk, public_key(sk)


def public_key(sk: Scalar) -> Element:
    return generators(sk.group).h * sk


def encrypt(pk: Element, value: int, r: Scalar) -> Ciphertext:
    gens = generators(pk.group)
    return Ciphertext(pk * r, pk.group.msm([pk.group.scalar(value), r], [gens.g, gens.h]))


def decrypt(sk: Scalar, ct: Ciphertext) -> int:
    """The amount in [0, 2^32) that `ct` encrypts under sk; UndecryptableError otherwise."""
    return dlog.solve(ct.y - ct.x * sk.invert())


def encode_point(e: Element) -> bytes:
    return bytes(e.group.element_size) if e.is_identity() else e.encode()


def decode_point(group: Group, data: bytes, *, identity_ok: bool = False) -> Element:
    """A canonical element; zero bytes are the identity only where `identity_ok`."""
    if identity_ok and data == bytes(group.element_size):
        return group.identity()
    try:
        return group.decode_element(data)
    except GroupError as exc:
        raise MalformedProofError(f"element: {exc}") from exc


def decode(group: Group, data: bytes) -> Ciphertext:
    """A balance ciphertext (either part may be the identity)."""
    e = group.element_size
    if len(data) != 2 * e:
        raise MalformedProofError(f"a {group.name} ciphertext is {2 * e} bytes, got {len(data)}")
    return Ciphertext(decode_point(group, data[:e], identity_ok=True),
                      decode_point(group, data[e:], identity_ok=True))
