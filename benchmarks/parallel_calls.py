"""Parallel execution of a block's contract calls against serial execution, in one run.

A block of token transfers (examples/qi/token.qi) is executed on the same committed state
serially and by the node's executor with worker processes (execution/parallel.py), at low
contention (every call between its own two accounts) and high contention (all calls among
a few accounts). Figures: calls per second for each, the speed-up, the share of worker
runs taken as is, the share of the calls the node ran itself, and what shipping a call to a
worker and back costs the node. Every block tries the workers here (a node backs off to
serial execution after a block of conflicts: docs/architecture.md).

Run: `python -m benchmarks.parallel_calls [--calls 8000] [--workers 1]` (or
`make bench-contracts`). The block has 8,000 calls by default: at about 2.4 million fuel per
transfer, 10,000 would exceed MAX_BLOCK_FUEL (2e10) and the rest would be left out.
"""

from __future__ import annotations

import argparse
import pickle
import tempfile
import time
from pathlib import Path

from benchmarks.report import emit
from xinlian.execution.contracts.runner import BlockContext
from xinlian.execution.contracts.world import BlockHashes
from xinlian.execution.parallel import BaseState, SegmentRequest, compute_shares
from xinlian.ledger.transaction import Transaction
from xinlian.testing.contract_blocks import CallChain, Op

HOT_ACCOUNTS = 8


def workload(chain: CallChain, calls: int, contention: str) -> list[Op]:
    if contention == "low":  # sender i pays a fresh address: no two calls share a key
        return [Op(i, "transfer", (calls + i, 1)) for i in range(calls)]
    return [Op(i % HOT_ACCOUNTS, "transfer", ((i + 1) % HOT_ACCOUNTS, 1 + i % HOT_ACCOUNTS))
            for i in range(calls)]


def timed(chain: CallChain, txs: list[Transaction], serial: bool, repeats: int) -> float:
    """The fastest of `repeats` executions of the block `txs` on the head state."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        chain.execute(txs, serial=serial)
        best = min(best, time.perf_counter() - start)
    return best


def ipc_cost(chain: CallChain, calls: int) -> None:
    """What shipping calls to a worker costs the node: pickling a segment's request and
    unpickling its answers (what the node's threads do besides executing)."""
    txs = chain.transactions(workload(chain, calls, "low"))
    head = chain.pipeline.chain.head
    assert head is not None
    request = SegmentRequest(BaseState(head.header.height, head.header.state_root),
                             head.header.height + 1, 0, {},
                             [(p, p, tx.raw) for p, tx in enumerate(txs)])
    answers = list(chain.serial.speculate(
        BlockContext(request.height, 0, BlockHashes(chain.pipeline.chain.header_hash)),
        chain.pipeline.chain.read, {}, [(p, p, tx) for p, tx in enumerate(txs)]))
    start = time.perf_counter()
    sent = pickle.dumps(request)
    back = pickle.dumps(answers)
    pickle.loads(back)
    node = time.perf_counter() - start
    emit("parallel_calls", "ipc_node_us_per_call", node / calls * 1e6, "us",
         request_bytes_per_call=round(len(sent) / calls),
         answer_bytes_per_call=round(len(back) / calls))


def run(calls: int, workers: int, repeats: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        chain = CallChain.create(Path(tmp) / "chain", calls, workers=workers)
        pool = chain.pipeline.pool
        assert pool is not None
        pool.max_backoff = 0  # every block tries the workers: the cost of contention shows
        try:
            for contention in ("low", "high"):
                txs = chain.transactions(workload(chain, calls, contention))
                serial_result = chain.execute(txs, serial=True)  # warm: modules compiled
                assert not serial_result.excluded, serial_result.excluded[0][1]
                chain.execute(txs)  # warm: the workers started, their modules compiled
                serial = timed(chain, txs, True, repeats)
                before = (pool.stats.speculated, pool.stats.adopted)
                parallel = timed(chain, txs, False, repeats)
                speculated = pool.stats.speculated - before[0]
                adopted = pool.stats.adopted - before[1]
                extra = {"calls": calls, "workers": workers, "contention": contention}
                emit("parallel_calls", f"serial_calls_per_s_{contention}_contention",
                     calls / serial, "calls/s", **extra)
                emit("parallel_calls", f"parallel_calls_per_s_{contention}_contention",
                     calls / parallel, "calls/s", **extra,
                     worker_runs_taken=round(adopted / max(speculated, 1), 3))
                emit("parallel_calls", f"speedup_{contention}_contention", serial / parallel,
                     "x", **extra, node_share=round(compute_shares(
                         calls, workers, pool.costs)[0] / calls, 3))
            ipc_cost(chain, calls // 2)
        finally:
            chain.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    run(args.calls, args.workers, args.repeats)


if __name__ == "__main__":
    main()
