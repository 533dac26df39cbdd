"""Parallel execution of a block's contract calls on worker processes, exact by design.

Theory of operation. A token transfer spends most of its time in Python host functions
that hold the GIL, so threads would not run calls side by side: the node keeps worker
processes instead, started once (lazily, on the first block with enough calls), each with
its own Engine and module cache. A worker reads the block's base state itself: the chain
store is an LMDB environment that several processes may read, and the state tree keeps
versions, so the worker opens the store read-only and reads the head version, after
checking that version's root against the head header's state root.

For a block the executor (execution/executor.py) cuts its contract calls into contiguous
segments: the first is executed by the node's own process, serially, as always; each of
the others goes to one worker as one message (the block's height and time, the writes
made before its transactions, the segment's raw transactions). The worker runs the
segment's calls in order on its guess of the state (execution/speculation.py) and streams
back what each call read, wrote and produced, CHUNK calls per message. Meanwhile the node
executes its own segment; then it walks the rest of the block in order, charging fees and
nonces and applying the per-block fuel cap itself, and takes each worker run whose reads
still hold, running the others again. The shares are sized from measured costs so that
the node and the workers end together (`Costs`, `compute_shares`).

So the result is the serial result, whatever the workers answered, when, or whether: a
worker that fails or dies costs only time (the rest of its segment runs serially, and a
dead worker is replaced before the next block), and so does contention (after a block in
which most worker runs had to run again, the next blocks run serially for a while).
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from xinlian import codec
from xinlian.execution.contracts.runner import BlockContext
from xinlian.execution.contracts.world import BlockHashes
from xinlian.execution.errors import ParallelUnavailable
from xinlian.execution.speculation import Speculation, is_current
from xinlian.execution.state import Overlay, Reader
from xinlian.ledger.block import Block, header_hash
from xinlian.ledger.genesis import ChainParams
from xinlian.ledger.transaction import Transaction, TxKind, decode_transaction
from xinlian.storage import chain_index, jmt
from xinlian.storage.chain_index import ChainIndex
from xinlian.storage.errors import StorageError
from xinlian.storage.kv import Store

if TYPE_CHECKING:
    from xinlian.execution.executor import Executor

# A block with fewer contract calls than this runs serially: starting the workers' runs
# and checking them is not worth it for a handful.
MIN_PARALLEL_CALLS = 64
MAX_BACKOFF = 32  # blocks run serially at most after a block of conflicts
CHUNK = 128  # speculations per answer message: the node can use them while the rest run
READ_CACHE_LIMIT = 1_000_000  # values a worker keeps for the version it reads
_WORKER_DBS = (*jmt.SUB_DBS, *chain_index.SUB_DBS)
_decode_block = codec.trusted_decoder(Block)  # written by the node, read back


def default_workers() -> int:
    """One worker per core but the one the node's own process executes on."""
    return max(0, (os.cpu_count() or 1) - 1)


@dataclass(frozen=True)
class BaseState:
    """The committed state a block executes on: its tree version and root hash."""

    version: int
    root: bytes


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to execute the chain's calls: the chain store's directory, the
    chain's id, crypto suite and parameters."""

    store_path: str
    chain_id: str
    suite: str
    params: ChainParams


@dataclass
class SegmentRequest:
    """One worker's share of a block: the block's height and timestamp, the writes made
    before its transactions (engine-started runs), and (position in the block's list,
    assumed index in the block, raw transaction) for each call, in block order."""

    base: BaseState
    height: int
    timestamp_ms: int
    pre_writes: dict[bytes, bytes | None]
    items: list[tuple[int, int, bytes]]


@dataclass
class PoolStats:
    """What the pool did so far (reported by the benchmark and the node's logs)."""

    blocks: int = 0
    speculated: int = 0  # calls run by a worker
    adopted: int = 0  # ... whose run was taken as is
    fallbacks: int = 0  # segments (or their rest) run serially because their worker failed
    restarts: int = 0  # workers replaced after they died
    failures: list[str] = field(default_factory=list)  # the last few causes, newest last

    def note(self, cause: str) -> None:
        self.fallbacks += 1
        self.failures = [*self.failures[-7:], cause]


