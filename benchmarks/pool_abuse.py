"""Transactions that can never execute: what they cost once submitted.

    python -m benchmarks.pool_abuse [--where solo,cluster] [--seconds 60]
                                    [--senders 20] [--per-sender 50]

Senders x per-sender transfers (1,000 by default) that can never execute, each scenario on
a fresh node or cluster:
- solo idle: the node with nothing submitted: the baseline.
- solo drain: each sender's nonce 0 transfers its whole balance away, its later nonces are
  transfers it can then no longer pay for, all submitted at once. Admission counts what
  pending transactions move, so they are refused at once (before, they were admitted and
  tried again for every block).
- solo revoked: the transfers are admitted, and the organisation admin's revocations of
  the senders commit in the same block; each sender's transfers from its revocation on are
  left out as not permitted, once, and leave the pool.
- cluster idle: 4 validator processes (`xinlian node start`, loopback), nothing submitted
  after a warm-up (160 transfers through all four, so every validator's verification
  workers run): the baseline.
- cluster split: each sender's draining nonce 0 goes to validator 0 and its later
  transfers to validator 1, whose admission cannot see the drain coming: after the drain
  commits they are forwarded, every validator verifies and leaves them out once, and they
  leave the pool (before, validator 1 forwarded them again after every block).

Figures: `submit_cpu_s`, the CPU while the submissions were handled (the cost of refusing
or admitting them once; the solo node's verification workers are started beforehand), and
the value, the CPU over the next `--seconds`, also per 10 s slice (`cpu_per_slice`);
the target is that the value, less the idle baseline's, is no more than submit_cpu_s. CPU
is user + system time from /proc of the node (solo: this process) and its worker
processes. The script uses only public APIs, so another tree's sources on PYTHONPATH give
that tree's figures the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from benchmarks.report import emit
from xinlian import codec
from xinlian.cli.cluster import NodeProcess, free_ports, prepare
from xinlian.crypto import batch
from xinlian.crypto.signing import SigningKey
from xinlian.crypto.suites import Suite, get_suite
from xinlian.execution.payloads import RevokeSubmit, Transfer
from xinlian.ledger.account import address_of
from xinlian.ledger.genesis import Genesis, genesis_from_dict
from xinlian.ledger.transaction import TxBody, TxKind, decode_transaction, sign_body
from xinlian.node.keyfile import read_key
from xinlian.node.service import Node
from xinlian.sdk.aio import AsyncClient
from xinlian.sdk.wallet import Wallet

BALANCE = 1_000_000
_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(roots: list[int] | None = None) -> float:
    """CPU (user + system) of `roots` (default: this process) and all their descendants."""
    parents: dict[int, int] = {}
    times: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = int(fields[11]) + int(fields[12])
    frontier = list(roots or [os.getpid()])
    mine = set(frontier)
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in mine:
                mine.add(child)
                frontier.append(child)
    return sum(times.get(pid, 0) for pid in mine) / _TICK


def _slices(seconds: float) -> int:
    """The window is sampled every 10 s (or less), to show one-time from steady cost."""
    return max(1, round(seconds / 10))


def _per_slice(start: float, samples: list[float]) -> list[float]:
    return [round(b - a, 2) for a, b in zip([start, *samples], samples, strict=False)]


def _setup(senders: int) -> tuple[Genesis, SigningKey, list[SigningKey]]:
    suite = get_suite("intl")
    admin = suite.generate_signing_key(b"\x01" * 32)
    keys = [suite.generate_signing_key((i + 2).to_bytes(32, "big")) for i in range(senders)]
    genesis = genesis_from_dict({
        "chain_id": "abuse", "suite": "intl",
        "organisations": [{"name": "org0", "admins": [admin.public_key.data.hex()]}],
        "accounts": [{"key": k.public_key.data.hex(), "balance": BALANCE}
                     for k in [admin, *keys]],
    })
    return genesis, admin, keys


def _tx(key: SigningKey, nonce: int, kind: int, payload: bytes) -> bytes:
    fee = 1 if kind == TxKind.TRANSFER else 10
    return sign_body(TxBody("abuse", key.public_key, nonce, kind, payload, fee, 10**9), key)


def _scenario(name: str, admin: SigningKey, keys: list[SigningKey], per_sender: int
              ) -> list[bytes]:
    suite = get_suite("intl")
    sink = address_of(admin.public_key, suite.hash_bytes)
    raws: list[bytes] = []
    if name == "idle":
        return raws
    if name == "drain":
        raws += [_tx(k, 0, TxKind.TRANSFER, codec.encode(Transfer(sink, BALANCE - 1)))
                 for k in keys]
        first = 1
    else:
        raws += [_tx(admin, i, TxKind.SYSTEM, codec.encode(
            RevokeSubmit(address_of(k.public_key, suite.hash_bytes)))) for i, k in enumerate(keys)]
        first = 0
    for nonce in range(first, first + per_sender):
        raws += [_tx(k, nonce, TxKind.TRANSFER, codec.encode(Transfer(sink, 1))) for k in keys]
    return raws


async def _run(name: str, seconds: float, senders: int, per_sender: int) -> None:
    genesis, admin, keys = _setup(senders)
    raws = _scenario(name, admin, keys, per_sender)
    with tempfile.TemporaryDirectory() as tmp:
        node = Node(Path(tmp), genesis, admin)
        await node.start()
        # Warm what any first submission pays once: the verification workers, this
        # process's signature and codec paths.
        warm = [decode_transaction(_tx(k, n, TxKind.TRANSFER, b""), "abuse",
                                   get_suite("intl").hash_bytes).verify_item()
                for k in keys for n in range(512 // len(keys) + 1)]
        for _ in range(3):  # the pool starts its workers as work finds none idle
            await asyncio.to_thread(batch.verify_batch, warm)
        batch.verify_batch(warm[:8], parallel=False)
        node.mempool.precheck(raws[:1])
        await asyncio.sleep(1)  # let start-up settle
        cpu = cpu_seconds()
        results = await node.submit(raws)
        submit_cpu = cpu_seconds() - cpu
        accepted = sum(r.accepted for r in results)
        cpu, wall = cpu_seconds(), time.perf_counter()
        slices = []
        for _ in range(_slices(seconds)):
            await asyncio.sleep(seconds / _slices(seconds))
            slices.append(cpu_seconds())
        after_cpu, wall = cpu_seconds() - cpu, time.perf_counter() - wall
        status = node.status()
        await node.stop()
    emit("pool_abuse", f"solo_{name}", after_cpu, "cpu_s", submit_cpu_s=round(submit_cpu, 3),
         seconds=round(wall, 1), cpu_per_slice=_per_slice(cpu, slices),
         unexecutable=senders * per_sender if raws else 0, submitted=len(raws),
         accepted=accepted, committed_txs=status.committed_txs,
         pending_after=status.mempool_size, height=status.height)


async def _submit(url: str, raws: list[bytes]) -> int:
    """How many of `raws` the node accepted."""
    async with AsyncClient(url) as client:
        return sum(v.accepted for v in await client.submit_many(raws))


def _warm(root: Path, nodes: list[NodeProcess], suite: Suite) -> None:
    """Each organisation admin sends 40 transfers through its validator, and the run waits
    until all have committed: every validator has then started its verification workers
    (for admission and for the other validators' batches), which idle and split alike."""
    admins = [Wallet(read_key(root / "keys" / f"admin{i}.json")[1], "xinlian-cluster", suite)
              for i in range(len(nodes))]
    for node, admin in zip(nodes, admins, strict=True):
        asyncio.run(_submit(node.base_url, [admin.transfer(bytes(20), 1).raw
                                            for _ in range(40)]))
    deadline = time.monotonic() + 120
    while min(n.rpc("xl_status")["committed_txs"] for n in nodes) < 40 * len(nodes):
        if time.monotonic() > deadline:
            raise SystemExit("the warm-up transfers did not commit")
        time.sleep(0.2)  # a benchmark polling other processes, not a test
    time.sleep(2)  # let the last block's work settle


def _cluster(name: str, seconds: float, senders: int, per_sender: int) -> None:
    suite = get_suite("intl")
    with tempfile.TemporaryDirectory(prefix="xl-abuse-") as tmp:
        root = Path(tmp)
        data = prepare(root, 4, suite, 0, 0, senders, ports=free_ports(4))
        wallets = [Wallet(read_key(root / "keys" / f"account{j}.json")[1], "xinlian-cluster",
                          suite) for j in range(senders)]
        nodes = [NodeProcess(d) for d in data]
        pids = [node.proc.pid for node in nodes]
        try:
            _warm(root, nodes, suite)
            balance = int(nodes[0].rpc("xl_getAccount", "0x" + wallets[0].address.hex())
                          ["account"]["balance"])
            sink = bytes(20)  # no sender: what it receives pays for nothing here
            drains = [w.transfer(sink, balance - 1).raw for w in wallets]
            later = [w.transfer(sink, 1).raw
                     for _ in range(per_sender) for w in wallets]
            cpu, accepted = cpu_seconds(pids), 0
            if name == "split":
                accepted += asyncio.run(_submit(nodes[1].base_url, later))
                accepted += asyncio.run(_submit(nodes[0].base_url, drains))
            submit_cpu = cpu_seconds(pids) - cpu
            cpu, wall = cpu_seconds(pids), time.perf_counter()
            slices = []
            for _ in range(_slices(seconds)):
                time.sleep(seconds / _slices(seconds))  # the measuring window
                slices.append(cpu_seconds(pids))
            after_cpu, wall = cpu_seconds(pids) - cpu, time.perf_counter() - wall
            statuses = [node.rpc("xl_status") for node in nodes]
        finally:
            for node in nodes:
                node.stop()
    emit("pool_abuse", f"cluster_{name}", after_cpu, "cpu_s", submit_cpu_s=round(submit_cpu, 3),
         seconds=round(wall, 1), cpu_per_slice=_per_slice(cpu, slices), validators=4,
         unexecutable=senders * per_sender if name == "split" else 0,
         accepted=accepted, committed_txs=statuses[0]["committed_txs"],
         pending_after=[s["mempool_size"] for s in statuses],
         heights=[s["height"] for s in statuses],
         state_roots_agree=len({(s["height"], s["state_root"]) for s in statuses}) == 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument("--per-sender", type=int, default=50)
    parser.add_argument("--where", default="solo,cluster")
    args = parser.parse_args()
    where = args.where.split(",")
    if "solo" in where:
        for name in ("idle", "drain", "revoked"):
            asyncio.run(_run(name, args.seconds, args.senders, args.per_sender))
    if "cluster" in where:
        for name in ("idle", "split"):
            _cluster(name, args.seconds, args.senders, args.per_sender)


if __name__ == "__main__":
    main()
