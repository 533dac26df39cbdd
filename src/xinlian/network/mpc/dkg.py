"""DKG keygen, then optionally proactive refresh and resharing, as message exchanges.

Each party runs `xinlian.crypto.dkg.DkgParty` for one session after another: keygen among
1..n, refresh among the same members (new shares, same key), reshare from the old members
to 1..n' with a new threshold. Every session has its own session id, so a message from
one session can never count in another. A party's round deadline is a timer: when it
fires, `DkgParty.timeout()` closes the round with the messages received, which is how
silent dealers are left out. Messages for a session a party has not reached yet are kept
until it gets there. Members that join at resharing learn the old public key package from
the old members and accept it when a majority of them sent the same one.

Long-term encryption keys (the receivers' ECDH keys for share encryption) are derived from
the run seed, so that a run is reproducible; in a deployment each member registers its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.crypto import dkg
from xinlian.crypto.groups import Element, Group, GroupError, Scalar, get_group
from xinlian.network.mpc.byzantine import Byzantine, rewrite_payload, silent
from xinlian.network.mpc.envelope import MpcCore, seeded_rng
from xinlian.network.mpc.setup import Outcome, Params, Setup, check, faulty_ids, two_thirds
from xinlian.sim.protocol import Action, Core, NodeId

HANDOVER = b"handover"


@dataclass(frozen=True)
class Phase:
    kind: dkg.Kind
    session: bytes
    members: tuple[int, ...]  # dealers and receivers together
    dealers: tuple[int, ...]
    receivers: tuple[int, ...]
    threshold: int


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


class DkgCore(MpcCore):
    protocol = "dkg"

    def __init__(self, me: int, roster: Mapping[int, NodeId], group: Group,
                 plan: Sequence[Phase], encryption_keys: Mapping[int, Element],
                 encryption_secret: Scalar, rng: Any, round_ms: int) -> None:
        super().__init__(me, roster, [p.session for p in plan] + [HANDOVER])
        self.group = group
        self.plan = list(plan)
        self.keys = dict(encryption_keys)
        self.secret = encryption_secret
        self.rng = rng
        self.round_ms = round_ms
        self.step = -1  # index into plan of the session this party runs
        self.party: dkg.DkgParty | None = None
        self.share: dkg.KeyShare | None = None
        self.public: dkg.PublicKeyPackage | None = None
        self.results: list[dict[str, Any]] = []
        self.pending: dict[bytes, list[tuple[int, bytes]]] = {}
        self.handovers: dict[bytes, set[int]] = {}
        self.round = (0, 0)
        self.finished = False

    # -- sessions ---------------------------------------------------------------------------

    def on_start(self, now_ms: int) -> list[Action]:
        return self._advance(now_ms)

    def _advance(self, now_ms: int) -> list[Action]:
        """Start the next session this party takes part in (or finish)."""
        out: list[Action] = []
        while True:
            self.step += 1
            if self.step == len(self.plan):
                self.finished = True
                return [*out, self.deliver("member", ok=True, phases=self.results,
                                           group_key=self._group_key())]
            phase = self.plan[self.step]
            if phase.kind == "reshare" and self.me in phase.dealers:
                joiners = set(phase.receivers) - set(phase.dealers)
                if joiners and self.public is not None:
                    out.append(self.broadcast(joiners, HANDOVER, self.public.encode()))
            if self.me not in phase.members:
                continue
            if self.step > 0 and self.public is None:
                return out  # a joining member: wait for the old members' handover
            out += self._begin(phase, now_ms)
            return out

    def _begin(self, phase: Phase, now_ms: int) -> list[Action]:
        if phase.kind == "keygen":
            config = dkg.DkgConfig.keygen(self.group, phase.session, phase.members,
                                          phase.threshold, self.keys)
        elif phase.kind == "refresh":
            assert self.public is not None
            config = dkg.DkgConfig.refresh(self.public, phase.session, self.keys)
        else:
            assert self.public is not None
            config = dkg.DkgConfig.reshare(self.public, phase.session, phase.dealers,
                                           phase.receivers, phase.threshold, self.keys)
        share = self.share if self.me in config.dealers and phase.kind != "keygen" else None
        self.party = dkg.DkgParty(config, self.me, self.secret, share, self.rng)
        out = self._translate(phase, self.party.start(), now_ms)
        for sender, payload in self.pending.pop(phase.session, []):
            if self.party is not None and self.plan[self.step] is phase:
                out += self._translate(phase, self.party.receive(sender, payload), now_ms)
        return out

    def _group_key(self) -> str:
        return self.public.group_public_key.encode().hex() if self.public else ""

    # -- messages and timers ----------------------------------------------------------------

    def on_payload(self, now_ms: int, sender: int, session: bytes,
                   payload: bytes) -> list[Action]:
        if session == HANDOVER:
            return self._on_handover(now_ms, sender, payload)
        current = self.plan[self.step] if 0 <= self.step < len(self.plan) else None
        if current is None or current.session != session or self.party is None:
            if not self.finished and self.me in self._members(session):
                self.pending.setdefault(session, []).append((sender, payload))
            return []
        return self._translate(current, self.party.receive(sender, payload), now_ms)

    def _members(self, session: bytes) -> tuple[int, ...]:
        return next((p.members for p in self.plan if p.session == session), ())

    def _on_handover(self, now_ms: int, sender: int, payload: bytes) -> list[Action]:
        phase = next((p for p in self.plan if p.kind == "reshare"), None)
        if (phase is None or self.public is not None or sender not in phase.dealers
                or self.me in phase.dealers):
            self.fault(sender)
            return []
        votes = self.handovers.setdefault(payload, set())
        votes.add(sender)
        if 2 * len(votes) <= len(phase.dealers):
            return []
        try:
            self.public = dkg.PublicKeyPackage.decode(payload)
        except (CodecError, GroupError, dkg.DkgError):
            return []
        if self.step == self.plan.index(phase):
            return self._begin(phase, now_ms)
        return []

    def on_timer(self, now_ms: int, name: str) -> list[Action]:
        if name != "round" or self.party is None or self.party.done:
            return []
        return self._translate(self.plan[self.step], self.party.timeout(), now_ms)

    def _translate(self, phase: Phase, actions: Sequence[dkg.Action],
                   now_ms: int) -> list[Action]:
        out: list[Action] = []
        for a in actions:
            if isinstance(a, dkg.Broadcast):
                out.append(self.broadcast(phase.members, phase.session, a.data))
            elif isinstance(a, dkg.Fault):
                self.fault(a.party)
            elif isinstance(a, dkg.Completed):
                self._record(phase, a.result)
                self.party = None
                return out + self._advance(now_ms)
            else:
                self.party = None
                self.finished = True
                return [*out, self.deliver("member", ok=False, phases=self.results,
                                           error=a.error.to_dict(), group_key="")]
        if self.party is not None and (self.step, self.party.round) != self.round:
            self.round = (self.step, self.party.round)
            out.append(self.timer("round", now_ms + self.round_ms))
        return out

    def _record(self, phase: Phase, result: dkg.DkgResult) -> None:
        self.public = result.public
        self.share = result.key_share
        self.results.append({
            "kind": phase.kind, "threshold": phase.threshold,
            "group_key": result.public.group_public_key.encode().hex(),
            "commitment": codec.encode([c.encode() for c in result.public.commitment]).hex(),
            "qualified": list(result.qualified),
            "disqualified": {str(k): v for k, v in sorted(result.disqualified.items())},
            "false_accusers": list(result.false_accusers),
            "has_share": result.key_share is not None,
        })


# -- attacks ------------------------------------------------------------------------------


def corrupt_deal(group: Group) -> Any:
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


FAULTS = ("silent", "invalid")


# -- setup --------------------------------------------------------------------------------


def core_factory(params: Params, group: Group, plan: Sequence[Phase]
                 ) -> Callable[[int, Mapping[int, NodeId]], DkgCore]:
    """Builds each member's honest DkgCore for `plan` (encryption keys from the seed)."""
    everyone = sorted({i for p in plan for i in p.members})
    secrets = {i: group.random_scalar(_rng(params, "enc", i)) for i in everyone}
    keys = {i: group.base_mul(s) for i, s in secrets.items()}

    def make(me: int, roster: Mapping[int, NodeId]) -> DkgCore:
        return DkgCore(me, roster, group, plan, keys, secrets[me], _rng(params, "party", me),
                       params.round_ms)
    return make


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

    def make_core(me: int, roster: Mapping[int, NodeId]) -> Core:
        core = member_core(me, roster)
        if me not in faulty:
            return core
        return Byzantine(core, silent if params.fault == "silent"
                         else rewrite_payload(corrupt_deal(group)))

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
            })
        misbehaving = sorted({d for p in per_phase for d in p["excluded"]}
                             | {a for p in per_phase for a in p["false_accusers"]})
        ok = (all(o["ok"] for o in honest) and len(keys_seen) == 1
              and all(p["agree"] for p in per_phase) and len(honest) > 0)
        return {"ok": ok, "group_key": next(iter(keys_seen)) if len(keys_seen) == 1 else None,
                "curve": group.name, "phases": per_phase, "identified": misbehaving}

    return Setup(params, everyone, make_core, frozenset(i for i in everyone if i not in faulty),
                 summarise, faulty, dict.fromkeys(everyone, "member"))


def _rng(params: Params, *labels: object) -> Any:
    return seeded_rng(params.seed, "dkg", *labels)
