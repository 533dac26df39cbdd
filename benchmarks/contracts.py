"""Contract execution speed: warm call overhead and token transfers per second.

Cases (each prints JSON lines; `--only NAME...` runs some of them):
- `empty_call`: the overhead of a warm call (module compiled and cached) of a method that
  does nothing, through `Engine.call` and through `LocalChain.call` (a transaction: its
  hash, the block's fuel metering and the commit).
- `token_transfer`: examples/qi/token.qi deployed, minted to `--accounts` accounts, then
  one block of `--transfers` transfers between distinct accounts, executed serially
  (through `Engine.call` with a commit per transfer, and through `LocalChain.call`).
- `parallel`: the node's executor on a real chain store (testing/contract_blocks.py), one
  block of `--transfers` token transfers executed serially and with `--workers` worker
  processes (execution/parallel.py), at low contention (each transfer between two
  accounts of its own) and high contention (all among 8 accounts).
- `executor`: the node's path, `Executor.execute_block` over a chain state (a dict of
  committed state, as `xinlian.testing.contracts.ContractChain` keeps it): one block of
  `--calls` signed CALL transactions of the empty method (one sender, consecutive nonces),
  per call; and one block of `--transfers` token transfers, each signed by another
  account, to distinct receivers. Counted: all of `execute_block` (payload decoding,
  fees, the executability rules with the sender's account and permission reads, the fee
  charge, the call's overlay, the run, the receipt, and encoding the block's writes at
  the end). Not counted: decoding and verifying the transactions (done once beforehand,
  as admission does), the state tree's commit, the receipts root. A native-transfer
  block through the same path is printed beside them as the floor of the executor's own
  cost.
More paths add a function to `CASES`.

Figures are CPU time of this thread (`time.thread_time`), the best of `--rounds` rounds,
so that other jobs on a shared machine do not count; wall-clock figures are printed
beside them (`wall_*`). Parallel execution is about wall-clock time, so `parallel` reports
both: the wall-clock speed-up, and the speed-up of the critical path in CPU time (the
serial block's CPU time over the larger of the node process's and the busiest worker's),
which is what the wall clock shows when the cores are free.

Run: `python -m benchmarks.contracts` (or `make bench-contracts`).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.report import emit
from xinlian.execution.contracts.runner import BlockContext
from xinlian.execution.parallel import compute_shares
from xinlian.execution.payloads import Call, Transfer
from xinlian.execution.vm.engine import MAX_BLOCK_FUEL, CallResult
from xinlian.execution.vm.local import LocalChain
from xinlian.lang.compiler import compile_source
from xinlian.ledger.transaction import Transaction, TxKind, decode_transaction
from xinlian.testing.contract_blocks import CallChain, Op
from xinlian.testing.contracts import SUITE, ContractChain, encode_args

TOKEN = Path(__file__).resolve().parents[1] / "examples" / "qi" / "token.qi"
EMPTY_SRC = "contract Empty { pub fn nothing() {} }"
TRANSFER_FUEL = 10_000_000  # the fuel limit of each transfer (a transaction's, not its use)


def timed(fn: Callable[[], Any], rounds: int) -> tuple[float, float]:
    """The best CPU time and the best wall time of `rounds` runs of fn(), in seconds."""
    cpu = wall = float("inf")
    for _ in range(rounds):
        t0, w0 = time.thread_time(), time.perf_counter()
        fn()
        cpu, wall = min(cpu, time.thread_time() - t0), min(wall, time.perf_counter() - w0)
    return cpu, wall


def account(i: int) -> bytes:
    return b"\xac" + i.to_bytes(19, "big")


def submit(ch: LocalChain, contract: bytes, method: str, *args: Any, sender: bytes,
           fuel: int) -> CallResult:
    """One transaction through `LocalChain`, in the next block if the current one has
    less fuel left than the transaction's limit."""
    if MAX_BLOCK_FUEL - ch.block_fuel_used < fuel:
        ch.advance_block()
    res = ch.call(contract, method, *args, sender=sender, fuel=fuel)
    if res.error is not None:
        raise res.error
    return res


def empty_call(opts: argparse.Namespace) -> None:
    ch = LocalChain()
    addr = ch.deploy(compile_source(EMPTY_SRC, "empty.qi"))
    n, sender = opts.calls, account(0)

    def engine() -> None:
        for _ in range(n):
            ch.engine.call(ch.world, addr, "nothing", [], sender)

    def local() -> None:
        for _ in range(n):
            ch.call(addr, "nothing", sender=sender, fuel=1_000_000)

    engine()  # warm: compiled, cached, first store made
    assert ch.engine.call(ch.world, addr, "nothing", [], sender).ok
    for path, fn in (("engine", engine), ("localchain", local)):
        ch.advance_block()
        cpu, wall = timed(fn, opts.rounds)
        emit("contracts", f"warm_call_overhead_{path}", cpu / n * 1e6, "us/call",
             wall_us=round(wall / n * 1e6, 2), calls=n, rounds=opts.rounds, target=30.0,
             note="an empty method, module cached; CPU time of this thread")


