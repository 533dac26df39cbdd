"""DKG keygen, then optionally proactive refresh and resharing, as message exchanges.

Each party runs `xinlian.crypto.threshold.dkg.DkgParty` for one session after another: keygen among
1..n, refresh among the same members (new shares, same key), reshare from the old members
to 1..n' with a new threshold. Every session has its own session id, so a message from
one session can never count in another. A party's round deadline is a timer: when it
fires, `DkgParty.timeout()` closes the round with the messages received, which is how
silent dealers are left out. Every round is a consistent broadcast (`broadcast.py`): each
message is signed, its digest echoed to every member, and a member that sent two different
messages is proven to have equivocated and ignored by every honest member, so that all of
them hand the DkgParty the same messages. A session's layer keeps what arrives before the
party gets there. Members that join at resharing learn the old public key package from the
old members and accept it when a majority of them sent the same one.

Long-term encryption keys (the receivers' ECDH keys for share encryption) and the parties'
broadcast signing keys are derived from the run seed, so that a run is reproducible; in a
deployment each member registers its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.crypto.keys import PublicKey
from xinlian.crypto.primitives.groups import Element, Group, GroupError, Scalar, get_group
from xinlian.crypto.signing import SigningKey
from xinlian.crypto.threshold import dkg
from xinlian.network.mpc import broadcast, byzantine
from xinlian.network.mpc.byzantine import Byzantine, equivocate, silent
from xinlian.network.mpc.envelope import MpcCore, seeded_rng
from xinlian.network.mpc.setup import Outcome, Params, Setup, check, faulty_ids, two_thirds
from xinlian.protocol import Action, Core, NodeId

HANDOVER = b"handover"
TIMERS = "dkg/"  # every timer of a DKG core starts with this


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
                 encryption_secret: Scalar, rng: Any, round_ms: int,
                 signing_keys: Mapping[int, PublicKey], signing_key: SigningKey,
                 echo: bool = True) -> None:
        super().__init__(me, roster, [p.session for p in plan] + [HANDOVER])
        self.group = group
        self.plan = list(plan)
        self.keys = dict(encryption_keys)
        self.secret = encryption_secret
        self.rng = rng
        self.step = -1  # index into plan of the session this party runs
        self.party: dkg.DkgParty | None = None
        self.share: dkg.KeyShare | None = None
        self.public: dkg.PublicKeyPackage | None = None
        self.results: list[dict[str, Any]] = []
        self.layers = {p.session: broadcast.ConsistentBroadcast(
            self.protocol, p.session, me, p.members, signing_keys, signing_key, round_ms,
            f"{TIMERS}{k}/", echo=echo) for k, p in enumerate(plan) if me in p.members}
        self.started: dict[bytes, dkg.DkgParty] = {}  # session -> this party's DkgParty
        self.rewrite: Callable[[bytes], bytes] | None = None  # a cheating member's edit
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
        self.party = self.started[phase.session] = dkg.DkgParty(config, self.me, self.secret,
                                                                share, self.rng)
        return self._translate(phase, self.party.start(), now_ms)

    def alternative_deal(self, session: bytes, label: int) -> bytes:
        """Another valid deal for `session` than the one this dealer sent (what an
        equivocating dealer tells some members); `label` seeds it."""
        party = self.started[session]
        other = dkg.DkgParty(party.config, self.me, self.secret, party.key_share,
                             seeded_rng(label, "dkg-alternative", self.me, session.hex()))
        first = other.start()[0]
        assert isinstance(first, dkg.Broadcast)
        return first.data

    def _group_key(self) -> str:
        return self.public.group_public_key.encode().hex() if self.public else ""

    # -- messages and timers ----------------------------------------------------------------

    def on_payload(self, now_ms: int, sender: int, session: bytes,
                   payload: bytes) -> list[Action]:
        if session == HANDOVER:
            return self._on_handover(now_ms, sender, payload)
        layer = self.layers.get(session)
        if layer is None:  # a session this party has no part in
            self.fault(sender)
            return []
        return self._carry(session, layer.receive(sender, payload, now_ms), now_ms)

    def _carry(self, session: bytes, outputs: Sequence[broadcast.Output],
               now_ms: int) -> list[Action]:
        return broadcast.carry(self, session, outputs,
                               lambda slot: self._on_delivered(session, slot, now_ms))

    def _on_delivered(self, session: bytes, slot: broadcast.Delivered,
                      now_ms: int) -> list[Action]:
        """A round's agreed messages: hand them to the DkgParty, then close its round."""
        party = self.party
        if party is None or self.plan[self.step].session != session:
            return []
        phase = self.plan[self.step]
        out: list[Action] = []
        for sender, payload in sorted(slot.messages.items()):
            if sender != self.me and self.party is party:
                out += self._translate(phase, party.receive(sender, payload), now_ms)
        if self.party is party and not party.done and party.round == slot.slot:
            out += self._translate(phase, party.timeout(), now_ms)
        return out

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
        for session, layer in self.layers.items():
            if layer.owns(name):
                return self._carry(session, layer.timeout(name, now_ms), now_ms)
        return []

    def _translate(self, phase: Phase, actions: Sequence[dkg.Action],
                   now_ms: int) -> list[Action]:
        out: list[Action] = []
        party = self.party
        layer = self.layers[phase.session]
        for a in actions:
            if isinstance(a, dkg.Broadcast):
                data = self.rewrite(a.data) if self.rewrite else a.data
                out += self._carry(phase.session, layer.send(_round_of(a.data), data, now_ms),
                                   now_ms)
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
                                           error=a.error.to_dict(), group_key="",
                                           equivocators=layer.equivocators)]
        if party is not None and self.party is party and (self.step, party.round) != self.round:
            self.round = (self.step, party.round)
            senders = party.config.dealers if party.round == 1 else party.config.receivers
            out += self._carry(phase.session, layer.open(party.round, senders, now_ms), now_ms)
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
            "equivocators": self.layers[phase.session].equivocators,
            "has_share": result.key_share is not None,
        })


