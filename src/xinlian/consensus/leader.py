"""Leader election: reputation from committed history (after DiemBFT v4 / Aptos "proposer
and voter"), round-robin until an epoch has history.

Plain round-robin keeps handing turns to a crashed member, and each of its turns costs two
timed-out rounds (the round before it, whose votes go to it, and its own). Reputation elects
from the members that recently did their job instead:

- The input for round r is the committed chain of the epoch, cut at round r - EXCLUDE: the
  last `window` committed blocks whose round is at most r - `exclude_rounds`. Committed
  blocks are the same on every honest node, and the cut keeps the input behind the commits a
  node holds when it needs the leader, so honest nodes compute the same leader: the earliest
  need is a voter sending its vote on block r-1 to the leader of r, when it has taken the QC
  of r-2 from that block and so committed r-3 (hence at least 3), and a node takes a
  proposal's QC before checking its author. A node that lags elects from less history for a
  while, and may refuse a proposal until the QCs it receives commit what it lacks.
- Each committed block shows, in this order, who signed the QC it carries (on its parent),
  who led the rounds skipped between its parent and it (each is the leader this rule gave
  for that round: a pure function of the history before the block), and its author. A
  member is active if the latest thing the window shows of it is a vote or a block, not a
  failed round. A crashed member neither votes nor proposes: it drops out at the first
  commit after its first failed turn. An honest member whose round failed because the next
  leader was dead is active again at its next vote.
- The leader of round r is the active member at (r + epoch) mod |active|, in committee order:
  turns rotate among the active members (power weighs quorums, not turns).
- The window only moves when blocks commit, and a rotation over a window that still shows a
  crashed member may never commit (three members, one dead: no two rounds in a row both
  certify). So when the newest block at the cut is more than `stale_rounds` rounds old, the
  leader is the round-robin one, which always leaves some three honest rounds in a row
  (f crashed members split the n-cycle into f runs that hold 2f+1 honest turns) and so
  commits, and the window moves on. Until the epoch has a committed block at or below the
  cut, too, the leader is the round-robin one; history never crosses an epoch.

Safety never depends on the leader (the voting rules do not look at it); a disagreement on a
round's leader only costs that round, and ends once the nodes hold the same commits.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from xinlian.consensus.blocks import BlockTree
from xinlian.consensus.committee import Committee, signers
from xinlian.consensus.messages import Block


@dataclass(frozen=True)
class Reputation:
    """Election parameters; `window` 0 means the committee size (committed blocks looked
    at), `stale_rounds` 0 means the committee size too."""

    enabled: bool = True
    window: int = 0
    exclude_rounds: int = 3
    stale_rounds: int = 0


class Activity(NamedTuple):
    """What one committed block shows of the members, in the order it happened."""

    round: int
    voters: tuple[int, ...]  # signed the QC the block carries
    failed: tuple[int, ...]  # led the rounds skipped between its parent and it
    author: int


def round_robin(committee: Committee, round_: int) -> bytes:
    return committee.nodes[(round_ + committee.epoch) % committee.n]


def compute_active(window: Iterable[Activity]) -> list[int]:
    """Members (by index, in committee order) whose latest record in `window` is a vote or
    a block rather than a failed round."""
    state: dict[int, bool] = {}
    for record in window:
        state.update(dict.fromkeys(record.voters, True))
        state.update(dict.fromkeys(record.failed, False))
        state[record.author] = True
    return sorted(member for member, ok in state.items() if ok)


def compute_leader(committee: Committee, params: Reputation, round_: int,
                   history: Sequence[Activity]) -> bytes:
    """The leader of `round_` from the epoch's committed history (oldest first)."""
    if not params.enabled:
        return round_robin(committee, round_)
    cut = round_ - params.exclude_rounds
    window = [a for a in history if a.round <= cut][-(params.window or committee.n):]
    if not window or window[-1].round < cut - (params.stale_rounds or committee.n):
        return round_robin(committee, round_)
    active = compute_active(window)
    return committee.nodes[active[(round_ + committee.epoch) % len(active)]]


class Election:
    """The leader of each round of one epoch, kept up to date as blocks commit.

    Holds the activity of the last `keep` committed blocks (by default the window, the cut
    and some slack); a round so old that its window has been dropped gets the round-robin
    leader (only stale messages ask for one)."""

    SLACK = 64

    def __init__(self, committee: Committee, params: Reputation, keep: int = 0) -> None:
        self.committee = committee
        self.params = params
        self.window = params.window or committee.n
        self.history: deque[Activity] = deque(
            maxlen=keep or self.window + params.exclude_rounds + self.SLACK)
        self.truncated = False  # older blocks of the epoch were dropped from `history`
        self._memo: dict[int, bytes] = {}

    @classmethod
    def restore(cls, committee: Committee, params: Reputation, tree: BlockTree, committed: bytes,
                root: bytes, keep: int = 0) -> Election:
        """Rebuild from the stored block tree: replay the epoch's committed chain from its
        root (a block's failed rounds depend on the leaders before it)."""
        chain: list[Block] = []
        current = committed
        while current != root:
            block = tree.get(current)
            if block is None or block.epoch != committee.epoch:
                break
            chain.append(block)
            current = bytes(block.parent)
        election = cls(committee, params, keep)
        election.truncated = current != root
        for block in reversed(chain):
            election.observe(block)
        return election

    def observe(self, block: Block) -> None:
        """A block of this epoch committed (in chain order)."""
        skipped = range(max(block.justify.round + 1, block.round - self.committee.n),
                        block.round)
        failed = tuple(self._index(self.leader(r)) for r in skipped)
        voters = () if block.justify.round == 0 else tuple(
            signers(block.justify.cert.signers, self.committee.n))
        self.truncated |= len(self.history) == self.history.maxlen
        self.history.append(Activity(block.round, voters, failed, block.author))
        self._memo.clear()

    def leader(self, round_: int) -> bytes:
        found = self._memo.get(round_)
        if found is None:
            found = compute_leader(self.committee, self.params, round_, self._usable(round_))
            if len(self._memo) > 256:
                self._memo.clear()
            self._memo[round_] = found
        return found

    def _index(self, node: bytes) -> int:
        index = self.committee.index(node)
        assert index is not None, "the election only picks members"
        return index

    def _usable(self, round_: int) -> Sequence[Activity]:
        """The history, or none when the window of `round_` reaches past what was dropped."""
        if self.truncated:
            cut = round_ - self.params.exclude_rounds
            if sum(1 for a in self.history if a.round <= cut) < self.window:
                return ()
        return self.history
