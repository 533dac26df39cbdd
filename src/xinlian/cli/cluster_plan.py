"""`xinlian cluster plan`: a BFT network of N validators on N machines, ready to copy.

Where `cluster up` starts every validator on this machine, `plan` writes what each machine
needs and starts nothing. Under `--dir`: the public genesis.toml and plan.json (every
host's endpoint, RPC address and public keys), the funded client accounts' keys under
accounts/, and one directory per host, named by its address, holding that validator's
data directory (its node key, its consensus key, the genesis, block 0), its organisation's
admin key and a systemd unit. Every key comes fresh from the OS CSPRNG and each host's
directory holds only that validator's own secrets, so copying a host's directory to its
machine gives it nothing of another's. docs/operations.md walks through a deployment.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
from pathlib import Path

from xinlian.cli.cluster import (
    CHAIN_ID,
    ValidatorKeys,
    genesis_toml,
    init_validator_dir,
)
from xinlian.crypto.suites import SUITES, Suite, get_suite
from xinlian.ledger.genesis import check_epoch_blocks, load_genesis
from xinlian.node.backup import claim_empty
from xinlian.node.errors import NodeConfigError
from xinlian.node.keyfile import write_key
from xinlian.storage.kv import copy_store

PLAN_FILE = "plan.json"
UNIT_FILE = "xinlian-node.service"
ADMIN_FILE = "admin.json"
DATA_DIR = "data"
_HOSTNAME = re.compile(r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+")


def checked_host(value: str) -> str:
    """An IP address or a DNS name, as a validator's address; NodeConfigError otherwise."""
    text = value.strip()
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        if _HOSTNAME.fullmatch(text) and not text.replace(".", "").isdigit():
            return text.rstrip(".")
    raise NodeConfigError(f"host {value!r} is neither an IP address nor a DNS name")


def read_hosts(hosts: list[str], hosts_file: Path | None) -> list[str]:
    """The validators' addresses: `--host` values, then the hosts file's lines (blank
    lines and `#` comments skipped); each once."""
    values = list(hosts)
    if hosts_file is not None:
        try:
            lines = hosts_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise NodeConfigError(f"cannot read hosts file {hosts_file}: {exc}") from exc
        values += [s for line in lines if (s := line.split("#", 1)[0].strip())]
    checked = [checked_host(v) for v in values]
    if not checked:
        raise NodeConfigError("a plan needs at least one host (--host or --hosts-file)")
    repeated = sorted({h for h in checked if checked.count(h) > 1})
    if repeated:
        raise NodeConfigError(f"hosts named twice: {repeated}; one validator per machine")
    return checked


def systemd_unit(name: str, chain_id: str, host: str, program: str, remote_dir: str,
                 user: str) -> str:
    """The unit that runs the validator from `remote_dir` (its host directory's place on
    the machine). Exit status 2 (bad configuration, damaged data) is not restarted:
    restarting cannot fix it; a fail-stop (70) is (docs/operations.md)."""
    data = f"{remote_dir.rstrip('/')}/{DATA_DIR}"
    homes = ("/home", "/root", "/run/user")  # what ProtectHome hides: not if the node lives there
    protect_home = not any(remote_dir == h or remote_dir.startswith(h + "/") for h in homes)
    return f"""[Unit]
Description=Xinlian validator {name} of chain {chain_id} at {host}
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User={user}
Group={user}
WorkingDirectory={remote_dir}
ExecStart={program} node start --data {data}
Restart=on-failure
RestartSec=5
RestartPreventExitStatus=2
TimeoutStopSec=45
LimitNOFILE=65536
NoNewPrivileges=true
PrivateTmp=true
ProtectSystem=strict
ProtectHome={"true" if protect_home else "false"}
ReadWritePaths={remote_dir}

[Install]
WantedBy=multi-user.target
"""


