"""Threshold SM2 as synchronous rounds between n parties, then partials to a combiner (0).

`xinlian.crypto.threshold.tsm2.Party` is written as round methods (deal, check, answer, multiply,
...). This core runs them as rounds of messages: every stage is one slot of a consistent
broadcast (`broadcast.py`): each party signs its public part (a dealing, its complaints,
its answers to complaints, or its opening) and posts it to every other member, with that
member's private shares in dealing stages; the members echo the digests they got, and a
party proven to have posted two different public parts is ignored by every honest member
from then on. A stage closes when every member's post is in or the stage deadline passes,
then the echo settles it; a missing or malformed part counts as that party saying nothing,
which the crypto rounds turn into disqualification.

A party runs a plan of operations in order, and then whatever operations the local
application sends it as `Input` events (they queue behind the running one): key
generation (seven stages), presigning a batch of nonces (six), a proactive refresh of the
shares (three), and signing, which needs no stage: the party signs with a presignature
(by default its oldest unused one) and sends the partial, with the key set and
presignature it computed, to the combiner, which uses the view a majority agrees on,
combines any t valid partials (naming invalid ones) and checks the result with the
ordinary SM2 verifier. A failed key generation, presigning or refresh stops the party
(`error` says why, and its outcome names the parties it caught); a failed signing is
reported and the party stays ready. Every stage takes one broadcast slot, and a session
has `broadcast.MAX_SLOTS` of them: a long-lived committee starts a new session in time.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.crypto.keys import PublicKey
from xinlian.crypto.primitives.groups import GroupError, Rng
from xinlian.crypto.signing import SigningKey
from xinlian.crypto.threshold import broadcast, tsm2
from xinlian.crypto.threshold.envelope import Collector, MpcCore
from xinlian.protocol import Action, NodeId

COMBINER = 0

# What a stage's public part is.
DEAL, COMPLAIN, ANSWER, OPEN = "deal", "complain", "answer", "open"


@dataclass(frozen=True)
class Keygen:
    """Distributed key generation: a sharing of w = (1 + d)^-1 and the public key."""

    name: bytes = b"keygen"  # session label (each operation of a party needs its own)


@dataclass(frozen=True)
class Presign:
    """Presign `count` one-time nonces among all members (offline, before any message)."""

    count: int = 1
    name: bytes = b"presign"


@dataclass(frozen=True)
class Refresh:
    """New shares of the same key: shares from before are useless with shares from after."""

    name: bytes = b"refresh"


@dataclass(frozen=True)
class Sign:
    """Sign `message` with a presignature; the partial goes to the combiner."""

    message: bytes
    presignature: bytes = b""  # its id (b"": the oldest unused one)


Operation = Keygen | Presign | Refresh | Sign

_DEALING = (DEAL, COMPLAIN, ANSWER)
_STAGES: dict[type, tuple[str, ...]] = {
    Keygen: (*_DEALING, *_DEALING, OPEN), Presign: (*_DEALING, *_DEALING), Refresh: _DEALING,
    Sign: (),
}


def stages(plan: Iterable[Operation]) -> list[str]:
    """What each broadcast slot of `plan` carries, in order (if no operation fails)."""
    return [kind for op in plan for kind in _STAGES[type(op)]]


Check = Callable[[Mapping[int, tsm2.Dealing], Mapping[int, tsm2.PrivateShares]],
                 list[tsm2.Complaint]]
Settle = Callable[[Sequence[tsm2.Complaint], Sequence[tsm2.Reveal]], Any]


@dataclass(frozen=True)
class _Round:
    """One dealing round of an operation: how a party checks the dealings it got, and how
    it settles the complaints into its next output (a dealing, an opening or the result)."""

    check: Check
    settle: Settle


class Signing(codec.Struct, tag=2):
    """A member's partial signature to the combiner, with the key set and presignature."""

    keyset: tsm2.KeySet
    presignature: tsm2.PresignaturePublic
    partial: tsm2.PartialSignature


