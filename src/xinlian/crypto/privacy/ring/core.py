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

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.crypto.primitives.groups import Element, GroupError, Rng, Scalar, get_group
from xinlian.crypto.privacy import ring
from xinlian.crypto.threshold.dkg import KeyShare
from xinlian.crypto.threshold.envelope import Collector, MpcCore
from xinlian.protocol import Action, NodeId

VERIFIER = 0


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
                 messages: Sequence[bytes], rng: Rng) -> None:
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
                 members: Sequence[Element], context: bytes, rng: Rng) -> None:
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
                 openers: ring.Openers | None, opener_parties: Sequence[int], context: bytes,
                 round_ms: int) -> None:
        """`openers`: the opener committee (None for the traceable variant, which has none
        and accepts only traceable signatures)."""
        super().__init__(me, roster, [context], round_ms)
        self.members = list(members)
        self.openers = openers
        self.opener_parties = list(opener_parties)
        self.context = context
        self.round_ms = round_ms
        self.opener_key = (None if openers is None
                           else get_group(members[0].group.name).decode_element(openers.key))
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
            if self.opener_key is None:
                raise ring.RingError("this ring has no openers: traceable signatures only")
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
        assert self.openers is not None  # cases are opened only with a committee
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
