"""Batch signature verification on every core.

A batch is split into one chunk per worker process and verified in parallel; small batches
run in the calling process, where shipping them would cost more than verifying them. Within
a chunk the items of each algorithm go to `signing.verify_many_raw` together, so SM2 items
are checked in one call to the native verifier.
Workers start with `forkserver` so that a threaded caller (the node's event loop) is safe;
a node starts them before it serves (`start`). A worker exits by itself once the process
that started the pool is gone: killed with SIGKILL, that process cannot stop its workers,
and they (and the fork server, which waits for them) would otherwise stay behind for good.

A worker that dies (killed, out of memory) breaks a `ProcessPoolExecutor` for good: every
later call would fail. The pool is therefore supervised: a broken pool is discarded, a new
one started and the batch verified again; if the new pool breaks as well, `verify_batch`
raises `VerifierUnavailable`, which the node treats as fatal (it stops loudly instead of
serving a ledger it can no longer extend).
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from xinlian.crypto.errors import VerifierUnavailable
from xinlian.crypto.signing import verify_many_raw, verify_raw

Item = tuple[int, bytes, bytes, bytes]  # (alg, public key, message, signature)

INLINE_LIMIT = 32
_pool: ProcessPoolExecutor | None = None
_workers: int | None = None  # set_workers; None: one per core
restarts = 0  # pools replaced after a worker died


def workers() -> int:
    return _workers or os.cpu_count() or 1


def set_workers(count: int) -> None:
    """Check large batches in `count` processes from now on (1: in the caller's own); a
    running pool of another size stops and the next large batch starts the new one."""
    global _workers
    if count < 1:
        raise ValueError(f"verification needs at least one process, not {count}")
    if count != workers():
        shutdown()
    _workers = count


def _pool_instance() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["xinlian.crypto.signing"])
        _pool = ProcessPoolExecutor(max_workers=workers(), mp_context=ctx,
                                    initializer=_watch_owner, initargs=(os.getpid(),))
        atexit.register(shutdown)
    return _pool


def _watch_owner(owner: int) -> None:
    """In a worker: exit as soon as the pool's owner process no longer exists."""
    def watch() -> None:
        while True:
            try:
                os.kill(owner, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:
                pass  # it exists, under another user: not ours to judge
            time.sleep(1.0)  # a watchdog's poll, not synchronisation
    threading.Thread(target=watch, name="owner-watch", daemon=True).start()


def start() -> None:
    """Start every worker process now. Otherwise they start with the first large batches,
    which wait for them (each imports the verifiers), and a node's first load pays for it."""
    if workers() > 1:
        list(_pool_instance().map(_verify_chunk, [[]] * workers()))


def shutdown() -> None:
    """Stop the worker processes (they restart on the next large batch)."""
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=True, cancel_futures=True)
        _pool = None


def _discard_broken() -> None:
    global _pool, restarts
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None
    restarts += 1


def _verify_chunk(items: Sequence[Item]) -> list[bool]:
    by_alg: dict[int, list[int]] = {}
    for i, item in enumerate(items):
        by_alg.setdefault(item[0], []).append(i)
    results = [False] * len(items)
    for alg, at in by_alg.items():
        try:
            checked = verify_many_raw(alg, [items[i][1:] for i in at])
        except Exception:  # an unknown algorithm or an item its verifier rejects: one by one
            checked = [_safe_verify(*items[i]) for i in at]
        for i, ok in zip(at, checked, strict=True):
            results[i] = ok
    return results


def _safe_verify(alg: int, public: bytes, message: bytes, signature: bytes) -> bool:
    try:
        return verify_raw(alg, public, message, signature)
    except Exception:
        return False  # an unknown algorithm or unparseable key is simply invalid here


def verify_batch(items: Sequence[Item], *, parallel: bool = True) -> list[bool]:
    """One bool per item, in order: is the signature valid?"""
    return verify_batch_timed(items, parallel=parallel)[0]


def verify_batch_timed(items: Sequence[Item], *, parallel: bool = True
                       ) -> tuple[list[bool], float]:
    """`verify_batch`, and the CPU seconds the checks took in whichever processes ran
    them (a node's cost of verification: node/stages.py)."""
    if not parallel or len(items) <= INLINE_LIMIT or workers() == 1:
        return _verify_chunk_timed(items)
    n = workers()
    size = (len(items) + n - 1) // n
    chunks = [items[i:i + size] for i in range(0, len(items), size)]
    try:
        return _map_chunks(chunks)
    except BrokenProcessPool:
        _discard_broken()  # a worker died: one new pool, one more try
    try:
        return _map_chunks(chunks)
    except BrokenProcessPool as exc:
        _discard_broken()
        raise VerifierUnavailable("batch-verification workers died twice in a row") from exc


def _map_chunks(chunks: Sequence[Sequence[Item]]) -> tuple[list[bool], float]:
    out: list[bool] = []
    seconds = 0.0
    for part, cpu in _pool_instance().map(_verify_chunk_timed, chunks):
        out.extend(part)
        seconds += cpu
    return out, seconds


def _verify_chunk_timed(items: Sequence[Item]) -> tuple[list[bool], float]:
    start = time.thread_time()
    verdicts = _verify_chunk(items)
    return verdicts, time.thread_time() - start
