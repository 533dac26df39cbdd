"""Leader election: reputation from committed history (after DiemBFT v4 / Aptos "proposer
and voter"), round-robin until an epoch has history.

Plain round-robin keeps handing turns to a crashed member, and each of its turns costs two
timed-out rounds (the round before it, whose votes go to it, and its own). Reputation elects
from the members that recently did their job instead:

- The input for round r is the committed chain of the epoch, cut at round r - EXCLUDE: the
  last `window` committed blocks whose round is at most r - `exclude_rounds`. Committed
  blocks are the same on every honest node, and the cut keeps the input behind the commits a
  node holds when it needs the leader (in the steady state a node in round r has committed
  round r - 2, and it takes a proposal's QC before checking its author), so honest nodes
  compute the same leader. A node that lags elects from less history for a while, and may
  refuse a proposal until the QCs it receives commit what it lacks.
- A member is active if in that window it authored a committed block or signed the QC that a
  committed block carries. A crashed member does neither, so it drops out within `window`
  commits; a member back from a crash is active again once its votes reach a committed QC.
- The leader of round r is the active member at (r + epoch) mod |active|, in committee order:
  turns rotate among the active members (power weighs quorums, not turns). While the window
  still shows a crashed member this is round-robin over the active set, never worse than
  plain round-robin (a crashed member still leaves n - 1 rounds in a row to the others, and
  the rounds after it commit, which is what moves the window); a hashed draw per round would
  give it runs of turns that stall the commits the window needs.
- Until the epoch has a committed block at or below r - `exclude_rounds` the rotation is
  over the whole committee; history never crosses an epoch (the committee changes).

Safety never depends on the leader (the voting rules do not look at it); a disagreement on a
round's leader only costs that round, and ends once the nodes hold the same commits.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from xinlian.consensus.blocks import BlockTree
from xinlian.consensus.committee import Committee, signers
from xinlian.consensus.messages import Block


@dataclass(frozen=True)
class Reputation:
    """Election parameters; `window` 0 means the committee size (blocks looked at)."""

    enabled: bool = True
    window: int = 0
    exclude_rounds: int = 4


class Activity(NamedTuple):
    """What one committed block shows: its round, its author and who certified its parent."""

    round: int
    author: int
    voters: tuple[int, ...]


def round_robin(committee: Committee, round_: int) -> bytes:
    return committee.nodes[(round_ + committee.epoch) % committee.n]


def activity(committee: Committee, block: Block) -> Activity:
    voters = () if block.justify.round == 0 else tuple(signers(block.justify.cert.signers,
                                                               committee.n))
    return Activity(block.round, block.author, voters)


def compute_active(committee: Committee, window: Iterable[Activity]) -> list[int]:
    """Members (by index, in committee order) that authored or certified a block in `window`."""
    active: set[int] = set()
    for record in window:
        active.add(record.author)
        active.update(record.voters)
    return sorted(active)


def compute_leader(committee: Committee, params: Reputation, round_: int,
                   history: Iterable[Activity]) -> bytes:
    """The leader of `round_` from the epoch's committed history (oldest first): the pure
    election rule that `Election` evaluates incrementally."""
    if not params.enabled:
        return round_robin(committee, round_)
    size = params.window or committee.n
    window = [a for a in history if a.round <= round_ - params.exclude_rounds][-size:]
    active = compute_active(committee, window)
    if not active:
        return round_robin(committee, round_)
    return committee.nodes[active[(round_ + committee.epoch) % len(active)]]


class Election:
    """The leader of each round of one epoch, from the activity of its committed blocks.

    Holds the last `window + exclude_rounds + slack` committed blocks' activity; a round so
    old that its window has been dropped gets the round-robin leader (only stale messages
    ask for one)."""

    SLACK = 64

    def __init__(self, committee: Committee, params: Reputation) -> None:
        self.committee = committee
        self.params = params
        self.window = params.window or committee.n
        self.history: deque[Activity] = deque(
            maxlen=self.window + params.exclude_rounds + self.SLACK)
        self.truncated = False  # older blocks of the epoch were dropped from `history`
        self._memo: dict[int, bytes] = {}

    @classmethod
    def restore(cls, committee: Committee, params: Reputation, tree: BlockTree, committed: bytes,
                root: bytes) -> Election:
        """Rebuild from the stored block tree: walk from the committed block down to the
        epoch's root (or as far as the history is kept)."""
        election = cls(committee, params)
        chain: list[Block] = []
        current = committed
        while current != root and len(chain) < (election.history.maxlen or 0):
            block = tree.get(current)
            if block is None or block.epoch != committee.epoch:
                break
            chain.append(block)
            current = bytes(block.parent)
        for block in reversed(chain):
            election.observe(block)
        election.truncated = current != root and len(chain) == election.history.maxlen
        return election

    def observe(self, block: Block) -> None:
        """A block of this epoch committed (in chain order)."""
        self.truncated |= len(self.history) == self.history.maxlen
        self.history.append(activity(self.committee, block))
        self._memo.clear()

    def leader(self, round_: int) -> bytes:
        found = self._memo.get(round_)
        if found is None:
            found = compute_leader(self.committee, self.params, round_, self._usable(round_))
            if len(self._memo) > 256:
                self._memo.clear()
            self._memo[round_] = found
        return found

    def _usable(self, round_: int) -> Iterable[Activity]:
        """The history, or none when the window of `round_` reaches past what was dropped."""
        if self.truncated:
            cut = round_ - self.params.exclude_rounds
            if sum(1 for a in self.history if a.round <= cut) < self.window:
                return ()
        return self.history
