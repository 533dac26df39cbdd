"""Platform capacity figures (issue 14): SM2 verifications per core, native and Tongsuo.

    python -m benchmarks.platform [--signatures N] [--repeats R] [--cluster-suites intl,sm]

`sm2_verify_per_core` is the node's path on one core: `sm2.verify_many` from raw (key,
message, r || s), Z_A computed afresh for every key (the cache is cleared before each run),
e = SM3(Z_A || M) in Python and one call to the native verifier. Next to it, in the same
run and on the same signatures, Tongsuo at its fastest: keys decoded and signatures DER
encoded before timing, one `verify` per signature (Tongsuo computes Z_A and e itself), and
their ratio. `sm2_verify_digest_per_core` is the native verifier alone over ready digests;
`sm2_verify_all_cores` the node's batch verification (`crypto.batch`) on every core; the
native lines name the extension's field arithmetic (`arithmetic`: x86-64 MULX/ADX assembly
or portable C). Each per-core rate is the best of R runs in the process's CPU time, so that
other load on the machine does not count against it; the all-cores rate is the best of R in
wall-clock time.

`e2e_cluster*` (per suite, `--cluster-suites`; `--cluster-txs` transfers from
`--cluster-accounts` accounts in each load): signed transfers through JSON-RPC into 4
validator processes on this machine, each capped at 100 Mbit/s (benchmarks/consensus_e2e.py),
in two loads on one cluster:

- `e2e_cluster`: saturating (everything submitted at once): the cluster's tx/s, with the
  submit-to-commit p50/p99 of that load (mostly queueing);
- `e2e_cluster_at_rate`: open loop at the issue's target rate for the suite (`offered`:
  intl 6,000, sm 3,000 tx/s): the achieved tx/s and the submit-to-commit p50/p99 at that
  rate (the issue's "p50 < 1 s" is this line's `p50_ms`);

and for each load (`<load>` is one of the two names):

- `<load>_process_cpu_per_tx` per `kind`: CPU µs per committed transaction, summed over the
  validators: `node` (the validator processes), `workers` (their verification processes),
  `client` (the load generator and block watcher), `all` (their sum), `machine` (every
  core's busy time: more than `all` when other jobs share the machine);
- `<load>_cpu_per_tx` per `stage`: the CPU one validator spends per committed transaction in
  admission, verification, execution, tree, commit and consensus (and `process`: its whole
  process), read from the validators' metrics (docs/capacity.md turns them into machine
  counts);

then `e2e_cluster_commit_p50`, single transfers on the idle chain.
"""

from __future__ import annotations

import argparse
import random
import time

from tongsuopy.crypto import hashes
from tongsuopy.crypto.asymciphers import ec
from tongsuopy.crypto.asymciphers.utils import encode_dss_signature

from benchmarks import consensus_e2e
from benchmarks.report import best_of, emit
from xinlian.crypto import batch
from xinlian.crypto.keys import AlgId
from xinlian.crypto.primitives import _sm2verify, sm2


def signatures(count: int, seed: int) -> list[tuple[bytes, bytes, bytes]]:
    """`count` (key, message, r || s), each under its own seeded random key."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        key = sm2.SM2PrivateKey(rng.randrange(1, sm2.N - 1).to_bytes(32, "big"))
        message = rng.randbytes(120)
        out.append((key.public_bytes, message, key.sign(message)))
    return out


def bench_sm2(count: int, repeats: int) -> None:
    items = signatures(count, seed=14)

    def native() -> None:
        sm2._cached_z_a.cache_clear()
        assert all(sm2.verify_many(items))

    algorithm = ec.ECDSA(hashes.SM3())
    decoded = [(ec.EllipticCurvePublicKey.from_encoded_point(ec.SM2(), public), message,
                encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                     int.from_bytes(sig[32:], "big")))
               for public, message, sig in items]

    def tongsuo() -> None:
        for key, message, der in decoded:
            key.verify(der, message, algorithm)  # raises InvalidSignature if invalid

    digests = [sm2.digest(public, message) for public, message, _ in items]
    publics, sigs = b"".join(i[0] for i in items), b"".join(i[2] for i in items)
    joined_digests = b"".join(digests)

    def native_digests() -> None:
        assert _sm2verify.verify_many(publics, joined_digests, sigs) == b"\x01" * count

    native_rate = count / best_of(repeats, native, time.process_time)
    tongsuo_rate = count / best_of(repeats, tongsuo, time.process_time)
    arithmetic = _sm2verify.arithmetic()
    emit("platform", "sm2_verify_per_core", native_rate, "sig/s", implementation="native",
         arithmetic=arithmetic, tongsuo=round(tongsuo_rate, 1),
         ratio=round(native_rate / tongsuo_rate, 2), signatures=count, repeats=repeats)
    emit("platform", "sm2_verify_per_core_tongsuo", tongsuo_rate, "sig/s",
         implementation="tongsuo", signatures=count, repeats=repeats)
    emit("platform", "sm2_verify_digest_per_core",
         count / best_of(repeats, native_digests, time.process_time), "sig/s",
         implementation="native", arithmetic=arithmetic, signatures=count, repeats=repeats)

    raw = [(int(AlgId.SM2), public, message, sig) for public, message, sig in items]
    batch.verify_batch(raw[:1000])  # start the workers

    def all_cores() -> None:
        sm2._cached_z_a.cache_clear()
        assert all(batch.verify_batch(raw))

    emit("platform", "sm2_verify_all_cores", count / best_of(repeats, all_cores), "sig/s",
         implementation="native", workers=batch.workers(), signatures=count)
    batch.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--signatures", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cluster-suites", default="intl,sm",
                        help="suites of the 4-validator end-to-end run ('' to skip it)")
    parser.add_argument("--cluster-txs", type=int, default=60_000)
    parser.add_argument("--cluster-accounts", type=int, default=1000,
                        help="enough that no sender exceeds its pool quota (64 pending)")
    args = parser.parse_args()
    bench_sm2(args.signatures, args.repeats)
    for suite in filter(None, args.cluster_suites.split(",")):
        consensus_e2e.run(suite, args.cluster_txs, args.cluster_accounts, 20,
                          bench="platform", metric="e2e_cluster")


if __name__ == "__main__":
    main()
