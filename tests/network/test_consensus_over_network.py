"""The real consensus core (xinlian.consensus) on four NetworkRuntimes over real sockets.

An integration check of the runtime against the core it exists for: the cores order
submitted batches, every node commits the same blocks, and a node that is stopped and
rebuilt from its persisted values alone catches up with the others.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from xinlian.consensus.core import Committed, ConsensusCore, Submit
from xinlian.network.runtime import NetworkRuntime, StoreView
from xinlian.storage.kv import Store
from xinlian.testing.consensus.committees import genesis, local_committee

from .harness import Cluster, listening_socket

pytestmark = pytest.mark.timeout(120)


class Commits:
    """Committed blocks of one node, with a way to wait for a height."""

    def __init__(self) -> None:
        self.blocks: dict[int, bytes] = {}
        self.txs = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def __call__(self, value: Any) -> None:
        if isinstance(value, Committed):
            self.blocks[value.height] = value.block_id
            self.txs += value.tx_count
            for height, fut in self._waiters:
                if value.height >= height and not fut.done():
                    fut.set_result(None)

    async def reach(self, height: int) -> None:
        if self.blocks and max(self.blocks) >= height:
            return
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append((height, fut))
        await fut


@pytest.mark.parametrize("suite_name", ["intl", "sm"])
def test_consensus_commits_and_a_restarted_node_catches_up(suite_name: str,
                                                           tmp_path: Path) -> None:
    async def main() -> None:
        from xinlian.crypto.suites import get_suite

        cluster = Cluster(get_suite(suite_name), 4)
        committee, vote_keys = local_committee(4, suite=suite_name, nodes=cluster.ids)
        root = genesis(committee)
        stores = [Store(tmp_path / f"n{i}", sub_dbs=("core",)) for i in range(4)]
        commits = [Commits() for _ in range(4)]

        def runtime(i: int) -> NetworkRuntime:
            core = ConsensusCore(cluster.ids[i], vote_keys[cluster.ids[i]], root,
                                 stored=StoreView((stores[i],), "core"))
            return NetworkRuntime(core, cluster.node(i), stores[i], deliver=commits[i])

        runtimes = [runtime(i) for i in range(4)]
        try:
            for r in runtimes:
                await r.start()
            for k in range(20):
                runtimes[k % 4].input(Submit(b"tx %d " % k + bytes(200), 1))
            for c in commits:
                await c.reach(3)
            await runtimes[3].stop()  # node 3 goes down; three of four keep committing
            height = max(commits[0].blocks)
            for k in range(20, 40):
                runtimes[k % 3].input(Submit(b"tx %d " % k + bytes(200), 1))
            for c in commits[:3]:
                await c.reach(height + 3)
            # Node 3 comes back, rebuilt from what it persisted, on the same port.
            cluster.nodes[3] = cluster.make(3, listening_socket(cluster.ports[3]))
            runtimes[3] = runtime(3)
            await runtimes[3].start()
            target = max(commits[0].blocks) + 2
            for k in range(40, 60):
                runtimes[k % 4].input(Submit(b"tx %d " % k + bytes(200), 1))
            for c in commits:
                await c.reach(target)
            common = set(commits[0].blocks)
            for c in commits[1:]:
                common &= set(c.blocks)
            assert len(common) >= 3
            for h in common:
                assert len({c.blocks[h] for c in commits}) == 1, f"fork at height {h}"
            assert commits[0].txs > 0
            assert all(r.transport.stats["decrypt_failed"] == 0 for r in runtimes)
        finally:
            for r in runtimes:
                await r.stop()
            for s in stores:
                s.close()

    asyncio.run(main())
