"""`xinlian init`, `xinlian node start` and `xinlian node check`: set up a data directory,
run a node in it, and scan it for damage.

A data directory holds genesis.toml (the chain's genesis config), node.toml (RPC address
and the node key file's name), the node key, and chain/ (the LMDB store). A light node
(`node start --light`) needs none of that: its directory holds light/, the certified
headers it verified.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import shutil
import signal
import sys
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

from xinlian.api.light import LightNode, LightServer
from xinlian.api.limits import Limits, limits_from
from xinlian.api.metrics import LightMetrics, NodeMetrics
from xinlian.api.metrics_server import MetricsServer
from xinlian.api.server import RpcServer
from xinlian.cli import observability
from xinlian.cli.observability import configure_logging, log_settings, metrics_listen
from xinlian.crypto import batch as batch_verify
from xinlian.crypto.signing import SigningKey
from xinlian.errors import XinlianError
from xinlian.execution.parallel import default_workers
from xinlian.ledger.genesis import Genesis, load_genesis
from xinlian.ledger.mempool import PoolLimits
from xinlian.network.shaper import LinkShape, ShapeFor, node_egress
from xinlian.node import backup as backups
from xinlian.node import pidfile
from xinlian.node.check import check_data_dir
from xinlian.node.errors import NodeConfigError, TaskFailed
from xinlian.node.identity import read_identity_files
from xinlian.node.keyfile import read_consensus_secret, read_key, write_key
from xinlian.node.offload import monotonic_ms
from xinlian.node.pipeline import LedgerPipeline
from xinlian.node.retention import Retention, retention_from
from xinlian.node.service import Node
from xinlian.node.supervise import EXIT_FAILSTOP
from xinlian.node.validator import (
    BftOrdering,
    ConsensusSettings,
    catch_up,
    rejoin_later,
)
from xinlian.storage.blob_config import BlobConfig, blob_config_from

GENESIS_FILE = "genesis.toml"
NODE_FILE = "node.toml"
KEY_FILE = "node_key.json"
CONSENSUS_KEY_FILE = "consensus_key.json"
# a validator's keys of a suite migration's target (`xinlian keygen --suite pq --out ...`),
# registered by `xinlian pq rotate`; the node votes with the first from the switch epoch
ROTATED_VOTE_FILE = "rotated_vote_key.json"
ROTATED_NODE_FILE = "rotated_node_key.json"
log = logging.getLogger("xinlian.node")


def init_data_dir(config: Path, data: Path, node_key: Path | SigningKey | None,
                  rpc_host: str, rpc_port: int, listen: str | None = None) -> Genesis:
    """Create a data directory: genesis config, node key (a key file to copy, a key, or
    None: a new one), node.toml and block 0; `listen` (host:port) is where a validator
    added after genesis accepts its peers."""
    genesis = load_genesis(config)
    suite = genesis.crypto_suite()
    if listen is not None:
        _host_port(listen)
    if (data / NODE_FILE).exists():
        raise NodeConfigError(f"{data} is already initialised")
    data.mkdir(parents=True, exist_ok=True)
    if isinstance(node_key, Path):
        key_suite, key = read_key(node_key)
        if key_suite.name != suite.name:
            raise NodeConfigError(
                f"node key is for suite {key_suite.name}, the chain uses {suite.name}")
        shutil.copyfile(node_key, data / KEY_FILE)
    else:
        key = suite.generate_signing_key() if node_key is None else node_key
        if key.alg != suite.signature:
            raise NodeConfigError(f"node key is a {key.alg.name} key, the chain uses "
                                  f"{suite.signature.name}")
        write_key(data / KEY_FILE, suite, key)
    shutil.copyfile(config, data / GENESIS_FILE)
    (data / NODE_FILE).write_text(
        f'key = "{KEY_FILE}"\nrpc_host = "{rpc_host}"\nrpc_port = {rpc_port}\n'
        + (f'listen = "{listen}"\n' if listen is not None else ""), encoding="utf-8")
    LedgerPipeline(data, genesis, key, clock=monotonic_ms).close()  # writes block 0
    return genesis


def init(args: argparse.Namespace) -> int:
    data = Path(args.data)
    genesis = init_data_dir(Path(args.config), data,
                            Path(args.node_key) if args.node_key else None,
                            args.rpc_host, args.rpc_port, args.listen)
    print(json.dumps({"data": str(data), "chain_id": genesis.chain_id, "suite": genesis.suite,
                      "genesis_hash": genesis.hash().hex()}))
    return 0


def _host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise NodeConfigError(f"listen address {value!r} is not host:port")
    return host, int(port)


def egress_cap(config: dict[str, object]) -> ShapeFor | None:
    """node.toml `egress_mbit`: cap the validator's egress with the transport's shaper."""
    value = config.get("egress_mbit")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise NodeConfigError(f"egress_mbit must be a positive number, not {value!r}")
    return node_egress(LinkShape.mbit(float(value)))


def rpc_limits(config: dict[str, object]) -> Limits:
    """The RPC server's limits from node.toml's optional `[rpc]` table."""
    table = config.get("rpc", {})
    if not isinstance(table, dict):
        raise NodeConfigError("[rpc] in node.toml must be a table of limits")
    return limits_from(table)


def pool_limits(config: dict[str, object]) -> PoolLimits:
    """The pool's node-local limits from node.toml's optional `[pool]` table."""
    table = config.get("pool", {})
    if not isinstance(table, dict):
        raise NodeConfigError("[pool] in node.toml must be a table of limits")
    known = {f.name for f in fields(PoolLimits)}
    for key, value in table.items():
        if key not in known:
            raise NodeConfigError(f"unknown [pool] setting {key!r}; known: {sorted(known)}")
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise NodeConfigError(f"[pool] {key} must be a positive integer, not {value!r}")
    return PoolLimits(**table)


# node.toml `[consensus]`: each setting's bounds in milliseconds
CONSENSUS_BOUNDS = {"batch_delay_ms": (1, 10_000), "round_timeout_ms": (100, 600_000),
                    "idle_ms": (10, 600_000)}


def consensus_settings(config: dict[str, object]) -> ConsensusSettings:
    """node.toml `[consensus]`: a validator's batch delay, round timeout and idle beat
    (`node.validator.ConsensusSettings`; every key optional, each within CONSENSUS_BOUNDS)."""
    table = config.get("consensus", {})
    if not isinstance(table, dict):
        raise NodeConfigError("[consensus] in node.toml must be a table")
    unknown = sorted(set(table) - set(CONSENSUS_BOUNDS))
    if unknown:
        raise NodeConfigError(f"unknown [consensus] setting(s) {unknown}; "
                              f"known: {sorted(CONSENSUS_BOUNDS)}")
    for key, value in table.items():
        low, high = CONSENSUS_BOUNDS[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise NodeConfigError(f"[consensus] {key} must be an integer from {low} to "
                                  f"{high}, not {value!r}")
    return ConsensusSettings(**table)


def verification_workers(config: dict[str, object]) -> int:
    """node.toml `[verification] workers`: processes that check a large batch's signatures
    (default: one per core; 1 checks them in the node's own process, for many small nodes
    sharing a machine)."""
    table = config.get("verification", {})
    if not isinstance(table, dict):
        raise NodeConfigError("[verification] in node.toml must be a table")
    unknown = sorted(set(table) - {"workers"})
    if unknown:
        raise NodeConfigError(f"unknown [verification] setting(s) {unknown}; "
                              "known: ['workers']")
    value = table.get("workers", batch_verify.workers())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 256:
        raise NodeConfigError(f"[verification] workers must be an integer from 1 to 256, "
                              f"not {value!r}")
    return value


def execution_workers(config: dict[str, object]) -> int:
    """node.toml `[execution] workers`: processes that run a block's contract calls beside
    the node's own (0: serial; default: one per core but the node's own)."""
    table = config.get("execution", {})
    if not isinstance(table, dict):
        raise NodeConfigError("[execution] in node.toml must be a table")
    unknown = sorted(set(table) - {"workers"})
    if unknown:
        raise NodeConfigError(f"unknown [execution] setting(s) {unknown}; known: ['workers']")
    value = table.get("workers", default_workers())
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise NodeConfigError(f"[execution] workers must be an integer >= 0, not {value!r}")
    return value


def blob_config(config: dict[str, object], data: Path) -> BlobConfig:
    """The node's blob store from node.toml's optional `[blobs]` table."""
    table = config.get("blobs", {})
    if not isinstance(table, dict):
        raise NodeConfigError("[blobs] in node.toml must be a table")
    return blob_config_from(table, data)


def node_config(data: Path) -> dict[str, object]:
    try:
        return tomllib.loads((data / NODE_FILE).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise NodeConfigError(f"{data} is not an initialised data directory: {exc}") from exc


async def _serve(data: Path, host: str, port: int, limits: Limits, pool: PoolLimits,
                 workers: int, retention: Retention, consensus: ConsensusSettings,
                 verify_workers: int, metrics_at: tuple[str, int] | None) -> None:
    genesis = load_genesis(data / GENESIS_FILE)
    config = node_config(data)
    _, key = read_key(data / str(config["key"]))
    secret = None
    rotated = []
    rotated_node = None
    shape_for = None
    identity = None
    listen = None
    if genesis.validators:  # a BFT chain: this node is a validator
        secret = read_consensus_secret(data / str(config.get("consensus_key",
                                                             CONSENSUS_KEY_FILE)))
        identity = read_identity_files(config, data)
        rotated_path = data / str(config.get("rotated_vote_key", ROTATED_VOTE_FILE))
        if rotated_path.exists():
            rotated.append(read_key(rotated_path)[1])
        rotated_node_path = data / str(config.get("rotated_node_key", ROTATED_NODE_FILE))
        if rotated_node_path.exists():
            rotated_node = read_key(rotated_node_path)[1]
        listen = config.get("listen")
        # a validator added after genesis first catches up from its peers' state snapshot
        synced = await catch_up(data, genesis, key, _host_port(str(listen)) if listen else None,
                                identity=identity)
        if synced is not None:
            print(json.dumps({"event": "caught_up", "height": synced.block.header.height,
                              "epoch": synced.root.committee.epoch,
                              "state_entries": len(synced.state.leaves)}),
                  file=sys.stderr, flush=True)
        shape_for = egress_cap(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # the verification workers start before the node serves, not with its first load
    batch_verify.set_workers(verify_workers)
    await loop.run_in_executor(None, batch_verify.start)
    first = True
    while True:
        node = Node(data, genesis, key, secret, rotated_votes=rotated, shape_for=shape_for,
                    pool_limits=pool, exec_workers=workers, blobs=blob_config(config, data),
                    retention=retention, identity=identity,
                    consensus=consensus, rotated_node=rotated_node)
        server = RpcServer(node, host, port, limits)
        await node.start()
        await server.start()
        metrics = None if metrics_at is None else MetricsServer(
            NodeMetrics(node, data, server), *metrics_at)
        if metrics is not None:
            await metrics.start()
        # what start-up made lives as long as the node: out of the collector's way, so a
        # full collection (one per block of ~10,000 contract calls) walks only what came
        # after it
        gc.collect()
        gc.freeze()
        bft = node.ordering if isinstance(node.ordering, BftOrdering) else None
        if identity is not None and bft is not None:
            loop.add_signal_handler(signal.SIGHUP, _reload_identity, data, bft)
        status = node.status()
        ready = {"rpc": server.url, "chain_id": status.chain_id, "height": status.height,
                 **({} if metrics is None else {"metrics": metrics.url})}
        if first:
            print(json.dumps({"event": "ready", **ready}), flush=True)
        log.info("serving", extra=ready)
        stopped = asyncio.create_task(stop.wait())
        failed = asyncio.create_task(node.failed())
        waiters: list[asyncio.Future[Any]] = [stopped, failed]
        if bft is not None and bft.behind is not None:
            waiters.append(bft.behind)
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for waiter in (stopped, failed):
            waiter.cancel()
        if metrics is not None:
            await metrics.stop()
        await server.stop()
        await node.stop()
        if failed.done() and not failed.cancelled():
            error = failed.result()
            # to the log: a launcher that detached no longer reads this process's stdout
            print(json.dumps({"event": "fail_stop", "code": error.code,
                              "cause": error.message}), file=sys.stderr, flush=True)
            raise error
        if stop.is_set() or bft is None or bft.behind is None or not bft.behind.done():
            break
        # its peers dropped the epoch it is in: state sync to a later one, then serve again
        # on the same port
        port = server.port
        synced = await rejoin_later(data, genesis, key,
                                    _host_port(str(listen)) if listen else None,
                                    identity=identity)
        print(json.dumps({"event": "rejoined", "height": synced.block.header.height,
                          "epoch": synced.root.committee.epoch}), file=sys.stderr, flush=True)
        first = False
    print(json.dumps({"event": "stopped"}), file=sys.stderr, flush=True)


def _reload_identity(data: Path, ordering: BftOrdering) -> None:
    """SIGHUP: read node.toml's `[identity]` files again (new revocation lists); files
    that do not load, or a table removed, leave the identity in force as it was."""
    try:
        files = read_identity_files(node_config(data), data)
        if files is None:
            raise NodeConfigError("node.toml has no [identity] table any more")
        ordering.reload_identity(files)
    except NodeConfigError as exc:
        log.error("identity not reloaded", extra={"error": exc.message})
        return
    log.info("identity reloaded",
             extra={"revoked": sum(len(crl.body.serials) for crl in files.revocations)})


async def _serve_light(data: Path, genesis: Genesis, peers: list[str], host: str,
                       port: int, interval_s: float,
                       metrics_at: tuple[str, int] | None) -> None:
    """A light node (api/light.py): follow the certified headers, serve verified queries."""
    light = LightNode(data, genesis, peers)
    server = LightServer(light, host, port)
    metrics = None if metrics_at is None else MetricsServer(LightMetrics(light, data),
                                                            *metrics_at)
    follower: asyncio.Task[None] | None = None
    try:
        try:
            await light.sync()  # a first round, so that it serves a chain when it says ready
        except XinlianError as exc:
            print(json.dumps({"event": "sync_failed", "error": exc.to_dict()}),
                  file=sys.stderr, flush=True)
        await server.start()
        if metrics is not None:
            await metrics.start()
        follower = asyncio.create_task(light.follow(interval_s))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        status = light.status()
        ready = {"rpc": server.url, "light": True, "chain_id": genesis.chain_id,
                 "epoch": status["epoch"], "height": status["height"],
                 **({} if metrics is None else {"metrics": metrics.url})}
        print(json.dumps({"event": "ready", **ready}), flush=True)
        log.info("serving", extra=ready)
        await stop.wait()
    finally:
        if follower is not None:
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
        if metrics is not None:
            await metrics.stop()
        await server.stop()
        await light.close()
    print(json.dumps({"event": "stopped"}), file=sys.stderr, flush=True)


def start_light(args: argparse.Namespace) -> int:
    data = Path(args.data)
    if not args.genesis or not args.peer:
        raise NodeConfigError("a light node needs --genesis (the chain's genesis TOML) and "
                              "at least one --peer (a full node's RPC URL)")
    genesis = load_genesis(Path(args.genesis))
    configure_logging(log_settings({}, args))  # a light node has no node.toml
    metrics_at = metrics_listen({}, args)
    data.mkdir(parents=True, exist_ok=True)
    pidfile.claim(data)
    try:
        asyncio.run(_serve_light(data, genesis, list(args.peer), args.rpc_host or "127.0.0.1",
                                 args.rpc_port if args.rpc_port is not None else 0,
                                 args.interval, metrics_at))
    finally:
        pidfile.release(data)
    return 0


def start(args: argparse.Namespace) -> int:
    if args.light:
        return start_light(args)
    data = Path(args.data)
    config = node_config(data)
    host = args.rpc_host or str(config.get("rpc_host", "127.0.0.1"))
    port = args.rpc_port if args.rpc_port is not None else int(str(config.get("rpc_port", 0)))
    configure_logging(log_settings(config, args))
    metrics_at = metrics_listen(config, args)
    pidfile.claim(data)  # what runs from this directory, for `cluster down`
    try:
        asyncio.run(_serve(data, host, port, rpc_limits(config), pool_limits(config),
                           execution_workers(config), retention_from(config),
                           consensus_settings(config), verification_workers(config),
                           metrics_at))
    except TaskFailed as exc:
        print(f"error[{exc.code} {exc.name}]: {exc.message}", file=sys.stderr)
        return EXIT_FAILSTOP
    finally:
        pidfile.release(data)
    return 0


def check(args: argparse.Namespace) -> int:
    """Print the scan's report as JSON; exit 1 when the directory is damaged."""
    data = Path(args.data)
    report = check_data_dir(data, load_genesis(data / GENESIS_FILE))
    print(json.dumps({"data": str(data), **report.to_dict()}))
    return 0 if report.ok else 1


