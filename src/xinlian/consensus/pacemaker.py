"""Round timeouts with exponential backoff.

A round that ends with a QC resets the backoff; every round since the last QC doubles the
timeout (up to a cap), so after a partition heals the honest nodes' rounds overlap long enough
for a leader to gather a quorum. Inside a stalled round the timeout vote is re-sent every
`base_ms` (not doubled): a lost timeout must not stretch the stall.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pacemaker:
    base_ms: int = 1000
    max_doublings: int = 4

    def duration(self, round_: int, high_qc_round: int) -> int:
        """How long to wait in `round_` before timing out."""
        missed = max(0, round_ - high_qc_round - 1)
        return self.base_ms << min(missed, self.max_doublings)

    @property
    def retry_ms(self) -> int:
        return self.base_ms
