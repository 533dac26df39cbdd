"""Two node processes in separate network namespaces joined by a veth pair under tbf.

Needs root and iproute2 (`ip`, `tc`); skipped otherwise. Only addresses inside the test's
own namespaces are used, and the namespaces (and with them the veth pair) are deleted
afterwards, whatever happens.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                       reason="creating network namespaces needs root"),
    pytest.mark.skipif(shutil.which("ip") is None or shutil.which("tc") is None,
                       reason="iproute2 (ip, tc) is not installed"),
]

RATE_BYTES = 100e6 / 8   # tbf rate 100mbit
BURST = 64 * 1024        # tbf burst 64kb (kilobytes)
ADDRESSES = ("10.231.0.1", "10.231.0.2")
SRC = Path(__file__).resolve().parents[2] / "src"


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, text=True)


@contextmanager
def namespaces() -> Iterator[tuple[str, str]]:
    tag = f"{os.getpid() % 100000}"
    names = (f"xln{tag}a", f"xln{tag}b")
    veths = (f"xlv{tag}a", f"xlv{tag}b")
    try:
        for ns in names:
            _run("ip", "netns", "add", ns)
        _run("ip", "link", "add", veths[0], "type", "veth", "peer", "name", veths[1])
        for ns, dev, addr in zip(names, veths, ADDRESSES, strict=True):
            _run("ip", "link", "set", dev, "netns", ns)
            _run("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            _run("ip", "-n", ns, "link", "set", dev, "up")
            _run("ip", "-n", ns, "link", "set", "lo", "up")
            _run("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", dev, "root", "tbf",
                 "rate", "100mbit", "burst", "64kb", "latency", "50ms")
    except subprocess.CalledProcessError as exc:
        for ns in names:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        pytest.skip(f"cannot set up namespaces here: {' '.join(exc.cmd)}: {exc.stderr.strip()}")
    try:
        yield names
    finally:
        for ns in names:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "link", "del", veths[0]], capture_output=True)


@pytest.mark.parametrize("suite_name", ["intl", "sm", "pq"])
def test_two_processes_across_namespaces_under_tbf(suite_name: str) -> None:
    count, size = 100, 64 * 1024
    endpoints = [f"{a}:{7400 + i}" for i, a in enumerate(ADDRESSES)]
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    script = str(Path(__file__).with_name("netns_node.py"))
    with namespaces() as names:
        procs = [subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, script, str(i),
                                   suite_name, *endpoints, str(count), str(size)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=env)
                 for i, ns in enumerate(names)]
        try:
            outputs = [p.communicate(timeout=90) for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        report = json.loads(out)
        assert report["received"] == count
        assert report["stats"]["decrypt_failed"] == report["stats"]["unauthenticated"] == 0
        # tbf is in the path: from the first message received to the last, the other
        # count - 1 cannot cross faster than 100 Mbit/s (payload only: the wire carries
        # more), less the bucket's burst. Half of that bound, because a receiver stalled by
        # a busy machine finds data already waiting in its socket buffer; without tbf the
        # veth pair moves these 6.5 MB in about 10 ms, far below either bound.
        bound = ((count - 1) * size - BURST) / RATE_BYTES
        assert report["receive_span_s"] >= bound / 2