def _round_of(data: bytes) -> int:
    """The round a DkgParty's own broadcast belongs to (the broadcast layer's slot)."""
    msg = codec.decode(data, dkg.Message)
    return 1 if isinstance(msg, dkg.Deal) else msg.round


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


def equivocating_deal(core: DkgCore) -> byzantine.Change:
    """A dealer that gives every member its own valid deal (a different polynomial each):
    over plain point-to-point sends, honest members would end with different keys."""
    def change(session: bytes, signed: broadcast.Signed, to: int) -> bytes:
        return core.alternative_deal(session, to) if signed.slot == 1 else signed.payload
    return change


FAULTS = ("silent", "invalid", "equivocate")


# -- setup --------------------------------------------------------------------------------


def core_factory(params: Params, group: Group, plan: Sequence[Phase]
                 ) -> Callable[[int, Mapping[int, NodeId]], DkgCore]:
    """Builds each member's honest DkgCore for `plan` (encryption keys from the seed)."""
    everyone = sorted({i for p in plan for i in p.members})
    secrets = {i: group.random_scalar(_rng(params, "enc", i)) for i in everyone}
    keys = {i: group.base_mul(s) for i, s in secrets.items()}
    signing = broadcast.party_keys(params.seed, "dkg", everyone)
    public = {i: k.public_key for i, k in signing.items()}

    def make(me: int, roster: Mapping[int, NodeId]) -> DkgCore:
        return DkgCore(me, roster, group, plan, keys, secrets[me], _rng(params, "party", me),
                       params.round_ms, public, signing[me], params.echo)
    return make


def misbehaving(params: Params, group: Group, core: DkgCore,
                roster: Mapping[int, NodeId]) -> Core:
    """`core` doing what `params.fault` names."""
    if params.fault == "silent":
        return Byzantine(core, silent)
    if params.fault == "invalid":  # it signs the bad deal it sends, like any dealer
        core.rewrite = corrupt_deal(group)
        return core
    key = broadcast.party_keys(params.seed, "dkg", [core.me])[core.me]
    parties = {node: i for i, node in roster.items()}
    return Byzantine(core, equivocate(key, parties, equivocating_deal(core)))


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
        return misbehaving(params, group, core, roster) if me in faulty else core

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
                 summarise, faulty, dict.fromkeys(everyone, "member"))


def _rng(params: Params, *labels: object) -> Any:
    return seeded_rng(params.seed, "dkg", *labels)
