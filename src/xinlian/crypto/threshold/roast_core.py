"""ROAST (robust FROST) as messages between a coordinator (party 0) and n signers.

The crypto package's `RoastCoordinator` and `RoastSigner` are already sans-I/O; this
module only carries their bytes in envelopes. The coordinator never waits on a timer:
signing finishes as soon as t honest signers have answered one session, whatever the
others do. Misbehaving signers are the crypto package's own attacker classes
(`xinlian.crypto.threshold.roast_sim.SIGNER_CLASSES`): silent after announcing nonces, absent,
invalid shares, invalid nonce points, replays. Those whose messages fail verification are
identified; silent ones cannot be told from slow ones and are simply never waited for.
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

    def on_start(self, now_ms: int) -> list[Action]:
        if isinstance(self.party, roast.RoastSigner):
            return self._translate(self.party.start())
        return []

    def on_payload(self, now_ms: int, sender: int, session: bytes,
                   payload: bytes) -> list[Action]:
        return self._translate(self.party.receive(sender, payload))

    def _translate(self, actions: Sequence[roast.Action]) -> list[Action]:
        out: list[Action] = []
        for a in actions:
            if isinstance(a, roast.Send):
                out.append(self.send(a.to, self.run, a.data))
            elif isinstance(a, roast.Fault):
                self.fault(a.party)
            elif isinstance(a, roast.Completed):
                assert isinstance(self.party, roast.RoastCoordinator)
                out.append(self.deliver("coordinator", ok=True, signature=a.signature.encode()
                                        .hex(), session=a.session,
                                        group_key=self.party.public.group_public_key.encode()
                                        .hex(),
                                        sessions_started=a.sessions_started,
                                        malicious=list(a.malicious)))
            else:
                assert isinstance(self.party, roast.RoastCoordinator)
                out.append(self.deliver("coordinator", ok=False, error=a.error.to_dict(),
                                        group_key=self.party.public.group_public_key.encode()
                                        .hex(),
                                        sessions_started=len(self.party.sessions),
                                        malicious=sorted(self.party.malicious)))
        return out
