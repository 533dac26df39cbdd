"""Safety rules (Jolteon / DiemBFT-v4, 2-chain): when this node may vote or time out.

The state that makes a signature safe — the highest round it voted or timed out in and its
high QC — is returned as a `Persist` that the runtime makes durable *before* the vote or
timeout that follows it leaves the node, so a restarted node never signs twice in a round
and never reports a lower high QC than one it acted on.

- vote for block B in round r iff r > highest_voted_round and either B extends the QC of
  round r-1, or B follows a TC of round r-1 and its QC is at least the highest QC round any
  TC signer reported (so B extends every block that may have committed);
- time out in round r iff r >= highest_voted_round; afterwards this node votes in no round <= r.
"""

from __future__ import annotations

from xinlian import codec
from xinlian.consensus.messages import QC, TC, Block
from xinlian.protocol import Persist

SAFETY_KEY = b"consensus/safety"


class SafetyState(codec.Struct):
    epoch: int
    highest_voted_round: int
    high_qc: QC


class SafetyRules:
    def __init__(self, state: SafetyState) -> None:
        self.state = state

    def safe_to_vote(self, block: Block, tc: TC | None) -> bool:
        if block.epoch != self.state.epoch or block.round <= self.state.highest_voted_round:
            return False
        if block.justify.round + 1 == block.round:
            return True
        return (tc is not None and tc.round + 1 == block.round
                and block.justify.round >= max(tc.high_qc_rounds, default=0))

    def safe_to_timeout(self, epoch: int, round_: int) -> bool:
        return epoch == self.state.epoch and round_ >= self.state.highest_voted_round

    def record(self, round_: int, high_qc: QC) -> Persist:
        """Raise the highest voted round; the returned Persist must precede the signature."""
        self.state = SafetyState(self.state.epoch, max(round_, self.state.highest_voted_round),
                                 high_qc)
        return Persist(SAFETY_KEY, codec.encode(self.state))

    def new_epoch(self, epoch: int, root_qc: QC) -> Persist:
        self.state = SafetyState(epoch, 0, root_qc)
        return Persist(SAFETY_KEY, codec.encode(self.state))
