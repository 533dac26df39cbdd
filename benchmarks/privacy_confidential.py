"""Bulletproofs range proofs on ristretto255 and SM2: prove, verify and batch verification
per proof for m = 1, 2, 8 values of 64 bits, with proof sizes.

Run: `python -m benchmarks.privacy_confidential` (add `--quick` for a short smoke run).
Times are the best of several runs in process CPU time (the machine is shared; the load
average at the start is on every line). The generators are derived once per group before
timing (they are cached for the process). Batch verification checks BATCH proofs of the
same shape in one multi-scalar multiplication and reports the time per proof.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from benchmarks.report import best_of, emit
from xinlian.crypto.privacy.confidential import GROUPS, pedersen, range_proof
from xinlian.crypto.privacy.confidential.generators import generators

QUICK = "--quick" in sys.argv
REPEATS = 2 if QUICK else 5
SIZES = (1, 2) if QUICK else (1, 2, 8)
BATCH = 4 if QUICK else 16
N = 64


def bench(group_name: str, m: int) -> None:
    group = GROUPS[group_name]
    rng = random.Random(m)
    statements = []
    for _ in range(BATCH):
        values = [rng.randrange(2**N) for _ in range(m)]
        blindings = [pedersen.random_blinding(group) for _ in values]
        proof, commitments = range_proof.prove(group, values, blindings, N)
        statements.append((commitments, proof, N))
    commitments, proof, _ = statements[0]
    values = [rng.randrange(2**N) for _ in range(m)]
    blindings = [pedersen.random_blinding(group) for _ in values]
    extra = {"group": group_name, "values": m, "bits": N,
             "load1": round(os.getloadavg()[0], 2)}
    timings: dict[str, Callable[[], Any]] = {
        "prove": partial(range_proof.prove, group, values, blindings, N),
        "verify": partial(range_proof.verify, group, commitments, proof, N),
    }
    for op, fn in timings.items():
        seconds = best_of(REPEATS, fn, clock=time.process_time)
        emit("privacy_confidential", f"{op}_ms", seconds * 1e3, "ms_cpu", **extra)
    batch = partial(range_proof.batch_verify, group, statements)
    seconds = best_of(REPEATS, batch, clock=time.process_time)
    emit("privacy_confidential", "batch_verify_per_proof_ms", seconds * 1e3 / BATCH, "ms_cpu",
         batch=BATCH, **extra)
    emit("privacy_confidential", "proof_bytes", len(proof.encode()), "bytes", **extra)


def main() -> None:
    for name in GROUPS:
        generators(GROUPS[name])
        for m in SIZES:
            bench(name, m)


if __name__ == "__main__":
    main()
