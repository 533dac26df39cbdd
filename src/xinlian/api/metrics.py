"""Prometheus metrics of a node: each scrape reads the node's own counters.

Nothing is sampled on a timer: gauges and counters are read from the node when Prometheus
scrapes (height, committed transactions, pool, peers, verification backlog, disk), and the
two histograms are observed as blocks commit (the interval between ledger blocks; on a
validator, between consensus commits). Rates (transactions per second) are for Prometheus
to compute: `rate(xinlian_committed_transactions_total[1m])`. The names, types and
meaning are listed in docs/operations.md#metrics; docs/grafana/xinlian.json queries them.
"""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from xinlian.api.health import Probe, node_health, node_ready
from xinlian.api.light import LightNode
from xinlian.api.server import RpcServer
from xinlian.consensus.core import Committed
from xinlian.errors import XinlianError
from xinlian.ledger.block import Block, Receipt
from xinlian.network.stats import COUNTERS
from xinlian.node.offload import VerifyBacklog
from xinlian.node.service import Node
from xinlian.node.validator import BftOrdering

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
# seconds between commits: a solo chain's 200 ms interval up to an idle chain's minutes
INTERVAL_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0,
                    60.0)


def disk_bytes(path: Path) -> int:
    """Bytes allocated on disk under `path` (sparse files count what they use)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:  # removed while walking
                continue
    return total


def gauge(name: str, doc: str, value: float, labels: dict[str, str] | None = None
          ) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=list(labels or {}))
    family.add_metric(list((labels or {}).values()), value)
    return family


def counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


class Scraped(ABC):
    """A registry with the process's own metrics (CPU, memory, file descriptors, GC)
    and `collect` of the subclass, read at each scrape."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        # no `_created` series: Prometheus keeps start times itself
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.registry.register(self)

    def render(self) -> bytes:
        """The text exposition format (version 0.0.4) of every metric."""
        return generate_latest(self.registry)

    @abstractmethod
    def collect(self) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
        """The node's metrics, read now."""

    @abstractmethod
    def health(self) -> Probe:
        """GET /health: alive, and the store reads."""

    @abstractmethod
    def ready(self) -> Probe:
        """GET /ready: fit to serve clients."""

    def disk(self, stores: Sequence[str]) -> Iterable[GaugeMetricFamily]:
        yield gauge("xinlian_data_dir_bytes",
                    "Bytes on disk of the node's data directory", disk_bytes(self.data_dir))
        family = GaugeMetricFamily("xinlian_store_bytes",
                                   "Bytes on disk of each LMDB store of the data directory",
                                   labels=["store"])
        for store in stores:
            if (self.data_dir / store).is_dir():
                family.add_metric([store], disk_bytes(self.data_dir / store))
        yield family


