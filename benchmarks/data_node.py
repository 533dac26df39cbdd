"""Data ingest through a real solo node: signed DATA_WRITE transactions over JSON-RPC, every
index maintained, and verified range pages read back over RPC by the SDK.

    python -m benchmarks.data_node [--records 100000] [--per-tx 100] [--accounts 200]
                                   [--block-txs 200] [--suite sm]

A solo node process (`xinlian node start`, the demo's genesis and node directory) holds one
collection with three attributes: a number and a time (range index: the Merkle B+-tree)
and a text (keyword index: the inverted index); every record also gets its provenance
history and the block's Bloom filter. The records are signed beforehand as DATA_WRITE
transactions of `--per-tx` records each, spread over `--accounts` writers (the pool holds
at most 64 pending per sender), and submitted as benchmarks/e2e.py submits transfers (four
requests in flight), in waves of `--wave` transactions, each when the one before has
committed (a pool drops what waits over 10 minutes); the rate is timed from the first
submission until the node's committed count includes the last, and every receipt is
checked.

What limits the rate is read from CPU time: the node process's own (all its threads: RPC,
admission, block execution and commit) and its children's (the signature-verification
pool), from /proc, over the same interval; a node that uses about one core while the
verifiers idle is bound by its single-threaded execution, which
`python -m benchmarks.data_model --profile 25` breaks down by function.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.report import line, print_lines
from xinlian import codec
from xinlian.cli import demo
from xinlian.cli.cluster import NodeProcess
from xinlian.cli.node_cmd import GENESIS_FILE
from xinlian.crypto.suites import get_suite
from xinlian.execution.data import values
from xinlian.execution.data.model import (
    MAX_MEMBERS,
    AttributeDecl,
    DataWrite,
    DeclareCollection,
    Field,
    Put,
)
from xinlian.ledger.genesis import load_genesis
from xinlian.ledger.transaction import TxKind
from xinlian.node.keyfile import read_key
from xinlian.sdk.aio import AsyncClient
from xinlian.sdk.wallet import SignedTx, Wallet

BENCH = "data_node"
NAME = "meters"
_TICKS = os.sysconf("SC_CLK_TCK")
BODY_BUDGET = 1 << 20  # raw bytes per submit request: under the 4 MiB body once hex-encoded


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="benchmarks.data_node")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--per-tx", type=int, default=100)
    parser.add_argument("--accounts", type=int, default=200,
                        help=f"writers, at most {MAX_MEMBERS} (a collection's writer list)")
    parser.add_argument("--block-txs", type=int, default=200)
    parser.add_argument("--suite", default="sm")
    parser.add_argument("--page", type=int, default=1000)
    parser.add_argument("--wave", type=int, default=1000,
                        help="transactions submitted at once, the next wave when they have "
                        "committed (the pool drops what waits over 10 minutes)")
    return parser


async def _committed(node: NodeProcess, count: int) -> None:
    """Until the node has committed `count` transactions since genesis; RuntimeError if its
    pool empties first (what was submitted left it unexecuted: aged out, or dropped)."""
    while True:
        status = node.rpc("xl_status")
        if status["committed_txs"] >= count:
            return
        if status["mempool_size"] == 0:
            raise RuntimeError(f"the pool is empty at {status['committed_txs']} of {count} "
                               "committed transactions")
        await asyncio.sleep(0.1)  # watching another process, not a test


def cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system) of process `pid` (all its threads) and of its live
    children (all their threads), from /proc."""
    own = children = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        spent = (int(fields[11]) + int(fields[12])) / _TICKS
        if int(entry.name) == pid:
            own = spent
        elif int(fields[1]) == pid:
            children += spent
    return own, children


def _writes(wallets: list[Wallet], records: int, per_tx: int) -> list[SignedTx]:
    """DATA_WRITE transactions of `per_tx` records each, round-robin over the wallets."""
    rng = random.Random(7)  # seeded: the same records every run
    words = [f"w{i}" for i in range(2000)]
    txs = []
    for n, start in enumerate(range(0, records, per_tx)):
        puts = [Put(b"r%09d" % i, [
            Field("kwh", values.encode("number", rng.randrange(-10**6, 10**6))),
            Field("at", values.encode("time", 1_700_000_000_000 + i)),
            Field("note", values.encode("text", " ".join(rng.choices(words, k=4))))])
            for i in range(start, min(records, start + per_tx))]
        txs.append(wallets[n % len(wallets)].data(
            TxKind.DATA_WRITE, codec.encode(DataWrite(NAME, list(puts)))))
    return txs


