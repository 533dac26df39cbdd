"""Network namespaces for tests: nodes on a private bridge, each behind its own tbf.

Needs root and iproute2 (`ip`, `tc`): `NEEDS_ROOT_AND_IPROUTE2` skips a test module
otherwise. Only addresses in a private /24 that the test creates are used; IPv6 is off on
every device made here, so that no neighbour discovery chatter pads the qdisc counters.
Everything is deleted afterwards, whatever happens.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

NEEDS_ROOT_AND_IPROUTE2 = [
    pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                       reason="creating network namespaces needs root"),
    pytest.mark.skipif(shutil.which("ip") is None or shutil.which("tc") is None,
                       reason="iproute2 (ip, tc) is not installed"),
]

TBF = ("tbf", "rate", "100mbit", "burst", "64kb", "latency", "50ms")
TBF_RATE_BYTES = 100_000_000 // 8
_CLONE_NEWNET = 0x40000000


def run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def add_tbf(dev: str, ns: str | None = None) -> None:
    """Limit what leaves `dev` (in namespace `ns`, else the root namespace) to 100 Mbit/s."""
    run("tc", *(("-n", ns) if ns else ()), "qdisc", "add", "dev", dev, "root", *TBF)


def root_qdisc(dev: str, ns: str | None = None) -> dict[str, Any]:
    """`tc -s qdisc` of `dev`'s root qdisc, as iproute2 reports it in JSON."""
    shown = json.loads(run("tc", *(("-n", ns) if ns else ()), "-s", "-j", "qdisc", "show",
                           "dev", dev))
    return next(q for q in shown if q.get("root"))


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


@contextmanager
def entered(ns: str) -> Iterator[None]:
    """Run the calling thread in namespace `ns` (as `ip netns exec` does): sockets it opens
    and processes it starts meanwhile live there. It goes back home on exit."""
    with open("/proc/thread-self/ns/net", "rb") as home, \
            open(f"/run/netns/{ns}", "rb") as target:
        _setns(target.fileno())
        try:
            yield
        finally:
            _setns(home.fileno())


@dataclass(frozen=True)
class Bridged:
    """`n` namespaces on one bridge: namespace `names[i]` has address `hosts[i]` on its
    device `NODE_DEV`, whose other end `root_devs[i]` is a bridge port; the root namespace
    holds `gateway` on the bridge, so the test reaches every host directly."""

    names: list[str]
    hosts: list[str]
    root_devs: list[str]
    bridge: str
    gateway: str

    NODE_DEV = "eth0"


def _free_subnet(tag: int) -> str:
    """A 10.232.x.0/24 no route of the root namespace touches yet."""
    routes = run("ip", "-4", "route", "show", "table", "all")
    for k in range(256):
        prefix = f"10.232.{(tag + k) % 256}."
        if prefix not in routes:
            return prefix
    pytest.skip("no free 10.232.x.0/24 subnet")


def _no_ipv6(dev: str, ns: str | None = None) -> None:
    cmd = ("sysctl", "-qw", f"net.ipv6.conf.{dev}.disable_ipv6=1")
    subprocess.run(("ip", "netns", "exec", ns, *cmd) if ns else cmd, capture_output=True)


@contextmanager
def bridged_namespaces(n: int) -> Iterator[Bridged]:
    """Create the namespaces, bridge, veth pairs (tbf on both ends: each node sends and
    receives at most 100 Mbit/s) and addresses; delete them all on exit."""
    tag = os.getpid() % 100000
    prefix = _free_subnet(tag)
    net = Bridged([f"xln{tag}n{i}" for i in range(n)], [f"{prefix}{i + 1}" for i in range(n)],
                  [f"xlv{tag}n{i}" for i in range(n)], f"xlbr{tag}", f"{prefix}254")
    try:
        run("ip", "link", "add", net.bridge, "type", "bridge")
        _no_ipv6(net.bridge)
        run("ip", "addr", "add", f"{net.gateway}/24", "dev", net.bridge)
        run("ip", "link", "set", net.bridge, "up")
        for ns, host, dev in zip(net.names, net.hosts, net.root_devs, strict=True):
            run("ip", "netns", "add", ns)
            _no_ipv6("all", ns)
            _no_ipv6("default", ns)
            run("ip", "link", "add", dev, "type", "veth", "peer", "name", net.NODE_DEV,
                "netns", ns)
            _no_ipv6(dev)
            run("ip", "link", "set", dev, "master", net.bridge, "up")
            run("ip", "-n", ns, "addr", "add", f"{host}/24", "dev", net.NODE_DEV)
            run("ip", "-n", ns, "link", "set", net.NODE_DEV, "up")
            run("ip", "-n", ns, "link", "set", "lo", "up")
            add_tbf(net.NODE_DEV, ns)
            add_tbf(dev)
    except subprocess.CalledProcessError as exc:
        _delete(net)
        pytest.skip(f"cannot set up namespaces here: {' '.join(exc.cmd)}: {exc.stderr.strip()}")
    try:
        yield net
    finally:
        _delete(net)


def _delete(net: Bridged) -> None:
    """Deleting a namespace deletes its veth end and with it the pair."""
    for ns in net.names:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    for dev in (*net.root_devs, net.bridge):
        subprocess.run(["ip", "link", "del", dev], capture_output=True)