def token_transfer(opts: argparse.Namespace) -> None:
    ch = LocalChain()
    owner = account(0)
    token = ch.deploy(compile_source(TOKEN.read_text(), "token.qi"), "Bench", 0, sender=owner)
    n = opts.transfers
    senders = [account(1 + 2 * i) for i in range(n)]
    receivers = [account(2 + 2 * i) for i in range(n)]
    active = min(opts.accounts, n)
    for i in range(active):
        submit(ch, token, "mint", senders[i], 10**12, sender=owner, fuel=TRANSFER_FUEL)
    probe = ch.engine.call(ch.world, token, "transfer", [receivers[0], 1], senders[0],
                           fuel=TRANSFER_FUEL)
    assert probe.ok and probe.value is True, probe.error
    ch.world.state.commit()

    def engine() -> None:
        for i in range(n):
            res = ch.engine.call(ch.world, token, "transfer", [receivers[i], 1],
                                 senders[i % active], fuel=TRANSFER_FUEL)
            if res.error is not None:
                raise res.error
            ch.world.state.commit()

    blocks = [0]

    def local() -> None:
        ch.advance_block()
        start = ch.world.block_number
        for i in range(n):
            submit(ch, token, "transfer", receivers[i], 1, sender=senders[i % active],
                   fuel=TRANSFER_FUEL)
        blocks[0] = ch.world.block_number - start + 1

    extra = {"transfers": n, "accounts": active, "fuel_per_transfer": probe.fuel_used,
             "rounds": opts.rounds, "target": 10_000}
    for path, fn in (("engine", engine), ("localchain", local)):
        cpu, wall = timed(fn, opts.rounds)
        if path == "localchain":  # the block's fuel cap may have split the transfers
            extra["blocks"] = blocks[0]
        emit("contracts", f"token_transfers_per_s_serial_{path}", n / cpu, "tx/s",
             wall_tx_per_s=round(n / wall), **extra)


HOT_ACCOUNTS = 8


def transfers(calls: int, contention: str) -> list[Op]:
    if contention == "low":  # account i pays a fresh address: no two calls share a key
        return [Op(i, "transfer", (calls + i, 1)) for i in range(calls)]
    return [Op(i % HOT_ACCOUNTS, "transfer", ((i + 1) % HOT_ACCOUNTS, 1 + i % HOT_ACCOUNTS))
            for i in range(calls)]


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def parallel(opts: argparse.Namespace) -> None:
    n = opts.transfers
    with tempfile.TemporaryDirectory() as tmp:
        chain = CallChain.create(Path(tmp) / "chain", n, workers=opts.workers)
        pool = chain.pipeline.pool
        assert pool is not None
        pool.max_backoff = 0  # every block tries the workers: the cost of contention shows
        try:
            for contention in ("low", "high"):
                txs = chain.transactions(transfers(n, contention))
                assert not chain.execute(txs, serial=True).excluded  # warm, and it fits
                chain.execute(txs)  # warm: the workers started, their modules compiled
                serial_cpu = serial_wall = par_wall = par_cpu = float("inf")
                taken = 0.0
                for _ in range(opts.rounds):
                    c0, w0 = time.process_time(), time.perf_counter()
                    chain.execute(txs, serial=True)
                    serial_cpu = min(serial_cpu, time.process_time() - c0)
                    serial_wall = min(serial_wall, time.perf_counter() - w0)
                    workers = {p: process_cpu(p) for p in pool.processes()}
                    before = (pool.stats.speculated, pool.stats.adopted)
                    c0, w0 = time.process_time(), time.perf_counter()
                    chain.execute(txs)
                    node_cpu = time.process_time() - c0
                    par_wall = min(par_wall, time.perf_counter() - w0)
                    busiest = max(process_cpu(p) - c for p, c in workers.items())
                    par_cpu = min(par_cpu, max(node_cpu, busiest))
                    speculated = pool.stats.speculated - before[0]
                    taken = (pool.stats.adopted - before[1]) / max(speculated, 1)
                extra = {"transfers": n, "workers": opts.workers, "rounds": opts.rounds,
                         "worker_runs_taken": round(taken, 3),
                         "node_share": round(compute_shares(n, opts.workers, pool.costs)[0]
                                             / n, 3),
                         # per call: run by the node, by a worker, the node's check of a
                         # worker's run (wall clock, as the pool measured them)
                         "costs_us": [round(c * 1e6, 1) for c in (
                             pool.costs.own, pool.costs.worker, pool.costs.check)],
                         "load_1min": round(os.getloadavg()[0], 2)}
                emit("contracts", f"token_transfers_per_s_serial_executor_{contention}"
                     "_contention", n / serial_wall, "tx/s", **extra)
                emit("contracts", f"token_transfers_per_s_parallel_{contention}_contention",
                     n / par_wall, "tx/s", **extra)
                emit("contracts", f"parallel_speedup_{contention}_contention",
                     serial_wall / par_wall, "x", **extra,
                     cpu_critical_path_speedup=round(serial_cpu / par_cpu, 3))
        finally:
            chain.close()


