"""The capacity model (docs/capacity.md): machines for a target load, from costs measured here.

    python -m benchmarks.capacity [--suite intl] [--txs 20000] [--accounts-sample 200000]
                                  [--peak 100000] [--cores 16] [--accounts 1000000000]

In one run: the 4-validator end-to-end benchmark (benchmarks/consensus_e2e.py) gives the CPU
one validator spends per committed transaction in each stage; a state tree loaded with
`--accounts-sample` accounts gives the disk bytes per account. The model then prints, as
JSON lines, the rate one chain sustains on a machine of `--cores` cores (the ledger thread,
the event-loop thread and the verification workers each bound it), how many such chains
(shards, issue 17) and machines carry `--peak` tx/s, and the disk for `--accounts` accounts.
"""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile

from benchmarks import consensus_e2e
from benchmarks.report import emit
from benchmarks.state_tree import Chain, disk_bytes, load
from xinlian.crypto.hashes import sha256

BENCH = "capacity"
DAY = 86_400
LEDGER = ("execution", "tree", "commit")  # one thread, block after block
LOOP = ("admission", "consensus")  # the event loop, with the RPC and transport work


def bytes_per_account(accounts: int) -> float:
    """Disk bytes per account of a state tree of `accounts` accounts (2 versions kept)."""
    where = tempfile.mkdtemp(prefix="xl-capacity-")
    try:
        chain = Chain(where, sha256, keep=2, cache_nodes=500_000)
        try:
            load(chain, accounts, 50_000, "sha256")
        finally:
            chain.store.close()
        return disk_bytes(where) / accounts
    finally:
        shutil.rmtree(where, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.capacity")
    parser.add_argument("--suite", default="intl")
    parser.add_argument("--txs", type=int, default=20_000)
    parser.add_argument("--accounts-sample", type=int, default=200_000)
    parser.add_argument("--peak", type=int, default=100_000, help="tx/s to carry")
    parser.add_argument("--cores", type=int, default=16, help="cores of one machine")
    parser.add_argument("--validators", type=int, default=4, help="validators per chain")
    parser.add_argument("--accounts", type=int, default=1_000_000_000)
    args = parser.parse_args()

    _, _, cpu = consensus_e2e.run(args.suite, args.txs, 400, 5, bench=BENCH,
                                  metric="e2e_cluster", rate=0.0)
    ledger_us = sum(cpu.get(s, 0.0) for s in LEDGER)
    # the loop runs everything of the process but the ledger thread's stages (and the
    # verification done inline, in small batches): RPC decoding, transport, consensus
    loop_us = max(cpu.get("process", 0.0) - ledger_us, sum(cpu.get(s, 0.0) for s in LOOP))
    verify_us = cpu.get("verification", 0.0)
    tags = {"suite": args.suite, "cores_per_machine": args.cores,
            "validators": args.validators}
    bounds = {"ledger_thread": 1e6 / ledger_us, "event_loop": 1e6 / loop_us,
              "verification": max(args.cores - 2, 1) * 1e6 / verify_us}
    for name, rate in bounds.items():
        emit(BENCH, "chain_bound_tx_s", rate, "tx/s", **tags, bound=name)
    chain = min(bounds.values())
    emit(BENCH, "chain_tx_s", chain, "tx/s", **tags, limited_by=min(bounds, key=bounds.get),
         note="one chain, one validator per machine; the slowest of its three bounds")
    for label, load_tx_s in (("peak", args.peak), ("1e9_per_day", 1e9 / DAY)):
        shards = math.ceil(load_tx_s / chain)
        emit(BENCH, "machines", shards * args.validators, "machines", **tags, load=label,
             load_tx_s=round(load_tx_s), shards=shards)
    per_account = bytes_per_account(args.accounts_sample)
    emit(BENCH, "state_bytes_per_account", per_account, "B", accounts=args.accounts_sample,
         kept_versions=2)
    emit(BENCH, "state_disk_for_accounts", per_account * args.accounts / 2**40, "TiB",
         accounts=args.accounts, note="per replica, 2 versions kept; bytes per account grow "
         "with the tree's depth (log16 of the accounts): see docs/capacity.md")


if __name__ == "__main__":
    main()
