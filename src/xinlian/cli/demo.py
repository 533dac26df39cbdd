"""`xinlian demo`: a real node in a temporary directory under a workload of signed transfers.

It generates keys and a genesis, starts `xinlian node start` as a child process, signs a
workload with the SDK, submits it in batches, shows blocks as they commit (websocket),
verifies a state proof and a transaction's inclusion proof client-side, prints the
throughput, and removes everything it created.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from xinlian.cli.node_cmd import GENESIS_FILE
from xinlian.crypto.suites import SUITES, get_suite
from xinlian.sdk.aio import AsyncClient
from xinlian.sdk.wallet import Wallet

BALANCE = 10**12
BATCH = 2000
IN_FLIGHT = 4


def _genesis(suite_name: str, public_keys: list[str], max_block_txs: int) -> str:
    lines = ['chain_id = "xinlian-demo"', f'suite = "{suite_name}"', "[params]",
             "block_interval_ms = 100", f"max_block_txs = {max_block_txs}",
             "nonce_window = 1024", "mempool_capacity = 1000000",
             "[[organisations]]", 'name = "demo-org"', f'admins = ["{public_keys[0]}"]']
    for key in public_keys:
        lines += ["[[accounts]]", f'key = "{key}"', f"balance = {BALANCE}"]
    return "\n".join(lines) + "\n"


class _Out:
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, flush=True)


async def _drive(url: str, wallets: list[Wallet], txs_per_wallet: int, out: _Out
                 ) -> dict[str, object]:
    async with AsyncClient(url) as client:
        status = await client.status()
        signed = []
        start = time.perf_counter()
        for round_ in range(txs_per_wallet):
            for i, wallet in enumerate(wallets):
                signed.append(wallet.transfer(wallets[(i + 1 + round_) % len(wallets)].address, 1))
        out.say(f"signed {len(signed)} transfers with {wallets[0].suite.name} keys "
                f"in {time.perf_counter() - start:.1f}s")
        blocks = await client.subscribe_blocks()
        committed, block_count = 0, 0

        async def watch() -> None:
            nonlocal committed, block_count
            async for block in blocks:
                committed += block.header.tx_count
                block_count += 1
                out.say(f"block {block.header.height:>4}  {block.header.tx_count:>5} txs  "
                        f"state root {block.header.state_root.hex()[:16]}...  "
                        f"({committed}/{len(signed)} committed)")
                if committed >= len(signed):
                    return

        watcher = asyncio.create_task(watch())
        start = time.perf_counter()
        gate = asyncio.Semaphore(IN_FLIGHT)

        async def send(chunk: list[bytes]) -> None:
            async with gate:
                results = await client.submit_many(chunk)
                refused = [r for r in results if not r.accepted]
                if refused:
                    raise RuntimeError(f"{len(refused)} refused, first: {refused[0]}")

        await asyncio.gather(*(send([t.raw for t in signed[i:i + BATCH]])
                               for i in range(0, len(signed), BATCH)))
        await asyncio.wait_for(watcher, timeout=120)
        elapsed = time.perf_counter() - start
        await blocks.close()
        tx_per_s = len(signed) / elapsed
        out.say(f"committed {len(signed)} transactions in {block_count} blocks, "
                f"{elapsed:.2f}s: {tx_per_s:,.0f} tx/s end to end")
        # Client-side verification: an account with its state proof against the
        # proposer-signed header, and one transfer's inclusion proof in its block.
        view = await client.account(wallets[0].address, verify=True)
        out.say(f"account {wallets[0].address.hex()} balance {view.account.balance} nonce "
                f"{view.account.nonce}: state proof verified against block "
                f"{view.state.header.height}")
        tx = await client.transaction(signed[-1].hash, verify=True)
        assert tx is not None
        out.say(f"transaction {signed[-1].hash.hex()[:16]}... proven in block {tx.height} "
                f"(receipt status {tx.receipt.status})")
        return {"committed_txs": len(signed), "blocks": block_count,
                "tx_per_s": round(tx_per_s, 1), "proof_verified": True,
                "suite": wallets[0].suite.name, "start_height": status.height}


def demo(args: argparse.Namespace) -> int:
    out = _Out(args.json)
    suite = get_suite(args.suite)
    with tempfile.TemporaryDirectory(prefix="xinlian-demo-") as tmp:
        root = Path(tmp)
        keys = [suite.generate_signing_key() for _ in range(args.accounts)]
        (root / GENESIS_FILE).write_text(
            _genesis(suite.name, [k.public_key.data.hex() for k in keys], args.block_txs),
            encoding="utf-8")
        data = root / "node"
        subprocess.run([sys.executable, "-m", "xinlian.cli.main", "init", "--config",
                        str(root / GENESIS_FILE), "--data", str(data), "--rpc-port", "0"],
                       check=True, stdout=subprocess.DEVNULL)
        out.say(f"initialised a {suite.name} chain with {len(keys)} funded accounts in {data}")
        node = subprocess.Popen([sys.executable, "-m", "xinlian.cli.main", "node", "start",
                                 "--data", str(data)], stdout=subprocess.PIPE, text=True,
                                env=dict(os.environ, PYTHONUNBUFFERED="1"))
        try:
            assert node.stdout is not None
            ready = json.loads(node.stdout.readline())
            out.say(f"node serving JSON-RPC at {ready['rpc']}")
            wallets = [Wallet(k, "xinlian-demo", suite) for k in keys]
            summary = asyncio.run(_drive(ready["rpc"], wallets,
                                         max(1, args.txs // len(keys)), out))
        finally:
            node.send_signal(signal.SIGTERM)
            try:
                node.wait(timeout=30)
            except subprocess.TimeoutExpired:
                node.kill()  # never leave a node running on a directory being removed
                node.wait()
            if node.stdout is not None:
                node.stdout.close()
        out.say("node stopped; temporary directory removed")
    print(json.dumps(summary))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="run a local node under a workload and show it")
    p.add_argument("--suite", choices=sorted(SUITES), default="sm")
    p.add_argument("--txs", type=int, default=10_000, help="transfers to submit")
    p.add_argument("--accounts", type=int, default=200, help="funded sending accounts")
    p.add_argument("--block-txs", type=int, default=2000, help="max transactions per block")
    p.add_argument("--json", action="store_true",
                   help="print only one JSON summary line at the end")
    p.set_defaults(func=demo)
