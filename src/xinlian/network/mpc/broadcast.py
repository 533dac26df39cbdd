"""Consistent broadcast with identification for the MPC rounds: signed posts, an echo of
digests, and transferable proofs of equivocation.

Theory of operation. A "broadcast" in a run is n point-to-point sends, so a Byzantine sender
could give each member a different round message. This layer, one instance per party and
session, makes every broadcast round of a protocol (the DKG's deals and complaint lists, the
public parts of threshold SM2's stages) consistent. Per round, called a slot:

1. post: the sender signs (protocol, session, slot, sender, H(payload)) with its party
   signing key and sends payload + signature to every member (with, optionally, a private
   part per recipient that is neither signed nor echoed);
2. receive: a member keeps the first validly signed post of each sender until every
   expected sender has posted or the round deadline passes;
3. echo: it sends every other member the digests of the posts it accepted (one message of
   n digests per member: O(n^2) digests per party and round, never whole messages), and
   waits for the echoes of the others (not of expected senders that did not post to it:
   an honest one always does, so it only waits for parties that may be honest);
4. resolve: for a sender whose echoed digest differs from its own, or that it has no post
   from, it fetches the signed copy from a member that echoed that digest. Two validly
   signed different payloads of one sender for one slot are a transferable proof of
   equivocation: the sender is disqualified (all its messages ignored from then on) and
   the proof is sent to every member, who checks it and does the same;
5. deliver: the posts it holds, plus a missing post whose digest someone echoed and whose
   signed copy it fetched, minus disqualified senders, go to the protocol.

This is Reiter's echo broadcast (1994) / the consistent broadcast of Cachin, Kursawe,
Petzold and Shoup (2001) with the echo done all-to-all on digests, in the style of the
"broadcast with abort" of Goldwasser and Lindell (2005), but with identification instead of
abort: signatures make an equivocation provable to third parties, so honest members exclude
the equivocator and continue. Guarantees and limits: docs/crypto/cli.md ("Consistent
broadcast"). Sans-I/O: methods take the time and return outputs (`Out`, `Timer`,
`Delivered`, `Blame`, `Equivocated`); the adapter sends, sets timers and feeds events.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.crypto.groups import transcript
from xinlian.crypto.keys import PublicKey, Signature
from xinlian.crypto.signing import SigningKey, verify
from xinlian.crypto.suites import Suite, get_suite
from xinlian.network.mpc.envelope import MpcCore
from xinlian.sim.protocol import Action

DST = b"xinlian/mpc/broadcast/v1"
SUITE = "intl"  # Ed25519 signatures are deterministic: a seeded run stays reproducible
DIGEST = 32
MAX_SLOTS = 1024


# -- wire -------------------------------------------------------------------------------------


class Signed(codec.Struct):
    """One sender's broadcast message for one slot, signed over its digest."""

    slot: int
    sender: int
    payload: bytes
    signature: bytes


class Post(codec.Struct, tag=101):
    """A signed broadcast message, with the recipient's private part (not echoed)."""

    message: Signed
    direct: bytes


class Echo(codec.Struct, tag=102):
    """The digests of the posts a member accepted in a slot, sender by sender."""

    slot: int
    senders: list[int]
    digests: list[codec.fixed_bytes(DIGEST)]  # type: ignore[valid-type]


class Fetch(codec.Struct, tag=103):
    """Asks the member that echoed `digest` for `sender`'s signed message."""

    slot: int
    sender: int
    digest: codec.fixed_bytes(DIGEST)  # type: ignore[valid-type]


class Copy(codec.Struct, tag=104):
    message: Signed


class Proof(codec.Struct, tag=105):
    """Two different payloads signed by one sender for one slot."""

    first: Signed
    second: Signed


Wire = Post | Echo | Fetch | Copy | Proof


# -- outputs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Out:
    """Send `data` to each of the parties `to`."""

    to: tuple[int, ...]
    data: bytes


@dataclass(frozen=True)
class Timer:
    name: str
    at_ms: int


@dataclass(frozen=True)
class Delivered:
    """A slot's agreed messages: sender -> payload (own included), and private parts."""

    slot: int
    messages: dict[int, bytes]
    direct: dict[int, bytes]


@dataclass(frozen=True)
class Blame:
    """`party` sent something unacceptable (bad signature, forged proof, garbage)."""

    party: int
    reason: str


@dataclass(frozen=True)
class Equivocated:
    """`party` is proven to have signed two messages for `slot` (reported once)."""

    party: int
    slot: int
    late: bool  # the proof came after this party had delivered that slot


Output = Out | Timer | Delivered | Blame | Equivocated


# -- signing ----------------------------------------------------------------------------------


