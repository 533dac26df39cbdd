"""Soak: a real solo node under steady transfer load, pruned (`prune_keep_blocks`) and
archive. The pruned node's disk use levels off — its chain store grows far less in the last
third of the load than in the first — while the same load keeps an archive node growing;
proofs of recent blocks verify through the SDK, queries below the window get typed errors,
and a kill -9 in the middle of the load (commits that prune included) loses nothing.
The slow variant runs ten times the load."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from xinlian.api.metrics import disk_bytes
from xinlian.cli.cluster import NodeProcess
from xinlian.cli.main import main as cli
from xinlian.ledger.account import account_key
from xinlian.node.errors import NodeError
from xinlian.sdk.client import Client
from xinlian.sdk.errors import RpcError

from .cluster import Chain, init_data_dir

ACCOUNTS = 16
PER_ROUND = 25  # transfers per account and round: 400 a round
KEEP = 16
WAIT_S = 60.0


@dataclass
class Soak:
    """Rounds of transfers from every account (in nonce order), each waited for, and the
    chain store's bytes on disk after each."""

    chain: Chain
    data: Path
    node: NodeProcess
    nonces: list[int] = field(default_factory=lambda: [0] * ACCOUNTS)
    committed: int = 0
    disk: list[int] = field(default_factory=list)
    height: int = 0

    def round(self) -> None:
        txs = []
        for i in range(ACCOUNTS):
            for _ in range(PER_ROUND):
                txs.append("0x" + self.chain.transfer(i, self.nonces[i], (i + 1) % ACCOUNTS,
                                                      1).hex())
                self.nonces[i] += 1
        replies = self.node.rpc("xl_submitTransactions", txs)
        assert all(r["accepted"] for r in replies), replies[:3]
        self.committed += len(txs)
        deadline = time.monotonic() + WAIT_S
        while (status := self.node.rpc("xl_status"))["committed_txs"] < self.committed:
            assert time.monotonic() < deadline
            time.sleep(0.02)  # a polling interval, not a synchronisation
        self.height = status["height"]
        self.disk.append(disk_bytes(self.data / "chain"))

    def kill_while_committing(self) -> None:
        """Submit a round, SIGKILL the node once a block of it committed, start it again
        and carry on from the nonces it committed."""
        txs = ["0x" + self.chain.transfer(i, self.nonces[i] + k, (i + 1) % ACCOUNTS, 1).hex()
               for i in range(ACCOUNTS) for k in range(PER_ROUND)]
        height = self.node.rpc("xl_status")["height"]
        self.node.rpc("xl_submitTransactions", txs)
        while self.node.rpc("xl_status")["height"] == height:
            pass
        self.node.kill()
        self.node = NodeProcess(self.data)
        status = self.node.rpc("xl_status")
        self.nonces = [self.node.rpc("xl_getAccount", "0x" + self.chain.address(i).hex())
                       ["account"]["nonce"] for i in range(ACCOUNTS)]
        self.committed = status["committed_txs"]
        assert self.committed == sum(self.nonces)  # every committed transfer is there


def thirds(disk: list[int]) -> tuple[int, int]:
    """Growth over the first and over the last third of the rounds."""
    third = len(disk) // 3
    return disk[third] - disk[0], disk[-1] - disk[-1 - third]


def soak(tmp: Path, setting: str, rounds: int, *, kill_at: int | None = None) -> Soak:
    chain = Chain.make("intl", ACCOUNTS)
    data = init_data_dir(chain, tmp, block_interval_ms=50, max_block_txs=100,
                         nonce_window=4096)
    with open(data / "node.toml", "a", encoding="utf-8") as config:
        config.write(setting + "\n")
    load = Soak(chain, data, NodeProcess(data))
    try:
        load.disk.append(disk_bytes(data / "chain"))
        for n in range(rounds):
            if n == kill_at:
                load.kill_while_committing()
            load.round()
    except BaseException:
        load.node.kill()
        raise
    return load


def check_pruned(load: Soak) -> None:
    """Recent state proofs verify; below the window, typed errors; the store checks."""
    node, chain = load.node, load.chain
    try:
        status = node.rpc("xl_status")
        head, below = status["height"], status["pruned_below"]
        assert below == head - KEEP + 1
        with Client(node.base_url) as client:
            for height in (head, head - KEEP // 2, below):
                views = [client.account(chain.address(i), height=height)  # verified
                         for i in range(ACCOUNTS)]
                assert all(v.state.header.height == height for v in views)
            with pytest.raises(RpcError) as state:
                client.account(chain.address(0), height=below - 1)
            assert (state.value.remote_code, state.value.remote_name) == (3011, "state_pruned")
            with pytest.raises(RpcError) as block:
                client.block(below - 1)
            assert (block.value.remote_code, block.value.remote_name) == (6512, "block_pruned")
            assert client.block(below) is not None
        with pytest.raises(NodeError, match="state_pruned"):
            node.rpc("xl_getStateProof", "0x" + account_key(chain.address(1)).hex(), 1)
    finally:
        node.stop()
    assert cli(["node", "check", "--data", str(load.data)]) == 0


def report(setting: str, load: Soak) -> None:
    """The figures docs/operations.md quotes (shown with pytest -s)."""
    first, last = thirds(load.disk)
    step = max(1, len(load.disk) // 10)
    print(f"{setting}: {len(load.disk) - 1} rounds of {ACCOUNTS * PER_ROUND} transfers, "
          f"{load.height} blocks; "
          f"chain store KiB every {step} rounds {[b // 1024 for b in load.disk[::step]]}; "
          f"first third +{first // 1024} KiB, last third +{last // 1024} KiB")


@pytest.mark.parametrize(("rounds", "kill_at"), [
    pytest.param(60, 30, id="short"),
    pytest.param(600, 300, id="long", marks=pytest.mark.slow),
])
def test_a_pruned_node_levels_off_and_still_proves(tmp_path: Path, rounds: int,
                                                   kill_at: int) -> None:
    setting = f"prune_keep_blocks = {KEEP}"
    load = soak(tmp_path, setting, rounds, kill_at=kill_at)
    report(setting, load)
    first, last = thirds(load.disk)
    check_pruned(load)
    assert last * 4 < first  # generous: archive's last third grows as much as its first


def test_an_archive_node_keeps_growing(tmp_path: Path) -> None:
    """The same load on an archive node fails the pruned node's criterion: the test bites."""
    load = soak(tmp_path, "archive = true", 60)
    try:
        status = load.node.rpc("xl_status")
        assert status["pruned_below"] == 0
        assert load.node.rpc("xl_getBlockByHeight", 1, False) is not None
    finally:
        load.node.stop()
    report("archive", load)
    first, last = thirds(load.disk)
    assert last * 4 >= first and last * 2 > first
