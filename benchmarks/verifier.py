"""Prover time per function on the specified example contracts (`make bench-verifier`).

For each public function (and constructor) of examples/qi/{token,escrow,ballot}.qi: the
wall time to translate it and decide all its goals (best of 3), with the goal count and
the outcome; then the language server's keystroke-to-diagnostic latency on every example
(benchmarks/lsp_latency.py). Run alone: `python -m benchmarks.verifier`.
"""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks import lsp_latency
from benchmarks.report import emit
from xinlian.lang.verify import PROVED, entry_points, load, verify_function

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "qi"
SPECIFIED = ("token.qi", "escrow.qi", "ballot.qi")
TIMEOUT_MS = 30_000


def main() -> None:
    for name in SPECIFIED:
        source = (EXAMPLES / name).read_text()
        prog = load(source, name)
        for fn in entry_points(prog):
            best = float("inf")
            goals = []
            for _ in range(3):
                start = time.perf_counter()
                goals = verify_function(prog, fn, TIMEOUT_MS)
                best = min(best, time.perf_counter() - start)
            statuses = sorted({g.status for g in goals})
            emit("verifier", "prove_function_s", best, "s", contract=prog.contract,
                 function=fn.name, goals=len(goals),
                 status=PROVED if statuses == [PROVED] else ",".join(statuses))
    lsp_latency.main()


if __name__ == "__main__":
    main()
