"""The batch-verification pool: workers do not outlive a process killed with SIGKILL, and a
dead worker is replaced instead of breaking the pool for good."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures.process import BrokenProcessPool

import pytest

from xinlian.crypto import batch
from xinlian.crypto.errors import VerifierUnavailable
from xinlian.crypto.suites import get_suite

OWNER = """
import os, sys
from xinlian.crypto import batch
from xinlian.crypto.suites import get_suite
key = get_suite("intl").generate_signing_key(bytes(32))
items = [(int(key.alg), key.public_key.data, b"m", key.sign(b"m").data)] * 100
assert all(batch.verify_batch(items))
print(" ".join(str(p) for p in batch._pool_instance()._processes), flush=True)
sys.stdin.read()  # until killed
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie has exited; its parent reaps it
        return stat.read().split(")")[-1].split()[0] != "Z"


@pytest.mark.timeout(60)
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_exit_when_their_owner_is_killed() -> None:
    owner = subprocess.Popen([sys.executable, "-c", OWNER], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    assert owner.stdout is not None
    workers = [int(p) for p in owner.stdout.readline().split()]
    assert workers and all(_alive(p) for p in workers)
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    deadline = time.monotonic() + 30
    while any(_alive(p) for p in workers):  # each worker polls for its owner once a second
        assert time.monotonic() < deadline, "workers outlived their owner"
        time.sleep(0.1)


def _signed_items(count: int) -> list[batch.Item]:
    key = get_suite("intl").generate_signing_key(bytes(32))
    return [(int(key.alg), key.public_key.data, b"m", key.sign(b"m").data)] * count


@pytest.mark.timeout(60)
def test_start_runs_every_worker_before_the_first_batch() -> None:
    batch.shutdown()
    batch.start()
    processes = dict(batch._pool_instance()._processes)
    assert len(processes) == batch.workers()
    assert all(_alive(pid) for pid in processes)
    assert all(batch.verify_batch(_signed_items(4 * batch.INLINE_LIMIT)))
    assert dict(batch._pool_instance()._processes) == processes  # none started late


@pytest.mark.timeout(60)
def test_a_dead_worker_is_replaced_and_the_batch_still_verified() -> None:
    items = _signed_items(4 * batch.INLINE_LIMIT)
    assert all(batch.verify_batch(items))
    before = batch.restarts
    victim = next(iter(batch._pool_instance()._processes))
    os.kill(victim, signal.SIGKILL)
    # The pool learns of the death asynchronously; until it does, live workers still answer.
    # Every answer must be right, and the dead worker must be replaced.
    deadline = time.monotonic() + 30
    while batch.restarts == before:
        assert time.monotonic() < deadline, "the broken pool was never replaced"
        assert all(batch.verify_batch(items))
    assert batch.restarts == before + 1
    assert victim not in batch._pool_instance()._processes
    assert all(batch.verify_batch(items))


def test_invalid_pool_that_keeps_breaking_raises_verifier_unavailable(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_chunks: object) -> list[bool]:
        raise BrokenProcessPool("a worker died")

    monkeypatch.setattr(batch, "_map_chunks", broken)
    before = batch.restarts
    with pytest.raises(VerifierUnavailable):
        batch.verify_batch(_signed_items(4 * batch.INLINE_LIMIT))
    assert batch.restarts == before + 2
