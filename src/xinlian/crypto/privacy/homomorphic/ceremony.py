"""An aggregate key from the DKG with every member's party in this one process: the real
keygen protocol (crypto/threshold/dkg.py: deals, complaints, proofs of knowledge), each
party drawing its own encryption key, polynomial and nonces from `rng`, messages handed
to every other party as a reliable broadcast would.

This is for one operator, trials and tests: the process sees every share. A consortium's
members each run their own party on their own machine (`DkgCore` over the network
runtime; `xinlian crypto dkg --mode processes` runs that exchange), and the key shares
never meet.
"""

from __future__ import annotations

import os
from collections import deque

from xinlian.crypto.primitives.groups import Group, Rng
from xinlian.crypto.threshold.dkg import DkgAbortedError, DkgConfig, DkgParty, KeyShare

#: Rounds after which a run that has not finished is abandoned (keygen takes 2, or one more
#: per complaint round; nothing here cheats, so more means a bug).
MAX_ROUNDS = 16


def local_keygen(group: Group, members: int, threshold: int, session: bytes,
                 rng: Rng = os.urandom) -> list[KeyShare]:
    """Run the DKG keygen among parties 1..members in this process; their key shares."""
    ids = list(range(1, members + 1))
    secrets = {i: group.random_scalar(rng) for i in ids}
    config = DkgConfig.keygen(group, session, ids, threshold,
                              {i: group.base_mul(s) for i, s in secrets.items()})
    parties = {i: DkgParty(config, i, secrets[i], rng=rng) for i in ids}
    queue: deque[tuple[int, bytes]] = deque()
    for i, party in parties.items():
        queue.extend((i, m) for m in party.start())
    for _ in range(MAX_ROUNDS):
        while queue:
            sender, message = queue.popleft()
            for i, party in parties.items():
                if i != sender:
                    queue.extend((i, m) for m in party.receive(sender, message))
        if all(p.done for p in parties.values()):
            break
        for i, party in parties.items():  # every message is in: close the round
            queue.extend((i, m) for m in party.timeout())
    shares = [p.result.key_share for p in parties.values()
              if p.result is not None and p.result.key_share is not None]
    if len(shares) != members:
        raise DkgAbortedError("the local keygen did not finish at every party")
    return shares
