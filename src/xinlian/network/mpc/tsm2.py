"""Threshold SM2 as synchronous rounds between n parties, then partials to a combiner (0).

`xinlian.crypto.tsm2.Party` is written as round methods (deal, check, answer, multiply,
...). This adapter runs them as rounds of messages: in every stage a party sends each
other member one `Step` holding its public part (a dealing, its complaints, its answers
to complaints, or its opening) and, in dealing stages, that member's private shares. A
stage closes when every member's step is in or the stage deadline passes; a missing or
malformed step counts as that party saying nothing, which the crypto rounds turn into
disqualification. Key generation takes seven stages, presigning one nonce six more; each
party then signs and sends its partial, with the key set and presignature it computed, to
the combiner, which uses the view a majority agrees on, combines any t valid partials
(naming invalid ones) and checks the result with the ordinary SM2 verifier.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.crypto import sm2, tsm2
from xinlian.crypto.groups import GroupError
from xinlian.crypto.tsm2.messages import MAX_PARTIES, G, Round
from xinlian.network.mpc.byzantine import Byzantine, rewrite_payload, silent
from xinlian.network.mpc.envelope import MpcCore, seeded_rng
from xinlian.network.mpc.setup import Outcome, Params, Setup, check, faulty_ids
from xinlian.sim.protocol import Action, Core, NodeId

COMBINER = 0
FAULTS = ("silent", "invalid")

# Each stage: what its public part is. Stages 0-6 are key generation, 7-12 presigning.
DEAL, COMPLAIN, ANSWER, OPEN = "deal", "complain", "answer", "open"
STAGES = (DEAL, COMPLAIN, ANSWER, DEAL, COMPLAIN, ANSWER, OPEN,
          DEAL, COMPLAIN, ANSWER, DEAL, COMPLAIN, ANSWER)
PUBLIC_TYPES: dict[str, Any] = {DEAL: tsm2.Dealing, COMPLAIN: list[tsm2.Complaint],
                                ANSWER: list[tsm2.Reveal], OPEN: tsm2.OpenShare}


class Step(codec.Struct, tag=1):
    stage: int
    public: bytes
    private: bytes  # this recipient's PrivateShares in dealing stages, else empty


class Signing(codec.Struct, tag=2):
    keyset: tsm2.KeySet
    presignature: tsm2.PresignaturePublic
    partial: tsm2.PartialSignature


Message = Step | Signing


class Tsm2Party(MpcCore):
    protocol = "tsm2"

    def __init__(self, me: int, roster: Mapping[int, NodeId], members: list[int],
                 threshold: int, session: bytes, message: bytes, rng: Any,
                 round_ms: int) -> None:
        super().__init__(me, roster, [session])
        self.party = tsm2.Party(me, members, threshold, rng)
        self.members = members
        self.session = session
        self.message = message
        self.round_ms = round_ms
        self.stage = -1
        self.inbox: dict[int, dict[int, Step]] = {}
        self.complaints: list[tsm2.Complaint] = []
        self.reveals: list[tsm2.Reveal] = []
        self.keyset: tsm2.KeySet | None = None
        self.done = False

    def on_start(self, now_ms: int) -> list[Action]:
        return self._run(now_ms, lambda: self.party.keygen_deal(self.session + b"/keygen"))

    def on_payload(self, now_ms: int, sender: int, session: bytes,
                   payload: bytes) -> list[Action]:
        try:
            msg = codec.decode(payload, Message)
        except CodecError:
            self.fault(sender)
            return []
        if (not isinstance(msg, Step) or sender not in self.members
                or not 0 <= msg.stage < len(STAGES)):
            self.fault(sender)
            return []
        if self.done or msg.stage < self.stage:
            return []  # too late: that stage closed without it
        self.inbox.setdefault(msg.stage, {}).setdefault(sender, msg)
        return self._maybe_close(now_ms)

    def on_timer(self, now_ms: int, name: str) -> list[Action]:
        if self.done or name != f"stage{self.stage}":
            return []
        return self._close(now_ms)

    def _maybe_close(self, now_ms: int) -> list[Action]:
        out: list[Action] = []
        while not self.done and len(self.inbox.get(self.stage, {})) == len(self.members):
            out += self._close(now_ms)
        return out

    # -- stages -------------------------------------------------------------------------------

    def _close(self, now_ms: int) -> list[Action]:
        """Everything of the current stage is in (or its time is up): take the next step."""
        steps = self.inbox.get(self.stage, {})
        kind = STAGES[self.stage]
        p = self.party
        if kind == DEAL:
            dealings = self._publics(steps, tsm2.Dealing)
            privates = {j: v for j, s in steps.items()
                        if (v := self._decode(j, s.private, tsm2.PrivateShares)) is not None}
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
        out: list[Action] = []
        for j in self.members:
            step_ = Step(self.stage, public, private.get(j, b""))
            if j == self.me:
                self.inbox.setdefault(self.stage, {})[j] = step_
            else:
                out.append(self.send(j, self.session, codec.encode(step_)))
        out.append(self.timer(f"stage{self.stage}", now_ms + self.round_ms))
        return out + self._maybe_close(now_ms)

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
                             culprits=sorted(self.party.culprits))]

    def _fail(self, exc: tsm2.Tsm2Error) -> list[Action]:
        self.done = True
        culprits = list(getattr(exc, "culprits", ()))
        return [self.deliver("member", ok=False, error=exc.to_dict(), culprits=culprits)]

    def _publics(self, steps: Mapping[int, Step], type_: Any) -> dict[int, Any]:
        return {j: v for j, s in steps.items()
                if (v := self._decode(j, s.public, type_)) is not None}

    def _decode(self, sender: int, data: bytes, type_: Any) -> Any:
        try:
            return codec.decode(data, type_)
        except CodecError:
            if sender != self.me:
                self.fault(sender)
            return None


class Combiner(MpcCore):
    protocol = "tsm2"

    def __init__(self, me: int, roster: Mapping[int, NodeId], members: list[int],
                 threshold: int, session: bytes, message: bytes, deadline_ms: int) -> None:
        super().__init__(me, roster, [session])
        self.members = members
        self.threshold = threshold
        self.message = message
        self.deadline_ms = deadline_ms
        self.received: dict[int, Signing] = {}
        self.done = False

    def on_start(self, now_ms: int) -> list[Action]:
        return [self.timer("collect", now_ms + self.deadline_ms)]

    def on_payload(self, now_ms: int, sender: int, session: bytes,
                   payload: bytes) -> list[Action]:
        try:
            msg = codec.decode(payload, Message)
        except CodecError:
            self.fault(sender)
            return []
        if (not isinstance(msg, Signing) or sender not in self.members or self.done
                or msg.partial.index != sender):
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


def bad_partial(payload: bytes) -> bytes:
    """A party that sends twice its partial signature (named by the combiner). Not an
    offset of one: with signers 1, 2, 3 the Lagrange weights of 1 and 2 are 3 and -3, so
    equal offsets on both would cancel and the combined signature would still verify."""
    try:
        msg = codec.decode(payload, Message)
    except CodecError:
        return payload
    if not isinstance(msg, Signing):
        return payload
    value = (G.decode_scalar(msg.partial.value) * G.scalar(2)).encode()
    partial = tsm2.PartialSignature(msg.partial.presignature, msg.partial.index, value)
    return codec.encode(Signing(msg.keyset, msg.presignature, partial))


def setup(params: Params) -> Setup:
    n = params.parties
    t = params.threshold_or(max(2, (n + 2) // 3))
    check(t >= 2 and 2 * t - 1 <= n <= MAX_PARTIES,
          "threshold SM2 needs 2 <= t and 2t - 1 <= n")
    check(params.fault in FAULTS, f"tsm2 faults: {', '.join(FAULTS)}")
    limit = n - (2 * t - 1) if params.fault == "silent" else n - t
    check(0 <= params.faulty <= limit,
          f"at most {limit} faulty parties ({'2t - 1' if params.fault == 'silent' else 't'} "
          "must take part honestly)")
    members = list(range(1, n + 1))
    session = b"tsm2/%d" % params.seed
    message = params.message.encode()
    faulty = faulty_ids(params)
    parties = tuple(range(n + 1))

    def make_core(me: int, roster: Mapping[int, NodeId]) -> Core:
        if me == COMBINER:
            return Combiner(me, roster, members, t, session, message,
                            params.round_ms * (len(STAGES) + 2))
        core = Tsm2Party(me, roster, members, t, session, message,
                         seeded_rng(params.seed, "tsm2", me), params.round_ms)
        if me not in faulty:
            return core
        return Byzantine(core, silent if params.fault == "silent"
                         else rewrite_payload(bad_partial))

    def summarise(outcomes: Mapping[int, Outcome]) -> dict[str, Any]:
        out = outcomes.get(COMBINER)
        if out is None:
            return {"ok": False, "error": "the combiner did not finish", "identified": []}
        disqualified = {c for i, o in outcomes.items() if i not in faulty and o["role"] == "member"
                        for c in o["culprits"]}
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
    return Setup(params, parties, make_core, frozenset({COMBINER}), summarise, faulty, roles)
