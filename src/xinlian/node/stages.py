"""CPU seconds a node spends in each stage of its work.

The capacity model (docs/capacity.md) and the cluster benchmark divide these by the
transactions committed, to cost one transaction per stage: admission (decoding, pool rules),
signature verification (counted in the pool's worker processes too), execution, the state
tree and indexes (building the block), the commit, and consensus (the protocol core's event
handling). Each stage is timed with the CPU clock of the thread that runs it, so waiting and
the work of other threads are not counted. Exported as `xinlian_stage_cpu_seconds_total`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

STAGES = ("admission", "verification", "execution", "tree", "commit", "consensus")


class StageCpu:
    """Seconds per stage; `clock` is a per-thread CPU clock (a simulator gives none: no
    stage is timed, since simulated work has no CPU cost of its own to report)."""

    def __init__(self, clock: Callable[[], float] | None = time.thread_time) -> None:
        self.seconds = dict.fromkeys(STAGES, 0.0)
        self._clock = clock

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        clock = self._clock
        if clock is None:
            yield
            return
        start = clock()
        try:
            yield
        finally:
            self.seconds[name] += clock() - start

    def add(self, name: str, seconds: float) -> None:
        """CPU time spent elsewhere (a worker process) on this node's behalf."""
        self.seconds[name] += seconds