class ExecutionPool:
    """`workers` processes (0: none; every block runs serially). Owned by the node's ledger
    pipeline; `close` stops the processes."""

    def __init__(self, spec: WorkerSpec, workers: int) -> None:
        self.spec = spec
        self.workers = workers
        self.stats = PoolStats()
        self.costs = Costs()
        self.min_calls = MIN_PARALLEL_CALLS
        self.max_backoff = MAX_BACKOFF
        self._skip = 0  # blocks left to run serially after a block of conflicts
        self._backoff = 1
        self._channels: list[_Channel] = []
        self._sequence = 0
        atexit.register(self.close)

    def start(self) -> None:
        """Start the workers now rather than on the first parallel block (a node starts
        them with itself, so that no block waits for them)."""
        self._live_channels()

    def _live_channels(self) -> list[_Channel]:
        """The workers, started on first use; a dead one is replaced."""
        if not self._channels:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["xinlian.execution.executor"])
            self._channels = [_Channel(ctx, self.spec) for _ in range(self.workers)]
        for i, channel in enumerate(self._channels):
            if channel.dead:
                channel.close()
                self._channels[i] = _Channel(channel.ctx, self.spec)
                self.stats.restarts += 1
        return self._channels

    def plan(self, txs: Sequence[Transaction], base: BaseState | None, height: int,
             timestamp_ms: int, pre_writes: dict[bytes, bytes | None], first_index: int,
             ) -> BlockPlan | None:
        """Send the later segments of a block's contract calls to the workers; None when
        the block runs serially (no workers, no base state, too few calls). `first_index`:
        the index in the block of `txs[0]` (after the engine-started runs)."""
        calls = [p for p, tx in enumerate(txs) if tx.body.kind == TxKind.CALL]
        if self.workers == 0 or base is None or len(calls) < self.min_calls:
            return None
        if self._skip > 0:
            self._skip -= 1
            return None
        self._sequence += 1
        sizes = compute_shares(len(calls), self.workers, self.costs)
        plan = BlockPlan(self, sizes[0])
        start = sizes[0]
        for channel, size in zip(self._live_channels(), sizes[1:], strict=True):
            chunk = calls[start:start + size]
            start += size
            items = [(p, first_index + p, txs[p].raw) for p in chunk]
            request = SegmentRequest(base, height, timestamp_ms, pre_writes, items)
            channel.send(self._sequence, request)
            plan.add(chunk, channel, self._sequence)
        self.stats.blocks += 1
        return plan

    def after_block(self, speculated: int, adopted: int) -> None:
        """Contention persists: after a block in which most worker runs had to run again,
        the next blocks run serially (1, 2, 4 ... up to `max_backoff` of them), then the
        workers are tried again."""
        if speculated and adopted * 2 < speculated:
            self._skip = min(self._backoff, self.max_backoff)
            self._backoff = min(self._backoff * 2, max(self.max_backoff, 1))
        else:
            self._backoff = 1

    def close(self) -> None:
        for channel in self._channels:
            channel.close()
        self._channels = []

    def processes(self) -> list[int]:
        """The worker processes' ids (empty before the first parallel block)."""
        return [c.process.pid for c in self._channels if c.process.pid is not None]


class _Channel:
    """One worker process, the pipe to it, and a thread that moves its answers into a queue
    as they come (so the worker never waits for the node to read)."""

    def __init__(self, ctx: Any, spec: WorkerSpec) -> None:
        self.ctx = ctx
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, spec), daemon=True,
                                   name="xinlian-execution")
        self.process.start()
        child.close()
        self.dead = False
        self.answers: queue.SimpleQueue[tuple[int, str, Any]] = queue.SimpleQueue()
        threading.Thread(target=self._drain, name="execution-answers", daemon=True).start()

    def _drain(self) -> None:
        while True:
            try:
                answer = self.conn.recv()
            except (EOFError, OSError):
                self.answers.put((-1, "dead", f"worker {self.process.pid} exited"))
                return
            except Exception as exc:  # an answer that does not unpickle: the stream is lost
                self.process.kill()
                self.answers.put((-1, "dead", f"worker {self.process.pid}'s answer does not "
                                  f"decode: {type(exc).__name__}: {exc}"))
                return
            self.answers.put(answer)

    def send(self, sequence: int, request: SegmentRequest) -> None:
        """Send a request; if the worker is gone, its drain thread reports it."""
        try:
            self.conn.send((sequence, request))
        except OSError:
            self.process.kill()  # the pipe is unusable: make sure the drain thread ends

    def receive(self, sequence: int) -> tuple[str, Any]:
        """The next answer to request `sequence` ("chunk", "done", "error" or "dead"),
        skipping what is left of earlier requests."""
        while True:
            got, kind, payload = self.answers.get()
            if kind == "dead":
                self.dead = True
                self.answers.put((got, kind, payload))  # it stays dead
                return kind, payload
            if got == sequence:
                return kind, payload

    def close(self) -> None:
        """Ask the worker to stop (a closed pipe alone does not end its read while this
        process's drain thread still reads the other end); kill it if it does not."""
        with contextlib.suppress(OSError):  # gone already
            self.conn.send(None)
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


