"""Local validator networks: `xinlian cluster up|down`, and the one node-process launcher.

`prepare` creates, under one directory: keys/ (each organisation's admin key and the funded
accounts' keys), genesis.toml (one organisation and one validator per node), and one data
directory per node with its node key, consensus key and RPC port. `NodeProcess` starts
`xinlian node start --data DIR` as a child process and returns once it serves JSON-RPC (the
node prints one JSON line then; its log goes to node.log in its data directory); it is
what `cluster up`, `xinlian demo`, the end-to-end tests and the benchmarks start nodes with.
`cluster up` detaches its nodes (they outlive the command); `cluster down` stops whatever
really runs from each data directory under the cluster's directory — found by the pid file
each node keeps there (node/pidfile.py), so a validator restarted by hand is stopped too —
with the verification worker processes each node started. The layout is documented in
docs/cluster.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xinlian.cli.node_cmd import CONSENSUS_KEY_FILE, NODE_FILE, init_data_dir
from xinlian.crypto.signing import SigningKey
from xinlian.crypto.suites import SUITES, Suite, get_suite
from xinlian.crypto.votes import VoteKeyPair
from xinlian.ledger.genesis import check_epoch_blocks
from xinlian.node import pidfile
from xinlian.node.errors import NodeConfigError, NodeError
from xinlian.node.keyfile import write_consensus_key, write_key

STATE_FILE = "cluster.json"  # the RPC addresses of the nodes `up` started
CHAIN_ID = "xinlian-cluster"
BALANCE = 10**12


def new_consensus_key(suite: Suite) -> tuple[bytes, bytes, bytes]:
    """(secret, public key, proof of possession) of a new validator vote key."""
    key = suite.generate_vote_key()
    return key.secret, key.public, key.pop


@dataclass(frozen=True)
class ValidatorKeys:
    """One validator's secrets, all drawn from the OS CSPRNG: its organisation's admin key,
    its node key and its consensus (vote) key with the proof of possession."""

    admin: SigningKey
    node: SigningKey
    vote: VoteKeyPair

    @classmethod
    def generate(cls, suite: Suite) -> ValidatorKeys:
        return cls(suite.generate_signing_key(), suite.generate_signing_key(),
                   suite.generate_vote_key())


def genesis_toml(suite: Suite, validators: list[ValidatorKeys], endpoints: list[str],
                 accounts: list[SigningKey], chain_id: str = CHAIN_ID,
                 epoch_blocks: int = 0) -> str:
    """The genesis of a BFT chain: organisation `org<i>` runs validator `i` at
    `endpoints[i]`; its admin and every one of `accounts` is funded with `BALANCE`; with
    `epoch_blocks`, an epoch ends every that many ledger blocks (docs/consensus.md)."""
    lines = [f'chain_id = "{chain_id}"', f'suite = "{suite.name}"', "[params]",
             "block_interval_ms = 100", "nonce_window = 1024", f"epoch_blocks = {epoch_blocks}"]
    for i, v in enumerate(validators):
        lines += ["[[organisations]]", f'name = "org{i}"',
                  f'admins = ["{v.admin.public_key.data.hex()}"]']
    funded = [v.admin for v in validators] + accounts
    lines += [line for key in funded for line in
              ("[[accounts]]", f'key = "{key.public_key.data.hex()}"', f"balance = {BALANCE}")]
    for i, (v, endpoint) in enumerate(zip(validators, endpoints, strict=True)):
        lines += ["[[validators]]", f'organisation = "org{i}"',
                  f'node_key = "{v.node.public_key.data.hex()}"',
                  f'consensus_key = "{v.vote.public.hex()}"', f'pop = "{v.vote.pop.hex()}"',
                  f'endpoint = "{endpoint}"']
    return "\n".join(lines) + "\n"


def init_validator_dir(genesis: Path, data: Path, suite: Suite, keys: ValidatorKeys,
                       rpc_host: str, rpc_port: int) -> None:
    """A validator's data directory: `xinlian init` with its node key, and its vote key."""
    init_data_dir(genesis, data, keys.node, rpc_host, rpc_port)
    write_consensus_key(data / CONSENSUS_KEY_FILE, suite, keys.vote.secret, keys.vote.public,
                        keys.vote.pop)


