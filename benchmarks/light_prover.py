"""A constrained prover: one contribution's encryption and proof made in a process held to
one core and a small address space, as a light terminal would (issue 18, item 6).

    python -m benchmarks.light_prover --bits 16 --mem-mib 128 [--core 0] [--repeats 5]

The limits are set first, before anything heavy is imported: `sched_setaffinity` to one
core and `RLIMIT_AS` (the whole virtual address space: interpreter, Tongsuo, the proof
code, the Bulletproofs generators). Then it derives the generators (a one-time setup a
device keeps), proves `--repeats` contributions under a fresh key and prints JSON lines:
setup and prove CPU and wall time, the best of the repeats, and the peak resident memory.
A prover that does not fit (MemoryError, or a library that cannot be mapped) exits with
status 1 and says so.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys


def limit(core: int, mem_mib: int) -> None:
    os.sched_setaffinity(0, {core})
    cap = mem_mib * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def peak_rss_kib() -> int:
    """VmHWM, this process image's peak resident set (getrusage's ru_maxrss would carry
    over the parent's peak through fork)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def run(bits: int, mem_mib: int, core: int, repeats: int) -> None:
    import time

    from benchmarks.report import emit
    from xinlian.crypto.primitives.groups import SM2
    from xinlian.crypto.privacy.confidential.generators import generators
    from xinlian.crypto.privacy.homomorphic import contribution

    common = {"bits": bits, "mem_cap_mib": mem_mib, "affinity": [core]}
    start, wall = time.process_time(), time.perf_counter()
    if bits != contribution.COUNT:
        generators(SM2)
    emit("privacy_aggregates", "light_setup_ms", (time.process_time() - start) * 1e3, "ms",
         wall_ms=round((time.perf_counter() - wall) * 1e3, 1), clock="process_time",
         note="Bulletproofs generators derived once (none for a count)", **common)
    key = SM2.base_mul(SM2.random_scalar())
    best_cpu = best_wall = float("inf")
    for i in range(repeats):
        start, wall = time.process_time(), time.perf_counter()
        c = contribution.contribute(key, 1, bits, b"light/%d" % i)
        best_cpu = min(best_cpu, time.process_time() - start)
        best_wall = min(best_wall, time.perf_counter() - wall)
    contribution.verify(key, c, b"light/%d" % (repeats - 1))
    peak = peak_rss_kib() / 1024
    emit("privacy_aggregates", "light_prove_ms", best_cpu * 1e3, "ms",
         wall_ms=round(best_wall * 1e3, 1), peak_rss_mib=round(peak, 1),
         bytes=len(c.encode()), clock="process_time",
         note="encrypt + proof on one core under RLIMIT_AS, best of repeats", **common)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bits", type=int, default=16)
    parser.add_argument("--mem-mib", type=int, default=128)
    parser.add_argument("--core", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    limit(args.core, args.mem_mib)
    try:
        run(args.bits, args.mem_mib, args.core, args.repeats)
    except (MemoryError, ImportError) as exc:  # ImportError: a library that cannot map
        print(f"the prover does not fit in {args.mem_mib} MiB: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