@dataclass
class Costs:
    """Seconds per call, as measured on recent blocks: a call run by the node's process,
    by a worker, and the node's check of a worker's run (taking it costs this instead of
    a run). Until measured: equal runs and a check of a twentieth of a run."""

    own: float = 1.0
    worker: float = 1.0
    check: float = 0.05
    measured: bool = False
    pinned: bool = False  # never re-measured: a split that does not depend on the load

    def update(self, own: float, worker: float, check: float) -> None:
        """Blend in one block's measurements (recent blocks count most; the first
        replaces the guess)."""
        if self.pinned:
            return
        weight = 0.5 if self.measured else 1.0
        self.own += (own - self.own) * weight
        self.worker += (worker - self.worker) * weight
        self.check += (check - self.check) * weight
        self.measured = True


def compute_shares(calls: int, workers: int, costs: Costs) -> list[int]:
    """How many of a block's `calls` the node's own process runs first, then how many each
    worker runs, so that all finish together: the node runs its share, then checks the
    workers' runs, while each worker runs its own share."""
    per_worker = costs.worker / workers
    own = max(0.0, (per_worker - costs.check) / (costs.own + per_worker - costs.check))
    first = round(calls * own)
    rest = calls - first
    return [first, *(rest // workers + (1 if i < rest % workers else 0)
                     for i in range(workers))]


@dataclass
class _Segment:
    channel: _Channel
    sequence: int
    results: dict[int, Speculation] = field(default_factory=dict)
    done: bool = False


class BlockPlan:
    """One block's speculations, taken in block order as the workers deliver them."""

    def __init__(self, pool: ExecutionPool, own_calls: int) -> None:
        self._pool = pool
        self._stats = pool.stats
        self.speculated = self.adopted = 0
        self._segments: list[_Segment] = []
        self._segment_of: dict[int, _Segment] = {}
        # timing, to split the next blocks well (`Costs`)
        self._own_calls = own_calls
        self._started = time.perf_counter()
        self._reached: float | None = None  # when the node reached the workers' segments
        self._waited = 0.0  # ... and how long it waited for their answers
        self._worker_busy = 0.0

    def add(self, positions: Sequence[int], channel: _Channel, sequence: int) -> None:
        segment = _Segment(channel, sequence)
        self._segments.append(segment)
        self._segment_of.update((p, segment) for p in positions)

    def take(self, position: int) -> Speculation | None:
        """The speculation for the transaction at `position` (None: run it serially);
        waits until its worker has answered that far."""
        segment = self._segment_of.get(position)
        if segment is None:
            return None
        if self._reached is None:
            self._reached = time.perf_counter()
        while position not in segment.results and not segment.done:
            self._receive(segment)
        return segment.results.pop(position, None)

    def _receive(self, segment: _Segment) -> None:
        waiting = time.perf_counter()
        kind, payload = segment.channel.receive(segment.sequence)
        self._waited += time.perf_counter() - waiting
        if kind == "chunk":
            segment.results.update((s.position, s) for s in payload)
            self.speculated += len(payload)
            return
        segment.done = True
        if kind == "done":
            self._worker_busy += payload
        else:  # the rest of the segment runs serially
            self._stats.note(str(payload))

    def take_current(self, position: int, state: Overlay, index: int) -> Speculation | None:
        """The worker's run of the transaction at `position` if a serial run at `index`
        on `state` would do the same (`speculation.is_current`); None: run it."""
        spec = self.take(position)
        if spec is None or not is_current(spec, state, index):
            return None
        self.adopted += 1
        return spec

    def finish(self) -> None:
        """Wait for every segment's end, so that each worker is free for the next block
        (and a failure is noted even if no transaction of its segment was reached)."""
        for segment in self._segments:
            while not segment.done:
                self._receive(segment)
        self._stats.speculated += self.speculated
        self._stats.adopted += self.adopted
        self._pool.after_block(self.speculated, self.adopted)
        worker_calls = len(self._segment_of)
        if (self._reached is not None and self._own_calls and self.speculated == worker_calls
                and self.adopted * 10 >= worker_calls * 9):  # a block like most: measure it
            ended = time.perf_counter()
            self._pool.costs.update(
                (self._reached - self._started) / self._own_calls,
                self._worker_busy / worker_calls,
                max(0.0, ended - self._reached - self._waited) / worker_calls)


