"""`xinlian cluster plan` for 4 machines, run as 4 hosts: one network namespace each.

The plan is written for the namespaces' addresses; each host's directory is checked to hold
no other validator's secret; each validator runs from its own directory inside its own
namespace with the command its systemd unit names; signed transfers submitted to two of
them commit on all four, with one head and state root.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xinlian.cli.cluster import NodeProcess
from xinlian.cli.cluster_plan import ADMIN_FILE, DATA_DIR, PLAN_FILE, UNIT_FILE
from xinlian.cli.main import main as cli
from xinlian.node.keyfile import read_key
from xinlian.sdk.client import Client
from xinlian.sdk.wallet import Wallet

from .netns import NEEDS_ROOT_AND_IPROUTE2, bridged_namespaces, entered

pytestmark = [*NEEDS_ROOT_AND_IPROUTE2, pytest.mark.timeout(240)]

N = 4
PER_WALLET = 25
WAIT_S = 90.0
XINLIAN = Path(sys.executable).parent / "xinlian"  # the installed command the units run
REMOTE = "/var/lib/xinlian"


def _secrets(home: Path) -> set[str]:
    """The secrets of the key files a host's directory holds."""
    files = [home / ADMIN_FILE, *(home / DATA_DIR).glob("*key*.json")]
    return {json.loads(f.read_text())["secret"] for f in files}


def _held_text(path: Path) -> str:
    """Every byte under `path`, as lowercase hex and as text, to search for a secret in."""
    files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file()]
    assert all(f.stat().st_size < 1 << 20 for f in files)  # block 0's store is compact
    return "".join(f.read_bytes().hex() + f.read_bytes().decode("latin-1").lower()
                   for f in files)


def _exec_start(unit: Path) -> list[str]:
    line = next(x for x in unit.read_text().splitlines() if x.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart="))


def _wait_all_committed(nodes: list[NodeProcess], count: int) -> dict[str, object]:
    deadline = time.monotonic() + WAIT_S
    while True:
        statuses = [node.rpc("xl_status") for node in nodes]
        if all(s["committed_txs"] >= count for s in statuses) and \
                len({(s["height"], s["head_hash"], s["state_root"]) for s in statuses}) == 1:
            return statuses[0]
        assert time.monotonic() < deadline, f"no common commit of {count} txs: {statuses}"
        time.sleep(0.05)  # a polling interval, not a synchronisation


@pytest.mark.skipif(not XINLIAN.is_file(), reason=f"{XINLIAN} is not installed")
def test_planned_validators_on_separate_hosts_commit_together(tmp_path: Path) -> None:
    root = tmp_path / "plan"
    with bridged_namespaces(N) as net:
        argv = ["cluster", "plan", "--dir", str(root), "--accounts", "4",
                "--xinlian", str(XINLIAN), "--remote-dir", REMOTE]
        for host in net.hosts:
            argv += ["--host", host]
        assert cli(argv) == 0
        plan = json.loads((root / PLAN_FILE).read_text())
        homes = [root / h["host"] for h in plan["hosts"]]
        assert [h["host"] for h in plan["hosts"]] == net.hosts

        # each host holds its own three secrets and nothing of another's
        owned = [_secrets(home) for home in homes]
        assert all(len(s) == 3 for s in owned) and len(set().union(*owned)) == 3 * N
        for i, home in enumerate(homes):
            held = _held_text(home)
            others = set().union(*owned[:i], *owned[i + 1:])
            assert not [s for s in others if s in held]
        public = _held_text(root / "genesis.toml") + _held_text(root / PLAN_FILE)
        assert not [s for s in set().union(*owned) if s in public]

        for home in homes:
            unit = home / UNIT_FILE
            assert _exec_start(unit) == [str(XINLIAN), "node", "start",
                                         "--data", f"{REMOTE}/{DATA_DIR}"]
            if shutil.which("systemd-analyze"):
                verified = subprocess.run(["systemd-analyze", "verify", str(unit)],
                                          capture_output=True, text=True)
                assert verified.returncode == 0, verified.stderr

        nodes: list[NodeProcess] = []
        try:
            for ns, home in zip(net.names, homes, strict=True):
                with entered(ns):  # the unit's command, from the host's own directory
                    nodes.append(NodeProcess(home / DATA_DIR, rpc_port=None,
                                             program=[str(XINLIAN)]))
            assert [n.base_url for n in nodes] == [h["rpc"] for h in plan["hosts"]]
            suite_name = plan["suite"]
            wallets = []
            for j in range(4):
                suite, key = read_key(root / "accounts" / f"account{j}.json")
                assert suite.name == suite_name
                wallets.append(Wallet(key, plan["chain_id"], suite))
            for target in (nodes[0], nodes[2]):
                txs = [w.transfer(wallets[(i + 1) % 4].address, 1).raw
                       for _ in range(PER_WALLET) for i, w in enumerate(wallets)]
                replies = target.rpc("xl_submitTransactions", ["0x" + t.hex() for t in txs])
                assert all(r["accepted"] for r in replies)
            status = _wait_all_committed(nodes, 2 * PER_WALLET * 4)
            assert status["committed_txs"] == 2 * PER_WALLET * 4
            for node in nodes:
                with Client(node.base_url) as client:
                    assert client.account(wallets[1].address).account.nonce == 2 * PER_WALLET
        finally:
            for node in nodes:
                node.stop()
