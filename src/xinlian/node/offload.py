"""How a real node runs the ledger pipeline's heavy steps: off its asyncio event loop.

The pipeline (pipeline.py) and the ordering logic are sans-I/O; a node process gives them
the wall clock, verifies signatures in the process pool (on every core) and makes LMDB
commits (and a solo node's execution) in one worker thread, so admission, consensus and
queries go on meanwhile. The simulator does the same steps inline, on its own clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from xinlian.crypto import batch as batch_verify
from xinlian.execution.parallel import ExecutionPool, WorkerSpec
from xinlian.ledger.genesis import Genesis
from xinlian.node.pipeline import Built, LedgerPipeline, chain_dir
from xinlian.node.stages import StageCpu

T = TypeVar("T")


def execution_pool(data_dir: Path, genesis: Genesis, workers: int) -> ExecutionPool | None:
    """`workers` processes that run a node's contract calls in parallel, reading its chain
    store (execution/parallel.py; started on first use, or by a solo node with its first
    block of contract calls); None for 0: serial."""
    if workers == 0:
        return None
    spec = WorkerSpec(str(chain_dir(data_dir)), genesis.chain_id, genesis.suite,
                      genesis.params)
    return ExecutionPool(spec, workers)


def now_ms() -> int:
    """Wall-clock milliseconds: block timestamps, the solo cutter's clock, batch stamps."""
    return time.time_ns() // 1_000_000


def monotonic_ms() -> int:
    """The pool's clock: how long transactions have waited, immune to wall-clock steps."""
    return time.monotonic_ns() // 1_000_000


class VerifyBacklog:
    """Signatures handed to the process pool and not yet answered, in this process (the
    metrics' verification queue depth; small batches verified inline never wait)."""

    signatures = 0
    batches = 0


async def verify(items: Sequence[batch_verify.Item], stages: StageCpu) -> list[bool]:
    """Batch signature verification: inline when small, else on the process pool; its CPU
    time (the workers' too) is added to `stages`."""
    if len(items) <= batch_verify.INLINE_LIMIT:
        verdicts, seconds = batch_verify.verify_batch_timed(items)
    else:
        VerifyBacklog.signatures += len(items)
        VerifyBacklog.batches += 1
        try:
            verdicts, seconds = await asyncio.get_running_loop().run_in_executor(
                None, batch_verify.verify_batch_timed, items)
        finally:
            VerifyBacklog.signatures -= len(items)
            VerifyBacklog.batches -= 1
    stages.add("verification", seconds)
    return verdicts


class LedgerThread:
    """The one thread that runs a node's blocks: a solo node's whole block (execution,
    then commit) and a validator's commits. Off the event loop, so admission (RPC decode,
    signature verification batches, the mempool) and queries go on while a block executes
    and LMDB syncs; the GIL is shared, but the Wasm calls and the LMDB write release it and
    the signature checks run in other processes. One thread, so blocks run one at a time;
    the caller awaits each before building on it."""

    def __init__(self, ledger: LedgerPipeline) -> None:
        self.ledger = ledger
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger")

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """`work(*args)` on the ledger thread."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, work, *args)

    async def commit(self, built: Built) -> None:
        await self.run(self.ledger.commit, built)

    def close(self) -> None:
        self._thread.shutdown(wait=True)  # a block in flight finishes before the close
