"""End-to-end solo-node throughput through the SDK, per suite.

    python -m benchmarks.e2e [--suites intl,sm,pq] [--txs N]
    python -m benchmarks.e2e --contracts [--suites intl] [--txs N]

Each run is `xinlian demo --json`: a real node process, transactions signed beforehand by
SDK wallets, submitted in batches of 2,000 (four requests in flight) over JSON-RPC, timed
from the first submission to the block that commits the last one. Senders are spread so
that none holds more than the pool's per-sender cap (64 pending) at once: 1,000 accounts,
40 transfers each at 40,000. For `sm` the same run
also measures the machine's raw SM2 verification rate on all cores and prints the ratio
(the target is >= 0.7).

With `--contracts`, one solo node per suite measures, in one run, native transfers and then
token-contract transfers (examples/qi/token.qi, deployed and minted to every account
first) through the same machinery (the demo's genesis, wallets and batched submission):
`--txs` of each, 10 per account, each between distinct accounts, native first, once the
deployment and the mints have warmed the node up; the rate is timed from
the first submission until the node's committed count includes the last (polled every
0.1 s), and the contract rate's share of the native rate is printed (the target is
>= 0.6). Every contract transfer's receipt is checked afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.contracts import TOKEN, TRANSFER_FUEL
from benchmarks.report import emit
from xinlian import codec
from xinlian.cli import demo
from xinlian.cli.cluster import NodeProcess, wait_for_commits
from xinlian.cli.node_cmd import GENESIS_FILE
from xinlian.crypto import batch
from xinlian.crypto.suites import get_suite
from xinlian.execution.contracts.records import contract_address
from xinlian.execution.payloads import Call, Deploy
from xinlian.lang.compiler import Artifact, compile_source
from xinlian.ledger.genesis import ChainParams, load_genesis
from xinlian.ledger.rules import Fees, contract_base_cost, max_fee
from xinlian.ledger.transaction import TxKind
from xinlian.node.keyfile import read_key
from xinlian.sdk.aio import AsyncClient
from xinlian.sdk.wallet import SignedTx, Wallet
from xinlian.testing.contracts import encode_args

PER_ACCOUNT = 10  # transfers of each kind per account in the contracts run
MINT_CHUNK = 60  # mints in flight from the token's owner (under the pool's per-sender cap)


def raw_verify_rate(suite_name: str, count: int = 4000) -> float:
    import time

    key = get_suite(suite_name).generate_signing_key()
    items = [(int(key.alg), key.public_key.data, b"m%d" % i, key.sign(b"m%d" % i).data)
             for i in range(count)]
    batch.verify_batch(items[:500])  # start the workers
    start = time.perf_counter()
    assert all(batch.verify_batch(items))
    return count / (time.perf_counter() - start)


def run_demo(suite_name: str, txs: int) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-m", "xinlian.cli.main", "demo", "--json", "--suite", suite_name,
         "--txs", str(txs), "--accounts", str(max(1000, txs // 40))],
        check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


async def _rate(client: AsyncClient, node: NodeProcess, txs: Sequence[SignedTx]) -> float:
    """Transactions per second from the first submission until all are committed."""
    before = node.rpc("xl_status")["committed_txs"]
    start = time.perf_counter()
    await demo.submit(client, txs)
    await wait_for_commits(node, before + len(txs))
    return len(txs) / (time.perf_counter() - start)


async def _send_ok(client: AsyncClient, txs: Sequence[SignedTx]) -> None:
    """Submit `txs` and wait for their receipts; raise unless every one succeeded."""
    await demo.submit(client, txs)
    receipts = await client.wait_for_commit([t.hash for t in txs], timeout=120)
    failed = [r for r in receipts.values() if r.status != 0]
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(txs)} failed, first: {failed[0]}")


def _call(wallet: Wallet, params: ChainParams, art: Artifact, token: bytes, method: str,
          *args: object) -> SignedTx:
    fee = max_fee(params, Fees(contract_base_cost(params, 0), TRANSFER_FUEL))
    payload = Call(token, method, encode_args(art, method, *args), TRANSFER_FUEL)
    return wallet.sign(TxKind.CALL, codec.encode(payload), fee_limit=fee)


async def _contracts_run(suite_name: str, txs: int) -> tuple[float, float, int]:
    """The native and the token-transfer rate of one solo node, and its accounts."""
    suite = get_suite(suite_name)
    accounts = max(2, txs // PER_ACCOUNT)
    art = compile_source(TOKEN.read_text(), str(TOKEN))
    with tempfile.TemporaryDirectory(prefix="xinlian-bench-") as tmp:
        root = Path(tmp)
        [data] = demo.init_solo(root, suite, accounts, demo.BATCH)
        genesis = load_genesis(root / GENESIS_FILE)
        params = genesis.params
        wallets = [Wallet(read_key(root / "keys" / f"account{j}.json")[1], genesis.chain_id,
                          suite, params=params) for j in range(accounts)]
        owner = wallets[0]
        # everything is signed first, in the order of submission (the event loop then only
        # waits on the node); deploying and minting warm the node up for both rates
        token = contract_address(suite.hash_bytes, owner.address, owner.nonce)
        fee = max_fee(params, Fees(contract_base_cost(params, len(art.wasm)), TRANSFER_FUEL))
        deploy = owner.sign(TxKind.DEPLOY, codec.encode(Deploy(
            art.wasm, art.abi_json().encode(), encode_args(art, "init", "Bench", 0),
            TRANSFER_FUEL)), fee_limit=fee)
        mints = [_call(owner, params, art, token, "mint", w.address, 10**9) for w in wallets]
        native_txs = demo.sign_transfers(wallets, PER_ACCOUNT)
        calls = [_call(w, params, art, token, "transfer",
                       wallets[(i + 1 + r) % accounts].address, 1)
                 for r in range(PER_ACCOUNT) for i, w in enumerate(wallets)]
        node = NodeProcess(data)
        try:
            async with AsyncClient(node.base_url) as client:
                await _send_ok(client, [deploy])
                for i in range(0, len(mints), MINT_CHUNK):
                    await _send_ok(client, mints[i:i + MINT_CHUNK])
                native = await _rate(client, node, native_txs)
                contract = await _rate(client, node, calls)
                receipts = await client.wait_for_commit([t.hash for t in calls], timeout=120)
                failed = sum(r.status != 0 for r in receipts.values())
            if failed:
                raise RuntimeError(f"{failed} of {len(calls)} contract transfers failed")
        finally:
            node.stop()
    return native, contract, accounts


def contracts_vs_native(suite_name: str, txs: int) -> None:
    native, contract, accounts = asyncio.run(_contracts_run(suite_name, txs))
    extra = {"suite": suite_name, "txs": accounts * PER_ACCOUNT, "accounts": accounts}
    emit("e2e", "solo_native_transfers", native, "tx/s", **extra)
    emit("e2e", "solo_contract_transfers", contract, "tx/s", **extra)
    emit("e2e", "solo_contract_of_native", contract / native, "ratio", target=0.6, **extra)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--suites", default="intl,sm,pq")
    parser.add_argument("--txs", type=int, default=40_000)
    parser.add_argument("--contracts", action="store_true",
                        help="native and token-contract transfers on one node, and the ratio")
    args = parser.parse_args()
    for suite_name in args.suites.split(","):
        if args.contracts:
            contracts_vs_native(suite_name, args.txs)
            continue
        summary = run_demo(suite_name, args.txs)
        extra: dict[str, object] = {"txs": summary["committed_txs"], "blocks": summary["blocks"]}
        if suite_name == "sm":
            rate = raw_verify_rate("sm")
            emit("e2e", "sm2_verify_all_cores", rate, "sig/s", suite="sm")
            extra["of_raw_verify_rate"] = round(float(summary["tx_per_s"]) / rate, 3)  # type: ignore[arg-type]
        emit("e2e", "solo_end_to_end", float(summary["tx_per_s"]), "tx/s",  # type: ignore[arg-type]
             suite=suite_name, **extra)
    batch.shutdown()


if __name__ == "__main__":
    main()
