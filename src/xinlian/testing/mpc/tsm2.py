"""Runs of threshold SM2: members and a combiner, with silent, invalid and equivocating members."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.crypto.primitives import sm2
from xinlian.crypto.primitives.groups import Rng
from xinlian.crypto.threshold import broadcast, tsm2
from xinlian.crypto.threshold.tsm2.core import (
    COMBINER,
    DEAL,
    Combiner,
    Keygen,
    Operation,
    Presign,
    Refresh,
    Sign,
    Signing,
    Tsm2Party,
    stages,
)
from xinlian.crypto.threshold.tsm2.messages import MAX_PARTIES, G
from xinlian.protocol import Core, NodeId
from xinlian.testing.mpc.byzantine import (
    Byzantine,
    Change,
    equivocate,
    rewrite_payload,
    silent,
)
from xinlian.testing.mpc.keys import Keys, OwnKeys, new_signing_key
from xinlian.testing.mpc.setup import Outcome, Params, Setup, check, faulty_ids


def bad_partial(payload: bytes) -> bytes:
    """A party that sends twice its partial signature (named by the combiner). Not an
    offset of one: with signers 1, 2, 3 the Lagrange weights of 1 and 2 are 3 and -3, so
    equal offsets on both would cancel and the combined signature would still verify."""
    try:
        msg = codec.decode(payload, Signing)
    except CodecError:
        return payload
    value = (G.decode_scalar(msg.partial.value) * G.scalar(2)).encode()
    partial = tsm2.PartialSignature(msg.partial.presignature, msg.partial.index, value)
    return codec.encode(Signing(msg.keyset, msg.presignature, partial))

FAULTS = ("silent", "invalid", "equivocate")
SIGNING = "broadcast-signing"  # a member's key for the consistent broadcast


def plan(params: Params) -> list[Operation]:
    """Key generation, one presignature, a refresh if asked for, then signing the message."""
    return [Keygen(), Presign(), *([Refresh()] if params.refresh else []),
            Sign(params.message.encode())]


def shifted_dealing(kinds: list[str]) -> Change:
    """An equivocating member: in dealing stages (`kinds`, per slot) each recipient gets a
    dealing whose first commitment is moved by `to` * G (a valid point, a different dealing
    for everyone)."""
    def change(_session: bytes, signed: broadcast.Signed, to: int) -> bytes:
        if kinds[signed.slot] != DEAL:
            return signed.payload
        dealing = codec.decode(signed.payload, tsm2.Dealing)
        lanes = [list(lane) for lane in dealing.commitments]
        lanes[0][0] = (G.decode_element(lanes[0][0]) + G.base_mul(G.scalar(to))).encode()
        return codec.encode(tsm2.Dealing(dealing.session, dealing.dealer, lanes,
                                         dealing.proofs))
    return change


def setup(params: Params) -> Setup:
    n = params.parties
    t = params.threshold_or(max(2, (n + 2) // 3))
    check(t >= 2 and 2 * t - 1 <= n <= MAX_PARTIES,
          "threshold SM2 needs 2 <= t and 2t - 1 <= n")
    check(params.fault in FAULTS, f"tsm2 faults: {', '.join(FAULTS)}")
    absent = params.fault != "invalid"  # silent and equivocating members drop out early
    limit = n - (2 * t - 1) if absent else n - t
    check(0 <= params.faulty <= limit,
          f"at most {limit} faulty parties ({'2t - 1' if absent else 't'} "
          "must take part honestly)")
    members = list(range(1, n + 1))
    session = b"tsm2/%d" % params.seed
    message = params.message.encode()
    ops = plan(params)
    kinds = stages(ops)
    faulty = faulty_ids(params)
    parties = tuple(range(n + 1))
    def generate(me: int, rng: Rng) -> OwnKeys:
        own = OwnKeys()
        if me != COMBINER:
            new_signing_key(own, SIGNING, rng)
        return own

    def make_core(me: int, roster: Mapping[int, NodeId], keys: Keys) -> Core:
        if me == COMBINER:  # every stage may wait out its receive, echo and fetch deadlines
            return Combiner(me, roster, members, t, session, message,
                            params.round_ms * (3 * len(kinds) + 2))
        signing = keys.signing_key(SIGNING)
        core = Tsm2Party(me, roster, members, t, session, ops, keys.rng, params.round_ms,
                         keys.verifying_keys(SIGNING, members), signing, params.echo)
        if me not in faulty:
            return core
        if params.fault == "equivocate":
            parties = {node: i for i, node in roster.items()}
            return Byzantine(core, equivocate(signing, parties, shifted_dealing(kinds)))
        return Byzantine(core, silent if params.fault == "silent"
                         else rewrite_payload(bad_partial))

    def summarise(outcomes: Mapping[int, Outcome]) -> dict[str, Any]:
        out = outcomes.get(COMBINER)
        if out is None:
            return {"ok": False, "error": "the combiner did not finish", "identified": []}
        disqualified = {c for i, o in outcomes.items() if i not in faulty and o["role"] == "member"
                        for c in (*o["culprits"], *o["equivocators"])}
        result: dict[str, Any] = {"ok": False, "threshold": t,
                                  "identified": sorted(disqualified | set(out["culprits"]))}
        if out["ok"]:
            key, sig = bytes.fromhex(out["public_key"]), bytes.fromhex(out["signature"])
            result.update(public_key=out["public_key"], signature=out["signature"],
                          verified=sm2.verify(key, message, sig))
            result["ok"] = result["verified"]
        else:
            result["error"] = out["error"]
        return result

    roles = {i: "combiner" if i == COMBINER else "member" for i in parties}
    return Setup(params, parties, make_core, frozenset({COMBINER}), summarise, faulty, roles,
                 generate)
