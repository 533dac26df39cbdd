"""The regulator's view of an anonymous transfer: its ElGamal ciphertexts (c1, c2) =
(k*B0, M + k*pk_R) and their opening with t of n key shares, exactly as
confidential/tracing.py opens a confidential transfer (Chaum-Pedersen decryption shares
bound to a context, Lagrange combination).

A transfer holds, in this order: per spend, its re-randomised owner escrow (M = the spend
key B of the spent note's owner: the sender); per output, its owner escrow (M = the
receiver's spend key B) and its amount escrow (M = v*G, v found by the 32-bit search).
The proofs make each M the true one (docs/privacy.md, Anonymous transfers).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from xinlian.crypto.primitives.groups import Element, Rng, Scalar, transcript
from xinlian.crypto.privacy.anonymous.errors import MalformedTransferError, NotEnoughSharesError
from xinlian.crypto.privacy.anonymous.keys import decode_point
from xinlian.crypto.privacy.anonymous.records import Transfer
from xinlian.crypto.privacy.anonymous.transfer import group_of
from xinlian.crypto.privacy.confidential import dlog, tracing
from xinlian.crypto.privacy.confidential.tracing import RegulatorKey

Role = Literal["sender", "receiver", "amount"]


@dataclass(frozen=True)
class RegulatorCiphertext:
    """One ciphertext for the regulator: whose identity or which amount it holds."""

    role: Role
    index: int  # the spend's or the output's position
    c1: Element
    c2: Element

    def share_context(self, context: bytes) -> bytes:
        """What a decryption share of it is bound to: the caller's context (chain and
        transaction), the role and the position."""
        return transcript(context, self.role.encode(), self.index.to_bytes(4, "big"))


def regulator_ciphertexts(transfer: Transfer) -> list[RegulatorCiphertext]:
    """Senders first (one per spend), then each output's receiver and amount."""
    group = group_of(transfer)

    def ct(role: Role, index: int, c1: bytes, c2: bytes) -> RegulatorCiphertext:
        return RegulatorCiphertext(role, index, decode_point(group, c1, f"{role} escrow"),
                                   decode_point(group, c2, f"{role} escrow"))

    out = [ct("sender", i, s.owner_c1, s.owner_c2) for i, s in enumerate(transfer.spends)]
    for i, o in enumerate(transfer.outputs):
        out += [ct("receiver", i, o.note.owner_c1, o.note.owner_c2),
                ct("amount", i, o.note.amount_c1, o.note.amount_c2)]
    return out


Share = tuple[Element, bytes]  # D_i = x_i*c1 and its Chaum-Pedersen proof


def decryption_shares(secret: Scalar, transfer: Transfer, context: bytes,
                      rng: Rng = os.urandom) -> list[Share]:
    """A regulator member's shares of every ciphertext of `transfer`, in order."""
    return [tracing.decryption_share(secret, ct.c1, ct.share_context(context), rng)
            for ct in regulator_ciphertexts(transfer)]


def verify_shares(verifying: Element, transfer: Transfer, shares: Sequence[Share],
                  context: bytes) -> None:
    """Raise InvalidDecryptionShareError (or a malformed error) unless `shares` are the
    member with verifying share `verifying`'s shares of every ciphertext, in order."""
    cts = regulator_ciphertexts(transfer)
    if len(shares) != len(cts):
        raise MalformedTransferError(f"{len(cts)} ciphertexts but {len(shares)} shares")
    for ct, (share, proof) in zip(cts, shares, strict=True):
        tracing.verify_share(verifying, ct.c1, share, proof, ct.share_context(context))


@dataclass(frozen=True)
class Opening:
    """What the regulator learns: each spend's owner (its spend key B, which names the
    registered account), each output's receiver (B) and amount."""

    senders: list[bytes]
    receivers: list[bytes]
    amounts: list[int]


def open_transfer(key: RegulatorKey, transfer: Transfer,
                  shares: Mapping[int, Sequence[Element]]) -> Opening:
    """Open with verified shares by member index (each member's D_i of every ciphertext,
    in order); NotEnoughSharesError with fewer than t members."""
    if len(shares) < key.threshold:
        raise NotEnoughSharesError(f"{len(shares)} members' shares, the threshold is "
                                   f"{key.threshold}")
    group = group_of(transfer)
    cts = regulator_ciphertexts(transfer)
    if any(len(d) != len(cts) for d in shares.values()):
        raise MalformedTransferError(f"each member gives {len(cts)} shares")
    senders: list[bytes] = []
    receivers: list[bytes] = []
    amounts: list[int] = []
    for k, ct in enumerate(cts):
        plain = ct.c2 - tracing.combine(group, {i: d[k] for i, d in shares.items()})
        if ct.role == "amount":
            amounts.append(dlog.solve(plain))
        elif plain.is_identity():
            raise MalformedTransferError("an escrow decrypts to the identity")
        else:
            (senders if ct.role == "sender" else receivers).append(plain.encode())
    return Opening(senders, receivers, amounts)
