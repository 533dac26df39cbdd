"""Runs of ROAST: the coordinator and signers, with the misbehaving signers' classes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from xinlian.crypto.threshold import roast
from xinlian.crypto.threshold.dkg import KeyShare, PublicKeyPackage
from xinlian.crypto.threshold.roast_core import RoastParty
from xinlian.protocol import Core, NodeId
from xinlian.testing.mpc.frost import honest_cores, signature_summary, signing_group
from xinlian.testing.mpc.keys import Keys
from xinlian.testing.mpc.roast_run import SIGNER_CLASSES
from xinlian.testing.mpc.setup import Outcome, Params, Setup, check, faulty_ids


def behaviour(params: Params, signer: int) -> str:
    if signer not in faulty_ids(params):
        return "honest"
    return MIXED[(signer - 1) % len(MIXED)] if params.fault == "mixed" else params.fault

FAULTS = ("silent", "absent", "invalid", "bad_point", "replay", "mixed")
MIXED = ("silent", "invalid", "absent", "bad_point", "replay")


def setup(params: Params) -> Setup:
    group, n, t = signing_group(params)
    check(params.fault in FAULTS, f"roast faults: {', '.join(FAULTS)}")
    check(0 <= params.faulty <= n - t, "ROAST finishes with at most n - t faulty signers")
    run = b"roast/%d" % params.seed
    message = params.message.encode()
    parties = tuple(range(n + 1))
    faulty = faulty_ids(params)

    def member(me: int, roster: Mapping[int, NodeId], public: PublicKeyPackage,
               key: KeyShare, keys: Keys) -> Core:
        cls = SIGNER_CLASSES[behaviour(params, me)]
        signer = cls(key, run, message, rng=keys.rng)
        return RoastParty(me, roster, signer, run)

    def leader(roster: Mapping[int, NodeId], public: PublicKeyPackage) -> Core:
        return RoastParty(roast.COORDINATOR, roster,
                          roast.RoastCoordinator(public, run, message), run)

    honest = honest_cores(params, "roast", member, leader)
    group_key = honest.group_key

    def summarise(outcomes: Mapping[int, Outcome]) -> dict[str, Any]:
        out = outcomes.get(roast.COORDINATOR)
        if out is None:
            return {"ok": False, "error": "the coordinator did not finish", "identified": []}
        result: dict[str, Any] = {
            "ok": False, "curve": group.name, "threshold": t, "keys": params.keys,
            "sessions_started": out["sessions_started"], "identified": out["malicious"],
            "behaviours": {str(i): behaviour(params, i) for i in faulty},
            "group_key": out.get("group_key", group_key)}
        if out["ok"]:
            result.update(signature_summary(out, message, group))
        else:
            result["error"] = out["error"]
        return result

    roles = {i: "coordinator" if i == roast.COORDINATOR else "signer" for i in parties}
    return Setup(params, parties, honest.make, frozenset({roast.COORDINATOR}), summarise,
                 faulty, roles, honest.generate, honest.dealt)
