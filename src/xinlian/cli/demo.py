"""`xinlian demo`: real node processes under a workload of signed transfers, shown live.

With `--nodes 1` it runs one solo node; with `--nodes 4` (or more) a BFT network of
validator processes, and it kills one validator halfway through the workload, keeps going
on the others, brings it back and waits until it has caught up. Either way it signs the
workload with SDK wallets, submits it in batches, shows blocks as they commit (websocket),
verifies a state proof and a transaction's inclusion proof client-side (on another node
than the one that took the transactions, under BFT), prints the throughput, shows Qi
contracts on the chain (cli.demo_contracts), a confidential transfer with its opening by
the regulator (cli.demo_confidential) and an anonymous one (cli.demo_anonymous), and
removes everything it created.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from xinlian.cli import cluster
from xinlian.cli.cluster import NodeProcess, free_ports, wait_for_commits
from xinlian.cli.demo_anonymous import show_anonymous
from xinlian.cli.demo_confidential import enact_regulator, show_confidential
from xinlian.cli.demo_contracts import show_async, show_schedule, show_token
from xinlian.cli.node_cmd import GENESIS_FILE, init_data_dir
from xinlian.crypto.suites import SUITES, Suite, get_suite
from xinlian.ledger.genesis import ChainParams, load_genesis
from xinlian.node.keyfile import read_key, write_key
from xinlian.sdk.aio import AsyncClient
from xinlian.sdk.wallet import SignedTx, Wallet

BALANCE = 10**12
BATCH = 2000
IN_FLIGHT = 4


class _Out:
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, flush=True)


def init_solo(root: Path, suite: Suite, accounts: int, block_txs: int) -> list[Path]:
    """A solo node's data directory under `root`, its genesis funding `accounts` accounts
    whose keys go to `root/keys/account<j>.json` (also used by benchmarks/e2e.py)."""
    keys = [suite.generate_signing_key() for _ in range(accounts)]
    lines = ['chain_id = "xinlian-demo"', f'suite = "{suite.name}"', "[params]",
             "block_interval_ms = 100", f"max_block_txs = {block_txs}", "nonce_window = 1024",
             "mempool_capacity = 1000000", "[[organisations]]", 'name = "demo-org"',
             f'admins = ["{keys[0].public_key.data.hex()}"]']
    for key in keys:
        lines += ["[[accounts]]", f'key = "{key.public_key.data.hex()}"', f"balance = {BALANCE}"]
    (root / GENESIS_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
    keydir = root / "keys"
    keydir.mkdir()
    for j, key in enumerate(keys):
        write_key(keydir / f"account{j}.json", suite, key)
    init_data_dir(root / GENESIS_FILE, root / "node0", None, "127.0.0.1", 0)
    return [root / "node0"]


def sign_transfers(wallets: Sequence[Wallet], rounds: int) -> list[SignedTx]:
    """`rounds` transfers of 1 from each wallet, each to another wallet."""
    return [wallet.transfer(wallets[(i + 1 + r) % len(wallets)].address, 1)
            for r in range(rounds) for i, wallet in enumerate(wallets)]


async def submit(client: AsyncClient, txs: Sequence[SignedTx], batch: int = BATCH) -> None:
    """Submit `txs` in batches of `batch` (large transactions need smaller ones: a request
    body holds at most 4 MiB), a few requests in flight; raises if any is refused."""
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def send(chunk: Sequence[SignedTx]) -> None:
        async with gate:
            refused = [r for r in await client.submit_many(chunk) if not r.accepted]
            if refused:
                raise RuntimeError(f"{len(refused)} refused, first: {refused[0]}")

    await asyncio.gather(*(send(txs[i:i + batch]) for i in range(0, len(txs), batch)))


async def state_roots(nodes: Sequence[NodeProcess]) -> set[str]:
    """The state roots of the nodes at the first node's height (a chain with a schedule
    armed keeps making blocks, so the latest roots would be of different heights)."""
    height = nodes[0].rpc("xl_status")["height"]
    for node in nodes:
        while node.rpc("xl_status")["height"] < height:
            await asyncio.sleep(0.1)  # the demo watching another process, not a test
    return {node.rpc("xl_getBlockByHeight", height)["header"]["state_root"] for node in nodes}


async def _drive(nodes: list[NodeProcess], data: list[Path], wallets: list[Wallet],
                 admins: list[Wallet], params: ChainParams, rounds: int,
                 out: _Out) -> dict[str, object]:
    signed_at = time.perf_counter()
    txs = sign_transfers(wallets, rounds)
    out.say(f"signed {len(txs)} transfers with {wallets[0].suite.name} keys "
            f"in {time.perf_counter() - signed_at:.1f}s")
    bft = len(nodes) > 1
    async with AsyncClient(nodes[0].base_url) as first:
        blocks = await first.subscribe_blocks()
        committed, block_count = 0, 0

        async def watch() -> None:
            nonlocal committed, block_count
            async for block in blocks:
                committed += block.header.tx_count
                block_count += 1
                out.say(f"block {block.header.height:>4}  {block.header.tx_count:>5} txs  "
                        f"state root {block.header.state_root.hex()[:16]}...  "
                        f"({committed}/{len(txs)} committed)")
                if committed >= len(txs):
                    return

        watcher = asyncio.create_task(watch())
        start = time.perf_counter()
        half = len(txs) // 2 if bft else len(txs)
        await submit(first, txs[:half])
        if bft:
            await wait_for_commits(nodes[0], half)
            victim = len(nodes) // 2
            nodes[victim].kill()
            out.say(f"killed validator {victim} (kill -9); the others keep committing")
            async with AsyncClient(nodes[1].base_url) as second:
                await submit(second, txs[half:])
        await asyncio.wait_for(watcher, timeout=300)
        elapsed = time.perf_counter() - start
        await blocks.close()
    tx_per_s = len(txs) / elapsed
    out.say(f"committed {len(txs)} transactions in {block_count} blocks, {elapsed:.2f}s: "
            f"{tx_per_s:,.0f} tx/s end to end")
    if bft:
        nodes[victim] = NodeProcess(data[victim])
        await wait_for_commits(nodes[victim], len(txs))
        out.say(f"validator {victim} restarted and caught up from its peers")
    verifier = nodes[-1]
    async with AsyncClient(verifier.base_url) as client:
        view = await client.account(wallets[0].address, verify=True)
        out.say(f"account {wallets[0].address.hex()} balance {view.account.balance} nonce "
                f"{view.account.nonce}: state proof verified against block "
                f"{view.state.header.height} of node {len(nodes) - 1}")
        tx = await client.transaction(txs[-1].hash, verify=True)
        assert tx is not None
        out.say(f"transaction {txs[-1].hash.hex()[:16]}... proven in block {tx.height} "
                f"(receipt status {tx.receipt.status})")
    contracts = await show_token(nodes, wallets, out.say)
    contracts |= await show_async(nodes[0], wallets[0], params, out.say)
    contracts |= await show_schedule(nodes[0], wallets[0], wallets[1].address, params, out.say)
    if len(wallets) >= 5:  # two banks and three regulator members
        regulator = await asyncio.to_thread(enact_regulator, nodes[0].base_url, wallets,
                                            admins, out.say)
        contracts |= await asyncio.to_thread(show_confidential, nodes[0].base_url, wallets,
                                             regulator, out.say)
        contracts |= await asyncio.to_thread(show_anonymous, nodes[0].base_url, wallets,
                                             regulator, out.say)
    roots = await state_roots(nodes)
    if bft:
        out.say(f"all {len(nodes)} validators hold the same state root: {len(roots) == 1}")
    return {"committed_txs": len(txs), "blocks": block_count, "tx_per_s": round(tx_per_s, 1),
            "proof_verified": True, "suite": wallets[0].suite.name, "nodes": len(nodes),
            "same_state_root": len(roots) == 1, **contracts}


def demo(args: argparse.Namespace) -> int:
    out = _Out(args.json)
    suite = get_suite(args.suite)
    if args.nodes != 1 and args.nodes < 4:
        raise SystemExit("--nodes is 1 (solo) or at least 4 (BFT tolerating one fault)")
    with tempfile.TemporaryDirectory(prefix="xinlian-demo-") as tmp:
        root = Path(tmp)
        if args.nodes == 1:
            data = init_solo(root, suite, args.accounts, args.block_txs)
        else:
            ports = free_ports(args.nodes)
            data = cluster.prepare(root, args.nodes, suite, 0, 0, args.accounts, ports=ports)
        genesis = load_genesis(root / GENESIS_FILE)
        chain_id = genesis.chain_id
        wallets = [Wallet(read_key(root / "keys" / f"account{j}.json")[1], chain_id, suite)
                   for j in range(args.accounts)]
        # who governs: the solo chain's one admin (account 0), a cluster's organisations'
        admins = wallets[:1] if args.nodes == 1 else [
            Wallet(read_key(root / "keys" / f"admin{i}.json")[1], chain_id, suite)
            for i in range(args.nodes)]
        kind = "solo node" if args.nodes == 1 else f"BFT network of {args.nodes} validators"
        out.say(f"initialised a {suite.name} {kind} with {len(wallets)} funded accounts")
        nodes: list[NodeProcess] = []
        try:
            for d in data:
                nodes.append(NodeProcess(d))
            out.say("serving JSON-RPC at " + ", ".join(n.base_url for n in nodes))
            summary = asyncio.run(_drive(nodes, data, wallets, admins, genesis.params,
                                         max(1, args.txs // len(wallets)), out))
        finally:
            for node in nodes:
                node.stop()
        out.say("nodes stopped; temporary directory removed")
    print(json.dumps(summary))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="run local nodes under a workload and show it")
    p.add_argument("--nodes", type=int, default=1,
                   help="1: a solo node; 4 or more: a BFT network of validator processes")
    p.add_argument("--suite", choices=sorted(SUITES), default="sm")
    p.add_argument("--txs", type=int, default=10_000, help="transfers to submit")
    p.add_argument("--accounts", type=int, default=200, help="funded sending accounts")
    p.add_argument("--block-txs", type=int, default=2000,
                   help="max transactions per block (solo)")
    p.add_argument("--json", action="store_true",
                   help="print only one JSON summary line at the end")
    p.set_defaults(func=demo)
