"""Keys from the DKG, then a signing protocol with them: no trusted dealer anywhere.

`AfterDkg` runs a party's DKG core (keygen among the members 1..n) and, once the DKG has
given this party its key share, builds and starts the signing core from it. A party that
is not a member (the coordinator or combiner, party 0) learns the group's public key
package from the members, each of which sends it after its keygen: it accepts the package
that a majority of the members sent. Messages of the signing protocol that arrive before
a party has switched to it are kept and handed over at the switch. Envelopes go to the
core of the protocol they name, the DKG's "round" timer to the DKG core and every other
timer to the signing core; counters are summed over the cores.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.crypto.primitives.groups import Group, GroupError
from xinlian.crypto.threshold.dkg import DkgError, KeyShare, PublicKeyPackage
from xinlian.crypto.threshold.dkg_core import TIMERS, DkgCore
from xinlian.crypto.threshold.envelope import MpcCore, peek
from xinlian.protocol import Action, Core, Deliver, Event, NodeId, Receive, Start, Timeout

KEYS = b"keys"
Then = Callable[[PublicKeyPackage, KeyShare | None], Core]


class Package(codec.Struct):
    """A public key package on the wire, decoded against the run's own group (which may be
    one the crypto package's group registry does not list, such as BLS12-381 G1)."""

    members: list[int]
    commitment: list[bytes]

    @staticmethod
    def of(public: PublicKeyPackage) -> bytes:
        return codec.encode(Package(list(public.members),
                                    [c.encode() for c in public.commitment]))

    def to_public(self, group: Group) -> PublicKeyPackage:
        return PublicKeyPackage(group, len(self.commitment), tuple(self.members),
                                tuple(group.decode_element(c) for c in self.commitment))


class KeyHandover(MpcCore):
    """Members send the package they computed; a non-member takes the majority's."""

    protocol = "keys"

    def __init__(self, me: int, roster: Mapping[int, NodeId], members: Sequence[int],
                 group: Group) -> None:
        super().__init__(me, roster, [KEYS])
        self.members = set(members)
        self.group = group
        self.votes: dict[bytes, set[int]] = {}
        self.package: PublicKeyPackage | None = None

    def on_payload(self, now_ms: int, sender: int, session: bytes,
                   payload: bytes) -> list[Action]:
        if sender not in self.members or self.package is not None:
            self.fault(sender)
            return []
        voters = self.votes.setdefault(payload, set())
        voters.add(sender)
        if 2 * len(voters) > len(self.members):
            try:
                self.package = codec.decode(payload, Package).to_public(self.group)
            except (CodecError, GroupError, DkgError):
                return []
        return []


class AfterDkg:
    """The DKG (members) or the key handover (non-members), then the core `then` builds."""

    def __init__(self, me: int, roster: Mapping[int, NodeId], members: Sequence[int],
                 group: Group, keygen: DkgCore | None, protocol: str, then: Then,
                 recipients: Sequence[int] = ()) -> None:
        self.me = me
        self.roster = roster
        self.keygen = keygen
        self.handover = KeyHandover(me, roster, members, group)
        self.protocol = protocol
        self.then = then
        self.recipients = tuple(recipients)  # non-members that need the package
        self.signing: Core | None = None
        self.early: list[Receive] = []
        self.outcome: dict[str, Any] | None = None

    @property
    def dropped(self) -> Counter[str]:
        return sum((c.dropped for c in self._parts()), Counter())

    @property
    def faults(self) -> Counter[int]:
        return sum((c.faults for c in self._parts()), Counter())

    def _parts(self) -> list[MpcCore]:
        parts: list[MpcCore] = [self.handover]
        if self.keygen is not None:
            parts.append(self.keygen)
        if isinstance(self.signing, MpcCore):
            parts.append(self.signing)
        return parts

    def handle(self, event: Event) -> Sequence[Action]:
        if isinstance(event, Receive):
            env = peek(event.message)
            name = env.protocol if env is not None else ""
            if name == self.protocol:
                if self.signing is None:
                    self.early.append(event)
                    return []
                return self.signing.handle(event)
            if name == self.handover.protocol or self.keygen is None:
                self.handover.handle(event)  # counts anything else as a wrong protocol
                return self._maybe_switch(event.now_ms)
            return self._keygen(event)
        if (isinstance(event, Timeout) and not event.timer.startswith(TIMERS)
                and self.signing is not None):
            return self.signing.handle(event)
        if isinstance(event, Timeout | Start) and self.keygen is not None:
            return self._keygen(event)
        return []

    def _keygen(self, event: Event) -> list[Action]:
        assert self.keygen is not None
        actions = self.keygen.handle(event)
        return list(actions) if self.outcome is not None else self._from_keygen(event, actions)

    def _from_keygen(self, event: Event, actions: Sequence[Action]) -> list[Action]:
        now_ms = event.now_ms
        out: list[Action] = []
        for a in actions:
            if isinstance(a, Deliver):  # the DKG finished here: switch (or report failure)
                self.outcome = a.value
            else:
                out.append(a)
        assert self.keygen is not None
        if self.outcome is None:
            return out
        public = self.keygen.public
        if not self.outcome.get("ok") or public is None:
            self.signing = _Finished()
            return [*out, Deliver(self.outcome)]
        self.handover.package = public
        if self.recipients:
            out.append(self.handover.broadcast(self.recipients, KEYS, Package.of(public)))
        return out + self._switch(now_ms, public, self.keygen.share)

    def _maybe_switch(self, now_ms: int) -> list[Action]:
        if self.signing is not None or self.keygen is not None or self.handover.package is None:
            return []
        return self._switch(now_ms, self.handover.package, None)

    def _switch(self, now_ms: int, public: PublicKeyPackage,
                share: KeyShare | None) -> list[Action]:
        self.signing = self.then(public, share)
        out = list(self.signing.handle(Start(now_ms)))
        for event in self.early:
            out += self.signing.handle(Receive(now_ms, event.sender, event.message))
        self.early = []
        return out


class _Finished:
    """Stands in for the signing core of a party whose DKG failed: ignores everything."""

    def handle(self, event: Event) -> Sequence[Action]:
        return ()
