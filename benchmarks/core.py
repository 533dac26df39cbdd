"""Core node benchmarks per suite: signature verification, admission, execution + commit.

    python -m benchmarks.core [--suites sm,intl,pq] [--txs N]

Transactions are signed before timing starts. Figures:
- verify: raw signature verifications/s on one core and on all cores (crypto.batch);
- admission: Node.submit in batches of 2,000 — decode, checks, batch verification — tx/s;
- execute_commit: Node.produce_block until the mempool is empty — execution, state-tree
  update, indexes and one durable LMDB commit per block — tx/s.
The end-to-end rate through the SDK is `python -m benchmarks.e2e`.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from benchmarks.report import emit
from xinlian import codec
from xinlian.crypto import batch
from xinlian.crypto.suites import get_suite
from xinlian.execution.payloads import Transfer
from xinlian.ledger.account import address_of
from xinlian.ledger.genesis import genesis_from_dict
from xinlian.ledger.transaction import TxBody, TxKind, sign_body
from xinlian.node.service import Node

SENDERS = 2000
SUBMIT_BATCH = 2000


def signed_transfers(suite_name: str, count: int) -> tuple[list[bytes], dict[str, object]]:
    suite = get_suite(suite_name)
    keys = [suite.generate_signing_key(i.to_bytes(32, "big")) for i in range(1, SENDERS + 1)]
    addresses = [address_of(k.public_key, suite.hash_bytes) for k in keys]
    raws = []
    for n in range(count):
        i = n % SENDERS
        body = TxBody("bench", keys[i].public_key, n // SENDERS, TxKind.TRANSFER,
                      codec.encode(Transfer(addresses[(i + 1) % SENDERS], 1)), 5, 10**9)
        raws.append(sign_body(body, keys[i]))
    genesis = {
        "chain_id": "bench", "suite": suite_name,
        "organisations": [{"name": "org0", "admins": [keys[0].public_key.data.hex()]}],
        "accounts": [{"key": k.public_key.data.hex(), "balance": 10**9} for k in keys],
        "params": {"max_block_txs": 5000, "mempool_capacity": count + 1,
                   "nonce_window": count // SENDERS + 1},
    }
    return raws, genesis


def bench_verify(suite_name: str, raws: list[bytes], hash_bytes: object) -> float:
    from xinlian.ledger.transaction import decode_transaction

    items = [decode_transaction(r, "bench", hash_bytes).verify_item()  # type: ignore[arg-type]
             for r in raws]
    one = items[: max(200, len(items) // 10)]
    start = time.perf_counter()
    batch.verify_batch(one, parallel=False)
    single = len(one) / (time.perf_counter() - start)
    batch.verify_batch(items[:1000])  # start the workers
    start = time.perf_counter()
    assert all(batch.verify_batch(items))
    multi = len(items) / (time.perf_counter() - start)
    emit("core", "verify_one_core", single, "sig/s", suite=suite_name)
    emit("core", "verify_all_cores", multi, "sig/s", suite=suite_name,
         workers=batch.workers())
    return multi


async def bench_node(suite_name: str, raws: list[bytes], genesis_doc: dict[str, object],
                     verify_rate: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        genesis = genesis_from_dict(genesis_doc)
        node = Node(Path(tmp), genesis, genesis.crypto_suite().generate_signing_key())
        start = time.perf_counter()
        for i in range(0, len(raws), SUBMIT_BATCH):
            results = await node.submit(raws[i:i + SUBMIT_BATCH])
            assert all(r.accepted for r in results), results[0]
        admission = len(raws) / (time.perf_counter() - start)
        emit("core", "admission", admission, "tx/s", suite=suite_name, txs=len(raws),
             of_verify_rate=round(admission / verify_rate, 3))
        start, committed, blocks = time.perf_counter(), 0, 0
        while len(node.mempool):
            block = node.produce_block()
            assert block is not None
            committed += block.header.tx_count
            blocks += 1
        elapsed = time.perf_counter() - start
        emit("core", "execute_commit", committed / elapsed, "tx/s", suite=suite_name,
             blocks=blocks, txs_per_block=committed // blocks)
        await node.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--suites", default="intl,sm,pq")
    parser.add_argument("--txs", type=int, default=20_000)
    args = parser.parse_args()
    for suite_name in args.suites.split(","):
        raws, genesis_doc = signed_transfers(suite_name, args.txs)
        rate = bench_verify(suite_name, raws, get_suite(suite_name).hash_bytes)
        asyncio.run(bench_node(suite_name, raws, genesis_doc, rate))
    batch.shutdown()


if __name__ == "__main__":
    main()
