"""No silent death (issue 10, item 2), against real node processes: killed verification
workers are replaced; a validator whose apply task fails stops with the fail-stop exit code
and the cause in its log; readiness is false while the ledger lags consensus."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import pytest

from xinlian.cli.cluster import NodeProcess, children, free_ports, prepare
from xinlian.crypto.suites import get_suite
from xinlian.node.keyfile import read_key
from xinlian.node.supervise import EXIT_FAILSTOP
from xinlian.sdk.wallet import Wallet

from .cluster import Chain, init_data_dir

DEADLINE_S = 120.0  # an upper bound for each polled condition, never a synchronisation


def _poll(condition: object, what: str) -> None:
    """Poll `condition()` until true; fail after the deadline."""
    assert callable(condition)
    end = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < end, f"timed out waiting for {what}"


def _workers(node: NodeProcess) -> list[int]:
    """The verification pool's worker processes: children of the node's fork server."""
    return [w for server in children(node.pid) for w in children(server)]


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.timeout(300)
def test_killed_verification_workers_are_replaced(tmp_path: Path) -> None:
    chain = Chain.make("intl", 40)
    data = init_data_dir(chain, tmp_path)
    node = NodeProcess(data)
    try:
        for round_ in range(3):
            # 40 transfers in one call: more than INLINE_LIMIT, verified on the pool
            txs = ["0x" + chain.transfer(i, round_, (i + 1) % 40, 1).hex() for i in range(40)]
            results = node.rpc("xl_submitTransactions", txs)
            assert all(r["accepted"] for r in results), results
            workers = _workers(node)
            assert workers, "the pool has no worker processes"
            for pid in workers:
                with contextlib.suppress(ProcessLookupError):  # it may have exited since
                    os.kill(pid, signal.SIGKILL)
            _poll(lambda ws=workers: not any(_alive(w) for w in ws), "the workers to die")
        _poll(lambda: node.rpc("xl_status")["committed_txs"] == 120, "120 committed")
        assert node.rpc("xl_ready")["ready"]
        assert node.proc.poll() is None
    finally:
        node.stop()


@pytest.mark.timeout(300)
def test_failed_apply_stops_the_validator_and_a_lagging_one_is_unready(tmp_path: Path) -> None:
    suite = get_suite("intl")
    dirs = prepare(tmp_path, 4, suite, 0, 0, accounts=4, ports=free_ports(4))
    hold = tmp_path / "hold-apply"
    hold.touch()
    nodes = [NodeProcess(dirs[0]), NodeProcess(dirs[1]),
             NodeProcess(dirs[2], env={"XINLIAN_FAULT_APPLY_AT": "2"}),
             NodeProcess(dirs[3], env={"XINLIAN_FAULT_APPLY_HOLD": str(hold)})]
    failing, held = nodes[2], nodes[3]
    try:
        wallets = [Wallet(read_key(tmp_path / "keys" / f"account{j}.json")[1],
                          "xinlian-cluster", suite) for j in range(4)]

        def send() -> None:
            """Keep consensus busy: more transfers whenever the pool has run low."""
            if nodes[0].rpc("xl_status")["mempool_size"] >= 8:
                return
            txs = ["0x" + w.transfer(wallets[(i + 1) % 4].address, 1).raw.hex()
                   for i, w in enumerate(wallets)]
            results = nodes[0].rpc("xl_submitTransactions", txs)
            assert all(r["accepted"] for r in results), (results, held.rpc("xl_ready"))

        def lagging() -> bool:
            send()
            ready = held.rpc("xl_ready")
            return not ready["ready"] and any("lags consensus" in r for r in ready["reasons"])

        _poll(lagging, "the held validator to report the lag")
        assert held.rpc("xl_status")["height"] == 0  # its ledger has not moved

        # The validator whose apply task failed exits with the fail-stop code, cause logged.
        failing.proc.wait(timeout=DEADLINE_S)
        assert failing.proc.returncode == EXIT_FAILSTOP
        log = (dirs[2] / "node.log").read_text()
        assert "task bft-apply failed: InjectedFault" in log
        assert "error[6506 task_failed]" in log

        hold.unlink()  # the held ledger catches up and reports ready again
        _poll(lambda: held.rpc("xl_ready")["ready"], "the held validator to be ready")
        target = nodes[0].rpc("xl_status")["height"]
        _poll(lambda: held.rpc("xl_status")["height"] >= target, "the held ledger to catch up")
    finally:
        for node in nodes:
            node.stop()
