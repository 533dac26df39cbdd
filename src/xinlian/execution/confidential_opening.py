"""The regulator's blinded opening of a traced transfer, one implementation for both
private kinds (execution/confidential.py: one ciphertext a transfer; execution/
anonymous.py: one per sender, receiver and amount). A member requests the opening with
every ciphertext's c1 blinded (c1' = c1 + rho_k*B0, each with a proof of knowledge of
rho_k, crypto/privacy/confidential/tracing.py); members publish decryption shares on the
blinded bases; at t shares the opening is recorded, readable only by the requester, who
holds the rhos. Each kind keeps its own records on chain: `Records` reads and writes them.

Rules: only regulator members request and share; a transfer opens while it is under the
current regulator key and not open yet; a pending request of another member stands until
it completes, the requester may replace its own (the shares on the old bases are
dropped); a share needs a pending request; each member shares once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from xinlian.crypto.primitives.groups import Element, Group
from xinlian.crypto.privacy.confidential.elgamal import decode_point
from xinlian.crypto.privacy.confidential.tracing import verify_blinding, verify_share
from xinlian.execution.confidential_payloads import RegulatorMember, SetRegulator
from xinlian.execution.errors import BadPayload, NotRegulatorMember, NotTraceable

Read = Callable[[bytes], bytes | None]


class Store(Protocol):
    def get(self, key: bytes) -> bytes | None: ...

    def set(self, key: bytes, value: bytes | None) -> None: ...


@dataclass(frozen=True)
class Traced:
    """A transfer as the opening sees it: the key its ciphertexts are under, each c1, and
    the context each request proof and each share is bound to."""

    regulator: bytes
    bases: list[Element]
    request_contexts: list[bytes]
    share_contexts: list[bytes]


Shares = list[tuple[int, list[bytes]]]  # (member index, its shares, one per ciphertext)


class Records(Protocol):
    """A kind's opening records on chain."""

    def is_opened(self, read: Read, transfer_id: bytes) -> bool: ...

    def request(self, read: Read, transfer_id: bytes) -> tuple[int, list[bytes]] | None:
        """The pending request: its requester and blinded bases."""
        ...

    def put_request(self, state: Store, transfer_id: bytes, requester: int,
                    blinded: list[bytes], height: int) -> None: ...

    def shares(self, read: Read, transfer_id: bytes) -> Shares: ...

    def put_shares(self, state: Store, transfer_id: bytes, shares: Shares) -> None:
        """Record the shares so far (an empty list: none)."""
        ...

    def put_opened(self, state: Store, transfer_id: bytes, requester: int,
                   blinded: list[bytes], shares: Shares, height: int) -> None:
        """Record the opening and drop the request and the pending shares."""
        ...


def regulator_member(reg: SetRegulator, sender: bytes) -> RegulatorMember:
    member = next((m for m in reg.members if m.address == sender), None)
    if member is None:
        raise NotRegulatorMember("the sender is not a member of the regulator key")
    return member


def _openable(read: Read, records: Records, reg: SetRegulator, transfer_id: bytes,
              traced: Traced | None) -> Traced:
    if traced is None:
        raise NotTraceable("no private transfer with that id")
    if traced.regulator != reg.public_key:
        raise NotTraceable("the transfer was encrypted to an earlier regulator key")
    if records.is_opened(read, transfer_id):
        raise NotTraceable("the transfer is open already")
    return traced


def _counted(items: Sequence[object], what: str, n: int) -> None:
    if len(items) != n:
        raise BadPayload(f"the transfer has {n} ciphertexts: one {what} each, got "
                         f"{len(items)}")


def process_request(state: Store, records: Records, group: Group, reg: SetRegulator,
                    sender: bytes, transfer_id: bytes, traced: Traced | None,
                    blinded: list[bytes], proofs: list[bytes], height: int) -> int:
    """Record `sender`'s request to open `transfer_id` on the bases `blinded`; returns
    the requesting member's index."""
    member = regulator_member(reg, sender)
    t = _openable(state.get, records, reg, transfer_id, traced)
    pending = records.request(state.get, transfer_id)
    if pending is not None and pending[0] != member.index:
        raise NotTraceable(f"member {pending[0]}'s open request is pending")
    _counted(blinded, "blinded base", len(t.bases))
    _counted(proofs, "proof", len(t.bases))
    for c1, base, proof, context in zip(t.bases, blinded, proofs, t.request_contexts,
                                        strict=True):
        verify_blinding(c1, decode_point(group, base), proof, context)
    records.put_request(state, transfer_id, member.index, blinded, height)
    records.put_shares(state, transfer_id, [])
    return member.index


def process_share(state: Store, records: Records, group: Group, reg: SetRegulator,
                  sender: bytes, transfer_id: bytes, traced: Traced | None,
                  shares: list[bytes], proofs: list[bytes], height: int) -> tuple[int, bool]:
    """Record `sender`'s decryption shares on the pending request's bases; returns the
    member's index and whether the opening is now recorded (t shares in)."""
    member = regulator_member(reg, sender)
    t = _openable(state.get, records, reg, transfer_id, traced)
    request = records.request(state.get, transfer_id)
    if request is None:
        raise NotTraceable("no open request: a regulator member requests the opening first")
    given = records.shares(state.get, transfer_id)
    if any(index == member.index for index, _ in given):
        raise NotTraceable("this member has published its share already")
    _counted(shares, "share", len(t.bases))
    _counted(proofs, "proof", len(t.bases))
    verifying = decode_point(group, member.verifying_share)
    requester, blinded = request
    for base, share, proof, context in zip(blinded, shares, proofs, t.share_contexts,
                                           strict=True):
        verify_share(verifying, decode_point(group, base), decode_point(group, share),
                     proof, context)
    given.append((member.index, list(shares)))
    if len(given) < reg.threshold:
        records.put_shares(state, transfer_id, given)
        return member.index, False
    records.put_opened(state, transfer_id, requester, blinded, sorted(given), height)
    return member.index, True
