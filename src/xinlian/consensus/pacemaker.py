"""Round timeouts with exponential backoff.

A round that ends with a QC resets the backoff; every round since the last QC stretches the
timeout by 1.2x (up to a cap: 1.2^6, about 3x), so after a partition heals the honest nodes'
rounds overlap long enough for a leader to gather a quorum, while a run of crashed or silent
leaders (each costs a whole timeout under round-robin) does not stall the chain for long.
Inside a stalled round the timeout vote is re-sent every `base_ms` (not stretched): a lost
timeout must not prolong it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pacemaker:
    base_ms: int = 1000
    max_steps: int = 6

    def duration(self, round_: int, high_qc_round: int) -> int:
        """How long to wait in `round_` before timing out: base * 1.2^missed rounds."""
        missed = min(max(0, round_ - high_qc_round - 1), self.max_steps)
        return int(self.base_ms * 6**missed // 5**missed)

    @property
    def retry_ms(self) -> int:
        return self.base_ms
