"""The pid file names the node process running from a data directory, and nothing else."""

from __future__ import annotations

import os
from pathlib import Path

from xinlian.node import pidfile


def test_a_claim_is_released_at_exit(tmp_path: Path) -> None:
    pidfile.claim(tmp_path)
    assert (tmp_path / pidfile.PID_FILE).read_text().strip() == str(os.getpid())
    pidfile.release(tmp_path)
    assert not (tmp_path / pidfile.PID_FILE).exists()


def test_a_pid_that_is_not_a_node_of_this_directory_is_not_running(tmp_path: Path) -> None:
    (tmp_path / pidfile.PID_FILE).write_text(f"{os.getpid()}\n")  # alive, but not a node
    assert pidfile.running(tmp_path) is None
    (tmp_path / pidfile.PID_FILE).write_text("999999999\n")  # no such process
    assert pidfile.running(tmp_path) is None
    pidfile.claim(tmp_path)  # a stale file does not stop a node from starting
    assert pidfile.running(tmp_path) is None  # (this test process is no `node start`)


def test_release_leaves_another_process_file_alone(tmp_path: Path) -> None:
    (tmp_path / pidfile.PID_FILE).write_text("999999999\n")
    pidfile.release(tmp_path)
    assert (tmp_path / pidfile.PID_FILE).exists()
