"""ROAST (robust FROST) as messages between a coordinator (party 0) and n signers.

The crypto package's `RoastCoordinator` and `RoastSigner` are already sans-I/O; this
module only carries their bytes in envelopes. The coordinator never waits on a timer:
signing finishes as soon as t honest signers have answered one session, whatever the
others do. Misbehaving signers are the crypto package's own attacker classes
(`xinlian.crypto.threshold.roast_sim.SIGNER_CLASSES`): silent after announcing nonces, absent,
invalid shares, invalid nonce points, replays. Those whose messages fail verification are
identified; silent ones cannot be told from slow ones and are simply never waited for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from xinlian.crypto.threshold import roast
from xinlian.crypto.threshold.dkg import KeyShare, PublicKeyPackage
from xinlian.crypto.threshold.roast_sim import SIGNER_CLASSES
from xinlian.network.mpc.envelope import MpcCore, seeded_rng
from xinlian.network.mpc.frost import honest_cores, signature_summary, signing_group
from xinlian.network.mpc.setup import Outcome, Params, Setup, check, faulty_ids
from xinlian.protocol import Action, Core, NodeId

FAULTS = ("silent", "absent", "invalid", "bad_point", "replay", "mixed")
MIXED = ("silent", "invalid", "absent", "bad_point", "replay")


class RoastParty(MpcCore):
    """Either role: `party` is a RoastCoordinator (index 0) or a RoastSigner."""

    protocol = "roast"

    def __init__(self, me: int, roster: Mapping[int, NodeId],
                 party: roast.RoastCoordinator | roast.RoastSigner, run: bytes) -> None:
        super().__init__(me, roster, [run])
        self.party = party
        self.run = run

    def on_start(self, now_ms: int) -> list[Action]:
        if isinstance(self.party, roast.RoastSigner):
            return self._translate(self.party.start())
        return []

    def on_payload(self, now_ms: int, sender: int, session: bytes,
                   payload: bytes) -> list[Action]:
        return self._translate(self.party.receive(sender, payload))

    def _translate(self, actions: Sequence[roast.Action]) -> list[Action]:
        out: list[Action] = []
        for a in actions:
            if isinstance(a, roast.Send):
                out.append(self.send(a.to, self.run, a.data))
            elif isinstance(a, roast.Fault):
                self.fault(a.party)
            elif isinstance(a, roast.Completed):
                assert isinstance(self.party, roast.RoastCoordinator)
                out.append(self.deliver("coordinator", ok=True, signature=a.signature.encode()
                                        .hex(), session=a.session,
                                        group_key=self.party.public.group_public_key.encode()
                                        .hex(),
                                        sessions_started=a.sessions_started,
                                        malicious=list(a.malicious)))
            else:
                assert isinstance(self.party, roast.RoastCoordinator)
                out.append(self.deliver("coordinator", ok=False, error=a.error.to_dict(),
                                        group_key=self.party.public.group_public_key.encode()
                                        .hex(),
                                        sessions_started=len(self.party.sessions),
                                        malicious=sorted(self.party.malicious)))
        return out


def behaviour(params: Params, signer: int) -> str:
    if signer not in faulty_ids(params):
        return "honest"
    return MIXED[(signer - 1) % len(MIXED)] if params.fault == "mixed" else params.fault


def setup(params: Params) -> Setup:
    group, n, t = signing_group(params)
    check(params.fault in FAULTS, f"roast faults: {', '.join(FAULTS)}")
    check(0 <= params.faulty <= n - t, "ROAST finishes with at most n - t faulty signers")
    run = b"roast/%d" % params.seed
    message = params.message.encode()
    parties = tuple(range(n + 1))
    faulty = faulty_ids(params)

    def member(me: int, roster: Mapping[int, NodeId], public: PublicKeyPackage,
               key: KeyShare) -> Core:
        cls = SIGNER_CLASSES[behaviour(params, me)]
        signer = cls(key, run, message, rng=seeded_rng(params.seed, "roast", me))
        return RoastParty(me, roster, signer, run)

    def leader(roster: Mapping[int, NodeId], public: PublicKeyPackage) -> Core:
        return RoastParty(roast.COORDINATOR, roster,
                          roast.RoastCoordinator(public, run, message), run)

    make_core, _, group_key = honest_cores(params, "roast", member, leader)

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
    return Setup(params, parties, make_core, frozenset({roast.COORDINATOR}), summarise, faulty,
                 roles)
