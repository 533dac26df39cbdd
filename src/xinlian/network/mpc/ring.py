"""Ring signatures as messages: members sign, a verifier links and traces, openers open.

Two variants. `accountable` (the default) is described below. `traceable` uses the
Fujisaki-Suzuki scheme (`ring.sign_traceable`): there are no openers; the verifier compares
each valid signature with the earlier ones of the context (`ring.trace`), and one key
signing two different messages reveals itself, while the same message signed twice is only
linked and the signer stays anonymous.

Parties: the verifier/tracer (0), the ring members (1..n) and an opener committee
(n+1..n+m) that holds a t-of-m sharing of the opener key. Each signing member sends the
verifier an LSAG signature in the run's context with its key escrowed to the opener key.
The verifier checks each signature against the ring; two valid signatures with one key
image in one context are a double use: it sends both to the openers, each of which checks
the two signatures and the link itself before publishing its partial opening with a proof;
any t valid partials reveal which member signed (`ring.open_signature`). A single
signature stays anonymous: the verifier never uses the sender of a message, only the
opening. An invalid signature is rejected and cannot be attributed to anyone.

Misbehaving members sign twice (`double`), send a damaged signature (`invalid`) or stay
`silent`. The verifier collects for one round deadline, then finishes the openings it started.
Member keys and the opener committee (a trusted-dealer sharing) come from the run seed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.crypto.primitives.groups import Element, GroupError, Scalar, get_group
from xinlian.crypto.privacy import ring
from xinlian.crypto.threshold.dkg import KeyShare, share_secret
from xinlian.network.mpc.byzantine import Byzantine, rewrite_payload, silent
from xinlian.network.mpc.envelope import Collector, MpcCore, seeded_rng
from xinlian.network.mpc.setup import Outcome, Params, Setup, check, faulty_ids
from xinlian.protocol import Action, Core, NodeId

VERIFIER = 0
FAULTS = ("double", "invalid", "silent")
VARIANTS = ("accountable", "traceable")


class Signed(codec.Struct, tag=1):
    message: bytes
    signature: ring.RingSignature


class SignedTraceable(codec.Struct, tag=4):
    message: bytes
    signature: ring.TraceableSignature


class OpenRequest(codec.Struct, tag=2):
    first: Signed
    second: Signed


class Partial(codec.Struct, tag=3):
    key_image: bytes
    partial: ring.PartialOpening


Message = Signed | OpenRequest | Partial | SignedTraceable


class Member(MpcCore):
    protocol = "ring"

    def __init__(self, me: int, roster: Mapping[int, NodeId], secret: Scalar,
                 members: Sequence[Element], opener_key: Element | None, context: bytes,
                 messages: Sequence[bytes], rng: Any) -> None:
        super().__init__(me, roster, [context])
        self.secret = secret
        self.members = list(members)
        self.opener_key = opener_key
        self.context = context
        self.messages = list(messages)  # two for a member that uses its key twice
        self.rng = rng

    def on_start(self, now_ms: int) -> list[Action]:
        out = []
        for m in self.messages:
            body: Signed | SignedTraceable
            if self.opener_key is None:
                body = SignedTraceable(m, ring.sign_traceable(m, self.context, self.members,
                                                              self.secret, self.rng))
            else:
                body = Signed(m, ring.sign(m, self.context, self.members, self.secret,
                                           opener_key=self.opener_key, rng=self.rng))
            out.append(self.send(VERIFIER, self.context, codec.encode(body)))
        return out


class Opener(MpcCore):
    protocol = "ring"

    def __init__(self, me: int, roster: Mapping[int, NodeId], share: KeyShare,
                 members: Sequence[Element], context: bytes, rng: Any) -> None:
        super().__init__(me, roster, [context])
        self.share = share
        self.rng = rng
        self.members = list(members)
        self.context = context
        self.opened: set[bytes] = set()

    def on_payload(self, now_ms: int, sender: int, session: bytes,
                   payload: bytes) -> list[Action]:
        key = self.share.public.group_public_key
        try:
            msg = codec.decode(payload, Message)
            if sender != VERIFIER or not isinstance(msg, OpenRequest):
                raise ring.RingError("openers take open requests from the verifier")
            a, b = msg.first, msg.second
            for s in (a, b):
                if s.signature.context != self.context:
                    raise ring.RingError("signature from another context")
                ring.verify(s.signature, s.message, self.members, opener_key=key)
            if not ring.linked(a.signature, b.signature) or codec.encode(a) == codec.encode(b):
                raise ring.RingError("not two signatures by one key: refuse to open")
            image = a.signature.key_image
            if image in self.opened:
                raise ring.RingError("already opened")
        except (ring.RingError, GroupError, CodecError):
            self.fault(sender)
            return []
        self.opened.add(image)
        part = ring.partial_open(a.signature, self.share.identifier, self.share.secret,
                                 self.rng)
        return [self.send(VERIFIER, self.context, codec.encode(Partial(image, part)))]


class Verifier(Collector):
    protocol = "ring"

    def __init__(self, me: int, roster: Mapping[int, NodeId], members: Sequence[Element],
                 openers: ring.Openers, opener_parties: Sequence[int], context: bytes,
                 round_ms: int) -> None:
        super().__init__(me, roster, [context], round_ms)
        self.members = list(members)
        self.openers = openers
        self.opener_parties = list(opener_parties)
        self.context = context
        self.round_ms = round_ms
        self.opener_key = get_group(members[0].group.name).decode_element(openers.key)
        self.seen: dict[bytes, Signed] = {}  # key image -> first valid signature
        self.cases: dict[bytes, list[ring.PartialOpening]] = {}  # double uses being opened
        self.opened: dict[bytes, int] = {}  # key image -> member index revealed
        self.traceable: list[SignedTraceable] = []  # accepted, traceable variant
        self.traced: set[int] = set()  # members whose double use revealed them
        self.accepted = self.rejected = self.linked = 0
        self.collecting = True
        self.done = False

    def on_payload(self, now_ms: int, sender: int, session: bytes,
                   payload: bytes) -> list[Action]:
        try:
            msg = codec.decode(payload, Message)
        except CodecError:
            self.rejected += 1
            return []
        if isinstance(msg, Signed) and self.collecting:
            return self._on_signed(msg)
        if isinstance(msg, SignedTraceable) and self.collecting:
            return self._on_traceable(msg)
        if isinstance(msg, Partial) and sender in self.opener_parties:
            return self._on_partial(msg)
        self.fault(sender)
        return []

    def _on_signed(self, msg: Signed) -> list[Action]:
        try:
            if msg.signature.context != self.context:
                raise ring.RingError("another context")
            ring.verify(msg.signature, msg.message, self.members, opener_key=self.opener_key)
        except (ring.RingError, GroupError):
            self.rejected += 1
            return []
        image = msg.signature.key_image
        first = self.seen.get(image)
        if first is None:
            self.seen[image] = msg
            self.accepted += 1
            return []
        self.linked += 1
        if image in self.cases:
            return []
        self.cases[image] = []
        body = codec.encode(OpenRequest(first, msg))
        return [self.broadcast(self.opener_parties, self.context, body)]

    def _on_traceable(self, msg: SignedTraceable) -> list[Action]:
        """Compare with every earlier signature of the context: trace one key's two uses."""
        try:
            if msg.signature.context != self.context:
                raise ring.RingError("another context")
            ring.verify_traceable(msg.signature, msg.message, self.members)
        except (ring.RingError, GroupError):
            self.rejected += 1
            return []
        keys = [m.encode() for m in self.members]
        for earlier in self.traceable:
            verdict, key = ring.trace((earlier.signature, earlier.message),
                                      (msg.signature, msg.message), self.members)
            if verdict is not ring.Trace.INDEPENDENT:
                self.linked += 1
                if key is not None:
                    self.traced.add(keys.index(key.encode()) + 1)
                return []
        self.traceable.append(msg)
        self.accepted += 1
        return []

    def _on_partial(self, msg: Partial) -> list[Action]:
        parts = self.cases.get(msg.key_image)
        if parts is None or msg.key_image in self.opened:
            return []
        parts.append(msg.partial)
        if len(parts) < self.openers.threshold:
            return []
        signature = self.seen[msg.key_image].signature
        try:
            opening = ring.open_signature(signature, self.members, self.openers, parts)
        except ring.InvalidOpeningError:
            return []  # wait for more partials; the bad ones stay out of the count below
        keys = [m.encode() for m in self.members]
        self.opened[msg.key_image] = keys.index(opening.signer) + 1
        return self._maybe_finish()

    def on_timer(self, now_ms: int, name: str) -> list[Action]:
        if name == "collect":
            self.collecting = False
            return [*self._maybe_finish(), self.timer("open", now_ms + self.round_ms)]
        if name == "open" and not self.done:
            return self._finish()
        return []

    def _maybe_finish(self) -> list[Action]:
        if self.done or self.collecting or len(self.opened) < len(self.cases):
            return []
        return self._finish()

    def _finish(self) -> list[Action]:
        self.done = True
        return [self.deliver("verifier", accepted=self.accepted, rejected=self.rejected,
                             linked=self.linked,
                             opened=sorted({*self.opened.values(), *self.traced}),
                             unopened=len(self.cases) - len(self.opened))]


