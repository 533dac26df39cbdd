"""The relay at scale: real `RelayCore`s on the `ScaleSim` under a global latency matrix.

What is simulated, exactly. Every node runs the real relay core and every message is a
real encoded relay message. The transaction load (`tx_per_s` transfers of `tx_size`
bytes) is carried in bundles of `tx_per_item` transfers: one relay transaction stands for
one bundle, and its body on the wire is charged at the bundle's full size
(`tx_per_item * tx_size` bytes) although the simulator only stores a 32-byte stand-in
(the payload's content does not change what the relay does; its size does, and is
charged). Blocks are real: every `block_interval_ms` a random node publishes a block of
the bundles in its pool published at least `block_min_age_ms` earlier (blocks order
batches that were disseminated before, as the consensus design does), which the others
rebuild from their pools through compact blocks. Each message also pays `FRAME_OVERHEAD`
bytes (frame header and AEAD record overhead of the transport). Latency: one-way = half
the measured round trip between the nodes' regions (`cloudping_rtt.tsv`), nodes spread
evenly over the regions.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xinlian.network.relay.core import (
    BlockDelivered,
    Connect,
    PublishBlock,
    PublishTx,
    RelayConfig,
    RelayCore,
    TxDelivered,
)
from xinlian.network.relay.messages import BlockTxs, Txs, decode_message
from xinlian.sim.scale import ScaleSim, node_id, node_index

FRAME_OVERHEAD = 4 + 8 + 16  # frame length, record counter, AEAD tag
STAND_IN = 32
_TXS_TAGS = (6, 11)  # Txs, BlockTxs: the messages that carry bodies


def load_rtt_matrix(path: Path | None = None) -> tuple[list[str], list[list[int]]]:
    """Region names and the round-trip matrix (ms) of the published measurements."""
    path = path or Path(__file__).with_name("cloudping_rtt.tsv")
    rows = [line.split("\t") for line in path.read_text().splitlines()
            if line and not line.startswith("#")]
    names = rows[0][1:]
    matrix = [[int(v) for v in row[1:]] for row in rows[1:]]
    if len(matrix) != len(names) or any(len(r) != len(names) for r in matrix):
        raise ValueError(f"{path}: the matrix is not square")
    return names, matrix


@dataclass(frozen=True)
class Scenario:
    nodes: int = 5_000
    connections: int = 8           # outbound connections per node (about twice as many in all)
    bandwidth_mbit: float = 40.0
    tx_per_s: int = 10_000
    tx_size: int = 250
    tx_per_item: int = 100
    block_interval_ms: int = 1_000
    block_min_age_ms: int = 1_500  # a block takes bundles published at least this long ago
    warmup_ms: int = 2_000
    load_ms: int = 5_000
    drain_ms: int = 4_000
    seed: int = 1
    relay: RelayConfig = field(default_factory=RelayConfig)


@dataclass
class Result:
    nodes: int
    sim_seconds: float
    events: int
    items: int
    blocks: int
    tx_p95_s: float            # 95th pct over bundles of the time to reach 95 % of nodes
    block_p95_s: float
    tx_full_coverage: float    # fraction of (node, bundle) pairs delivered by the end
    block_full_coverage: float
    redundancy_pct: float      # duplicate body bytes / first-copy payload bytes
    overhead_pct: float        # every byte received beyond first copies / payload bytes
    per_node_mbit_mean: float  # bytes received / load duration
    per_node_mbit_max: float
    id_bytes_per_bundle: float  # IHave+IWant bytes per bundle per node
    collisions: int
    retries: int
    dropped: dict[str, int]


class _Meter:
    """Counts deliveries and body bytes; records when each object reaches 95 % of nodes."""

    def __init__(self, scenario: Scenario) -> None:
        self.s = scenario
        self.item_bytes = scenario.tx_per_item * scenario.tx_size
        self.threshold = -(-95 * scenario.nodes // 100)
        self.published: dict[bytes, int] = {}
        self.blocks: set[bytes] = set()
        self.count: dict[bytes, int] = {}
        self.t95: dict[bytes, int] = {}
        self.first_payload = 0
        self.first_body = 0
        self.body_bytes = 0
        self.id_bytes = 0

    def wire_size(self, message: bytes) -> int:
        size = len(message) + FRAME_OVERHEAD
        if len(message) > 2 and message[2] in _TXS_TAGS:
            decoded = decode_message(message)
            assert isinstance(decoded, Txs | BlockTxs)
            extra = len(decoded.txs) * (self.item_bytes - STAND_IN)
            self.body_bytes += len(decoded.txs) * self.item_bytes
            return size + extra
        if len(message) > 2 and message[2] in (4, 5):  # IHave, IWant
            self.id_bytes += size
        return size

    def deliver(self, node: int, at_us: int, value: Any) -> None:
        if isinstance(value, TxDelivered):
            key = value.tx_id
            size = self.item_bytes
        elif isinstance(value, BlockDelivered):
            key = value.block_id
            size = len(value.header)
            self.blocks.add(key)
        else:
            return
        if key not in self.published:
            self.published[key] = at_us  # the origin's own delivery is the publication
        else:
            self.first_payload += size
            if isinstance(value, TxDelivered):
                self.first_body += size
        n = self.count[key] = self.count.get(key, 0) + 1
        if n == self.threshold:
            self.t95[key] = at_us - self.published[key]


def _p95(values: list[int], total: int) -> float:
    """95th percentile in seconds over `total` objects (missing ones count as infinite)."""
    if total == 0:
        return 0.0
    rank = -(-95 * total // 100)
    if len(values) < rank:
        return float("inf")
    return sorted(values)[rank - 1] / 1e6


def run(s: Scenario) -> Result:
    rng = random.Random(s.seed)
    _, rtt = load_rtt_matrix()
    one_way_us = [[ms * 500 for ms in row] for row in rtt]
    cores = [RelayCore(node_id(i), s.relay, random.Random(rng.getrandbits(64)))
             for i in range(s.nodes)]
    regions = [i % len(rtt) for i in range(s.nodes)]
    rng.shuffle(regions)
    meter = _Meter(s)
    sim = ScaleSim(cores, regions, one_way_us, s.bandwidth_mbit * 1e6 / 8,
                   meter.wire_size, meter.deliver)
    for i in range(s.nodes):
        for j in rng.sample(range(s.nodes), s.connections + 1):
            if j != i:
                sim.input(i, 0, Connect(node_id(j)))
                sim.input(j, 0, Connect(node_id(i)))
        sim.start(i, rng.randrange(s.relay.heartbeat_ms * 1000))
    start = s.warmup_ms * 1000
    end = start + s.load_ms * 1000
    items_per_s = s.tx_per_s / s.tx_per_item
    items = int(items_per_s * s.load_ms / 1000)
    for k in range(items):
        at = start + rng.randrange(s.load_ms * 1000)
        body = b"xinlian-bundle" + k.to_bytes(8, "big") + rng.randbytes(STAND_IN - 22)
        sim.input(rng.randrange(s.nodes), at, PublishTx(body))
    block_times = list(range(start + s.block_interval_ms * 1000, end + 1,
                             s.block_interval_ms * 1000))
    for height, at in enumerate(block_times):
        sim.run(at)
        proposer = cores[rng.randrange(s.nodes)]
        old = at - s.block_min_age_ms * 1000
        txs = tuple(tx for ident, tx in proposer.pool.items()
                    if meter.published.get(ident, at) <= old)
        header = b"height" + height.to_bytes(8, "big") + proposer.node
        sim.input(node_index(proposer.node), at, PublishBlock(header, txs))
    sim.run(end + s.drain_ms * 1000)
    return _result(s, sim, meter, cores, items, len(block_times))


def _result(s: Scenario, sim: ScaleSim, meter: _Meter, cores: list[RelayCore], items: int,
            blocks: int) -> Result:
    block_set = meter.blocks
    tx_t95 = [t for k, t in meter.t95.items() if k not in block_set]
    block_t95 = [t for k, t in meter.t95.items() if k in block_set]
    tx_delivered = sum(c for k, c in meter.count.items() if k not in block_set)
    block_delivered = sum(c for k, c in meter.count.items() if k in block_set)
    payload = meter.first_payload
    received = sum(sim.rx_bytes)
    dropped: dict[str, int] = {}
    for core in cores:
        for name, n in core.dropped.items():
            dropped[name] = dropped.get(name, 0) + n
    load_s = s.load_ms / 1000  # the bytes that `load_ms` of load makes nodes receive
    mbit = [b * 8 / 1e6 / load_s for b in sim.rx_bytes]
    return Result(
        nodes=s.nodes,
        sim_seconds=sim.now_us / 1e6,
        events=sim.events,
        items=items,
        blocks=blocks,
        tx_p95_s=_p95(tx_t95, items),
        block_p95_s=_p95(block_t95, blocks),
        tx_full_coverage=tx_delivered / max(1, items * s.nodes),
        block_full_coverage=block_delivered / max(1, blocks * s.nodes),
        redundancy_pct=100 * (meter.body_bytes - meter.first_body) / max(1, payload),
        overhead_pct=100 * (received - payload) / max(1, payload),
        per_node_mbit_mean=sum(mbit) / len(mbit),
        per_node_mbit_max=max(mbit),
        id_bytes_per_bundle=meter.id_bytes / max(1, items * s.nodes),
        collisions=sum(c.collisions for c in cores),
        retries=sum(c.retries for c in cores),
        dropped=dropped,
    )
