"""Crash safety: SIGKILL a writer during repeated commits; reopen sees exactly a commit."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from xinlian.storage import jmt
from xinlian.storage.kv import Store

SRC = Path(__file__).resolve().parents[2] / "src"
Reference = Callable[[Callable[[bytes], bytes], dict[bytes, bytes]], bytes]


def kill_after(writer: ModuleType, path: Path, seed: int, commits: int,
               mid_commit: bool) -> int:
    """Start the writer, wait (on its output) for `commits` more commits and, if `mid_commit`,
    for the start of the next one; SIGKILL it. Returns the last version reported done."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    child = subprocess.Popen([sys.executable, str(writer.__file__), str(path), str(seed)],
                             stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdout is not None
    seen = 0
    reported = 0
    try:
        for line in child.stdout:
            event, version = line.split()
            if event == "done":
                reported = int(version)
                seen += 1
                if seen >= commits and not mid_commit:
                    break
            elif seen >= commits:
                break  # the writer is inside store.commit now
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    return reported


def check_consistent(writer: ModuleType, reference_root: Reference, path: Path, seed: int,
                     reported: int) -> int:
    log = writer.LOG_DB
    with Store(path, sub_dbs=writer.SUB_DBS) as store:
        raw = store.get(log, b"last")
        assert raw is not None
        last = int.from_bytes(raw, "big")
        assert last >= reported  # nothing the writer saw committed is lost
        tree = jmt.StateTree(store, writer.sha256)
        assert tree.latest_version() == last  # tree and log committed together
        assert store.get(log, b"root%08d" % (last + 1)) is None  # no half of the next batch
        assert store.scan(log, prefix=b"pad%08d" % (last + 1)) == []
        assert len(store.scan(log, prefix=b"pad%08d" % last)) == 200
        model: dict[bytes, bytes] = {}
        for version in range(1, last + 1):
            for key, value in writer.updates_for(seed, version).items():
                if value is None:
                    model.pop(key, None)
                else:
                    model[key] = value
        assert tree.root() == reference_root(writer.sha256, model)
        for version in range(max(1, last - 3), last + 1):
            assert store.get(log, b"root%08d" % version) == tree.root(version)
        for key in list(model)[:100]:
            assert tree.get(key) == model[key]
        return last


def test_sigkill_during_repeated_commits_leaves_a_consistent_store(
        tmp_path: Path, crash_writer: ModuleType, reference_root: Reference) -> None:
    rng = random.Random(2026)
    seed = 17
    path = tmp_path / "db"
    last = 0
    for _ in range(16):
        reported = kill_after(crash_writer, path, seed, commits=rng.randrange(1, 5),
                              mid_commit=rng.random() < 0.7)
        last = check_consistent(crash_writer, reference_root, path, seed, reported)
    assert last >= 16
