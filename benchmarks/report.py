"""One JSON line per figure, with the machine it was measured on."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

MACHINE = {"cores": os.cpu_count(), "python": platform.python_version()}


def emit(bench: str, metric: str, value: float, unit: str, **extra: Any) -> None:
    """Print one benchmark figure as a JSON line on stdout."""
    line = {"bench": bench, "metric": metric, "value": round(value, 6), "unit": unit}
    line.update(extra)
    line.update(MACHINE)
    print(json.dumps(line, sort_keys=False), flush=True)
    sys.stdout.flush()


def best_of(repeats: int, fn: Callable[[], Any]) -> float:
    """The fastest of `repeats` wall-clock timings of fn(), in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def percentile(samples: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100) of the samples, nearest-rank."""
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]