def plan(root: Path, hosts: list[str], suite: Suite, port: int, rpc_port: int, accounts: int,
         *, remote_dir: str, program: str, user: str, epoch_blocks: int = 0
         ) -> dict[str, object]:
    """Write the plan under `root` (new or empty); returns what plan.json holds."""
    if not 0 < port < 65536 or not 0 < rpc_port < 65536:
        raise NodeConfigError("ports must be within 1..65535")
    if accounts < 0:
        raise NodeConfigError("--accounts must be 0 or more")
    check_epoch_blocks(epoch_blocks)
    if not remote_dir.startswith("/") or not program.startswith("/"):
        raise NodeConfigError("--remote-dir and --xinlian must be absolute paths")
    claim_empty(root)
    validators = [ValidatorKeys.generate(suite) for _ in range(len(hosts))]
    funded = [suite.generate_signing_key() for _ in range(accounts)]
    for j, account in enumerate(funded):
        write_key(root / "accounts" / f"account{j}.json", suite, account)
    genesis_path = root / "genesis.toml"
    endpoints = [f"{h}:{port}" for h in hosts]
    genesis_path.write_text(genesis_toml(suite, validators, endpoints, funded,
                                         epoch_blocks=epoch_blocks), encoding="utf-8")
    entries = []
    for i, (host, v) in enumerate(zip(hosts, validators, strict=True)):
        home = root / host
        init_validator_dir(genesis_path, home / DATA_DIR, suite, v, host, rpc_port)
        _compact(home / DATA_DIR / "chain")
        write_key(home / ADMIN_FILE, suite, v.admin)
        (home / UNIT_FILE).write_text(systemd_unit(f"node{i}", CHAIN_ID, host, program,
                                                   remote_dir, user), encoding="utf-8")
        entries.append({"host": host, "organisation": f"org{i}", "endpoint": endpoints[i],
                        "rpc": f"http://{_url_host(host)}:{rpc_port}",
                        "node_key": v.node.public_key.data.hex(),
                        "consensus_key": v.vote.public.hex(),
                        "admin": v.admin.public_key.data.hex()})
    genesis = load_genesis(genesis_path)
    doc: dict[str, object] = {"chain_id": genesis.chain_id, "suite": suite.name,
                              "genesis_hash": genesis.hash().hex(),
                              "faults_tolerated": (len(hosts) - 1) // 3,
                              "remote_dir": remote_dir, "hosts": entries}
    (root / PLAN_FILE).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return doc


def _compact(store: Path) -> None:
    """Rewrite a new store compactly: as written, its file is sparse at the full map size
    (1 GiB), which a plain copy to the host would send whole."""
    tmp = store.with_name(store.name + ".compact")
    tmp.mkdir()
    copy_store(store, tmp)
    (tmp / "data.mdb").replace(store / "data.mdb")
    (store / "lock.mdb").unlink(missing_ok=True)
    tmp.rmdir()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def run(args: argparse.Namespace) -> int:
    hosts = read_hosts(args.host or [], Path(args.hosts_file) if args.hosts_file else None)
    doc = plan(Path(args.dir), hosts, get_suite(args.suite), args.port, args.rpc_port,
               args.accounts, remote_dir=args.remote_dir, program=args.xinlian, user=args.user,
               epoch_blocks=args.epoch_blocks)
    print(json.dumps({"dir": args.dir, **doc}))
    return 0


def register(cmds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = cmds.add_parser("plan", help="write each machine's data directory, keys and systemd "
                                     "unit for N validators on N machines (starts nothing)")
    p.add_argument("--host", action="append",
                   help="a validator machine's address (IP or DNS name); repeat for each")
    p.add_argument("--hosts-file", help="a file of addresses, one a line (# comments)")
    p.add_argument("--dir", required=True, help="where to write the plan (new, or empty)")
    p.add_argument("--suite", choices=sorted(SUITES), default="intl")
    p.add_argument("--port", type=int, default=7100, help="consensus port on every host")
    p.add_argument("--rpc-port", type=int, default=8600, help="RPC port on every host")
    p.add_argument("--accounts", type=int, default=0,
                   help="funded client accounts (keys under DIR/accounts/)")
    p.add_argument("--remote-dir", default="/var/lib/xinlian",
                   help="where a host's directory will live on its machine (the unit's "
                        "WorkingDirectory; the node runs from its data/)")
    p.add_argument("--xinlian", default="/usr/local/bin/xinlian",
                   help="the xinlian command on the machines (the unit's ExecStart)")
    p.add_argument("--user", default="xinlian", help="the account the unit runs the node as")
    p.add_argument("--epoch-blocks", type=int, default=0,
                   help="end an epoch every N ledger blocks, N >= 8 (0: only when the "
                        "validators change); lets pruned validators prune (docs/consensus.md)")
    p.set_defaults(func=run)