def _block(ch: ContractChain, raws: list[bytes]) -> list[Transaction]:
    """`raws` decoded as the next block's transactions (what admission has done)."""
    return [decode_transaction(r, "t", SUITE.hash_bytes, ch.genesis.params.max_tx_size)
            for r in raws]


def _time_block(ch: ContractChain, txs: list[Transaction], rounds: int
                ) -> tuple[float, float]:
    """CPU and wall time of executing `txs` as the next block over the chain's state (not
    committed, so that every round starts from the same state); all must succeed."""
    block = BlockContext(ch.height + 1, (ch.height + 1) * 1000)

    def run() -> None:
        result = ch.executor.execute_block(txs, block, ch.state.get)
        assert not result.excluded and all(r.status == 0 for r in result.receipts), \
            (result.excluded[:1], next((r for r in result.receipts if r.status), None))

    return timed(run, rounds)


def executor(opts: argparse.Namespace) -> None:
    n = opts.calls
    ch = ContractChain()
    empty = compile_source(EMPTY_SRC, "empty.qi")
    addr, receipt = ch.deploy(empty)
    assert receipt.status == 0, receipt
    calls = _block(ch, [ch.raw(1, TxKind.CALL, Call(addr, "nothing", b"", 1_000_000))
                        for _ in range(n)])
    natives = _block(ch, [ch.raw(2, TxKind.TRANSFER, Transfer(ch.addr(3), 1))
                          for _ in range(n)])
    ch.executor.execute_block(calls[:10], BlockContext(ch.height + 1, 0), ch.state.get)
    for path, txs in (("executor", calls), ("executor_native_transfer", natives)):
        cpu, wall = _time_block(ch, txs, opts.rounds)
        emit("contracts", f"warm_call_overhead_{path}", cpu / n * 1e6, "us/call",
             wall_us=round(wall / n * 1e6, 2), calls=n, rounds=opts.rounds,
             **({"target": 30.0} if path == "executor" else {}),
             note="per transaction of one block through Executor.execute_block; "
                  "CPU time of this thread")

    n = opts.transfers
    ch = ContractChain(accounts=n + 1)
    art = compile_source(TOKEN.read_text(), "token.qi")
    token, receipt = ch.deploy(art, "Bench", 0)
    assert receipt.status == 0, receipt
    senders = range(1, n + 1)
    mints = [ch.raw(0, TxKind.CALL, Call(token, "mint", encode_args(
        art, "mint", ch.addr(i), 10**12), TRANSFER_FUEL)) for i in senders]
    while mints:  # as many blocks as the block's fuel cap needs
        result = ch.block(mints)
        assert all(r.status == 0 for r in result.receipts)
        mints = mints[len(result.included):]
    txs = _block(ch, [ch.raw(i, TxKind.CALL, Call(token, "transfer", encode_args(
        art, "transfer", account(i), 1), TRANSFER_FUEL)) for i in senders])
    cpu, wall = _time_block(ch, txs, opts.rounds)
    emit("contracts", "token_transfers_per_s_serial_executor", n / cpu, "tx/s",
         wall_tx_per_s=round(n / wall), transfers=n, rounds=opts.rounds, target=10_000,
         note="one block through Executor.execute_block, distinct senders and receivers; "
              "CPU time of this thread")


CASES: dict[str, Callable[[argparse.Namespace], None]] = {
    "empty_call": empty_call,
    "token_transfer": token_transfer,
    "parallel": parallel,
    "executor": executor,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--only", nargs="*", choices=sorted(CASES), default=None)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=5_000, help="calls per empty-call round")
    ap.add_argument("--transfers", type=int, default=10_000, help="transfers in the block")
    ap.add_argument("--accounts", type=int, default=10_000, help="accounts minted to")
    ap.add_argument("--workers", type=int, default=1, help="worker processes (parallel)")
    opts = ap.parse_args()
    for name in opts.only or list(CASES):
        CASES[name](opts)


if __name__ == "__main__":
    main()