# --- in a worker process ------------------------------------------------------------------


class _Worker:
    """A worker's lasting state: the store opened read-only, the state tree, an executor
    (with its Engine and module cache) and the values read from the current base state."""

    def __init__(self, spec: WorkerSpec) -> None:
        from xinlian.crypto.suites import get_suite
        from xinlian.execution.executor import Executor

        suite = get_suite(spec.suite)
        self.spec = spec
        self.hash = suite.hash_bytes
        self.executor: Executor = Executor(spec.params, suite)
        self.base: BaseState | None = None
        self.values: dict[bytes, bytes | None] = {}
        self._open()

    def _open(self) -> None:
        self.store = Store(self.spec.store_path, sub_dbs=_WORKER_DBS, readonly=True)
        self.tree = jmt.StateTree(self.store, self.hash)
        self.index = ChainIndex(self.store)

    def _holds(self, base: BaseState) -> bool:
        try:
            return self.tree.root(base.version) == base.root
        except StorageError:
            return False

    def reader(self, base: BaseState) -> Reader:
        """The reader of `base`'s state, after checking that the store holds it (the
        store is opened again once if not: its directory may have been replaced)."""
        if base != self.base:
            self.base, self.values = None, {}
            if not self._holds(base):
                self.store.close()
                self._open()
                if not self._holds(base):
                    raise ParallelUnavailable(
                        f"the store does not hold state {base.version} with the block's root")
            self.base = base
        values, tree, version = self.values, self.tree, base.version
        if len(values) > READ_CACHE_LIMIT:
            values.clear()

        def read(key: bytes) -> bytes | None:
            try:
                return values[key]
            except KeyError:
                value = values[key] = tree.get(key, version)
                return value
        return read

    def header_hash(self, height: int) -> bytes | None:
        """The hash of committed block `height`'s header, as the node's chain store gives
        it (`block_hash(n)` in contracts)."""
        raw = self.index.header(height) if height >= 0 else None
        return None if raw is None else header_hash(_decode_block(raw).header, self.hash)

    def speculate(self, request: SegmentRequest) -> Iterator[Speculation]:
        read = self.reader(request.base)
        spec = self.spec
        items = [(position, index, decode_transaction(raw, spec.chain_id, self.hash))
                 for position, index, raw in request.items]
        block = BlockContext(request.height, request.timestamp_ms, BlockHashes(self.header_hash))
        return self.executor.speculate(block, read, request.pre_writes, items)


def _serve(conn: Any, spec: WorkerSpec) -> None:
    """A worker process: answer each segment with its speculations, CHUNK calls per
    message as they are run; exit when the node says so, closes the pipe or dies."""
    try:
        worker: _Worker | None = _Worker(spec)
        broken = ""
    except Exception as exc:  # every request gets the cause; the node runs serially
        worker, broken = None, f"the worker cannot start: {type(exc).__name__}: {exc}"
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the node closed the pipe or died
        if message is None:
            return  # the node stops the pool
        sequence, request = message
        try:
            if worker is None:
                raise ParallelUnavailable(broken)
            started = time.perf_counter()
            chunk: list[Speculation] = []
            for spec_ in worker.speculate(request):
                chunk.append(spec_)
                if len(chunk) == CHUNK:
                    conn.send((sequence, "chunk", chunk))
                    chunk = []
            conn.send((sequence, "chunk", chunk))
            conn.send((sequence, "done", time.perf_counter() - started))
        except (EOFError, OSError):
            return
        except Exception as exc:  # its segment runs serially; the cause is kept in stats
            conn.send((sequence, "error", f"{type(exc).__name__}: {exc}"))
