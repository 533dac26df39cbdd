"""Running a walk-through of docs/ as written: its `sh` blocks, in order, in an empty folder,
as one bash script against the real node it starts (the port 8545 replaced by a free one);
the node is stopped should the script fail before it does."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from xinlian.cli.cluster import free_ports

DOCS = Path(__file__).resolve().parents[2] / "docs"


def sh_blocks(text: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)


def run_walkthrough(name: str, cwd: Path, min_blocks: int) -> subprocess.CompletedProcess[str]:
    """Run docs/`name`'s blocks in `cwd`; the finished process (its output captured)."""
    blocks = sh_blocks((DOCS / name).read_text(encoding="utf-8"))
    assert len(blocks) >= min_blocks
    return run_blocks(blocks, cwd)


def run_blocks(blocks: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `sh` blocks in `cwd` as one script (the port 8545 replaced by a free one)."""
    script = "set -euo pipefail\n" + "\n".join(blocks).replace("8545", str(free_ports(1)[0]))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    try:
        return subprocess.run(["bash", "-c", script], cwd=cwd, env=env, text=True,
                              capture_output=True, timeout=300)
    finally:
        pid = cwd / "node.pid"
        if pid.exists():  # the script stops its node; this covers a script that failed
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid.read_text()), signal.SIGTERM)
