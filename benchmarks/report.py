"""One JSON line per figure, with the machine it was measured on."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from xinlian.storage.kv import Store

MACHINE = {"cores": os.cpu_count(), "python": platform.python_version()}


def line(bench: str, metric: str, value: float, unit: str, **extra: Any) -> dict[str, Any]:
    """One benchmark figure as the dict a JSON line holds (for `run(args)` generators)."""
    return {"bench": bench, "metric": metric, "value": round(value, 6), "unit": unit,
            **extra, **MACHINE}


def emit(bench: str, metric: str, value: float, unit: str, **extra: Any) -> None:
    """Print one benchmark figure as a JSON line on stdout."""
    print(json.dumps(line(bench, metric, value, unit, **extra), sort_keys=False), flush=True)
    sys.stdout.flush()


def best_of(repeats: int, fn: Callable[[], Any],
            clock: Callable[[], float] = time.perf_counter) -> float:
    """The fastest of `repeats` timings of fn(), in seconds: wall clock, or the process's
    CPU time with `clock=time.process_time` (a per-core rate on a machine others load)."""
    best = float("inf")
    for _ in range(repeats):
        start = clock()
        fn()
        best = min(best, clock() - start)
    return best


def percentile(samples: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100) of the samples, nearest-rank."""
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def print_lines(lines: Iterable[dict[str, Any]]) -> None:
    """Print each figure of a `run(args)` generator as a JSON line, as it is measured."""
    for figure in lines:
        print(json.dumps(figure), flush=True)


def sub_db_bytes(store: Store, names: Iterable[str]) -> int:
    """Bytes of the LMDB pages (branch, leaf, overflow) that sub-databases `names` of
    `store` hold: what an index costs on disk, apart from the other sub-databases."""
    env = store._live()
    total = 0
    with env.begin() as txn:
        for name in names:
            stat = txn.stat(store._dbs[name])
            pages = stat["branch_pages"] + stat["leaf_pages"] + stat["overflow_pages"]
            total += pages * stat["psize"]
    return total
