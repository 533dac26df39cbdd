"""Runs of ring signatures: members, an opener committee and a verifier, with attacks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.crypto.primitives.groups import Element, Rng, get_group
from xinlian.crypto.privacy import ring
from xinlian.crypto.privacy.ring.core import (
    VERIFIER,
    Member,
    Message,
    Opener,
    Signed,
    SignedTraceable,
    Verifier,
)
from xinlian.crypto.threshold.dkg import KeyShare, PublicKeyPackage
from xinlian.protocol import Core, NodeId
from xinlian.testing.mpc.byzantine import Byzantine, rewrite_payload, silent
from xinlian.testing.mpc.chain import dkg_keys, keyed_by_dkg
from xinlian.testing.mpc.keys import Keys, OwnKeys, new_scalar_key
from xinlian.testing.mpc.setup import Outcome, Params, Setup, check, faulty_ids


def corrupt_signature(payload: bytes) -> bytes:
    """A member whose signature is damaged (the ring no longer closes)."""
    try:
        msg = codec.decode(payload, Message)
    except CodecError:
        return payload
    if isinstance(msg, SignedTraceable):
        t = msg.signature
        return codec.encode(SignedTraceable(msg.message, ring.TraceableSignature(
            group=t.group, context=t.context, a1=t.a1, challenges=t.challenges,
            responses=list(reversed(t.responses)))))
    if not isinstance(msg, Signed):
        return payload
    s = msg.signature
    bad = ring.RingSignature(group=s.group, context=s.context, key_image=s.key_image,
                             challenge=s.challenge, responses=list(reversed(s.responses)),
                             escrow=s.escrow)
    return codec.encode(Signed(msg.message, bad))

FAULTS = ("double", "invalid", "silent")
VARIANTS = ("accountable", "traceable")
MEMBER = "ring-member"  # the name of a ring member's key


def setup(params: Params) -> Setup:
    group = get_group(params.curve or "ed25519")
    n, m, ot = params.parties, params.openers, params.opener_threshold
    signers = params.signers or n
    check(2 <= n <= ring.MAX_RING, f"a ring has 2..{ring.MAX_RING} members")
    check(1 <= signers <= n, "1 <= signers <= ring members")
    check(1 <= ot <= m, "need 1 <= opener threshold <= openers")
    check(params.fault in FAULTS, f"ring faults: {', '.join(FAULTS)}")
    check(0 <= params.faulty <= signers, "faulty members are among the signers")
    check(params.variant in VARIANTS, f"ring variants: {', '.join(VARIANTS)}")
    traceable = params.variant == "traceable"
    opener_parties = [] if traceable else list(range(n + 1, n + m + 1))
    context = b"ring/%d" % params.seed
    faulty = faulty_ids(params)
    parties = tuple(range(n + len(opener_parties) + 1))

    def messages(i: int) -> list[bytes]:
        base = f"{params.message} #{i}".encode()
        if i > signers:
            return []
        return [base, base + b" again"] if i in faulty and params.fault == "double" else [base]

    opener_keys = dkg_keys(group, opener_parties)

    def generate(me: int, rng: Rng) -> OwnKeys:
        """A ring member its key pair; an opener its DKG keys (the committee's key and
        shares come from a DKG among the openers, no dealer)."""
        if me in opener_parties:
            return opener_keys(me, rng)
        own = OwnKeys()
        if 1 <= me <= n:
            new_scalar_key(own, MEMBER, group, rng)
        return own

    def ring_of(keys: Keys) -> list[Element]:
        return list(keys.elements(group, MEMBER, range(1, n + 1)).values())

    def opener(me: int, roster: Mapping[int, NodeId], _public: PublicKeyPackage,
               share: KeyShare, keys: Keys) -> Core:
        return Opener(me, roster, share, ring_of(keys), context, keys.rng)

    def other(me: int, roster: Mapping[int, NodeId], public: PublicKeyPackage | None,
              keys: Keys) -> Core:
        """The verifier or a ring member, given the opener committee's key package."""
        if me == VERIFIER:
            assert public is not None
            return Verifier(me, roster, ring_of(keys), ring.Openers.from_package(public),
                            opener_parties, context, params.round_ms)
        opener_key = None if public is None else public.group_public_key
        return Member(me, roster, keys.scalar(group, MEMBER), ring_of(keys), opener_key,
                      context, messages(me), keys.rng)

    honest = (keyed_by_dkg(params, group, "ring", opener_parties, ot, opener, other)
              if not traceable else None)

    def make_core(me: int, roster: Mapping[int, NodeId], keys: Keys) -> Core:
        if honest is not None:
            core = honest(me, roster, keys)
        elif me == VERIFIER:  # the traceable variant has no openers
            return Verifier(me, roster, ring_of(keys), None, [], context,
                            params.round_ms)
        else:
            core = other(me, roster, None, keys)
        if me in faulty and params.fault == "invalid":
            return Byzantine(core, rewrite_payload(corrupt_signature))
        if me in faulty and params.fault == "silent":
            return Byzantine(core, silent)
        return core

    def summarise(outcomes: Mapping[int, Outcome]) -> dict[str, Any]:
        out = outcomes.get(VERIFIER)
        if out is None:
            return {"ok": False, "error": "the verifier did not finish", "identified": []}
        bad = len(faulty) if params.fault == "invalid" else 0
        quiet = len(faulty) if params.fault == "silent" else 0
        doubles = list(faulty) if params.fault == "double" else []
        ok = (out["accepted"] == signers - bad - quiet and out["rejected"] == bad
              and out["opened"] == doubles and out["unopened"] == 0)
        return {"ok": ok, "variant": params.variant, "curve": group.name, "ring": n,
                "signers": signers,
                "accepted": out["accepted"], "rejected": out["rejected"],
                "linked": out["linked"], "opened": out["opened"], "identified": out["opened"]}

    roles = {i: "verifier" if i == VERIFIER else "opener" if i in opener_parties else "member"
             for i in parties}
    return Setup(params, parties, make_core, frozenset({VERIFIER}), summarise, faulty, roles,
                 generate)
