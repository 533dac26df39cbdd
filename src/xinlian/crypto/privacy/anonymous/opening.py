"""The regulator's view of an anonymous transfer: its ElGamal ciphertexts (c1, c2) =
(k*B0, M + k*pk_R) and their opening with t of n key shares, exactly as
confidential/tracing.py opens a confidential transfer (Chaum-Pedersen decryption shares
bound to a context, Lagrange combination), in the clear or blinded: a requesting member
blinds every c1 (`request_opening`, tracing.blind), the members' shares are on the
blinded bases, and only the requester, who holds the rhos, reads the plaintexts.

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


Share = tuple[Element, bytes]  # D_i = x_i*c1 (or x_i*c1') and its Chaum-Pedersen proof


@dataclass(frozen=True)
class OpenRequest:
    """A member's request to open a transfer blinded: per ciphertext, in order, c1' = c1 +
    rho_k*B0 and the proof that the requester knows rho_k. The rhos are independent: a
    receiver knows its own output's plaintexts, and with one rho for all it could take
    rho*pk_R from its amount's published shares and unblind the sender's escrow."""

    blinded: list[Element]
    proofs: list[bytes]


def request_opening(transfer: Transfer, context: bytes, rng: Rng = os.urandom
                    ) -> tuple[list[Scalar], OpenRequest]:
    """The requester's rhos (its secret: they read the opening) and its request."""
    made = [tracing.blind(ct.c1, ct.share_context(context), rng)
            for ct in regulator_ciphertexts(transfer)]
    return [m[0] for m in made], OpenRequest([m[1] for m in made], [m[2] for m in made])


def verify_request(transfer: Transfer, request: OpenRequest, context: bytes) -> None:
    """Raise unless `request` blinds every ciphertext of `transfer` with a proof."""
    cts = _bases(transfer, request)
    for ct, blinded, proof in zip(regulator_ciphertexts(transfer), cts, request.proofs,
                                  strict=True):
        tracing.verify_blinding(ct.c1, blinded, proof, ct.share_context(context))


def _bases(transfer: Transfer, request: OpenRequest | None) -> list[Element]:
    """What the shares are taken on: each c1, or each c1' of `request`."""
    cts = regulator_ciphertexts(transfer)
    if request is None:
        return [ct.c1 for ct in cts]
    if len(request.blinded) != len(cts) or len(request.proofs) != len(cts):
        raise MalformedTransferError(f"{len(cts)} ciphertexts: one blinded base and one "
                                     "proof each")
    return list(request.blinded)


def decryption_shares(secret: Scalar, transfer: Transfer, context: bytes,
                      rng: Rng = os.urandom, request: OpenRequest | None = None
                      ) -> list[Share]:
    """A regulator member's shares of every ciphertext of `transfer`, in order (on the
    blinded bases of `request`, if given)."""
    return [tracing.decryption_share(secret, base, ct.share_context(context), rng)
            for ct, base in zip(regulator_ciphertexts(transfer), _bases(transfer, request),
                                strict=True)]


def verify_shares(verifying: Element, transfer: Transfer, shares: Sequence[Share],
                  context: bytes, request: OpenRequest | None = None) -> None:
    """Raise InvalidDecryptionShareError (or a malformed error) unless `shares` are the
    member with verifying share `verifying`'s shares of every ciphertext, in order (on the
    blinded bases of `request`, if given)."""
    cts = regulator_ciphertexts(transfer)
    if len(shares) != len(cts):
        raise MalformedTransferError(f"{len(cts)} ciphertexts but {len(shares)} shares")
    for ct, base, (share, proof) in zip(cts, _bases(transfer, request), shares, strict=True):
        tracing.verify_share(verifying, base, share, proof, ct.share_context(context))


@dataclass(frozen=True)
class Opening:
    """What the regulator learns: each spend's owner (its spend key B, which names the
    registered account), each output's receiver (B) and amount."""

    senders: list[bytes]
    receivers: list[bytes]
    amounts: list[int]


def open_transfer(key: RegulatorKey, transfer: Transfer,
                  shares: Mapping[int, Sequence[Element]],
                  rhos: Sequence[Scalar] | None = None) -> Opening:
    """Open with verified shares by member index (each member's D_i of every ciphertext,
    in order); NotEnoughSharesError with fewer than t members. Shares on a request's
    blinded bases open only with its `rhos`; without them, or with others, the
    plaintexts are random points (no 32-bit amount: UndecryptableError)."""
    if len(shares) < key.threshold:
        raise NotEnoughSharesError(f"{len(shares)} members' shares, the threshold is "
                                   f"{key.threshold}")
    group = group_of(transfer)
    cts = regulator_ciphertexts(transfer)
    if any(len(d) != len(cts) for d in shares.values()) or (
            rhos is not None and len(rhos) != len(cts)):
        raise MalformedTransferError(f"each member gives {len(cts)} shares, and a "
                                     f"request has {len(cts)} rhos")
    senders: list[bytes] = []
    receivers: list[bytes] = []
    amounts: list[int] = []
    for k, ct in enumerate(cts):
        found = {i: d[k] for i, d in shares.items()}
        plain = (ct.c2 - tracing.combine(group, found) if rhos is None else
                 tracing.unblind(group, ct.c2, found, rhos[k], key.public))
        if ct.role == "amount":
            amounts.append(dlog.solve(plain))
        elif plain.is_identity():
            raise MalformedTransferError("an escrow decrypts to the identity")
        else:
            (senders if ct.role == "sender" else receivers).append(plain.encode())
    return Opening(senders, receivers, amounts)