def prepare(root: Path, n: int, suite: Suite, base_port: int, rpc_base_port: int,
            accounts: int, *, ports: list[int] | None = None,
            hosts: list[str] | None = None, epoch_blocks: int = 0,
            node_toml: str = "") -> list[Path]:
    """Keys, genesis and `n` initialised data directories under `root`; validator `i`
    listens on `ports[i]` if given, else on `base_port + i`, and on address `hosts[i]` if
    given (also its RPC address: a node in its own network namespace), else 127.0.0.1;
    `epoch_blocks` goes to the genesis (`genesis_toml`); `node_toml` (tables such as
    `[consensus]`) is appended to every node's node.toml."""
    check_epoch_blocks(epoch_blocks)  # before anything is written
    ports = ports or [base_port + i for i in range(n)]
    hosts = hosts or ["127.0.0.1"] * n
    if (root / "genesis.toml").exists():
        raise NodeConfigError(f"{root} already holds a cluster")
    keys = root / "keys"
    validators = [ValidatorKeys.generate(suite) for _ in range(n)]
    funded = [suite.generate_signing_key() for _ in range(accounts)]
    for i, v in enumerate(validators):
        write_key(keys / f"admin{i}.json", suite, v.admin)
        write_key(keys / f"node{i}.json", suite, v.node)
    for j, account in enumerate(funded):
        write_key(keys / f"account{j}.json", suite, account)
    genesis = root / "genesis.toml"
    genesis.write_text(genesis_toml(suite, validators,
                                    [f"{h}:{p}" for h, p in zip(hosts, ports, strict=True)],
                                    funded, epoch_blocks=epoch_blocks), encoding="utf-8")
    data_dirs = []
    for i, v in enumerate(validators):
        data = root / f"node{i}"
        init_validator_dir(genesis, data, suite, v, hosts[i],
                           rpc_base_port and rpc_base_port + i)  # 0: any free port
        if node_toml:
            with (data / NODE_FILE).open("a", encoding="utf-8") as toml:
                toml.write("\n" + node_toml)
        data_dirs.append(data)
    return data_dirs


LOWEST_PORT = 10_000


def free_ports(count: int) -> list[int]:
    """Ports free on loopback right now, for the validators of a local network: drawn below
    the kernel's ephemeral range, which outgoing connections and port-0 listeners take
    ports from, so that none of those can take a chosen port before its node binds it."""
    below = _ephemeral_start()
    pick = random.SystemRandom()
    ports: list[int] = []
    while len(ports) < count:
        port = pick.randrange(LOWEST_PORT, below)
        if port in ports:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        ports.append(port)
    return ports


