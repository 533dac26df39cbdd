"""Threshold SM2 as synchronous rounds between n parties, then partials to a combiner (0).

`xinlian.crypto.threshold.tsm2.Party` is written as round methods (deal, check, answer, multiply,
...). This adapter runs them as rounds of messages: every stage is one slot of a consistent
broadcast (`broadcast.py`): each party signs its public part (a dealing, its complaints,
its answers to complaints, or its opening) and posts it to every other member, with that
member's private shares in dealing stages; the members echo the digests they got, and a
party proven to have posted two different public parts is ignored by every honest member
from then on. A stage closes when every member's post is in or the stage deadline passes,
then the echo settles it; a missing or malformed part counts as that party saying nothing,
which the crypto rounds turn into disqualification. Key generation takes seven stages,
presigning one nonce six more; each party then signs and sends its partial, with the key
set and presignature it computed, to the combiner, which uses the view a majority agrees
on, combines any t valid partials (naming invalid ones) and checks the result with the
ordinary SM2 verifier.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.crypto.keys import PublicKey
from xinlian.crypto.primitives.groups import GroupError
from xinlian.crypto.signing import SigningKey
from xinlian.crypto.threshold import broadcast, tsm2
from xinlian.crypto.threshold.envelope import Collector, MpcCore
from xinlian.crypto.threshold.tsm2.messages import Round
from xinlian.protocol import Action, NodeId

COMBINER = 0

# Each stage: what its public part is. Stages 0-6 are key generation, 7-12 presigning.
DEAL, COMPLAIN, ANSWER, OPEN = "deal", "complain", "answer", "open"
STAGES = (DEAL, COMPLAIN, ANSWER, DEAL, COMPLAIN, ANSWER, OPEN,
          DEAL, COMPLAIN, ANSWER, DEAL, COMPLAIN, ANSWER)


class Signing(codec.Struct, tag=2):
    """A member's partial signature to the combiner, with the key set and presignature."""

    keyset: tsm2.KeySet
    presignature: tsm2.PresignaturePublic
    partial: tsm2.PartialSignature


class Tsm2Party(MpcCore):
    protocol = "tsm2"

    def __init__(self, me: int, roster: Mapping[int, NodeId], members: list[int],
                 threshold: int, session: bytes, message: bytes, rng: Any,
                 round_ms: int, signing_keys: Mapping[int, PublicKey], signing_key: SigningKey,
                 echo: bool = True) -> None:
        super().__init__(me, roster, [session])
        self.party = tsm2.Party(me, members, threshold, rng)
        self.members = members
        self.session = session
        self.message = message
        self.layer = broadcast.ConsistentBroadcast(self.protocol, session, me, members,
                                                   signing_keys, signing_key, round_ms,
                                                   "tsm2/", echo=echo)
        self.stage = -1
        self.inbox: dict[int, tuple[dict[int, bytes], dict[int, bytes]]] = {}
        self.complaints: list[tsm2.Complaint] = []
        self.reveals: list[tsm2.Reveal] = []
        self.keyset: tsm2.KeySet | None = None
        self.done = False

    def on_start(self, now_ms: int) -> list[Action]:
        return self._run(now_ms, lambda: self.party.keygen_deal(self.session + b"/keygen"))

    def on_payload(self, now_ms: int, sender: int, session: bytes,
                   payload: bytes) -> list[Action]:
        return self._carry(self.layer.receive(sender, payload, now_ms), now_ms)

    def on_timer(self, now_ms: int, name: str) -> list[Action]:
        return self._carry(self.layer.timeout(name, now_ms), now_ms)

    def _carry(self, outputs: list[broadcast.Output], now_ms: int) -> list[Action]:
        return broadcast.carry(self, self.session, outputs,
                               lambda slot: self._on_delivered(slot, now_ms))

    def _on_delivered(self, slot: broadcast.Delivered, now_ms: int) -> list[Action]:
        if self.done or slot.slot != self.stage:
            return []
        self.inbox[slot.slot] = (slot.messages, slot.direct)
        return self._close(now_ms)

    # -- stages -------------------------------------------------------------------------------

    def _close(self, now_ms: int) -> list[Action]:
        """Everything of the current stage is in (or its time is up): take the next step."""
        steps, direct = self.inbox.get(self.stage, ({}, {}))
        kind = STAGES[self.stage]
        p = self.party
        if kind == DEAL:
            dealings = self._publics(steps, tsm2.Dealing)
            privates = {j: v for j, data in direct.items()
                        if (v := self._decode(j, data, tsm2.PrivateShares)) is not None}
            check_ = p.keygen_check if self.stage == 0 else (
                p.keygen_check_products if self.stage == 3 else
                p.presign_check if self.stage == 7 else p.presign_check_products)
            return self._run(now_ms, lambda: check_(dealings, privates))
        if kind == COMPLAIN:
            self.complaints = [c for j, cs in self._publics(steps, list[tsm2.Complaint]).items()
                               for c in cs if c.accuser == j]
            return self._run(now_ms, lambda: p.answer(self.complaints))
        if kind == ANSWER:
            self.reveals = [r for j, rs in self._publics(steps, list[tsm2.Reveal]).items()
                            for r in rs if r.dealer == j]
            cs, rs = self.complaints, self.reveals
            if self.stage == 2:
                return self._run(now_ms, lambda: p.keygen_multiply(cs, rs))
            if self.stage == 5:
                return self._run(now_ms, lambda: p.keygen_open(cs, rs))
            if self.stage == 9:
                return self._run(now_ms, lambda: p.presign_multiply(cs, rs))
            return self._sign(lambda: p.presign_finish(cs, rs))
        opened = {j: o for j, o in self._publics(steps, tsm2.OpenShare).items() if o.index == j}

        def finish_keygen() -> Round:
            self.keyset = p.keygen_finish(opened)
            return p.presign_deal(self.session + b"/presign", 1, self.members)
        return self._run(now_ms, finish_keygen)

    def _run(self, now_ms: int, step: Callable[[], Any]) -> list[Action]:
        """Run one round method and send its output as the next stage's step."""
        try:
            produced = step()
        except tsm2.Tsm2Error as exc:
            return self._fail(exc)
        self.stage += 1
        if isinstance(produced, tuple):  # a dealing round: public dealing, private shares
            dealing, privates = produced
            public = codec.encode(dealing)
            private = {s.recipient: codec.encode(s) for s in privates}
        else:
            public, private = codec.encode(produced), {}
        stage = self.stage
        out = self._carry(self.layer.send(stage, public, now_ms, private), now_ms)
        if self.stage == stage and not self.done:
            out += self._carry(self.layer.open(stage, self.members, now_ms), now_ms)
        return out

    def _sign(self, finish: Callable[[], list[tsm2.PresignaturePublic]]) -> list[Action]:
        self.done = True
        try:
            presig = finish()[0]
            partial = self.party.sign(presig.id, self.message)
        except tsm2.Tsm2Error as exc:
            return self._fail(exc)
        assert self.keyset is not None
        body = codec.encode(Signing(self.keyset, presig, partial))
        return [self.send(COMBINER, self.session, body),
                self.deliver("member", ok=True, public_key=self.keyset.public_key.hex(),
                             culprits=sorted(self.party.culprits),
                             equivocators=self.layer.equivocators)]

    def _fail(self, exc: tsm2.Tsm2Error) -> list[Action]:
        self.done = True
        culprits = list(getattr(exc, "culprits", ()))
        return [self.deliver("member", ok=False, error=exc.to_dict(), culprits=culprits,
                             equivocators=self.layer.equivocators)]

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
