"""Keys, addresses, one-time (stealth) keys, scanning and key images.

A user holds a view key a and a spend key b; its address is (A, B) = (a*G, b*G). A
payment to (A, B) picks a fresh r and publishes R = r*G and P = s*G + B with
s = Hs(r*A): only the holder of a recomputes s = Hs(a*R) and recognises P - s*G = B, and
only the holder of b knows the one-time secret x = s + b of P. The amount v and the
commitment's blinding m travel the same way: m = Hs'(r*A) and v masked with a hash of
r*A (8 bytes). Key images are I = x*Hp(ctx, P): one per note and chain context, whoever
builds the ring around it; with a base per note (as Monero's Hp(P)) rather than one base
per context, two spends of notes sent to one address do not differ by a multiple of a
known base, so the notes' sender cannot link them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from xinlian.crypto.primitives.groups import Element, Group, GroupError, Rng, Scalar, transcript
from xinlian.crypto.privacy.anonymous import oneof
from xinlian.crypto.privacy.anonymous.errors import MalformedTransferError
from xinlian.crypto.privacy.anonymous.records import Address, Note
from xinlian.crypto.privacy.confidential import dlog
from xinlian.crypto.privacy.confidential.errors import UndecryptableError
from xinlian.crypto.privacy.confidential.generators import generators
from xinlian.crypto.privacy.confidential.pedersen import commit
from xinlian.crypto.privacy.confidential.sigma import Equation
from xinlian.crypto.privacy.confidential.transcript import Transcript

_STEALTH = b"XINLIAN-ANONYMOUS-V1-STEALTH"
_LINK = b"XINLIAN-ANONYMOUS-V1-KEY-IMAGE"
SEALED_SIZE = 8


def decode_point(group: Group, data: bytes, what: str) -> Element:
    """A canonical non-identity element, or MalformedTransferError naming `what`."""
    try:
        return group.decode_element(data)
    except GroupError as exc:
        raise MalformedTransferError(f"{what}: {exc}") from exc


@dataclass(frozen=True)
class Keys:
    """A user's secret keys: view a (finds and reads incoming notes), spend b."""

    view: Scalar
    spend: Scalar

    def address(self) -> Address:
        g = generators(self.view.group).g
        return Address(view=(g * self.view).encode(), spend=(g * self.spend).encode())


def keygen(group: Group, rng: Rng = os.urandom) -> Keys:
    """Fresh keys from the OS CSPRNG unless told."""
    return Keys(group.random_scalar(rng), group.random_scalar(rng))


def address_points(group: Group, address: Address) -> tuple[Element, Element]:
    """(A, B), strictly decoded."""
    return (decode_point(group, address.view, "address view key"),
            decode_point(group, address.spend, "address spend key"))


def _registration(group: Group, address: Address,
                  context: bytes) -> tuple[Transcript, list[Equation]]:
    g = generators(group).g
    view, spend = address_points(group, address)
    tr = Transcript(group, b"ANON-REGISTER")
    tr.append(b"context", context)
    return tr, [Equation(view, ((0, g),)), Equation(spend, ((1, g),))]


def prove_registration(keys: Keys, context: bytes, rng: Rng = os.urandom) -> bytes:
    """Proof of knowledge of a and b for the address, bound to `context` (the chain and
    the registering account): 3 scalars."""
    group = keys.view.group
    tr, eqs = _registration(group, keys.address(), context)
    return oneof.prove(tr, [eqs], 0, [keys.view, keys.spend], rng).encode(group)


def verify_registration(group: Group, address: Address, context: bytes, proof: bytes) -> None:
    """Raise MalformedTransferError or InvalidTransferProofError unless `proof` shows
    knowledge of both keys of `address` for `context`."""
    tr, eqs = _registration(group, address, context)
    oneof.verify(tr, [eqs], oneof.decode(group, proof, 1, 2))


@dataclass(frozen=True)
class Derived:
    """What r*A (= a*R) gives sender and receiver alike."""

    offset: Scalar  # s: P = s*G + B
    blinding: Scalar  # m: C = v*G + m*H
    mask: bytes  # XORed with the 8-byte amount


def derive(shared: Element) -> Derived:
    group = shared.group
    data = shared.encode()
    return Derived(group.hash_to_scalar(_STEALTH, transcript(b"one-time key", data)),
                   group.hash_to_scalar(_STEALTH, transcript(b"blinding", data)),
                   group.digest(transcript(_STEALTH, b"amount", data))[:SEALED_SIZE])


def seal(amount: int, mask: bytes) -> bytes:
    """The amount masked for the receiver."""
    return bytes(x ^ y for x, y in zip(amount.to_bytes(SEALED_SIZE, "big"), mask, strict=True))


def unseal(sealed: bytes, mask: bytes) -> int:
    return int.from_bytes(bytes(x ^ y for x, y in zip(sealed, mask, strict=True)), "big")


def key_base(group: Group, context: bytes, one_time_key: Element) -> Element:
    """Hp(ctx, P): the base of the note's key image; nobody knows its discrete log."""
    return group.hash_to_element(_LINK, transcript(group.name.encode(), context,
                                                   one_time_key.encode()))


@dataclass(frozen=True)
class OwnedNote:
    """A note the scanner found for its keys, with what spending it needs."""

    index: int  # the position the caller gave it (the chain's note index)
    note: Note
    amount: int
    blinding: Scalar  # m
    secret: Scalar  # x = s + b, P = x*G

    def key_image(self, context: bytes) -> bytes:
        """I = x*Hp(ctx, P): `context` is fixed per chain (its id), never per transaction,
        or one note would have several images and could be spent twice."""
        group = self.secret.group
        one_time = generators(group).g * self.secret
        return (key_base(group, context, one_time) * self.secret).encode()


def scan(keys: Keys, notes: Iterable[tuple[int, Note]], *,
         recover: bool = False) -> list[OwnedNote]:
    """The notes among `notes` (chain index, note) paid to `keys`' address, with their
    amounts; malformed notes are left out. A note whose sealed amount does not open its
    commitment (its sender lied) is left out too unless `recover`: then v is searched
    from C - m*H = v*G in [0, 2^32) (up to about a second a note, which is why it is not
    the default: any sender could make a wallet spend that on every output it pays)."""
    group = keys.view.group
    gens = generators(group)
    spend = gens.g * keys.spend
    found = []
    for index, note in notes:
        try:
            p = group.decode_element(note.one_time_key)
            r = group.decode_element(note.tx_key)
        except GroupError:
            continue
        d = derive(r * keys.view)
        if p - gens.g * d.offset != spend or len(note.sealed_amount) != SEALED_SIZE:
            continue
        amount = unseal(note.sealed_amount, d.mask)
        if commit(group, amount, d.blinding).encode() != note.commitment:
            if not recover:
                continue
            try:
                amount = dlog.solve(group.decode_element(note.commitment) - gens.h * d.blinding)
            except (GroupError, UndecryptableError):
                continue
        found.append(OwnedNote(index, note, amount, d.blinding, d.offset + keys.spend))
    return found
