"""`xinlian cluster up|down`: a local BFT network of separate node processes.

`up` creates, under one directory: keys/ (each organisation's admin key and the funded
accounts' keys), genesis.toml (one organisation and one validator per node), and one data
directory per node with its node key, consensus key and RPC port; then it starts every
node as its own process (logging to node<i>/node.log) and waits until all serve.
`down` stops them. The layout is documented in docs/cluster.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from xinlian.cli.node_cmd import CONSENSUS_KEY_FILE, init_data_dir
from xinlian.crypto.suites import SUITES, Suite, get_suite
from xinlian.node.errors import NodeConfigError
from xinlian.node.keyfile import write_consensus_key, write_key

STATE_FILE = "cluster.json"
BALANCE = 10**12


def new_consensus_key(suite: Suite) -> tuple[bytes, bytes, bytes]:
    """(secret, public key, proof of possession) of a new validator vote key."""
    key = suite.generate_vote_key()
    return key.secret, key.public, key.pop


def prepare(root: Path, n: int, suite: Suite, base_port: int, rpc_base_port: int,
            accounts: int, *, ports: list[int] | None = None,
            hosts: list[str] | None = None) -> list[Path]:
    """Keys, genesis and `n` initialised data directories under `root`; validator `i`
    listens on `ports[i]` if given, else on `base_port + i`, and on address `hosts[i]` if
    given (also its RPC address: a node in its own network namespace), else 127.0.0.1."""
    ports = ports or [base_port + i for i in range(n)]
    hosts = hosts or ["127.0.0.1"] * n
    if (root / "genesis.toml").exists():
        raise NodeConfigError(f"{root} already holds a cluster")
    keys = root / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    lines = ['chain_id = "xinlian-cluster"', f'suite = "{suite.name}"', "[params]",
             "block_interval_ms = 100", "nonce_window = 1024"]
    funded = []
    for i in range(n):
        admin = suite.generate_signing_key()
        write_key(keys / f"admin{i}.json", suite, admin)
        funded.append(admin.public_key.data.hex())
        lines += ["[[organisations]]", f'name = "org{i}"',
                  f'admins = ["{admin.public_key.data.hex()}"]']
    for j in range(accounts):
        account = suite.generate_signing_key()
        write_key(keys / f"account{j}.json", suite, account)
        funded.append(account.public_key.data.hex())
    lines += [line for key in funded
              for line in ("[[accounts]]", f'key = "{key}"', f"balance = {BALANCE}")]
    node_keys, votes = [], []
    for i in range(n):
        node_key = suite.generate_signing_key()
        write_key(keys / f"node{i}.json", suite, node_key)
        secret, public, pop = new_consensus_key(suite)
        node_keys.append(node_key)
        votes.append((secret, public, pop))
        lines += ["[[validators]]", f'organisation = "org{i}"',
                  f'node_key = "{node_key.public_key.data.hex()}"',
                  f'consensus_key = "{public.hex()}"', f'pop = "{pop.hex()}"',
                  f'endpoint = "{hosts[i]}:{ports[i]}"']
    (root / "genesis.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    data_dirs = []
    for i in range(n):
        data = root / f"node{i}"
        init_data_dir(root / "genesis.toml", data, keys / f"node{i}.json", hosts[i],
                      rpc_base_port + i)
        write_consensus_key(data / CONSENSUS_KEY_FILE, suite, *votes[i])
        data_dirs.append(data)
    return data_dirs


def start_node(data: Path) -> subprocess.Popen[bytes]:
    log = open(data / "node.log", "ab")  # noqa: SIM115 - the child process owns it
    return subprocess.Popen([sys.executable, "-m", "xinlian.cli.main", "node", "start",
                             "--data", str(data)], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _serving(url: str) -> bool:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "xl_status"}).encode()
    try:
        req = urllib.request.Request(url + "/rpc", body, {"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=2) as resp:
            return "result" in json.loads(resp.read())
    except OSError:
        return False


def up(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    suite = get_suite(args.suite)
    dirs = prepare(root, args.n, suite, args.base_port, args.rpc_base_port, args.accounts)
    procs = [start_node(d) for d in dirs]
    urls = [f"http://127.0.0.1:{args.rpc_base_port + i}" for i in range(args.n)]
    (root / STATE_FILE).write_text(json.dumps({"pids": [p.pid for p in procs], "rpc": urls}),
                                   encoding="utf-8")
    deadline = time.monotonic() + args.timeout
    while not all(_serving(u) for u in urls):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            _stop([p.pid for p in procs])
            raise NodeConfigError(f"the cluster did not come up; see {root}/node*/node.log")
        time.sleep(0.2)  # a command-line wait for other processes, not a test
    print(json.dumps({"dir": str(root), "suite": suite.name, "nodes": args.n, "rpc": urls}))
    return 0


def _stop(pids: list[int], timeout: float = 30.0) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + timeout
    for pid in pids:
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return waited == 0


def down(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    try:
        state = json.loads((root / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise NodeConfigError(f"no running cluster in {root}: {exc}") from exc
    _stop(list(state["pids"]))
    (root / STATE_FILE).unlink()
    print(json.dumps({"dir": str(root), "stopped": len(state["pids"])}))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cluster = sub.add_parser("cluster", help="a local BFT network of node processes")
    cmds = cluster.add_subparsers(dest="cluster_cmd", required=True)
    u = cmds.add_parser("up", help="create keys, genesis and data directories; start nodes")
    u.add_argument("-n", type=int, default=4, help="validators (n = 3f+1 tolerates f faults)")
    u.add_argument("--dir", required=True)
    u.add_argument("--suite", choices=sorted(SUITES), default="intl")
    u.add_argument("--base-port", type=int, default=7100, help="consensus port of node 0")
    u.add_argument("--rpc-base-port", type=int, default=8600, help="RPC port of node 0")
    u.add_argument("--accounts", type=int, default=10, help="funded client accounts")
    u.add_argument("--timeout", type=float, default=60.0)
    u.set_defaults(func=up)
    d = cmds.add_parser("down", help="stop the cluster's nodes")
    d.add_argument("--dir", required=True)
    d.set_defaults(func=down)
