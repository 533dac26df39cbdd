"""Threshold key material: the output of distributed key generation.

(The DKG state machine itself follows below the key types.)
"""

from __future__ import annotations

from dataclasses import dataclass

from xinlian import codec
from xinlian.crypto.groups import (
    DistributedCryptoError,
    Element,
    Group,
    Scalar,
    get_group,
)


class DkgError(DistributedCryptoError):
    """Root of the DKG errors (810x)."""

    code = 8100
    name = "dkg_error"


class InvalidKeyMaterialError(DkgError):
    """A key share or public key package that is inconsistent with itself."""

    code = 8101
    name = "invalid_key_material"


@dataclass(frozen=True)
class PublicKeyPackage:
    """What everyone knows after key generation: Y = s*G and Y_i = s_i*G for every member."""

    group: Group
    threshold: int
    group_public_key: Element
    verifying_shares: dict[int, Element]

    def encode(self) -> bytes:
        return codec.encode(_WirePublic(
            self.group.name, self.threshold, self.group_public_key.encode(),
            [(i, y.encode()) for i, y in sorted(self.verifying_shares.items())]))

    @staticmethod
    def decode(data: bytes) -> PublicKeyPackage:
        w = codec.decode(data, _WirePublic)
        group = get_group(w.group)
        shares = {i: group.decode_element(y) for i, y in w.verifying_shares}
        if len(shares) != len(w.verifying_shares) or not 1 <= w.threshold <= len(shares):
            raise InvalidKeyMaterialError("duplicate members or threshold out of range")
        return PublicKeyPackage(group, w.threshold, group.decode_element(w.group_public_key),
                                shares)


@dataclass(frozen=True)
class KeyShare:
    """One member's secret share s_i with the public package it belongs to."""

    identifier: int
    secret: Scalar
    public: PublicKeyPackage

    def __post_init__(self) -> None:
        expected = self.public.verifying_shares.get(self.identifier)
        if expected is None or self.public.group.base_mul(self.secret) != expected:
            raise InvalidKeyMaterialError("secret share does not match its verifying share")

    @property
    def group(self) -> Group:
        return self.public.group

    def encode(self) -> bytes:
        return codec.encode(_WireShare(self.identifier, self.secret.encode(),
                                       self.public.encode()))

    @staticmethod
    def decode(data: bytes) -> KeyShare:
        w = codec.decode(data, _WireShare)
        public = PublicKeyPackage.decode(w.public)
        return KeyShare(w.identifier, public.group.decode_scalar(w.secret), public)

    def __repr__(self) -> str:
        return f"KeyShare({self.group.name}, id={self.identifier}, <secret hidden>)"


class _WirePublic(codec.Struct):
    group: str
    threshold: int
    group_public_key: bytes
    verifying_shares: list[tuple[int, bytes]]


class _WireShare(codec.Struct):
    identifier: int
    secret: bytes
    public: bytes
