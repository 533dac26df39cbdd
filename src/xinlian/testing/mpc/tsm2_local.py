"""Threshold SM2's round methods called in turn for every party, in one process.

A test and benchmark harness for the round logic of `tsm2.Party` (refresh, batches of
presignatures, and a `tamper` hook that plays malicious parties at any stage); the
protocol's core over a network or the simulator is `xinlian.crypto.threshold.tsm2.core`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from xinlian.crypto.threshold.tsm2.messages import (
    AbortError,
    Complaint,
    Dealing,
    KeySet,
    OpenShare,
    PartialSignature,
    PresignaturePublic,
    PrivateShares,
    Reveal,
    Round,
    Signed,
)
from xinlian.crypto.threshold.tsm2.party import Party, combine

Tamper = Callable[[str, int, object], object]


def _no_tamper(stage: str, sender: int, message: object) -> object:
    return message


def _exchange(
    parties: Sequence[Party],
    rounds: Mapping[int, Round],
    tamper: Tamper,
    stage: str,
) -> tuple[dict[int, dict[int, Dealing]], dict[int, dict[int, PrivateShares]]]:
    """Deliver each dealing to everyone and each private share to its recipient.

    `tamper(stage, sender, message)` may replace or drop (return None) any message, which is
    how tests play a malicious party; a broadcast is replaced for every recipient alike.
    """
    broadcasts: dict[int, Dealing] = {}
    inbox: dict[int, dict[int, PrivateShares]] = {p.index: {} for p in parties}
    for sender, (dealing, privates) in rounds.items():
        d = tamper(stage + "/dealing", sender, dealing)
        if isinstance(d, Dealing):
            broadcasts[sender] = d
        for message in privates:
            m = tamper(stage + "/private", sender, message)
            if isinstance(m, PrivateShares) and m.recipient in inbox:
                inbox[m.recipient][sender] = m
    return {p.index: dict(broadcasts) for p in parties}, inbox


def _settle(
    parties: Sequence[Party],
    complaints_by: Mapping[int, list[Complaint]],
    tamper: Tamper,
    stage: str,
) -> tuple[list[Complaint], list[Reveal]]:
    complaints = [c for cs in complaints_by.values() for c in cs]
    reveals: list[Reveal] = []
    for p in parties:
        for r in p.answer(complaints):
            t = tamper(stage + "/reveal", p.index, r)
            if isinstance(t, Reveal):
                reveals.append(t)
    return complaints, reveals


def run_keygen(
    parties: Sequence[Party], session: bytes = b"keygen", tamper: Tamper = _no_tamper
) -> dict[int, KeySet]:
    """Run key generation among `parties` in this process; returns each party's KeySet."""
    rounds = {p.index: p.keygen_deal(session) for p in parties}
    dealings, inbox = _exchange(parties, rounds, tamper, "keygen")
    complaints = {p.index: p.keygen_check(dealings[p.index], inbox[p.index]) for p in parties}
    cs, rs = _settle(parties, complaints, tamper, "keygen")
    rounds = {p.index: p.keygen_multiply(cs, rs) for p in parties}
    dealings, inbox = _exchange(parties, rounds, tamper, "keygen-mul")
    complaints = {
        p.index: p.keygen_check_products(dealings[p.index], inbox[p.index]) for p in parties
    }
    cs, rs = _settle(parties, complaints, tamper, "keygen-mul")
    opened = {}
    for p in parties:
        o = tamper("keygen/open", p.index, p.keygen_open(cs, rs))
        if isinstance(o, OpenShare):
            opened[p.index] = o
    return {p.index: p.keygen_finish(opened) for p in parties}


def run_presign(
    parties: Sequence[Party], count: int, session: bytes, tamper: Tamper = _no_tamper
) -> list[PresignaturePublic]:
    """Presign `count` nonces among `parties` (at least 2t-1 of the members)."""
    members = [p.index for p in parties]
    rounds = {p.index: p.presign_deal(session, count, members) for p in parties}
    dealings, inbox = _exchange(parties, rounds, tamper, "presign")
    complaints = {p.index: p.presign_check(dealings[p.index], inbox[p.index]) for p in parties}
    cs, rs = _settle(parties, complaints, tamper, "presign")
    rounds = {p.index: p.presign_multiply(cs, rs) for p in parties}
    dealings, inbox = _exchange(parties, rounds, tamper, "presign-mul")
    complaints = {
        p.index: p.presign_check_products(dealings[p.index], inbox[p.index]) for p in parties
    }
    cs, rs = _settle(parties, complaints, tamper, "presign-mul")
    results = [p.presign_finish(cs, rs) for p in parties]
    if any(r != results[0] for r in results):
        raise AbortError("parties disagree on the presignatures (broadcast inconsistency)")
    return results[0]


def run_signing(
    parties: Sequence[Party],
    keyset: KeySet,
    presig: PresignaturePublic,
    message: bytes,
    tamper: Tamper = _no_tamper,
) -> Signed:
    """Each party signs with the presignature; the partials are combined into r || s."""
    partials = []
    for p in parties:
        m = tamper("sign", p.index, p.sign(presig.id, message))
        if isinstance(m, PartialSignature):
            partials.append(m)
    return combine(keyset, presig, message, partials)


def run_refresh(
    parties: Sequence[Party], session: bytes, tamper: Tamper = _no_tamper
) -> dict[int, KeySet]:
    """Refresh every party's share of w (same public key); returns the new KeySets."""
    rounds = {p.index: p.refresh_deal(session) for p in parties}
    dealings, inbox = _exchange(parties, rounds, tamper, "refresh")
    complaints = {p.index: p.refresh_check(dealings[p.index], inbox[p.index]) for p in parties}
    cs, rs = _settle(parties, complaints, tamper, "refresh")
    return {p.index: p.refresh_finish(cs, rs) for p in parties}
