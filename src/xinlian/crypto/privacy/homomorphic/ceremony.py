"""An aggregate key from the DKG keygen (crypto/threshold/dkg.py: deals, complaints,
proofs of knowledge), two ways.

- `local_keygen`: every member's party in this one process, each drawing its own
  encryption key, polynomial and nonces from `rng`, messages handed to every other party
  as a reliable broadcast would. For one operator, trials and tests: the process sees
  every share.
- `member_step`: one member's party, run by that member alone, over messages the members
  exchange as files (`xinlian private agg dkg-*`). A member keeps only a secret seed and
  its encryption secret; each step rebuilds its party from them and replays the messages
  of the finished rounds (the party draws from a generator seeded by the seed, so the
  replay is the same run), then posts its next message or, at the end, its key share.
  Rounds close when every member's message is in: a silent member holds the ceremony up
  (the network runtime's `DkgCore` closes rounds on deadlines instead). The exchange must
  show every member the same files (the DKG assumes a broadcast): post them on the chain.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from xinlian import codec
from xinlian.codec import CodecError
from xinlian.crypto.primitives.groups import Group, Rng, Scalar
from xinlian.crypto.privacy.homomorphic.counter_rng import counter_rng
from xinlian.crypto.threshold.dkg import (
    Deal,
    DkgAbortedError,
    DkgConfig,
    DkgError,
    DkgParty,
    KeyShare,
    Message,
)

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


def seeded_rng(seed: bytes) -> Rng:
    """A member's party's randomness from its 32-byte secret seed: the same polynomial and
    nonces at every replay."""
    if len(seed) != 32:
        raise DkgError("a member's seed is 32 bytes")
    return counter_rng(seed)


def message_round(data: bytes) -> int:
    """The round of a DKG message: 1 for a deal, its own for complaints."""
    try:
        msg = codec.decode(data, Message)
    except CodecError as exc:
        raise DkgError(f"not a DKG message: {exc.message}") from None
    return 1 if isinstance(msg, Deal) else msg.round


@dataclass(frozen=True)
class Step:
    """Where one member's party stands: its message of each round so far, the round it is
    in and the members whose messages of that round are missing; or its key share."""

    posted: dict[int, bytes]
    round: int
    waiting: list[int]
    share: KeyShare | None


def member_step(config: DkgConfig, me: int, encryption_secret: Scalar, seed: bytes,
                messages: Mapping[tuple[int, int], bytes]) -> Step:
    """Member `me`'s party replayed over `messages` ((round, member) -> bytes)."""
    party = DkgParty(config, me, encryption_secret, rng=seeded_rng(seed))
    posted: dict[int, bytes] = {}

    def post(out: list[bytes]) -> None:
        for data in out:
            posted[message_round(data)] = data

    post(party.start())
    members = config.receivers
    while not party.done:
        current = party.round
        given = posted.get(current)
        if given is not None and messages.get((current, me), given) != given:
            raise DkgError(f"round {current}: the posted message is not this member's replay "
                           "(another seed or roster?)")
        waiting = [j for j in members if j != me and (current, j) not in messages]
        if waiting:
            return Step(posted, current, waiting, None)
        for j in members:
            if j != me:
                post(party.receive(j, messages[(current, j)]))
        if not party.done and party.round == current:
            raise DkgError(f"round {current} did not close with every member's message")
    if party.error is not None:
        raise party.error
    assert party.result is not None
    return Step(posted, party.round, [], party.result.key_share)
