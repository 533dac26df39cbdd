"""`xinlian` under cProfile, timed by its thread's CPU clock (benchmarks' `--profile`).

    python -m benchmarks.profiled_node STATS_FILE node start --data DIR ...

The profile covers the main thread (a node's event loop) and counts CPU time, not wall
time, so the waits of four processes sharing two cores are not charged to whichever call
was running when the process lost its core. The stats are written when the command ends
(a node: on SIGTERM).
"""

from __future__ import annotations

import cProfile
import sys
import time

from xinlian.cli.main import main

if __name__ == "__main__":
    profile = cProfile.Profile(time.thread_time)
    profile.enable()
    try:
        main(sys.argv[2:])
    finally:
        profile.disable()
        profile.dump_stats(sys.argv[1])
