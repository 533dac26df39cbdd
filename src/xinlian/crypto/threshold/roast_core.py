"""ROAST (robust FROST) as a protocol core: a coordinator (party 0) and n signers.

`RoastParty` is the `xinlian.protocol.Core` of either role: it feeds the round logic of
`roast.RoastCoordinator` or `roast.RoastSigner` the envelopes it receives, sends what they
return, counts the faults they record and delivers the coordinator's outcome. The
coordinator never waits on a timer: signing finishes as soon as t honest signers have
answered one session, whatever the others do. Signers whose messages fail verification
are identified; silent ones cannot be told from slow ones and are simply never waited for.
(Misbehaving signers for tests and demos: `xinlian.testing.mpc.roast_run`.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from xinlian.crypto.threshold import roast
from xinlian.crypto.threshold.envelope import MpcCore
from xinlian.protocol import Action, NodeId


class RoastParty(MpcCore):
    """Either role: `party` is a RoastCoordinator (index 0) or a RoastSigner."""

    protocol = "roast"

    def __init__(self, me: int, roster: Mapping[int, NodeId],
                 party: roast.RoastCoordinator | roast.RoastSigner, run: bytes) -> None:
        super().__init__(me, roster, [run])
        self.party = party
        self.run = run
        self._faults_seen = 0
        self.delivered = False

    def on_start(self, now_ms: int) -> list[Action]:
        if isinstance(self.party, roast.RoastSigner):
            return self._send(self.party.start())
        return []

    def on_payload(self, now_ms: int, sender: int, session: bytes,
                   payload: bytes) -> list[Action]:
        return self._send(self.party.receive(sender, payload))

    def _send(self, outgoing: Sequence[roast.Outgoing]) -> list[Action]:
        """Send what the party asked for, count the faults it saw, deliver its outcome."""
        party = self.party
        for fault in party.faults[self._faults_seen:]:
            self.fault(fault.party)
        self._faults_seen = len(party.faults)
        out = [self.send(to, self.run, data) for to, data in outgoing]
        if isinstance(party, roast.RoastCoordinator) and party.done and not self.delivered:
            self.delivered = True
            key = party.public.group_public_key.encode().hex()
            if party.signature is not None:
                out.append(self.deliver("coordinator", ok=True,
                                        signature=party.signature.encode().hex(),
                                        session=party.signed_session, group_key=key,
                                        sessions_started=len(party.sessions),
                                        malicious=sorted(party.malicious)))
            else:
                assert party.error is not None
                out.append(self.deliver("coordinator", ok=False, error=party.error.to_dict(),
                                        group_key=key, sessions_started=len(party.sessions),
                                        malicious=sorted(party.malicious)))
        return out
