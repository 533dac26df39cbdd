"""BBS signatures: sign, verify, proof generation and verification against the number of
messages, with signature and proof sizes.

Run: `python -m benchmarks.privacy_bbs` (add `--quick` for a short smoke run). Times are the
best of several runs in process CPU time (the machine is shared; the load average at the
start is on every line). Generators are computed once per suite and cached, as the draft
allows, so the warm-up call pays for them. Proofs disclose every other message.
"""

from __future__ import annotations

import os
import sys
import time
from functools import partial

from benchmarks.report import best_of, emit
from xinlian.crypto.privacy import bbs

QUICK = "--quick" in sys.argv
REPEATS = 3 if QUICK else 10
COUNTS = (1, 10) if QUICK else (1, 10, 100)


def bench_count(suite: bbs.Ciphersuite, sk: int, pk: bytes, n: int, load: float) -> None:
    """Every operation on `n` messages, disclosing every other one."""
    messages = [f"attribute {i}: value {i * 7919}".encode() for i in range(n)]
    shown = list(range(0, n, 2))
    disclosed = [messages[i] for i in shown]
    sig = bbs.sign(sk, pk, b"header", messages, suite)
    proof = bbs.proof_gen(pk, sig, b"header", b"nonce", messages, shown, suite)
    timings = {
        "sign": partial(bbs.sign, sk, pk, b"header", messages, suite),
        "verify": partial(bbs.verify, pk, sig, b"header", messages, suite),
        "proof_gen": partial(bbs.proof_gen, pk, sig, b"header", b"nonce", messages, shown, suite),
        "proof_verify": partial(
            bbs.proof_verify, pk, proof, b"header", b"nonce", disclosed, shown, suite
        ),
    }
    extra = {"suite": suite.name, "messages": n, "disclosed": len(shown), "load1": load}
    for op, fn in timings.items():
        fn()
        seconds = best_of(REPEATS, fn, clock=time.process_time)
        emit("privacy_bbs", f"{op}_ms", seconds * 1e3, "ms_cpu", **extra)
    emit("privacy_bbs", "signature_bytes", len(sig), "bytes", **extra)
    emit("privacy_bbs", "proof_bytes", len(proof), "bytes", **extra)


def bench_suite(suite: bbs.Ciphersuite) -> None:
    sk = bbs.generate_secret_key(suite)
    pk = bbs.sk_to_pk(sk)
    for n in COUNTS:
        bench_count(suite, sk, pk, n, round(os.getloadavg()[0], 2))


def main() -> None:
    for suite in (bbs.BLS12_381_SHA_256, bbs.BLS12_381_SHAKE_256):
        bench_suite(suite)


if __name__ == "__main__":
    main()
