"""The pid file of a node process in its data directory: which process runs from it.

A node writes `node.pid` when it starts and removes it when it exits cleanly, so whatever
really runs from a data directory can be found and stopped (`xinlian cluster down`), even a
node someone restarted by hand. A file left by a node that was killed is stale: the pid no
longer names a node process of that directory, and is ignored.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from xinlian.node.errors import NodeConfigError

PID_FILE = "node.pid"


def claim(data: Path) -> None:
    """Record this process as the node of `data`; refuse if another node runs from it."""
    other = running(data)
    if other is not None and other != os.getpid():
        raise NodeConfigError(f"a node already runs from {data} (pid {other})")
    tmp = data / (PID_FILE + ".tmp")
    tmp.write_text(f"{os.getpid()}\n", encoding="utf-8")
    tmp.replace(data / PID_FILE)


def release(data: Path) -> None:
    """Remove the pid file if it still names this process."""
    if _read(data) == os.getpid():
        with contextlib.suppress(FileNotFoundError):
            (data / PID_FILE).unlink()


def running(data: Path) -> int | None:
    """The pid of the node process running from `data`, or None."""
    pid = _read(data)
    return pid if pid is not None and _runs_from(pid, data) else None


def _read(data: Path) -> int | None:
    try:
        text = (data / PID_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _runs_from(pid: int, data: Path) -> bool:
    """Whether `pid` is alive and is `xinlian node start --data <data>` (a recycled pid of
    another process is not). Without /proc, a live pid is taken at its word."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    proc = Path("/proc") / str(pid)
    if not Path("/proc/self").exists():
        return True
    try:
        args = (proc / "cmdline").read_bytes().split(b"\0")
        cwd = Path(os.readlink(proc / "cwd"))
    except OSError:
        return False
    if b"--data" not in args or b"start" not in args:
        return False
    value = args[args.index(b"--data") + 1:][:1]
    return bool(value) and (cwd / os.fsdecode(value[0])).resolve() == data.resolve()
