"""What pruning (node.toml `prune_keep_blocks`) costs a node and saves it on disk.

    python -m benchmarks.pruning [--blocks B] [--txs T] [--keep N]

The same B blocks of T signed transfers are built and committed by a ledger pipeline twice,
archive and pruned with a window of N, in one process: `pruning_block_cpu_per_tx` is the
CPU (process time, so other load on the machine does not count) one block costs per
transfer, build and commit, over the blocks after the first N (where a pruned node prunes
one block per block); `pruning_store_bytes` the chain store's bytes allocated on disk and
its used pages at the end.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.report import emit
from xinlian import codec
from xinlian.api.metrics import disk_bytes
from xinlian.crypto.signing import SigningKey
from xinlian.crypto.suites import get_suite
from xinlian.execution.payloads import Transfer
from xinlian.ledger.account import address_of
from xinlian.ledger.genesis import Genesis, genesis_from_dict
from xinlian.ledger.transaction import TxBody, TxKind, decode_transaction, sign_body
from xinlian.node.pipeline import LedgerPipeline
from xinlian.node.retention import ARCHIVE, Retention

SENDERS = 50


def chain(suite_name: str) -> tuple[Genesis, list[SigningKey], SigningKey]:
    suite = get_suite(suite_name)
    keys = [suite.generate_signing_key(bytes([i + 1]) * 32) for i in range(SENDERS)]
    genesis = genesis_from_dict({
        "chain_id": "bench-pruning", "suite": suite_name,
        "organisations": [{"name": "org0", "admins": [keys[0].public_key.data.hex()]}],
        "accounts": [{"key": k.public_key.data.hex(), "balance": 10**12} for k in keys],
        "params": {"max_block_txs": 100_000, "nonce_window": 1_000_000},
    })
    return genesis, keys, suite.generate_signing_key(b"\x99" * 32)


def blocks(genesis: Genesis, keys: list[SigningKey], count: int, txs: int) -> list[list[bytes]]:
    """`count` blocks of `txs` transfers, each sender's nonces in order."""
    hash_bytes = genesis.crypto_suite().hash_bytes
    addresses = [address_of(k.public_key, hash_bytes) for k in keys]
    nonces = [0] * len(keys)
    out = []
    for _ in range(count):
        block = []
        for i in range(txs):
            s = i % len(keys)
            body = TxBody(genesis.chain_id, keys[s].public_key, nonces[s], TxKind.TRANSFER,
                          codec.encode(Transfer(addresses[(s + 1) % len(keys)], 1)), 5,
                          10**9)
            nonces[s] += 1
            block.append(sign_body(body, keys[s]))
        out.append(block)
    return out


def run(genesis: Genesis, node_key: SigningKey, raws: list[list[bytes]],
        retention: Retention, keep: int) -> tuple[float, int, int]:
    """CPU seconds per transfer after the first `keep` blocks; disk and used bytes."""
    hash_bytes = genesis.crypto_suite().hash_bytes
    with tempfile.TemporaryDirectory() as tmp:
        ledger = LedgerPipeline(Path(tmp), genesis, node_key, clock=lambda: 0,
                                retention=retention)
        try:
            cpu, counted = 0.0, 0
            for height, block in enumerate(raws, 1):
                txs = [decode_transaction(r, genesis.chain_id, hash_bytes) for r in block]
                start = time.process_time()
                built = ledger.build(txs, height)
                ledger.commit(built)
                ledger.publish(built)
                if height > keep:
                    cpu += time.process_time() - start
                    counted += len(block)
            return (cpu / counted, disk_bytes(Path(tmp) / "chain"),
                    ledger.chain.store.used_bytes())
        finally:
            ledger.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=100)
    parser.add_argument("--txs", type=int, default=1000)
    parser.add_argument("--keep", type=int, default=16)
    parser.add_argument("--suite", default="intl")
    args = parser.parse_args(argv)
    genesis, keys, node_key = chain(args.suite)
    raws = blocks(genesis, keys, args.blocks, args.txs)
    for mode, retention in (("archive", ARCHIVE), ("pruned", Retention(args.keep))):
        per_tx, disk, used = run(genesis, node_key, raws, retention, args.keep)
        extra = {"mode": mode, "blocks": args.blocks, "txs_per_block": args.txs,
                 "keep": args.keep, "suite": args.suite}
        emit("pruning", "pruning_block_cpu_per_tx", per_tx * 1e6, "us", **extra)
        emit("pruning", "pruning_store_bytes", disk, "bytes", used_bytes=used, **extra)


if __name__ == "__main__":
    main()
