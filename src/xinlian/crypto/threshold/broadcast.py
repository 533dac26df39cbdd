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
3. echo: it sends every other member the senders of the posts it accepted, one hash over
   their digests, and the members it holds a proof against, and waits for the echoes of
   the others (not of expected senders that did not post to it: an honest one always
   does). Only to a member whose hash differs does it send the digests themselves (n per
   echo: O(n^2) digests per party and round at worst, never whole messages);
4. resolve: for a digest that differs from its own post of that sender, or a post it does
   not have, it fetches the signed copy from every member that echoed that digest; for a
   member an echo lists as convicted, it asks that echoer for the proof (`Why`). Two
   validly signed different payloads of one sender for one slot are a transferable proof
   of equivocation: the sender is disqualified (nothing it sends counts any more) and the
   proof goes to every member, who checks it before acting on it;
5. deliver: the posts it holds, plus the fetched copy of an echoed post it missed, minus
   disqualified senders, go to the protocol.

This is Reiter's echo broadcast (1994) / the consistent broadcast of Cachin, Kursawe,
Petzold and Shoup (2001) with the echo done all-to-all on digests, in the style of the
"broadcast with abort" of Goldwasser and Lindell (2005), but with identification instead of
abort: signatures make an equivocation provable to third parties, so honest members exclude
the equivocator and continue. Guarantees and limits: docs/crypto/cli.md ("Consistent
broadcast"). Sans-I/O: methods take the time and return outputs (`Out`, `Timer`,
`Delivered`, `Blame`, `Equivocated`); the adapter sends, sets timers and feeds events.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.crypto.keys import PublicKey, Signature
from xinlian.crypto.primitives.groups import transcript
from xinlian.crypto.signing import SigningKey, verify
from xinlian.crypto.suites import Suite, get_suite
from xinlian.crypto.threshold.envelope import MpcCore
from xinlian.protocol import Action

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
    """What a member accepted in a slot: the senders, the hash of their digests (`view`)
    and, in the full form only, the digests themselves; and the members it holds a proof
    of equivocation against. The compact form (no digests) is what goes to everyone; a
    member whose own view differs asks for the full one (`Detail`)."""

    slot: int
    senders: list[int]
    view: Annotated[bytes, codec.exactly(DIGEST)]
    digests: list[Annotated[bytes, codec.exactly(DIGEST)]]
    convicted: list[int]


class Fetch(codec.Struct, tag=103):
    """Asks the member that echoed `digest` for `sender`'s signed message."""

    slot: int
    sender: int
    digest: Annotated[bytes, codec.exactly(DIGEST)]


class Copy(codec.Struct, tag=104):
    message: Signed


class Why(codec.Struct, tag=106):
    """Asks a member that echoed `sender` as convicted for its proof."""

    sender: int


class Proof(codec.Struct, tag=105):
    """Two different payloads signed by one sender for one slot."""

    first: Signed
    second: Signed


class Detail(codec.Struct, tag=107):
    """Asks a member for the full form of its echo of `slot`."""

    slot: int


Wire = Post | Echo | Fetch | Copy | Proof | Why | Detail


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
PROOF = b""  # in a slot's outstanding requests: a proof asked for with `Why`


@dataclass
class _Slot:
    senders: frozenset[int] | None = None  # who must post (None: the slot is not open yet)
    opened_ms: int = 0
    phase: str = RECV
    held: dict[int, bytes] = field(default_factory=dict)  # sender -> digest accepted
    direct: dict[int, bytes] = field(default_factory=dict)
    versions: dict[int, dict[bytes, Signed]] = field(default_factory=dict)
    inband: set[tuple[int, bytes]] = field(default_factory=set)  # held or fetched versions
    echoes: dict[int, dict[int, bytes]] = field(default_factory=dict)  # echoer -> view
    convicted: dict[int, list[int]] = field(default_factory=dict)  # echoer -> its convicts
    compact: dict[int, Echo] = field(default_factory=dict)  # echoes not yet compared
    detailed: set[int] = field(default_factory=set)  # echoers asked for their full echo
    full_echo: Echo | None = None  # this party's, for those who ask
    absent: frozenset[int] = frozenset()  # expected senders with no post at close
    fetching: dict[tuple[int, bytes], set[int]] = field(default_factory=dict)  # -> asked


