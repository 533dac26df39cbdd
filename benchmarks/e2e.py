"""End-to-end solo-node throughput through the SDK, per suite.

    python -m benchmarks.e2e [--suites intl,sm,pq] [--txs N]

Each run is `xinlian demo --json`: a real node process, transactions signed beforehand by
SDK wallets, submitted in batches of 2,000 (four requests in flight) over JSON-RPC, timed
from the first submission to the block that commits the last one. Senders are spread so
that none holds more than the pool's per-sender cap (64 pending) at once: 1,000 accounts,
40 transfers each at 40,000. For `sm` the same run
also measures the machine's raw SM2 verification rate on all cores and prints the ratio
(the target is >= 0.7).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from benchmarks.report import emit
from xinlian.crypto import batch
from xinlian.crypto.suites import get_suite


def raw_verify_rate(suite_name: str, count: int = 4000) -> float:
    import time

    key = get_suite(suite_name).generate_signing_key()
    items = [(int(key.alg), key.public_key.data, b"m%d" % i, key.sign(b"m%d" % i).data)
             for i in range(count)]
    batch.verify_batch(items[:500])  # start the workers
    start = time.perf_counter()
    assert all(batch.verify_batch(items))
    return count / (time.perf_counter() - start)


def run_demo(suite_name: str, txs: int) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-m", "xinlian.cli.main", "demo", "--json", "--suite", suite_name,
         "--txs", str(txs), "--accounts", str(max(1000, txs // 40))],
        check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--suites", default="intl,sm,pq")
    parser.add_argument("--txs", type=int, default=40_000)
    args = parser.parse_args()
    for suite_name in args.suites.split(","):
        summary = run_demo(suite_name, args.txs)
        extra: dict[str, object] = {"txs": summary["committed_txs"], "blocks": summary["blocks"]}
        if suite_name == "sm":
            rate = raw_verify_rate("sm")
            emit("e2e", "sm2_verify_all_cores", rate, "sig/s", suite="sm")
            extra["of_raw_verify_rate"] = round(float(summary["tx_per_s"]) / rate, 3)  # type: ignore[arg-type]
        emit("e2e", "solo_end_to_end", float(summary["tx_per_s"]), "tx/s",  # type: ignore[arg-type]
             suite=suite_name, **extra)
    batch.shutdown()


if __name__ == "__main__":
    main()
