"""Round timeouts with exponential backoff.

A round that ends with a QC resets the backoff; every round since the last QC stretches the
timeout by half (up to a cap: 1.5^6, about 11x), so after a partition heals the honest nodes'
rounds overlap long enough for a leader to gather a quorum. Inside a stalled round the
timeout vote is re-sent every `base_ms` (not stretched): a lost timeout must not prolong it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pacemaker:
    base_ms: int = 1000
    max_steps: int = 6

    def duration(self, round_: int, high_qc_round: int) -> int:
        """How long to wait in `round_` before timing out: base * 1.5^missed rounds."""
        missed = min(max(0, round_ - high_qc_round - 1), self.max_steps)
        return self.base_ms * 3**missed // 2**missed

    @property
    def retry_ms(self) -> int:
        return self.base_ms