class ConsistentBroadcast:
    """One party's consistent broadcast for one session of one protocol.

    `members`: every party of the session (all post, echo and resolve among themselves);
    `keys`: their public signing keys; `key`: this party's signing key. `open(slot,
    senders)` starts a slot's receive phase once this party has reached it; `send(slot,
    payload)` posts this party's message. With `echo=False` a slot is delivered when its
    receive phase ends (signed point-to-point broadcast, for measuring what the echo costs).

    When a conviction takes effect decides consistency. A proof found from what the echoes
    show (a held post against a fetched copy of an echoed digest, or a proof fetched from an
    echoer that lists the sender as convicted) excludes the sender from the current slot:
    every honest member sees the same honest echoes. A proof from anything else (a second
    or late post to this party alone, a proof sent unasked) is pending: it takes effect when
    this party next closes a receive phase, and that slot's echo lists the sender as
    convicted, so that every honest member fetches the proof and excludes it from the same
    slot on.
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
        self.disqualified: dict[int, int] = {}  # equivocator -> slot of the proof (in effect)
        self.pending: dict[int, int] = {}  # proven, in effect from the next receive close
        self.proofs: dict[int, Proof] = {}
        self._answered: set[tuple[int, int, int, bytes]] = set()

    @property
    def equivocators(self) -> list[int]:
        """Every member this party holds a proof against (in effect or pending)."""
        return sorted(self.proofs)

    # -- events from the adapter ----------------------------------------------------------

    def send(self, slot: int, payload: bytes, now_ms: int,
             direct: Mapping[int, bytes] | None = None) -> list[Output]:
        """Sign and post this party's message for `slot` (private parts per recipient)."""
        signed = sign(self.key, self.suite, self.protocol, self.session, slot, self.me, payload)
        s = self._slot(slot)
        digest = self.suite.hash_bytes(payload)
        s.versions.setdefault(self.me, {})[digest] = signed
        s.inband.add((self.me, digest))
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
        s.opened_ms = now_ms
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
        if isinstance(msg, Why):
            proof = self.proofs.get(msg.sender)
            return [Out((sender,), codec.encode(proof))] if proof is not None else []
        if isinstance(msg, Detail):
            s = self.slots.get(msg.slot)
            echo = s.full_echo if s is not None else None
            if echo is None or (sender, msg.slot, -1, b"") in self._answered:
                return []
            self._answered.add((sender, msg.slot, -1, b""))
            return [Out((sender,), codec.encode(echo))]
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
        inband = s.phase == RECV and sender not in s.held
        if inband:
            s.held[sender] = digest
            s.direct[sender] = post.direct
        return self._add_version(m, digest, inband, now_ms) + self._progress(m.slot, now_ms)

    def _on_echo(self, sender: int, echo: Echo, now_ms: int) -> list[Output]:
        full = bool(echo.digests)
        if (not 0 <= echo.slot < MAX_SLOTS or echo.senders != sorted(set(echo.senders))
                or not set(echo.senders) <= self.members
                or echo.convicted != sorted(set(echo.convicted))
                or not set(echo.convicted) <= self.members
                or (full and (len(echo.digests) != len(echo.senders)
                              or self._view(echo.senders, echo.digests) != echo.view))):
            return [Blame(sender, "malformed echo")]
        s = self._slot(echo.slot)
        if sender in s.echoes or (not full and (sender in s.compact or sender in s.detailed)):
            return []  # one echo per member and slot (and its full form, if asked for)
        s.convicted.setdefault(sender, echo.convicted)
        if full:
            s.echoes[sender] = dict(zip(echo.senders, echo.digests, strict=True))
        else:
            s.compact[sender] = echo
        out = self._compare(s) if s.phase != RECV else []
        if s.phase == ECHO:
            out += self._fetch(echo.slot, self._conflicts(s))
        return out + self._progress(echo.slot, now_ms)

    def _view(self, senders: list[int], digests: list[bytes]) -> bytes:
        return self.suite.hash_bytes(codec.encode([senders, digests]))

    def _compare(self, s: _Slot) -> list[Output]:
        """Compact echoes equal to this party's own view count as that view; for the others
        it asks for the full echo."""
        mine, out = s.full_echo, list[Output]()
        if mine is None:  # no echo phase here (echo=False)
            return []
        for k, echo in sorted(s.compact.items()):
            if k in self.proofs:
                continue  # a convicted member's echo is not used
            if (echo.senders, echo.view) == (mine.senders, mine.view):
                s.echoes[k] = dict(zip(mine.senders, mine.digests, strict=True))
            else:
                s.detailed.add(k)
                out.append(Out((k,), codec.encode(Detail(echo.slot))))
        s.compact.clear()
        return out

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
        asked = s.fetching.pop((m.sender, digest), None) is not None
        return self._add_version(m, digest, asked, now_ms) + self._progress(m.slot, now_ms)

    def _on_proof(self, sender: int, proof: Proof, now_ms: int) -> list[Output]:
        a, b = proof.first, proof.second
        if (a.slot != b.slot or a.sender != b.sender or a.payload == b.payload
                or not self._valid(a) or not self._valid(b)):
            return [Blame(sender, "invalid proof of equivocation")]
        party = a.sender
        asked = any((party, PROOF) in s.fetching for s in self.slots.values())
        if party in self.disqualified or (party in self.pending and not asked):
            return []
        return self._convict(party, a.slot, proof, asked, now_ms)

    def _add_version(self, m: Signed, digest: bytes, inband: bool,
                     now_ms: int) -> list[Output]:
        """Keep a validly signed message; a second payload from its sender convicts it."""
        s = self._slot(m.slot)
        j = m.sender
        versions = s.versions.setdefault(j, {})
        if digest not in versions:
            if j in self.proofs and not inband and digest != s.held.get(j):
                return []  # a convicted sender's further versions are not kept
            versions[digest] = m
        if inband:
            s.inband.add((j, digest))
        if len(versions) < 2 or j in self.disqualified:
            return []
        firm = [d for d in sorted(versions) if (j, d) in s.inband]
        if len(firm) >= 2:
            return self._convict(j, m.slot, Proof(versions[firm[0]], versions[firm[1]]), True,
                                 now_ms)
        if j in self.pending:
            return []
        first, second = (versions[d] for d in sorted(versions)[:2])
        return self._convict(j, m.slot, Proof(first, second), False, now_ms)

    def _convict(self, party: int, slot: int, proof: Proof, now: bool,
                 now_ms: int) -> list[Output]:
        """Record a proof against `party` and send it to everyone; `now`: exclude it from
        the current slot on (the proof follows from what the echoes show), else from the
        next slot this party closes."""
        self.proofs.setdefault(party, proof)
        out: list[Output] = [Out(tuple(j for j in self.others if j != party),
                                 codec.encode(proof))]
        if not now:
            self.pending[party] = slot
            return out
        out.append(self._take_effect(party, slot))
        for number, s in sorted(self.slots.items()):
            if s.phase in (ECHO, FETCH):  # ask the others what the convicted one was asked
                out += self._fetch(number, self._conflicts(s) + (
                    self._missing(s) if s.phase == FETCH else []))
            out += self._progress(number, now_ms)
        return out

    def _take_effect(self, party: int, slot: int) -> Equivocated:
        """Exclude `party` from now on (nothing more is asked of or about it)."""
        self.pending.pop(party, None)
        self.disqualified[party] = slot
        for s in self.slots.values():
            s.fetching = {k: asked - {party} for k, asked in s.fetching.items()
                          if k[0] != party and asked - {party}}
        proven = self.slots.get(slot)
        return Equivocated(party, slot, proven is not None and proven.phase == DONE)

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
        return set(self.others) - self.proofs.keys() - s.absent

    def _trusted_echoes(self, s: _Slot) -> list[tuple[int, dict[int, bytes]]]:
        """The echoes of the slot, but none from a proven equivocator."""
        return [(k, view) for k, view in sorted(s.echoes.items()) if k not in self.proofs]

    def _close_receive(self, slot: int, now_ms: int) -> list[Output]:
        s = self.slots[slot]
        s.absent = frozenset((s.senders or frozenset()) - s.held.keys())
        s.phase = ECHO
        out: list[Output] = [self._take_effect(party, proven)
                             for party, proven in sorted(self.pending.items())]
        if not self.echo:
            s.phase = FETCH
            return out + self._deliver(slot)
        # A convicted sender is named in `convicted` instead (others fetch the proof), so that
        # the honest members' views still agree and compact echoes stay compact.
        senders = sorted(j for j in s.held if j not in self.disqualified)
        digests = [s.held[j] for j in senders]
        view = self._view(senders, digests)
        s.full_echo = Echo(slot, senders, view, digests, sorted(self.disqualified))
        compact = Echo(slot, senders, view, [], sorted(self.disqualified))
        # Others may wait out their whole receive phase before they echo.
        echo_deadline = max(now_ms, s.opened_ms + self.round_ms) + self.round_ms
        return [*out, Out(self.others, codec.encode(compact)),
                Timer(self._timer(slot, ECHO), echo_deadline), *self._compare(s),
                *self._fetch(slot, self._conflicts(s)),
                *self._progress(slot, now_ms)]

    def _conflicts(self, s: _Slot) -> list[tuple[int, bytes, int]]:
        """(sender, digest, echoer): an echoed digest of a sender whose post this party holds
        with another digest, and (sender, PROOF, echoer) for a member the echoer says it has
        convicted. Fetched at once, so that an equivocator's own echo is not waited for, and
        from every echoer that reported it, so that one that does not answer cannot stop
        this party from seeing what the honest echoers show."""
        out = []
        for echoer, view in self._trusted_echoes(s):
            for j, digest in view.items():
                if j in s.held and digest != s.held[j] and j not in self.disqualified:
                    out.append((j, digest, echoer))
            out += [(j, PROOF, echoer) for j in s.convicted.get(echoer, ())
                    if j not in self.disqualified and j != self.me]
        return out

    def _fetch(self, slot: int, wanted: Iterable[tuple[int, bytes, int]]) -> list[Output]:
        """Ask for signed copies (or proofs) not yet in hand or asked for."""
        s = self.slots[slot]
        out: list[Output] = []
        for j, digest, echoer in wanted:
            asked = s.fetching.setdefault((j, digest), set())
            if (j, digest) in s.inband or j in self.disqualified or echoer in asked:
                if not asked:
                    del s.fetching[(j, digest)]
                continue
            asked.add(echoer)
            ask = Why(j) if digest == PROOF else Fetch(slot, j, digest)
            out.append(Out((echoer,), codec.encode(ask)))
        return out

    def _resolve(self, slot: int, now_ms: int) -> list[Output]:
        """Fetch the signed copies behind digests that differ from this party's view, or
        that it has no post for."""
        s = self.slots[slot]
        s.phase = FETCH
        out = self._fetch(slot, self._conflicts(s) + self._missing(s))
        if s.fetching:
            out.append(Timer(self._timer(slot, FETCH), now_ms + self.round_ms))
        return out + self._progress(slot, now_ms)

    def _missing(self, s: _Slot) -> list[tuple[int, bytes, int]]:
        """(sender, digest, echoer) for the echoed posts this party did not get."""
        return [(j, digest, echoer) for echoer, view in self._trusted_echoes(s)
                for j, digest in view.items() if j not in s.held]

    def _deliver(self, slot: int) -> list[Output]:
        """The held posts, and for a sender without one the fetched copy of the digest the
        echoes show, minus the senders excluded."""
        s = self.slots[slot]
        s.phase = DONE
        echoed = {(j, d) for _, view in self._trusted_echoes(s) for j, d in view.items()}
        messages: dict[int, bytes] = {}
        direct: dict[int, bytes] = {}
        for j, versions in sorted(s.versions.items()):
            if j in self.disqualified:
                continue
            if j in s.held:
                messages[j] = versions[s.held[j]].payload
                direct[j] = s.direct.get(j, b"")
                continue
            adopted = [d for d in sorted(versions) if (j, d) in echoed and (j, d) in s.inband]
            if len(adopted) == 1:  # a post that missed this party, echoed by another
                messages[j], direct[j] = versions[adopted[0]].payload, b""
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