async def _ingest(args: argparse.Namespace) -> list[dict[str, Any]]:
    if not 1 <= args.accounts <= MAX_MEMBERS:
        raise SystemExit(f"--accounts must be 1..{MAX_MEMBERS}")
    suite = get_suite(args.suite)
    with tempfile.TemporaryDirectory(prefix="xinlian-bench-") as tmp:
        root = Path(tmp)
        [data] = demo.init_solo(root, suite, args.accounts, args.block_txs)
        genesis = load_genesis(root / GENESIS_FILE)
        wallets = [Wallet(read_key(root / "keys" / f"account{j}.json")[1], genesis.chain_id,
                          suite, params=genesis.params) for j in range(args.accounts)]
        declare = wallets[0].data(TxKind.DATA_COLLECTION, codec.encode(DeclareCollection(
            NAME, [AttributeDecl("kwh", "number"), AttributeDecl("at", "time"),
                   AttributeDecl("note", "text")], writers=[w.address for w in wallets])))
        cpu0 = time.process_time()
        txs = _writes(wallets, args.records, args.per_tx)
        sign_s = time.process_time() - cpu0
        batch = max(1, BODY_BUDGET // max(len(t.raw) for t in txs))
        node = NodeProcess(data)
        try:
            async with AsyncClient(node.base_url) as client:
                await demo.submit(client, [declare])
                [declared] = (await client.wait_for_commit([declare.hash], timeout=60)).values()
                if declared.status != 0:
                    raise RuntimeError(f"the collection was not declared: {declared}")
                before = node.rpc("xl_status")["committed_txs"]
                own0, kids0 = cpu_seconds(node.pid)
                start = time.perf_counter()
                for i in range(0, len(txs), args.wave):
                    wave = txs[i:i + args.wave]
                    await demo.submit(client, wave, batch)
                    await _committed(node, before + i + len(wave))
                wall = time.perf_counter() - start
                own1, kids1 = cpu_seconds(node.pid)
                receipts = await client.wait_for_commit([t.hash for t in txs], timeout=120)
                failed = sum(r.status != 0 for r in receipts.values())
                if failed:
                    raise RuntimeError(f"{failed} of {len(txs)} data writes failed")
                blocks = node.rpc("xl_status")["height"]
                query = await _query(client, args)
        finally:
            node.stop()
    common = {"records": args.records, "per_tx": args.per_tx, "txs": len(txs),
              "accounts": args.accounts, "block_txs": args.block_txs, "suite": suite.name,
              "indexes": "range x2, keyword, provenance, block filter"}
    node_cpu, verify_cpu = own1 - own0, kids1 - kids0
    return [
        line(BENCH, "ingest_records_per_s", args.records / wall, "records/s",
             wall_s=round(wall, 3), blocks=blocks, **common),
        line(BENCH, "ingest_txs_per_s", len(txs) / wall, "tx/s", **common),
        line(BENCH, "node_cpu_us_per_record", node_cpu / args.records * 1e6, "us",
             cores_busy=round(node_cpu / wall, 3),
             note="the node process, all threads, over the ingest interval", **common),
        line(BENCH, "verify_pool_cpu_us_per_record", verify_cpu / args.records * 1e6, "us",
             cores_busy=round(verify_cpu / wall, 3),
             note="the node's signature-verification processes", **common),
        line(BENCH, "client_sign_records_per_s", args.records / max(sign_s, 1e-9),
             "records/cpu-s", note="encoding and signing the DATA_WRITEs, this process",
             **common),
        *query]


async def _query(client: AsyncClient, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Verified range pages over RPC through the SDK (proof checked against the header)."""
    collection = client.data(NAME)
    cpu0, start, count = time.process_time(), time.perf_counter(), 0
    async for _ in collection.query_all("at", limit=args.page):
        count += 1
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
    return [line(BENCH, "rpc_range_verified_records_per_s", count / wall, "records/s",
                 client_cpu_records_per_s=round(count / max(cpu, 1e-9)), returned=count,
                 page=args.page,
                 note="SDK query_all over JSON-RPC: node serves with proofs, SDK verifies")]


def run(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    yield from asyncio.run(_ingest(args))


def main() -> None:
    print_lines(run(parser().parse_args()))


if __name__ == "__main__":
    main()
