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
from xinlian.crypto.primitives.groups import Element, Group, GroupError, Rng, Scalar
from xinlian.crypto.signing import SigningKey
from xinlian.crypto.threshold import broadcast, dkg
from xinlian.crypto.threshold.envelope import MpcCore
from xinlian.protocol import Action, NodeId

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


class DkgCore(MpcCore):
    protocol = "dkg"

    def __init__(self, me: int, roster: Mapping[int, NodeId], group: Group,
                 plan: Sequence[Phase], encryption_keys: Mapping[int, Element],
                 encryption_secret: Scalar, rng: Rng, round_ms: int,
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
        self._faults_seen = 0  # how many of the current DkgParty's faults are counted

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
                                                                share, rng=self.rng)
        self._faults_seen = 0
        return self._translate(phase, self.party.start(), now_ms)

    def alternative_deal(self, session: bytes, rng: Rng) -> bytes:
        """Another valid deal for `session` than the one this dealer sent, drawn from `rng`
        (what an equivocating dealer tells some members)."""
        party = self.started[session]
        other = dkg.DkgParty(party.config, self.me, self.secret, party.key_share, rng=rng)
        return other.start()[0]

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

    def _translate(self, phase: Phase, messages: Sequence[bytes],
                   now_ms: int) -> list[Action]:
        """Broadcast what the DkgParty sent, count the faults it saw, then act on its end."""
        out: list[Action] = []
        party = self.party
        assert party is not None
        layer = self.layers[phase.session]
        for fault in party.faults[self._faults_seen:]:
            self.fault(fault.party)
        self._faults_seen = len(party.faults)
        for data in messages:
            data = self.rewrite(data) if self.rewrite else data
            out += self._carry(phase.session, layer.send(_round_of(data), data, now_ms), now_ms)
        if self.party is not party:  # a message carried above already finished this session
            return out
        if party.result is not None:
            self._record(phase, party.result)
            self.party = None
            return out + self._advance(now_ms)
        if party.error is not None:
            self.party = None
            self.finished = True
            return [*out, self.deliver("member", ok=False, phases=self.results,
                                       error=party.error.to_dict(), group_key="",
                                       equivocators=layer.equivocators)]
        if (self.step, party.round) != self.round:
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
