"""Threshold BLS: n signers send partial signatures to a combiner (party 0).

Signing is non-interactive: each signer signs the agreed message with its share and sends
the partial to the combiner. The combiner waits for every signer or the round deadline,
then combines what arrived in signer order (`tbls.combine`: one optimistic verification,
and on failure a per-partial check that names the signers whose partials are invalid).
The combined signature is checked with blspy's standard BLS verification under the group
key. Keys come from a trusted dealer (`tbls.deal`) seeded by the run seed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from xinlian import codec
from xinlian.crypto.threshold import tbls
from xinlian.crypto.threshold.envelope import Collector, MpcCore
from xinlian.protocol import Action, NodeId

COMBINER = 0


class TblsSigner(MpcCore):
    protocol = "tbls"

    def __init__(self, me: int, roster: Mapping[int, NodeId], share: tbls.KeyShare,
                 session: bytes, message: bytes) -> None:
        super().__init__(me, roster, [session])
        self.share = share
        self.session = session
        self.message = message

    def on_start(self, now_ms: int) -> list[Action]:
        partial = tbls.sign_share(self.share, self.message)
        return [self.send(COMBINER, self.session, codec.encode(partial))]


class TblsCombiner(Collector):
    protocol = "tbls"

    def __init__(self, me: int, roster: Mapping[int, NodeId], key_set: tbls.PublicKeySet,
                 session: bytes, message: bytes, round_ms: int) -> None:
        super().__init__(me, roster, [session], round_ms)
        self.key_set = key_set
        self.message = message
        self.partials: dict[int, tbls.PartialSignature] = {}
        self.done = False

    def on_payload(self, now_ms: int, sender: int, session: bytes,
                   payload: bytes) -> list[Action]:
        partial = self.decode_from(sender, payload, tbls.PartialSignature)
        if partial is None:
            return []
        if self.done or partial.index != sender or sender in self.partials:
            self.fault(sender)
            return []
        self.partials[sender] = partial
        return self._combine() if len(self.partials) == self.key_set.n else []

    def on_timer(self, now_ms: int, name: str) -> list[Action]:
        return [] if self.done else self._combine()

    def _combine(self) -> list[Action]:
        self.done = True
        received = [self.partials[i] for i in sorted(self.partials)]
        try:
            combined = tbls.combine(self.key_set, self.message, received)
        except tbls.NotEnoughPartialsError as exc:
            return [self._report(ok=False, received=len(received),
                                 culprits=list(exc.culprits), error=exc.message)]
        return [self._report(ok=True, received=len(received),
                             culprits=list(combined.culprits),
                             signature=bytes(combined.signature).hex())]

    def _report(self, **result: Any) -> Action:
        return self.deliver("combiner", group_key=bytes(self.key_set.group_key).hex(), **result)
