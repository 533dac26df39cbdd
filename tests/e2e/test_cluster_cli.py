"""`xinlian cluster up|down` on real node processes: down stops what really runs."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from pathlib import Path

import pytest

from xinlian.cli.cluster import NodeProcess, data_dirs
from xinlian.cli.main import main as cli
from xinlian.node import pidfile


def _gone(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it was our child
    return not Path(f"/proc/{pid}").exists()


def _last_json(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_down_stops_a_validator_restarted_by_hand(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "net"
    assert cli(["cluster", "up", "-n", "4", "--dir", str(root), "--base-port", "0",
                "--rpc-base-port", "0", "--accounts", "1"]) == 0
    pids = _last_json(capsys)["pids"]
    assert isinstance(pids, list)
    dirs = data_dirs(root)
    assert [pidfile.running(d) for d in dirs] == pids

    os.kill(pids[1], signal.SIGKILL)  # validator 1 dies and is started again by hand
    os.waitpid(pids[1], 0)
    again = NodeProcess(dirs[1], rpc_port=None, detach=True)
    assert pidfile.running(dirs[1]) == again.pid != pids[1]
    os.kill(pids[3], signal.SIGKILL)  # validator 3 dies and stays down: a stale pid file
    os.waitpid(pids[3], 0)
    assert (dirs[3] / pidfile.PID_FILE).exists() and pidfile.running(dirs[3]) is None

    assert cli(["cluster", "down", "--dir", str(root)]) == 0
    report = _last_json(capsys)
    assert report["stopped"] == 3  # nodes 0, 2 and the hand-started 1
    assert all(_gone(pid) for pid in [pids[0], pids[2], again.pid])
    assert not any((d / pidfile.PID_FILE).exists() for d in dirs)
    assert not (root / "cluster.json").exists()

    assert cli(["cluster", "down", "--dir", str(root)]) == 0  # nothing left to stop
    assert _last_json(capsys)["stopped"] == 0
