"""Runs of FROST: dealt or DKG keys, the signer and coordinator cores, a bad-share attack."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.crypto.primitives.groups import Group, Rng, get_group
from xinlian.crypto.threshold import frost
from xinlian.crypto.threshold.dkg import KeyShare, PublicKeyPackage
from xinlian.crypto.threshold.frost_core import (
    COORDINATOR,
    FrostCoordinator,
    FrostSigner,
    Message,
    Share,
)
from xinlian.protocol import Core, NodeId
from xinlian.testing.mpc.byzantine import Byzantine, rewrite_payload, silent
from xinlian.testing.mpc.chain import Leader, Member, dkg_cores, dkg_keys
from xinlian.testing.mpc.keys import Keys, OwnKeys
from xinlian.testing.mpc.setup import (
    KEY_SOURCES,
    Outcome,
    Params,
    Setup,
    check,
    faulty_ids,
    no_keys,
    seeded_rng,
    two_thirds,
)
from xinlian.testing.mpc.verify import verify_schnorr


def bad_share(group: Group) -> Callable[[bytes], bytes]:
    """A signer whose round-two share is off by one (fails the share check)."""
    def change(payload: bytes) -> bytes:
        try:
            msg = codec.decode(payload, Message)
        except CodecError:
            return payload
        if not isinstance(msg, Share):
            return payload
        value = (group.decode_scalar(msg.share.share) + group.scalar(1)).encode()
        return codec.encode(Share(frost.WireSignatureShare(msg.share.identifier, value)))
    return change


FAULTS = ("silent", "invalid")


def dealt_keys(params: Params, label: str) -> tuple[list[KeyShare], int]:
    """Trusted-dealer t-of-n shares over `params.curve` (ed25519 or secp256k1), seeded."""
    group, n, t = signing_group(params)
    rng = seeded_rng(params.seed, label, "dealer")
    keys = frost.share_secret(group, group.random_scalar(rng), t, range(1, n + 1), rng)
    return keys, t


def signing_group(params: Params) -> tuple[Group, int, int]:
    """The group, n and t of a FROST or ROAST run (checked)."""
    group = get_group(params.curve or "ed25519")
    check(group.name in frost.CIPHERSUITES, "FROST/ROAST run over ed25519 or secp256k1")
    n = params.parties
    t = params.threshold_or(two_thirds(n))
    check(n >= 2 and 1 <= t <= n, "need 1 <= threshold <= parties, parties >= 2")
    check(params.keys in KEY_SOURCES, f"keys come from: {', '.join(KEY_SOURCES)}")
    return group, n, t


@dataclass(frozen=True)
class Honest:
    """The honest cores of a FROST-family run, with what their keys need."""

    make: Callable[[int, Mapping[int, NodeId], Keys], Core]
    threshold: int
    group_key: str  # known in advance with dealt keys; with the DKG it comes out of the run
    generate: Callable[[int, Rng], OwnKeys]
    dealt: bool


def honest_cores(params: Params, protocol: str, member: Member, leader: Leader) -> Honest:
    """Honest cores of a FROST-family run with dealt keys (simulation only) or DKG keys."""
    group, _, t = signing_group(params)
    if params.keys == "dkg":
        return Honest(dkg_cores(params, group, protocol, member, leader), t, "",
                      dkg_keys(group, range(1, params.parties + 1)), False)
    keys, _ = dealt_keys(params, protocol)
    public = keys[0].public

    def make(me: int, roster: Mapping[int, NodeId], own: Keys) -> Core:
        if me == 0:
            return leader(roster, public)
        return member(me, roster, public, keys[me - 1], own)
    return Honest(make, t, public.group_public_key.encode().hex(), no_keys, True)


def signature_summary(out: Outcome, message: bytes, group: Group) -> dict[str, Any]:
    """The coordinator's signature checked with the ordinary verifier for its key."""
    key = group.decode_element(bytes.fromhex(out["group_key"]))
    signature = out["signature"]
    verified = verify_schnorr(key, message, bytes.fromhex(signature))
    return {"group_key": out["group_key"], "signature": signature, "verified": verified,
            "ok": verified}


def setup(params: Params) -> Setup:
    n = params.parties
    check(params.fault in FAULTS, f"frost faults: {', '.join(FAULTS)}")
    check(0 <= params.faulty <= n, "at most every signer is faulty")
    faulty = faulty_ids(params)
    session = b"frost/%d" % params.seed
    message = params.message.encode()
    parties = tuple(range(n + 1))
    group = signing_group(params)[0]

    def member(me: int, roster: Mapping[int, NodeId], public: PublicKeyPackage,
               key: KeyShare, keys: Keys) -> Core:
        return FrostSigner(me, roster, key, session, message, keys.rng)

    def leader(roster: Mapping[int, NodeId], public: PublicKeyPackage) -> Core:
        return FrostCoordinator(COORDINATOR, roster, public, session, message, params.round_ms)

    honest = honest_cores(params, "frost", member, leader)
    t, group_key = honest.threshold, honest.group_key

    def make_core(me: int, roster: Mapping[int, NodeId], keys: Keys) -> Core:
        core = honest.make(me, roster, keys)
        if me not in faulty:
            return core
        return Byzantine(core, silent if params.fault == "silent"
                         else rewrite_payload(bad_share(group)))

    def summarise(outcomes: Mapping[int, Outcome]) -> dict[str, Any]:
        out = outcomes.get(COORDINATOR)
        if out is None:
            return {"ok": False, "error": "the coordinator did not finish", "identified": []}
        result: dict[str, Any] = {"ok": False, "curve": group.name, "threshold": t,
                                  "keys": params.keys, "signers": out["signers"],
                                  "identified": out["culprits"],
                                  "group_key": out.get("group_key", group_key)}
        if out["ok"]:
            result.update(signature_summary(out, message, group))
        else:
            result["error"] = out["error"]
        return result

    roles = {i: "coordinator" if i == COORDINATOR else "signer" for i in parties}
    return Setup(params, parties, make_core, frozenset({COORDINATOR}), summarise, faulty, roles,
                 honest.generate, honest.dealt)