def party_keys(seed: int, label: str, parties: Iterable[int],
               suite: Suite | None = None) -> dict[int, SigningKey]:
    """Each party's broadcast signing key, derived from the run seed (local runs only; a
    deployment registers each member's own key)."""
    suite = suite or get_suite(SUITE)
    return {i: suite.generate_signing_key(hashlib.sha256(
        b"xinlian/mpc/broadcast-key/%d/%s/%d" % (seed, label.encode(), i)).digest())
        for i in parties}


def _statement(protocol: str, session: bytes, slot: int, sender: int, digest: bytes) -> bytes:
    return transcript(DST, protocol.encode(), session, slot.to_bytes(8, "big"),
                      sender.to_bytes(8, "big"), digest)


def sign(key: SigningKey, suite: Suite, protocol: str, session: bytes, slot: int,
         sender: int, payload: bytes) -> Signed:
    digest = suite.hash_bytes(payload)
    signature = key.sign(_statement(protocol, session, slot, sender, digest))
    return Signed(slot, sender, payload, signature.data)


# -- the layer --------------------------------------------------------------------------------

RECV, ECHO, FETCH, DONE = "recv", "echo", "fetch", "done"


@dataclass
class _Slot:
    senders: frozenset[int] | None = None  # who must post (None: the slot is not open yet)
    phase: str = RECV
    held: dict[int, bytes] = field(default_factory=dict)  # sender -> digest accepted
    direct: dict[int, bytes] = field(default_factory=dict)
    versions: dict[int, dict[bytes, Signed]] = field(default_factory=dict)
    echoes: dict[int, dict[int, bytes]] = field(default_factory=dict)  # echoer -> view
    absent: frozenset[int] = frozenset()  # expected senders with no post at close
    fetching: dict[tuple[int, bytes], int] = field(default_factory=dict)


