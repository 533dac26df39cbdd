"""Run one protocol with every party in its own OS process, over loopback TCP.

The parent binds one listening socket per party (so every port is known, and listening,
before any party dials), writes the run's spec to a temporary directory and starts
`python -m xinlian.testing.mpc.party` for each party with its socket inherited. Each party
generates its own secrets and prints their public forms; once every party has, the parent
writes them all to the membership file and sends its path to every party, which then
starts its protocol. No secret leaves the process that drew it. Parties talk
to each other only through the real transport (handshake-authenticated, encrypted
channels) under the real `NetworkRuntime`. The parent reads each party's outcome line;
when every finisher has reported it closes the parties' standard input, which tells them
to stop, and collects their counters. Nothing waits on a sleep: the parent blocks on the
parties' output, bounded by a deadline after which it kills them and fails the run.
"""

from __future__ import annotations

import json
import queue
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any

from xinlian.crypto.threshold.envelope import DROP_REASONS
from xinlian.testing.mpc.setup import MpcConfigError, MpcRunError, Outcome, Setup
from xinlian.testing.mpc.simrun import RunResult, role_counts

MAX_PROCESSES = 32


def _listen() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


def _reader(party: int, stream: IO[bytes], lines: queue.Queue[tuple[int, Any]]) -> None:
    for raw in stream:
        try:
            lines.put((party, json.loads(raw)))
        except ValueError:
            continue
    lines.put((party, None))  # end of output


def run_processes(setup: Setup, *, deadline_s: float = 60.0) -> RunResult:
    """Run `setup` with one process per party; MpcRunError if it does not finish in time."""
    parties = list(setup.parties)
    if len(parties) > MAX_PROCESSES:
        raise MpcRunError(f"processes mode runs at most {MAX_PROCESSES} parties; use sim")
    if setup.dealt:
        raise MpcConfigError("a dealer would know every party's share: processes runs take "
                             "their keys from a DKG among the parties (keys='dkg')")
    with tempfile.TemporaryDirectory(prefix="xinlian-mpc-") as tmp:
        socks = {i: _listen() for i in parties}
        spec = {"params": setup.params.to_dict(), "dir": tmp,
                "ports": {str(i): s.getsockname()[1] for i, s in socks.items()}}
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        lines: queue.Queue[tuple[int, Any]] = queue.Queue()
        procs: dict[int, subprocess.Popen[bytes]] = {}
        started = time.perf_counter()
        try:
            for i in parties:
                fd = socks[i].fileno()
                log = (Path(tmp) / f"party{i}.log").open("wb")
                procs[i] = subprocess.Popen(
                    [sys.executable, "-m", "xinlian.testing.mpc.party", str(spec_path),
                     str(i), str(fd)], pass_fds=(fd,), stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, stderr=log)
                log.close()
                socks[i].close()
                assert procs[i].stdout is not None
                threading.Thread(target=_reader, args=(i, procs[i].stdout, lines),
                                 daemon=True).start()
            outcomes, stats = _collect(setup, procs, lines, started + deadline_s, tmp)
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
            for sock in socks.values():
                sock.close()
        wall = time.perf_counter() - started
    return _result(setup, outcomes, stats, wall)


def _collect(setup: Setup, procs: dict[int, subprocess.Popen[bytes]],
             lines: queue.Queue[tuple[int, Any]], deadline: float, tmp: str
             ) -> tuple[dict[int, Outcome], dict[int, dict[str, Any]]]:
    outcomes: dict[int, Outcome] = {}
    stats: dict[int, dict[str, Any]] = {}
    public: dict[int, dict[str, str]] = {}
    ended: set[int] = set()
    stopping = False
    while len(ended) < len(procs):
        if not stopping and setup.finishers <= outcomes.keys():
            stopping = True
            for proc in procs.values():
                assert proc.stdin is not None
                proc.stdin.close()
        try:
            party, line = lines.get(timeout=max(0.0, deadline - time.perf_counter()))
        except queue.Empty:
            raise MpcRunError(_failure("the run passed its deadline", outcomes, tmp)) from None
        if line is None:
            ended.add(party)
            if not stopping:
                raise MpcRunError(_failure(f"party {party} exited early", outcomes, tmp))
        elif "public" in line:
            public[party] = line["public"]
            if len(public) == len(procs):
                _send_members(procs, public, tmp)
        elif "outcome" in line:
            outcomes.setdefault(party, line["outcome"])
        elif "stats" in line:
            stats[party] = line["stats"]
    return outcomes, stats


def _send_members(procs: dict[int, subprocess.Popen[bytes]], public: dict[int, dict[str, str]],
                  tmp: str) -> None:
    """Write every party's public keys to the membership file and tell each party where."""
    path = Path(tmp) / "members.json"
    path.write_text(json.dumps({str(i): public[i] for i in sorted(public)}), encoding="utf-8")
    for proc in procs.values():
        assert proc.stdin is not None
        try:
            proc.stdin.write(str(path).encode() + b"\n")
            proc.stdin.flush()
        except BrokenPipeError:  # the party has exited: its end of output reports it
            continue


def _failure(what: str, outcomes: dict[int, Outcome], tmp: str) -> str:
    logs = sorted(Path(tmp).glob("party*.log"))
    tail = next((p.read_text(errors="replace")[-800:] for p in logs if p.stat().st_size), "")
    return f"{what}; outcomes from {sorted(outcomes)}" + (f"; a party's log: {tail}" if tail
                                                           else "")


def _result(setup: Setup, outcomes: dict[int, Outcome], stats: dict[int, dict[str, Any]],
            wall: float) -> RunResult:
    dropped: Counter[str] = Counter(dict.fromkeys(DROP_REASONS, 0))
    faults: Counter[int] = Counter()
    messages = sent = 0
    for s in stats.values():
        dropped.update(s["dropped"])
        faults.update({int(k): v for k, v in s["faults"].items()})
        messages += s["transport"]["messages_out"]
        sent += s["transport"]["bytes_out"]
    return RunResult(setup.params.protocol, "processes", len(setup.parties),
                     setup.summarise(outcomes), outcomes, messages, sent, wall,
                     setup.finishers <= outcomes.keys(), dict(dropped), dict(faults),
                     role_counts(setup), list(setup.faulty), "os-random",
                     held={i: s["held"] for i, s in stats.items()})