def corrupt_signature(payload: bytes) -> bytes:
    """A member whose signature is damaged (the ring no longer closes)."""
    try:
        msg = codec.decode(payload, Message)
    except CodecError:
        return payload
    if isinstance(msg, SignedTraceable):
        t = msg.signature
        return codec.encode(SignedTraceable(msg.message, ring.TraceableSignature(
            group=t.group, context=t.context, a1=t.a1, challenges=t.challenges,
            responses=list(reversed(t.responses)))))
    if not isinstance(msg, Signed):
        return payload
    s = msg.signature
    bad = ring.RingSignature(group=s.group, context=s.context, key_image=s.key_image,
                             challenge=s.challenge, responses=list(reversed(s.responses)),
                             escrow=s.escrow)
    return codec.encode(Signed(msg.message, bad))


def setup(params: Params) -> Setup:
    group = get_group(params.curve or "ed25519")
    n, m, ot = params.parties, params.openers, params.opener_threshold
    signers = params.signers or n
    check(2 <= n <= ring.MAX_RING, f"a ring has 2..{ring.MAX_RING} members")
    check(1 <= signers <= n, "1 <= signers <= ring members")
    check(1 <= ot <= m, "need 1 <= opener threshold <= openers")
    check(params.fault in FAULTS, f"ring faults: {', '.join(FAULTS)}")
    check(0 <= params.faulty <= signers, "faulty members are among the signers")
    check(params.variant in VARIANTS, f"ring variants: {', '.join(VARIANTS)}")
    traceable = params.variant == "traceable"
    keys = seeded_rng(params.seed, "ring", "keys")
    secrets = [group.random_scalar(keys) for _ in range(n)]
    members = [group.base_mul(x) for x in secrets]
    shares = share_secret(group, group.random_scalar(keys), ot, range(1, m + 1), keys)
    openers = ring.Openers.from_package(shares[0].public)
    opener_parties = [] if traceable else list(range(n + 1, n + m + 1))
    context = b"ring/%d" % params.seed
    faulty = faulty_ids(params)
    parties = tuple(range(n + len(opener_parties) + 1))

    def messages(i: int) -> list[bytes]:
        base = f"{params.message} #{i}".encode()
        if i > signers:
            return []
        return [base, base + b" again"] if i in faulty and params.fault == "double" else [base]

    def make_core(me: int, roster: Mapping[int, NodeId]) -> Core:
        if me == VERIFIER:
            return Verifier(me, roster, members, openers, opener_parties, context,
                            params.round_ms)
        if me in opener_parties:
            return Opener(me, roster, shares[me - n - 1], members, context,
                          seeded_rng(params.seed, "ring", me))
        opener_key = None if traceable else group.decode_element(openers.key)
        core = Member(me, roster, secrets[me - 1], members, opener_key, context, messages(me),
                      seeded_rng(params.seed, "ring", me))
        if me in faulty and params.fault == "invalid":
            return Byzantine(core, rewrite_payload(corrupt_signature))
        if me in faulty and params.fault == "silent":
            return Byzantine(core, silent)
        return core

    def summarise(outcomes: Mapping[int, Outcome]) -> dict[str, Any]:
        out = outcomes.get(VERIFIER)
        if out is None:
            return {"ok": False, "error": "the verifier did not finish", "identified": []}
        bad = len(faulty) if params.fault == "invalid" else 0
        quiet = len(faulty) if params.fault == "silent" else 0
        doubles = list(faulty) if params.fault == "double" else []
        ok = (out["accepted"] == signers - bad - quiet and out["rejected"] == bad
              and out["opened"] == doubles and out["unopened"] == 0)
        return {"ok": ok, "variant": params.variant, "curve": group.name, "ring": n,
                "signers": signers,
                "accepted": out["accepted"], "rejected": out["rejected"],
                "linked": out["linked"], "opened": out["opened"], "identified": out["opened"]}

    roles = {i: "verifier" if i == VERIFIER else "opener" if i in opener_parties else "member"
             for i in parties}
    return Setup(params, parties, make_core, frozenset({VERIFIER}), summarise, faulty, roles)