class Tsm2Party(MpcCore):
    protocol = "tsm2"

    def __init__(self, me: int, roster: Mapping[int, NodeId], members: list[int],
                 threshold: int, session: bytes, plan: Sequence[Operation], rng: Rng,
                 round_ms: int, signing_keys: Mapping[int, PublicKey], signing_key: SigningKey,
                 echo: bool = True) -> None:
        super().__init__(me, roster, [session])
        self.party = tsm2.Party(me, members, threshold, rng)
        self.members = members
        self.session = session
        self.layer = broadcast.ConsistentBroadcast(self.protocol, session, me, members,
                                                   signing_keys, signing_key, round_ms,
                                                   "tsm2/", echo=echo)
        self.queue: deque[Operation] = deque(plan)
        self.busy = False  # an operation with stages is running
        self.stage = -1
        self.kinds: list[str] = []  # what each slot so far carries
        self.rounds: deque[_Round] = deque()
        self.inbox: dict[int, tuple[dict[int, bytes], dict[int, bytes]]] = {}
        self.complaints: list[tsm2.Complaint] = []
        self.reveals: list[tsm2.Reveal] = []
        self.keyset: tsm2.KeySet | None = None
        self.presignatures: deque[tsm2.PresignaturePublic] = deque()  # unused, oldest first
        self.error: tsm2.Tsm2Error | None = None

    def on_start(self, now_ms: int) -> list[Action]:
        return self._next(now_ms)

    def on_input(self, now_ms: int, value: Any) -> list[Action]:
        if not isinstance(value, Keygen | Presign | Refresh | Sign):
            return []
        self.queue.append(value)
        return [] if self.busy else self._next(now_ms)

    def on_payload(self, now_ms: int, sender: int, session: bytes,
                   payload: bytes) -> list[Action]:
        return self._carry(self.layer.receive(sender, payload, now_ms), now_ms)

    def on_timer(self, now_ms: int, name: str) -> list[Action]:
        return self._carry(self.layer.timeout(name, now_ms), now_ms)

    def _carry(self, outputs: list[broadcast.Output], now_ms: int) -> list[Action]:
        return broadcast.carry(self, self.session, outputs,
                               lambda slot: self._on_delivered(slot, now_ms))

    def _on_delivered(self, slot: broadcast.Delivered, now_ms: int) -> list[Action]:
        if self.error is not None or not self.busy or slot.slot != self.stage:
            return []
        self.inbox[slot.slot] = (slot.messages, slot.direct)
        return self._close(now_ms)

    # -- operations ---------------------------------------------------------------------------

    def _next(self, now_ms: int) -> list[Action]:
        """Start queued operations until one needs stages (signing needs none)."""
        out: list[Action] = []
        while self.queue and not self.busy and self.error is None:
            op = self.queue.popleft()
            out += self._sign(op) if isinstance(op, Sign) else self._begin(op, now_ms)
        return out

    def _begin(self, op: Keygen | Presign | Refresh, now_ms: int) -> list[Action]:
        p, session = self.party, self.session + b"/" + op.name
        self.busy = True
        if isinstance(op, Keygen):
            self.rounds = deque([_Round(p.keygen_check, p.keygen_multiply),
                                 _Round(p.keygen_check_products, p.keygen_open)])
            return self._run(now_ms, lambda: p.keygen_deal(session))
        if isinstance(op, Presign):
            self.rounds = deque([_Round(p.presign_check, p.presign_multiply),
                                 _Round(p.presign_check_products, p.presign_finish)])
            return self._run(now_ms, lambda: p.presign_deal(session, op.count, self.members))
        self.rounds = deque([_Round(p.refresh_check, p.refresh_finish)])
        return self._run(now_ms, lambda: p.refresh_deal(session))

    def _finish(self, now_ms: int, result: tsm2.KeySet | list[tsm2.PresignaturePublic],
                ) -> list[Action]:
        if isinstance(result, tsm2.KeySet):
            self.keyset = result
        else:
            self.presignatures.extend(result)
        self.busy = False
        return self._next(now_ms)

    # -- stages -------------------------------------------------------------------------------

    def _close(self, now_ms: int) -> list[Action]:
        """Everything of the current stage is in (or its time is up): take the next step."""
        steps, direct = self.inbox.get(self.stage, ({}, {}))
        kind = self.kinds[self.stage]
        p = self.party
        if kind == DEAL:
            dealings = self._publics(steps, tsm2.Dealing)
            privates = {j: v for j, data in direct.items()
                        if (v := self._decode(j, data, tsm2.PrivateShares)) is not None}
            check_ = self.rounds[0].check
            return self._run(now_ms, lambda: check_(dealings, privates), COMPLAIN)
        if kind == COMPLAIN:
            self.complaints = [c for j, cs in self._publics(steps, list[tsm2.Complaint]).items()
                               for c in cs if c.accuser == j]
            return self._run(now_ms, lambda: p.answer(self.complaints), ANSWER)
        if kind == ANSWER:
            self.reveals = [r for j, rs in self._publics(steps, list[tsm2.Reveal]).items()
                            for r in rs if r.dealer == j]
            settle, cs, rs = self.rounds.popleft().settle, self.complaints, self.reveals
            return self._run(now_ms, lambda: settle(cs, rs))
        opened = {j: o for j, o in self._publics(steps, tsm2.OpenShare).items() if o.index == j}
        return self._run(now_ms, lambda: p.keygen_finish(opened))

    def _run(self, now_ms: int, step: Callable[[], Any], kind: str | None = None,
             ) -> list[Action]:
        """Run one round method and post its output as the next stage's part; an output
        that is no message (a key set, presignatures) ends the operation."""
        try:
            produced = step()
        except tsm2.Tsm2Error as exc:
            return self._fail(exc)
        if kind is None:
            if isinstance(produced, tuple):
                kind = DEAL
            elif isinstance(produced, tsm2.OpenShare):
                kind = OPEN
            else:
                return self._finish(now_ms, produced)
        self.stage += 1
        self.kinds.append(kind)
        if kind == DEAL:  # public dealing, private shares
            dealing, privates = produced
            public = codec.encode(dealing)
            private = {s.recipient: codec.encode(s) for s in privates}
        else:
            public, private = codec.encode(produced), {}
        stage = self.stage
        out = self._carry(self.layer.send(stage, public, now_ms, private), now_ms)
        if self.stage == stage and self.error is None:
            out += self._carry(self.layer.open(stage, self.members, now_ms), now_ms)
        return out

    def _sign(self, op: Sign) -> list[Action]:
        """A failed signing (no such presignature, an unusable nonce) is reported, and the
        party stays ready for the next operation."""
        try:
            presig = self._take(op.presignature)
            partial = self.party.sign(presig.id, op.message)
        except tsm2.Tsm2Error as exc:
            return [self._outcome(exc)]
        assert self.keyset is not None
        body = codec.encode(Signing(self.keyset, presig, partial))
        return [self.send(COMBINER, self.session, body),
                self.deliver("member", ok=True, public_key=self.keyset.public_key.hex(),
                             culprits=sorted(self.party.culprits),
                             equivocators=self.layer.equivocators)]

    def _take(self, presignature: bytes) -> tsm2.PresignaturePublic:
        for presig in self.presignatures:
            if presig.id == presignature or not presignature:
                self.presignatures.remove(presig)
                return presig
        raise tsm2.PresignatureError("no such unused presignature")

    def _fail(self, exc: tsm2.Tsm2Error) -> list[Action]:
        self.error = exc
        self.busy = False
        return [self._outcome(exc)]

    def _outcome(self, exc: tsm2.Tsm2Error) -> Action:
        culprits = list(getattr(exc, "culprits", ()))
        return self.deliver("member", ok=False, error=exc.to_dict(), culprits=culprits,
                            equivocators=self.layer.equivocators)

    def _publics(self, steps: Mapping[int, bytes], type_: Any) -> dict[int, Any]:
        return {j: v for j, data in steps.items()
                if (v := self._decode(j, data, type_)) is not None}

    def _decode(self, sender: int, data: bytes, type_: Any) -> Any:
        try:
            return codec.decode(data, type_)
        except CodecError:
            if sender != self.me:
                self.fault(sender)
            return None