def _ephemeral_start() -> int:
    """The first port of the kernel's ephemeral range (Linux's default where unreadable)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768
    return low if low > LOWEST_PORT + 1_000 else 32_768


class NodeProcess:
    """`xinlian node start --data DIR` as a child process; blocks until it serves.

    `rpc_port`: overrides node.toml (0: any free port; None: node.toml's). `detach`: the
    node runs in its own session and outlives this process (`cluster up`); this process
    stops reading its stdout once it serves (the node writes nothing more there). `env`:
    variables added to the node's environment (the test hooks of node/supervise.py).
    `args`: more arguments to `node start` (a light node's `--light --genesis --peer`).
    `program`: the `xinlian` command to run (default: this interpreter's module)."""

    def __init__(self, data: Path, *, rpc_port: int | None = 0, detach: bool = False,
                 env: dict[str, str] | None = None, args: Sequence[str] = (),
                 program: Sequence[str] = (sys.executable, "-m", "xinlian.cli.main")) -> None:
        self.data = data
        self._log = open(data / "node.log", "ab")  # noqa: SIM115 - closed in _close
        port = [] if rpc_port is None else ["--rpc-port", str(rpc_port)]
        self.proc = subprocess.Popen(
            [*program, "node", "start", "--data", str(data),
             *port, *args], stdout=subprocess.PIPE, stderr=self._log, text=True,
            env=dict(os.environ, PYTHONUNBUFFERED="1", **(env or {})),
            start_new_session=detach)
        self.pid = self.proc.pid
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # blocks until the node is serving
        if not line:
            self.proc.wait()
            self._close()
            raise NodeError(f"node in {data} did not start; see {data / 'node.log'}")
        self.base_url = json.loads(line)["rpc"]
        self.url = self.base_url + "/rpc"
        if detach:
            self._close()

    def rpc(self, method: str, *params: Any) -> Any:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method,
                           "params": list(params)}).encode()
        req = urllib.request.Request(self.url, body, {"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            reply = json.loads(resp.read())
        if "error" in reply:
            raise NodeError(f"{method}: {reply['error']}")
        return reply["result"]

    def kill(self) -> None:
        """SIGKILL: the node gets no chance to clean up."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self._close()

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, and SIGKILL if the node has not stopped within `timeout` seconds."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close()

    def _close(self) -> None:
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()


# -- stopping what runs from data directories ----------------------------------------------

async def wait_for_commits(node: NodeProcess, committed: int) -> None:
    """Until the node has committed `committed` transactions since genesis."""
    while node.rpc("xl_status")["committed_txs"] < committed:
        await asyncio.sleep(0.1)  # watching another process, not a test


def data_dirs(root: Path) -> list[Path]:
    """The node data directories directly under `root`."""
    return sorted(p for p in root.iterdir() if (p / NODE_FILE).is_file())


def stop_nodes(dirs: list[Path], timeout: float = 30.0) -> tuple[int, int]:
    """Stop the node running from each of `dirs` (SIGTERM, SIGKILL after `timeout`) and the
    worker processes it started; returns how many nodes and workers were running and are
    now stopped."""
    nodes = [pid for pid in (pidfile.running(d) for d in dirs) if pid is not None]
    workers = [child for pid in nodes for child in children(pid)]
    _signal(nodes, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in nodes) and time.monotonic() < deadline:
        time.sleep(0.1)  # a command-line wait for other processes, not a test
    _signal([p for p in nodes if _alive(p)], signal.SIGKILL)
    _signal([p for p in workers if _alive(p)], signal.SIGKILL)  # orphaned by a killed node
    for d in dirs:  # a killed node leaves its file behind
        if pidfile.running(d) is None:
            (d / pidfile.PID_FILE).unlink(missing_ok=True)
    return (sum(not _alive(p) for p in nodes), sum(not _alive(p) for p in workers))


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux /proc; none elsewhere)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _signal(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            continue


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return not _zombie(pid)
    return waited == 0


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


# -- the commands ------------------------------------------------------------------------

# node.toml for tens of validators sharing one machine (docs/pq.md, "Fifty validators as
# processes"): batches of a second, a slow idle beat, a 5 s first round timeout (about three
# times a round there; each crashed leader costs one), signatures checked in each node's
# own process
SHARED_MACHINE_TOML = ("[consensus]\nbatch_delay_ms = 1000\nround_timeout_ms = 5000\n"
                       "idle_ms = 2000\n[verification]\nworkers = 1\n")

# `cluster up` flags that become node.toml settings: flag -> (table, key)
NODE_SETTINGS = {"batch_delay_ms": ("consensus", "batch_delay_ms"),
                 "round_timeout_ms": ("consensus", "round_timeout_ms"),
                 "idle_ms": ("consensus", "idle_ms"),
                 "verify_workers": ("verification", "workers")}


def settings_toml(args: argparse.Namespace) -> str:
    """The node.toml tables the given `cluster up` flags set (each node checks them when it
    starts: docs/operations.md)."""
    tables: dict[str, list[str]] = {}
    for flag, (table, key) in NODE_SETTINGS.items():
        value = getattr(args, flag, None)
        if value is not None:
            tables.setdefault(table, []).append(f"{key} = {int(value)}")
    return "".join(f"[{t}]\n" + "\n".join(lines) + "\n" for t, lines in tables.items())


def up(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    suite = get_suite(args.suite)
    ports = free_ports(args.n) if args.base_port == 0 else None
    dirs = prepare(root, args.n, suite, args.base_port, args.rpc_base_port, args.accounts,
                   ports=ports, epoch_blocks=args.epoch_blocks, node_toml=settings_toml(args))
    nodes: list[NodeProcess] = []
    try:
        for d in dirs:
            nodes.append(NodeProcess(d, rpc_port=None, detach=True))
    except NodeError as exc:
        stop_nodes(dirs)
        raise NodeConfigError(f"the cluster did not come up; see {root}/node*/node.log"
                              ) from exc
    urls = [n.base_url for n in nodes]
    (root / STATE_FILE).write_text(json.dumps({"rpc": urls}), encoding="utf-8")
    print(json.dumps({"dir": str(root), "suite": suite.name, "nodes": args.n, "rpc": urls,
                      "pids": [n.pid for n in nodes]}))
    return 0


def down(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    if not (root / "genesis.toml").is_file():
        raise NodeConfigError(f"{root} holds no cluster")
    nodes, workers = stop_nodes(data_dirs(root))
    (root / STATE_FILE).unlink(missing_ok=True)
    print(json.dumps({"dir": str(root), "stopped": nodes, "workers_stopped": workers}))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]
             ) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """The `cluster` commands; returns their group (`cluster plan` joins it, main.py)."""
    cluster = sub.add_parser("cluster", help="a local BFT network of node processes")
    cmds = cluster.add_subparsers(dest="cluster_cmd", required=True)
    u = cmds.add_parser("up", help="create keys, genesis and data directories; start nodes")
    u.add_argument("-n", type=int, default=4, help="validators (n = 3f+1 tolerates f faults)")
    u.add_argument("--dir", required=True)
    u.add_argument("--suite", choices=sorted(SUITES), default="intl")
    u.add_argument("--base-port", type=int, default=7100,
                   help="consensus port of node 0 (0: free ports chosen now)")
    u.add_argument("--rpc-base-port", type=int, default=8600,
                   help="RPC port of node 0 (0: each node takes any free port)")
    u.add_argument("--accounts", type=int, default=10, help="funded client accounts")
    u.add_argument("--epoch-blocks", type=int, default=0,
                   help="end an epoch every N ledger blocks, N >= 8 (0: only when the "
                        "validators change); lets pruned validators prune (docs/consensus.md)")
    u.add_argument("--batch-delay-ms", type=int,
                   help="[consensus] batch_delay_ms of every node (default: the node's)")
    u.add_argument("--round-timeout-ms", type=int,
                   help="[consensus] round_timeout_ms: a round's first timeout")
    u.add_argument("--idle-ms", type=int,
                   help="[consensus] idle_ms: an idle leader's wait before an empty block")
    u.add_argument("--verify-workers", type=int,
                   help="[verification] workers (1: no worker processes, for many nodes)")
    u.set_defaults(func=up)
    d = cmds.add_parser("down", help="stop every node running from the cluster's directories")
    d.add_argument("--dir", required=True)
    d.set_defaults(func=down)
    return cmds
