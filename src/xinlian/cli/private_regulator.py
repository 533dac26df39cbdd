"""`xinlian private regulator keygen|propose`: the regulator's threshold key for confidential
transfers (docs/privacy.md, "Confidential transfers").

`keygen` runs the DKG of crypto/threshold/dkg.py (Pedersen VSS by every member, complaints,
disqualification; no dealer ever holds the key) with every member's party in this one
process, each drawing its secrets from the OS CSPRNG, and writes one key-share file per
member (mode 0600) and the public regulator file. Running every party in one process means
the operator who runs it sees every share: it suits one organisation's regulator desk, or
trying the feature. Members in different organisations must each run their own party
over the network (the exchange `xinlian crypto dkg --mode processes` runs); that path does
not write key files yet. `propose` submits the public file as a governance proposal
(SetRegulator); admins of the other organisations approve it with
`xinlian validator approve --proposal`.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Sequence

from xinlian.crypto.primitives.groups import Group, Rng
from xinlian.crypto.threshold.dkg import DkgAbortedError, DkgConfig, DkgParty, KeyShare


def run_dkg(group: Group, members: Sequence[int], threshold: int,
            rng: Rng = os.urandom) -> list[KeyShare]:
    """Every member's key share from one DKG keygen run with all parties in this process:
    each broadcast goes to every other party; a round ends when no message is in flight."""
    encryption = {i: group.random_scalar(rng) for i in members}
    config = DkgConfig.keygen(group, rng(16), members, threshold,
                              {i: group.base_mul(e) for i, e in encryption.items()})
    parties = {i: DkgParty(config, i, encryption[i], rng=rng) for i in members}
    flight: deque[tuple[int, bytes]] = deque(
        (i, m) for i, p in parties.items() for m in p.start())
    while not all(p.done for p in parties.values()):
        if not flight:  # the round's messages are all in: close it everywhere
            flight.extend((i, m) for i, p in parties.items() for m in p.timeout())
            if not flight and not all(p.done for p in parties.values()):
                raise DkgAbortedError("the DKG stalled")
            continue
        sender, message = flight.popleft()
        for i, p in parties.items():
            if i != sender:
                flight.extend((i, m) for m in p.receive(sender, message))
    shares = []
    for i, p in parties.items():
        if p.result is None or p.result.key_share is None:
            raise DkgAbortedError(f"member {i}: {p.error}")
        shares.append(p.result.key_share)
    if len({s.public.group_public_key for s in shares}) != 1:
        raise DkgAbortedError("members ended with different keys")
    return shares