class Combiner(Collector):
    protocol = "tsm2"

    def __init__(self, me: int, roster: Mapping[int, NodeId], members: list[int],
                 threshold: int, session: bytes, message: bytes, deadline_ms: int) -> None:
        super().__init__(me, roster, [session], deadline_ms)
        self.members = members
        self.threshold = threshold
        self.message = message
        self.received: dict[int, Signing] = {}
        self.done = False

    def on_payload(self, now_ms: int, sender: int, session: bytes,
                   payload: bytes) -> list[Action]:
        msg = self.decode_from(sender, payload, Signing)
        if msg is None:
            return []
        if sender not in self.members or self.done or msg.partial.index != sender:
            self.fault(sender)
            return []
        self.received.setdefault(sender, msg)
        return self._combine() if len(self.received) == len(self.members) else []

    def on_timer(self, now_ms: int, name: str) -> list[Action]:
        return [] if self.done else self._combine()

    def _combine(self) -> list[Action]:
        self.done = True
        views = Counter(codec.encode([m.keyset, m.presignature]) for m in self.received.values())
        if not views:
            return [self.deliver("combiner", ok=False, error="no partial signatures",
                                 culprits=[])]
        view, votes = views.most_common(1)[0]
        if votes < self.threshold:
            return [self.deliver("combiner", ok=False, culprits=[],
                                 error=f"only {votes} parties agree on the key and nonce")]
        agreeing = {i: m for i, m in self.received.items()
                    if codec.encode([m.keyset, m.presignature]) == view}
        first = next(iter(agreeing.values()))
        partials = [agreeing[i].partial for i in sorted(agreeing)]
        outliers = sorted(set(self.received) - set(agreeing))
        try:
            signed = tsm2.combine(first.keyset, first.presignature, self.message, partials)
        except tsm2.Tsm2Error as exc:
            return [self.deliver("combiner", ok=False, error=exc.message,
                                 culprits=sorted({*getattr(exc, "culprits", ()), *outliers}))]
        except GroupError as exc:
            return [self.deliver("combiner", ok=False, error=exc.message, culprits=outliers)]
        return [self.deliver("combiner", ok=True, signature=signed.signature.hex(),
                             public_key=first.keyset.public_key.hex(),
                             culprits=sorted({*signed.culprits, *outliers}))]
