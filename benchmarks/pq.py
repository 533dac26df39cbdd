"""The post-quantum algorithm table: per algorithm and implementation, one JSON line with
`sign_verify_us` (signatures), `enc_dec_us` (KEM + AEAD encryption, 32-byte plaintext) or
`exchange_us` (the handshake's hybrid exchange), the sizes, the ciphertext expansion at 32 B,
1 KiB and 64 KiB, `ratio_to_1ms` and the indicators it meets or fails.

Run: `make bench-pq` or `python -m benchmarks.pq [--budget SECONDS]`. Times are CPU time
per operation (wall time alongside): the development machine is shared. The classical
signatures SM2 and Ed25519 are measured in the same run as the peer the hybrids add to.
"""

from __future__ import annotations

import argparse
import time

from benchmarks.report import emit
from xinlian.crypto import signing
from xinlian.crypto.keys import AlgId
from xinlian.crypto.pq_params import MAX_OPERATION_US
from xinlian.crypto.pq_table import MESSAGE, measure

METRIC = {"signature": "sign_verify_us", "encryption": "enc_dec_us",
          "key_exchange": "exchange_us"}


def classical_peer(alg: AlgId, budget: float) -> None:
    key = signing.generate_signing_key(alg)
    calls, start = 0, time.process_time()
    while calls < 3 or time.process_time() - start < budget:
        assert signing.verify(key.public_key, MESSAGE, key.sign(MESSAGE))
        calls += 1
    us = (time.process_time() - start) / calls * 1e6
    emit("pq", "sign_verify_us", us, "us", algorithm=alg.name, use="signature",
         implementation="classical peer", quantum_bits=0,
         public_key_bytes=len(key.public_key.data), signature_bytes=64,
         ratio_to_1ms=round(us / MAX_OPERATION_US, 3), clock="cpu")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=float, default=1.0,
                        help="CPU seconds spent timing each row")
    args = parser.parse_args()
    for alg in (AlgId.SM2, AlgId.ED25519):
        classical_peer(alg, args.budget)
    for row in measure(args.budget):
        metric = METRIC[row["use"]]
        if row.get("implementation") is None:
            emit("pq", "unavailable", 0, "", **row)
            continue
        emit("pq", metric, row[metric], "us", clock="cpu", **row)


if __name__ == "__main__":
    main()