def node_files(data: Path) -> list[str]:
    """The files of a data directory that a backup carries: genesis, node.toml, the node
    key and the consensus key (named in node.toml, if it names others), and the membership
    certificate and revocation lists that its `[identity]` names."""
    names = [GENESIS_FILE, NODE_FILE, KEY_FILE, CONSENSUS_KEY_FILE]
    if (data / NODE_FILE).is_file():
        config = node_config(data)
        names += [str(config.get("key", KEY_FILE)),
                  str(config.get("consensus_key", CONSENSUS_KEY_FILE))]
        identity = config.get("identity")
        if isinstance(identity, dict):
            names += [str(identity.get("certificate", "")),
                      *map(str, identity.get("revocations", []))]
            names = [n for n in names if n]
    return list(dict.fromkeys(names))


def backup(args: argparse.Namespace) -> int:
    """Back up the data directory, its node running or not; print the manifest."""
    data = Path(args.data)
    manifest = backups.backup(data, Path(args.dir), node_files(data))
    print(json.dumps({"backup": args.dir, "data": str(data), **manifest.to_dict()}))
    return 0


def restore(args: argparse.Namespace) -> int:
    manifest = backups.restore(Path(args.dir), Path(args.data))
    print(json.dumps({"restored": args.dir, "data": args.data,
                      **manifest.to_dict()}))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("init", help="create a data directory from a genesis TOML config")
    p.add_argument("--config", required=True, help="genesis TOML (see docs/node.md)")
    p.add_argument("--data", required=True, help="data directory to create")
    p.add_argument("--node-key", help="node key file (default: generate one)")
    p.add_argument("--rpc-host", default="127.0.0.1")
    p.add_argument("--rpc-port", type=int, default=8545)
    p.add_argument("--listen", help="host:port for peers: a validator added after genesis "
                                    "(its endpoint in the AddValidator proposal)")
    p.set_defaults(func=init)

    node = sub.add_parser("node", help="run a node").add_subparsers(dest="node_cmd",
                                                                    required=True)
    s = node.add_parser("start", help="run the node in a data directory until SIGINT/SIGTERM")
    s.add_argument("--data", required=True)
    s.add_argument("--rpc-host", help="override node.toml")
    s.add_argument("--rpc-port", type=int, help="override node.toml (0: any free port)")
    s.add_argument("--light", action="store_true",
                   help="a light node of a BFT chain: keeps certified headers only and "
                        "checks full nodes' answers against them (see docs/operations.md)")
    s.add_argument("--genesis", help="light node: the chain's genesis TOML")
    s.add_argument("--peer", action="append",
                   help="light node: a full node's RPC URL (repeat for more)")
    s.add_argument("--interval", type=float, default=1.0,
                   help="light node: seconds between syncs")
    observability.add_flags(s)
    s.set_defaults(func=start)
    c = node.add_parser("check", help="scan a data directory (stopped node) for damage: "
                                      "record checksums, block links and roots")
    c.add_argument("--data", required=True)
    c.set_defaults(func=check)
    b = node.add_parser("backup", help="copy the node's stores (consistent, while it runs) "
                                       "and its config and keys into a new directory")
    b.add_argument("dir", help="the backup directory (new, or empty)")
    b.add_argument("--data", required=True, help="the node's data directory")
    b.set_defaults(func=backup)
    r = node.add_parser("restore", help="restore a backup into a new data directory")
    r.add_argument("dir", help="the backup directory")
    r.add_argument("--data", required=True, help="the data directory to create (new, or empty)")
    r.set_defaults(func=restore)