class ConsistentBroadcast:
    """One party's consistent broadcast for one session of one protocol.

    `members`: every party of the session (all post, echo and resolve among themselves);
    `keys`: their public signing keys; `key`: this party's signing key. `open(slot,
    senders)` starts a slot's receive phase once this party has reached it; `send(slot,
    payload)` posts this party's message. With `echo=False` a slot is delivered when its
    receive phase ends (signed point-to-point broadcast, for measuring what the echo costs).
    """

    def __init__(self, protocol: str, session: bytes, me: int, members: Collection[int],
                 keys: Mapping[int, PublicKey], key: SigningKey, round_ms: int,
                 timer_prefix: str, *, echo: bool = True, suite: Suite | None = None) -> None:
        self.protocol = protocol
        self.session = session
        self.me = me
        self.members = frozenset(members)
        self.others = tuple(sorted(self.members - {me}))
        self.keys = keys
        self.key = key
        self.round_ms = round_ms
        self.prefix = timer_prefix
        self.echo = echo
        self.suite = suite or get_suite(SUITE)
        self.slots: dict[int, _Slot] = {}
        self.disqualified: dict[int, int] = {}  # equivocator -> slot of the proof
        self._answered: set[tuple[int, int, int, bytes]] = set()

    # -- events from the adapter ----------------------------------------------------------

    def send(self, slot: int, payload: bytes, now_ms: int,
             direct: Mapping[int, bytes] | None = None) -> list[Output]:
        """Sign and post this party's message for `slot` (private parts per recipient)."""
        signed = sign(self.key, self.suite, self.protocol, self.session, slot, self.me, payload)
        s = self._slot(slot)
        digest = self.suite.hash_bytes(payload)
        s.versions.setdefault(self.me, {})[digest] = signed
        s.held[self.me] = digest
        s.direct[self.me] = (direct or {}).get(self.me, b"")
        if direct:
            out: list[Output] = [Out((j,), codec.encode(Post(signed, direct.get(j, b""))))
                                 for j in self.others]
        else:
            out = [Out(self.others, codec.encode(Post(signed, b"")))]
        return out + self._progress(slot, now_ms)

    def open(self, slot: int, senders: Iterable[int], now_ms: int) -> list[Output]:
        """This party reached `slot`: wait for the posts of `senders` (or the deadline)."""
        s = self._slot(slot)
        s.senders = frozenset(senders)
        return [Timer(self._timer(slot, RECV), now_ms + self.round_ms),
                *self._progress(slot, now_ms)]

    def timeout(self, name: str, now_ms: int) -> list[Output]:
        """A timer this layer asked for fired: end the phase it guarded."""
        try:
            slot_text, phase = name.removeprefix(self.prefix).split("/")
            s = self.slots[int(slot_text)]
        except (ValueError, KeyError):
            return []
        slot = int(slot_text)
        if s.senders is None or s.phase != phase:
            return []
        if phase == RECV:
            return self._close_receive(slot, now_ms)
        if phase == ECHO:
            return self._resolve(slot, now_ms)
        return self._deliver(slot)

    def owns(self, timer: str) -> bool:
        return timer.startswith(self.prefix)

    def receive(self, sender: int, data: bytes, now_ms: int) -> list[Output]:
        """A layer message from `sender` (authenticated by the channel). Never raises."""
        if sender not in self.members or sender == self.me:
            return [Blame(sender, "not a member of this session")]
        if sender in self.disqualified:
            return []  # nothing a proven equivocator says counts any more
        try:
            msg = codec.decode(data, Wire)
        except CodecError:
            return [Blame(sender, "malformed")]
        if isinstance(msg, Post):
            return self._on_post(sender, msg, now_ms)
        if isinstance(msg, Echo):
            return self._on_echo(sender, msg, now_ms)
        if isinstance(msg, Fetch):
            return self._on_fetch(sender, msg)
        if isinstance(msg, Copy):
            return self._on_copy(sender, msg, now_ms)
        return self._on_proof(sender, msg, now_ms)

    # -- messages ----------------------------------------------------------------------------

    def _valid(self, m: Signed) -> bool:
        if not 0 <= m.slot < MAX_SLOTS or m.sender not in self.members:
            return False
        digest = self.suite.hash_bytes(m.payload)
        statement = _statement(self.protocol, self.session, m.slot, m.sender, digest)
        key = self.keys[m.sender]
        return verify(key, statement, Signature(key.alg, m.signature))

    def _on_post(self, sender: int, post: Post, now_ms: int) -> list[Output]:
        m = post.message
        if m.sender != sender or not self._valid(m):
            return [Blame(sender, "post not signed by its sender")]
        s = self._slot(m.slot)
        digest = self.suite.hash_bytes(m.payload)
        if s.phase == RECV and sender not in s.held:
            s.held[sender] = digest
            s.direct[sender] = post.direct
        return self._add_version(m, digest, now_ms) + self._progress(m.slot, now_ms)

    def _on_echo(self, sender: int, echo: Echo, now_ms: int) -> list[Output]:
        if (not 0 <= echo.slot < MAX_SLOTS or len(echo.senders) != len(echo.digests)
                or echo.senders != sorted(set(echo.senders))
                or not set(echo.senders) <= self.members):
            return [Blame(sender, "malformed echo")]
        s = self._slot(echo.slot)
        s.echoes.setdefault(sender, dict(zip(echo.senders, echo.digests, strict=True)))
        return self._progress(echo.slot, now_ms)

    def _on_fetch(self, sender: int, fetch: Fetch) -> list[Output]:
        s = self.slots.get(fetch.slot)
        signed = s.versions.get(fetch.sender, {}).get(fetch.digest) if s else None
        key = (sender, fetch.slot, fetch.sender, fetch.digest)
        if signed is None or key in self._answered:
            return []
        self._answered.add(key)
        return [Out((sender,), codec.encode(Copy(signed)))]

    def _on_copy(self, sender: int, copy: Copy, now_ms: int) -> list[Output]:
        m = copy.message
        if not self._valid(m):
            return [Blame(sender, "copy not signed by its sender")]
        s = self._slot(m.slot)
        digest = self.suite.hash_bytes(m.payload)
        s.fetching.pop((m.sender, digest), None)
        return self._add_version(m, digest, now_ms) + self._progress(m.slot, now_ms)

    def _on_proof(self, sender: int, proof: Proof, now_ms: int) -> list[Output]:
        a, b = proof.first, proof.second
        if (a.slot != b.slot or a.sender != b.sender or a.payload == b.payload
                or not self._valid(a) or not self._valid(b)):
            return [Blame(sender, "invalid proof of equivocation")]
        out = self._add_version(a, self.suite.hash_bytes(a.payload), now_ms)
        return out + self._add_version(b, self.suite.hash_bytes(b.payload), now_ms)

    def _add_version(self, m: Signed, digest: bytes, now_ms: int) -> list[Output]:
        """Keep a validly signed message; a second payload from its sender convicts it."""
        versions = self._slot(m.slot).versions.setdefault(m.sender, {})
        if digest in versions:
            return []
        versions[digest] = m
        if len(versions) < 2 or m.sender in self.disqualified:
            return []
        first, second = (versions[d] for d in sorted(versions)[:2])
        return self._convict(m.sender, m.slot, Proof(first, second), now_ms)

    def _convict(self, party: int, slot: int, proof: Proof, now_ms: int) -> list[Output]:
        self.disqualified[party] = slot
        late = self.slots[slot].phase == DONE
        out: list[Output] = [Equivocated(party, slot, late),
                             Out(tuple(j for j in self.others if j != party),
                                 codec.encode(proof))]
        for number, s in sorted(self.slots.items()):
            s.fetching = {k: v for k, v in s.fetching.items() if k[0] != party}
            out += self._progress(number, now_ms)
        return out

    # -- phases ------------------------------------------------------------------------------

    def _progress(self, slot: int, now_ms: int) -> list[Output]:
        """Move `slot` on as far as what has arrived allows."""
        s = self.slots[slot]
        if s.senders is None:
            return []
        if s.phase == RECV and s.senders - self.disqualified.keys() <= s.held.keys():
            return self._close_receive(slot, now_ms)
        if s.phase == ECHO and self._echoers(s) <= s.echoes.keys():
            return self._resolve(slot, now_ms)
        if s.phase == FETCH and not s.fetching:
            return self._deliver(slot)
        return []

    def _echoers(self, s: _Slot) -> set[int]:
        return set(self.others) - self.disqualified.keys() - s.absent

    def _close_receive(self, slot: int, now_ms: int) -> list[Output]:
        s = self.slots[slot]
        s.absent = frozenset((s.senders or frozenset()) - s.held.keys())
        if not self.echo:
            s.phase = FETCH
            return self._deliver(slot)
        s.phase = ECHO
        senders = sorted(j for j in s.held if j not in self.disqualified)
        echo = Echo(slot, senders, [s.held[j] for j in senders])
        return [Out(self.others, codec.encode(echo)),
                Timer(self._timer(slot, ECHO), now_ms + self.round_ms),
                *self._progress(slot, now_ms)]

    def _resolve(self, slot: int, now_ms: int) -> list[Output]:
        """Fetch the signed copies behind digests that differ from this party's view."""
        s = self.slots[slot]
        s.phase = FETCH
        seen: dict[int, dict[bytes, int]] = {}  # sender -> digest -> first echoer
        for echoer, view in sorted(s.echoes.items()):
            for j, digest in view.items():
                seen.setdefault(j, {}).setdefault(digest, echoer)
        for j, by_digest in sorted(seen.items()):
            have = s.versions.get(j, {})
            if j in self.disqualified or len(have) > 1:
                continue
            missing = sorted(d for d in by_digest if d not in have)
            if j in s.held:
                missing = missing[:1]  # one different signed copy is a proof
            for digest in missing:
                s.fetching[(j, digest)] = by_digest[digest]
        out: list[Output] = [
            Out((asked,), codec.encode(Fetch(slot, j, digest)))
            for (j, digest), asked in sorted(s.fetching.items())]
        if s.fetching:
            out.append(Timer(self._timer(slot, FETCH), now_ms + self.round_ms))
        return out + self._progress(slot, now_ms)

    def _deliver(self, slot: int) -> list[Output]:
        s = self.slots[slot]
        s.phase = DONE
        echoed = {(j, d) for view in s.echoes.values() for j, d in view.items()}
        messages: dict[int, bytes] = {}
        direct: dict[int, bytes] = {}
        for j, versions in sorted(s.versions.items()):
            if j in self.disqualified or len(versions) != 1:
                continue
            digest, signed = next(iter(versions.items()))
            if s.held.get(j) == digest:
                messages[j], direct[j] = signed.payload, s.direct.get(j, b"")
            elif (j, digest) in echoed:  # a post that missed this party, echoed by another
                messages[j], direct[j] = signed.payload, b""
        return [Delivered(slot, messages, direct)]

    def _slot(self, slot: int) -> _Slot:
        return self.slots.setdefault(slot, _Slot())

    def _timer(self, slot: int, phase: str) -> str:
        return f"{self.prefix}{slot}/{phase}"


def carry(core: MpcCore, session: bytes, outputs: Iterable[Output],
          delivered: Callable[[Delivered], list[Action]]) -> list[Action]:
    """Turn a layer's outputs into `core`'s actions: envelopes of `session`, timers, fault
    counts; a delivered slot goes to `delivered`, whose actions come in its place."""
    actions: list[Action] = []
    for o in outputs:
        if isinstance(o, Out):
            if len(o.to) == 1:
                actions.append(core.send(o.to[0], session, o.data))
            elif o.to:
                actions.append(core.broadcast(o.to, session, o.data))
        elif isinstance(o, Timer):
            actions.append(core.timer(o.name, o.at_ms))
        elif isinstance(o, Blame | Equivocated):
            core.fault(o.party)
        else:
            actions += delivered(o)
    return actions
