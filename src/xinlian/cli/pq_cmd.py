"""`xinlian pq table`: the post-quantum algorithms measured on this machine, with the
platform's four indicators (docs/pq.md); the migration commands are in cli/pq_migrate.py,
`xinlian pq cert` in cli/pq_cert.py.

Every row is measured when the command runs (CPU time per operation, sizes from real keys,
signatures and ciphertexts); `--json` prints one JSON object per row.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from xinlian.cli import pq_cert, pq_demo, pq_migrate
from xinlian.crypto.pq_params import BY_NAME, PLAINTEXT_SIZES
from xinlian.crypto.pq_table import INDICATORS, measure


def register(sub: Any) -> None:
    pq = sub.add_parser("pq", help="post-quantum algorithms: the measured table, a "
                                   "chain's migration to a post-quantum suite, and "
                                   "membership certificates")
    pq_sub = pq.add_subparsers(dest="pq_command", required=True)
    table = pq_sub.add_parser("table", help="measure every PQ algorithm and check the indicators")
    table.add_argument("--json", action="store_true", help="one JSON object per row")
    table.add_argument("--budget", type=float, default=0.2,
                       help="CPU seconds spent timing each row (default 0.2)")
    table.add_argument("--algorithm", action="append", choices=sorted(BY_NAME),
                       help="measure only this algorithm (repeatable)")
    table.set_defaults(func=run_table)
    pq_migrate.register(pq_sub)
    pq_demo.register(pq_sub)
    pq_cert.register(pq_sub)


def _cell(row: dict[str, Any]) -> str:
    """The operation's time and size columns of one row, by the row's use."""
    if row.get("implementation") is None:
        return "-"
    if row["use"] == "signature":
        return f"sig {row['signature_bytes']:>6} B  sign+verify {row['sign_verify_us']:>9.1f} µs"
    if row["use"] == "encryption":
        ratios = " ".join(f"{row[f'expansion_{n}']:.2f}x" for n in PLAINTEXT_SIZES)
        return f"ct/pt {ratios}  enc+dec {row['enc_dec_us']:>9.1f} µs"
    return f"wire {row['wire_bytes']:>5} B  exchange {row['exchange_us']:>9.1f} µs"


def run_table(args: argparse.Namespace) -> int:
    if not args.json:
        print(f"indicators: {INDICATORS}")
        print(f"ciphertext expansion at {', '.join(map(str, PLAINTEXT_SIZES))}-byte "
              "plaintexts; times are CPU time per operation")
    for row in measure(args.budget, args.algorithm):
        if args.json:
            print(json.dumps(row, ensure_ascii=False))
            continue
        verdict = "meets all" if row["indicators_met"] else "FAILS: " + "; ".join(row["failed"])
        print(f"{row['algorithm']:<27} L{row['nist_level']} q{row['quantum_bits']:>3}  "
              f"{str(row['implementation'])[:30]:<30} {_cell(row)}  {verdict}")
    return 0
