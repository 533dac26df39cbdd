"""Runs of the DKG core: the session plan from the parameters, seeded keys, and attacks."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.crypto.primitives.groups import Group, Rng, get_group
from xinlian.crypto.threshold import broadcast, dkg
from xinlian.crypto.threshold.dkg_core import DkgCore, Phase
from xinlian.protocol import Core, NodeId
from xinlian.testing.mpc import byzantine
from xinlian.testing.mpc.byzantine import Byzantine, equivocate, silent
from xinlian.testing.mpc.keys import Keys, OwnKeys, new_scalar_key, new_signing_key
from xinlian.testing.mpc.setup import (
    Outcome,
    Params,
    Setup,
    check,
    faulty_ids,
    two_thirds,
)


def phases(params: Params) -> list[Phase]:
    n, t = params.parties, params.threshold_or(two_thirds(params.parties))
    base = b"dkg/%d/" % params.seed
    old = tuple(range(1, n + 1))
    out = [Phase("keygen", base + b"keygen", old, old, old, t)]
    if params.refresh:
        out.append(Phase("refresh", base + b"refresh", old, old, old, t))
    if params.reshare_to:
        new = tuple(range(1, params.reshare_to + 1))
        t2 = params.new_threshold or two_thirds(params.reshare_to)
        out.append(Phase("reshare", base + b"reshare", tuple(sorted(set(old) | set(new))),
                         old, new, t2))
    return out


# -- attacks ------------------------------------------------------------------------------


def corrupt_deal(group: Group) -> Callable[[bytes], bytes]:
    """A dealer that encrypts a wrong share to the next receiver (caught by complaint)."""
    def change(payload: bytes) -> bytes:
        try:
            msg = codec.decode(payload, dkg.Message)
        except CodecError:
            return payload
        if not isinstance(msg, dkg.Deal) or not msg.shares:
            return payload
        shares = list(msg.shares)
        k = msg.dealer % len(shares)
        shares[k] = (group.decode_scalar(shares[k]) + group.scalar(1)).encode()
        return codec.encode(dkg.Deal(msg.session, msg.dealer, msg.ephemeral, msg.constant,
                                     msg.proof, msg.coefficients, shares))
    return change


def equivocating_deal(core: DkgCore, rng: Rng) -> byzantine.Change:
    """A dealer that gives every member its own valid deal (a different polynomial each):
    over plain point-to-point sends, honest members would end with different keys."""
    def change(session: bytes, signed: broadcast.Signed, to: int) -> bytes:
        return core.alternative_deal(session, rng) if signed.slot == 1 else signed.payload
    return change


FAULTS = ("silent", "invalid", "equivocate")
ENCRYPTION, SIGNING = "dkg-encryption", "broadcast-signing"  # names of a member's keys


# -- setup --------------------------------------------------------------------------------


def member_keys(group: Group) -> Callable[[int, Rng], OwnKeys]:
    """What a DKG member generates for itself: its share-encryption key and its broadcast
    signing key (the others learn both public keys from the membership)."""
    def generate(_me: int, rng: Rng) -> OwnKeys:
        own = OwnKeys()
        new_scalar_key(own, ENCRYPTION, group, rng)
        new_signing_key(own, SIGNING, rng)
        return own
    return generate


def core_factory(params: Params, group: Group, plan: Sequence[Phase]
                 ) -> Callable[[int, Mapping[int, NodeId], Keys], DkgCore]:
    """Builds each member's honest DkgCore for `plan` from its own keys."""
    everyone = sorted({i for p in plan for i in p.members})

    def make(me: int, roster: Mapping[int, NodeId], keys: Keys) -> DkgCore:
        return DkgCore(me, roster, group, plan, keys.elements(group, ENCRYPTION, everyone),
                       keys.scalar(group, ENCRYPTION), keys.rng, params.round_ms,
                       keys.verifying_keys(SIGNING, everyone), keys.signing_key(SIGNING),
                       params.echo)
    return make


def misbehaving(params: Params, group: Group, core: DkgCore,
                roster: Mapping[int, NodeId], keys: Keys) -> Core:
    """`core` doing what `params.fault` names."""
    if params.fault == "silent":
        return Byzantine(core, silent)
    if params.fault == "invalid":  # it signs the bad deal it sends, like any dealer
        core.rewrite = corrupt_deal(group)
        return core
    parties = {node: i for i, node in roster.items()}
    return Byzantine(core, equivocate(keys.signing_key(SIGNING), parties,
                                      equivocating_deal(core, keys.rng)))


def setup(params: Params) -> Setup:
    group = get_group(params.curve or "ed25519")
    plan = phases(params)
    n = params.parties
    check(n >= 2, "dkg needs at least 2 parties")
    check(1 <= plan[0].threshold <= n, "need 1 <= threshold <= parties")
    check(params.fault in FAULTS, f"dkg faults: {', '.join(FAULTS)}")
    check(0 <= params.faulty <= n - plan[0].threshold,
          "at most parties - threshold faulty dealers keep keygen live")
    if params.reshare_to:
        check(1 <= plan[-1].threshold <= params.reshare_to, "need 1 <= new threshold <= members")
    everyone = tuple(sorted({i for p in plan for i in p.members}))
    member_core = core_factory(params, group, plan)
    faulty = faulty_ids(params)

    def make_core(me: int, roster: Mapping[int, NodeId], keys: Keys) -> Core:
        core = member_core(me, roster, keys)
        return misbehaving(params, group, core, roster, keys) if me in faulty else core

    def summarise(outcomes: Mapping[int, Outcome]) -> dict[str, Any]:
        honest = [outcomes[i] for i in everyone if i not in faulty and i in outcomes]
        keys_seen = {o["group_key"] for o in honest}
        per_phase = []
        for k, phase in enumerate(plan):
            views = [o["phases"][k] for o in honest if len(o["phases"]) > k
                     and o["party"] in phase.members]
            commitments = {v["commitment"] for v in views}
            qualified = views[0]["qualified"] if views else []
            per_phase.append({
                "kind": phase.kind, "threshold": phase.threshold,
                "receivers": len(phase.receivers), "agree": len(commitments) == 1,
                "qualified": len(qualified),
                "excluded": sorted(set(phase.dealers) - set(qualified)),
                "disqualified": views[0]["disqualified"] if views else {},
                "false_accusers": views[0]["false_accusers"] if views else [],
                "equivocators": sorted({e for v in views for e in v["equivocators"]}),
            })
        misbehaving = sorted({d for p in per_phase for d in p["excluded"]}
                             | {a for p in per_phase for a in p["false_accusers"]}
                             | {e for p in per_phase for e in p["equivocators"]})
        ok = (all(o["ok"] for o in honest) and len(keys_seen) == 1
              and all(p["agree"] for p in per_phase) and len(honest) > 0)
        return {"ok": ok, "group_key": next(iter(keys_seen)) if len(keys_seen) == 1 else None,
                "curve": group.name, "phases": per_phase, "identified": misbehaving}

    return Setup(params, everyone, make_core, frozenset(i for i in everyone if i not in faulty),
                 summarise, faulty, dict.fromkeys(everyone, "member"), member_keys(group))
