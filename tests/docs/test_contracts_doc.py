"""docs/contracts.md is run as written: its `sh` blocks, in order, in an empty folder, as one
bash script against the real node it starts (the port 8545 replaced by a free one)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from xinlian.cli.cluster import free_ports

DOC = Path(__file__).resolve().parents[2] / "docs" / "contracts.md"


def sh_blocks(text: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)


def test_the_tutorial_runs_as_written(tmp_path: Path) -> None:
    blocks = sh_blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 10
    script = "set -euo pipefail\n" + "\n".join(blocks).replace("8545", str(free_ports(1)[0]))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    try:
        run = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, text=True,
                             capture_output=True, timeout=300)
    finally:
        pid = tmp_path / "node.pid"
        if pid.exists():  # the script stops its node; this covers a script that failed
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid.read_text()), signal.SIGTERM)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    for expected in [
        "Qi tests: 2 passed, 0 failed",
        "tip -> 5 ",
        "event Tipped(from: ",
        "total 12 event Tipped 7",   # the SDK's typed receipt and event
        "proven 7 at block",         # the SDK's verified proof
        '"value":12',                # the JSON-RPC query
        "error[5001 insufficient_balance]: 1 async call(s) reserve",
        "error[7510 upgrade_refused]",
        "upgraded 0x",
        "tip -> 18 ",                # 5 tipped + the bonus set by version 2's migrate
        "version 2: code",
        "error[7506 revert]: TooSmall(amount: 0)",
        "error[7502 bad_arguments]: argument `amount` of `tip`",
        "has no public method `tipp`",
        "no contract at 0000000000000000000000000000000000000001",
        "proposal status 0 events ['ContractFrozen']",
        "error[7513 contract_frozen]",
    ]:
        assert expected in out, (expected, out)
    lines = run.stdout.splitlines()
    assert lines[lines.index("5") + 1].startswith("5, proven at block")  # query, then proof
    funded = next(i for i, line in enumerate(lines) if line.startswith("funded 0x"))
    assert lines[funded + 1].startswith("  event Funded")
    assert int(lines[funded + 2]) >= 1  # tally_rounds: the scheduled function ran
    asked = next(i for i, line in enumerate(lines) if line.startswith("ask (tx"))
    assert lines[asked + 1] == "12"  # last_seen: the async answer reached the callback