class NodeMetrics(Scraped):
    """A full node's metrics (solo or validator); `close` stops observing its blocks."""

    def __init__(self, node: Node, data_dir: Path, server: RpcServer | None = None) -> None:
        super().__init__(data_dir)
        self.node = node
        self.server = server
        self.bft = node.ordering if isinstance(node.ordering, BftOrdering) else None
        self.block_interval = Histogram(
            "xinlian_block_interval_seconds",
            "Seconds between successive ledger blocks committed by this node",
            buckets=INTERVAL_BUCKETS, registry=self.registry)
        self.fuel = Counter("xinlian_fuel_used", "Contract fuel burned by the blocks this "
                            "node committed since it started", registry=self.registry)
        self._last_block: float | None = None
        self._last_commit: float | None = None
        node.add_block_listener(self._on_block)
        if self.bft is not None:
            self.consensus_interval = Histogram(
                "xinlian_consensus_commit_interval_seconds",
                "Seconds between successive blocks committed by consensus",
                buckets=INTERVAL_BUCKETS, registry=self.registry)
            self.bft.commit_listeners.append(self._on_commit)

    def close(self) -> None:
        self.node.remove_block_listener(self._on_block)
        if self.bft is not None:
            self.bft.commit_listeners.remove(self._on_commit)

    def _on_block(self, block: Block, receipts: Sequence[Receipt]) -> None:
        now = time.monotonic()
        if self._last_block is not None:
            self.block_interval.observe(now - self._last_block)
        self._last_block = now
        self.fuel.inc(sum(r.fuel_used for r in receipts))

    def _on_commit(self, committed: Committed) -> None:
        now = time.monotonic()
        if self._last_commit is not None:
            self.consensus_interval.observe(now - self._last_commit)
        self._last_commit = now

    def health(self) -> Probe:
        return node_health(self.node)

    def ready(self) -> Probe:
        return node_ready(self.node)

    def collect(self) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
        node = self.node
        role = "solo" if self.bft is None else "validator"
        yield gauge("xinlian_node_info", "The node's chain, suite and role (value 1)", 1,
                    {"chain_id": node.genesis.chain_id, "suite": node.suite.name,
                     "role": role})
        yield gauge("xinlian_height", "Height of the node's ledger head", node.chain.height)
        yield counter("xinlian_committed_transactions",
                      "Transactions committed to the chain since genesis",
                      node.chain.committed_txs)
        yield gauge("xinlian_mempool_transactions", "Transactions pending in the pool",
                    len(node.mempool))
        yield gauge("xinlian_mempool_capacity", "Transactions the pool holds at most",
                    node.genesis.params.mempool_capacity)
        yield gauge("xinlian_verify_queue_signatures", "Signatures waiting for the "
                    "verification workers", VerifyBacklog.signatures)
        yield gauge("xinlian_verify_queue_batches", "Batches waiting for the "
                    "verification workers", VerifyBacklog.batches)
        yield gauge("xinlian_ready", "1 while the node is ready to serve (GET /ready)",
                    int(node.readiness().ready))
        yield from self.disk(("chain", "batches"))
        yield gauge("xinlian_chain_used_bytes", "Bytes of the chain store's pages that hold "
                    "records (its file keeps freed pages for reuse)", node.chain.store.used_bytes())
        yield gauge("xinlian_pruned_below_height", "Oldest height whose block and state the "
                    "node holds whole (0: archive or nothing pruned yet)", node.chain.pruned_below)
        yield from self._peers()
        yield self._stages()
        if self.server is not None:
            yield gauge("xinlian_rpc_connections", "Open RPC connections (HTTP and "
                        "websocket)", self.server.connections)
            yield gauge("xinlian_rpc_websockets", "Open RPC websockets",
                        self.server.ws_count)
            yield gauge("xinlian_rpc_inflight_bytes", "RPC body bytes being read or "
                        "handled", self.server.inflight_bytes)

    def _stages(self) -> CounterMetricFamily:
        """CPU seconds per stage of the node's work (node/stages.py); consensus is the
        network runtime's event handling, on a validator."""
        seconds = dict(self.node.ledger.stages.seconds)
        if self.bft is not None:
            seconds["consensus"] = self.bft.runtime.handle_cpu
        family = CounterMetricFamily("xinlian_stage_cpu_seconds", "CPU seconds spent in "
                                     "each stage of the node's work", labels=["stage"])
        for stage, value in seconds.items():
            family.add_metric([stage], value)
        return family

    def _peers(self) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
        """Peers and consensus: a solo node has neither peers nor consensus."""
        connected, known = (0, 0) if self.bft is None else self.bft.peers()
        yield gauge("xinlian_peers_connected", "Other validators this node is connected to",
                    connected)
        yield gauge("xinlian_peers", "Other validators of the committee", known)
        if self.bft is None:
            return
        core = self.bft.core
        power, quorum = self.bft.reachable_power()
        yield gauge("xinlian_consensus_height", "Height committed by consensus",
                    core.committed_height)
        yield gauge("xinlian_consensus_round", "Consensus round", core.round)
        yield gauge("xinlian_consensus_epoch", "Consensus epoch (committee version)",
                    core.epoch)
        yield gauge("xinlian_consensus_reachable_power", "Voting power of this node and "
                    "the validators it is connected to", power)
        yield gauge("xinlian_consensus_quorum_power", "Voting power a quorum needs", quorum)
        stats = self.bft.transport.stats
        for name in COUNTERS:
            yield counter(f"xinlian_transport_{name}",
                          f"Transport: {name.replace('_', ' ')} (all peers)", stats[name])


class LightMetrics(Scraped):
    """A light node's metrics: what it verified, its peers' failures and lies."""

    def __init__(self, light: LightNode, data_dir: Path) -> None:
        super().__init__(data_dir)
        self.light = light

    def health(self) -> Probe:
        """Alive, and its store of verified headers reads back (checksum checked)."""
        try:
            self.light.check_store()
        except XinlianError as exc:
            return Probe(False, {"healthy": False, "error": exc.to_dict()})
        return Probe(True, {"healthy": True, "error": None})

    def ready(self) -> Probe:
        """Ready once it holds a verified anchor and its last sync succeeded."""
        reasons = []
        if self.light.headers.anchor is None:
            reasons.append("no certified header verified yet")
        error = self.light.sync_error
        if error is not None:
            reasons.append(f"the last sync failed: {error.message}")
        return Probe(not reasons, {"ready": not reasons, "reasons": reasons,
                                   "height": _anchor_height(self.light)})

    def collect(self) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
        light = self.light
        yield gauge("xinlian_node_info", "The node's chain, suite and role (value 1)", 1,
                    {"chain_id": light.genesis.chain_id, "suite": light.genesis.suite,
                     "role": "light"})
        height = _anchor_height(light)
        if height is not None:
            yield gauge("xinlian_height", "Height of the highest certified header verified",
                        height)
        yield gauge("xinlian_light_epoch", "Epoch of the verified committee",
                    light.headers.epoch)
        yield gauge("xinlian_peers", "Full nodes this light node asks", len(light.clients))
        yield gauge("xinlian_ready", "1 while the node is ready to serve (GET /ready)",
                    int(self.ready().ok))
        verified = CounterMetricFamily("xinlian_light_verified", "Proofs verified, by kind",
                                       labels=["kind"])
        for kind in ("epochs", "certified", "proven"):
            verified.add_metric([kind], light.headers.stats[kind])
        yield verified
        syncs = CounterMetricFamily("xinlian_light_syncs", "Sync rounds, by result",
                                    labels=["result"])
        for result in ("ok", "failed"):
            syncs.add_metric([result], light.syncs[result])
        yield syncs
        for name, table, doc in (("liars", light.liars, "Answers that failed verification"),
                                 ("failures", light.failures, "Answers not had")):
            family = CounterMetricFamily(f"xinlian_light_peer_{name}", f"{doc}, by peer",
                                         labels=["peer"])
            for client in light.clients:
                family.add_metric([client.url], table[client.url])
            yield family
        yield from self.disk(("light",))


def _anchor_height(light: LightNode) -> int | None:
    anchor = light.headers.anchor
    return None if anchor is None else anchor.header.height

