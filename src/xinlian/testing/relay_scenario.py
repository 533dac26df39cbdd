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
from collections import Counter
from dataclasses import dataclass, field, replace
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
from xinlian.testing.relay_attacks import Dishonest

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
    # Attackers: (behaviour of `relay_attacks.BEHAVIOURS`, fraction of nodes) pairs. They
    # neither publish nor propose, and the figures count honest nodes only.
    attackers: tuple[tuple[str, float], ...] = ()


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
    honest: int = 0
    # % of links from honest nodes to peers of each behaviour ("honest" too) that logged
    # evidence against the peer, on which the peer's score fell below the graylist
    # threshold, and on which it is negative at the end (pruned, not grafted)
    graylisted_pct: dict[str, float] = field(default_factory=dict)
    negative_pct: dict[str, float] = field(default_factory=dict)
    attacker_mesh_pct: float = 0.0  # honest nodes' mesh slots held by attackers at the end
    evidence: dict[str, int] = field(default_factory=dict)  # misbehaviour logged, by kind


class _Meter:
    """Counts deliveries and body bytes; records when each object reaches 95 % of nodes."""

    def __init__(self, scenario: Scenario, honest: list[bool]) -> None:
        self.s = scenario
        self.honest = honest
        self.item_bytes = scenario.tx_per_item * scenario.tx_size
        self.threshold = -(-95 * sum(honest) // 100)
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
        if not self.honest[node]:
            return
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


def scaled_relay(s: Scenario) -> RelayConfig:
    """The relay configuration as the simulated cores see it: bodies are 32-byte stand-ins
    for bundles charged at `tx_per_item * tx_size` bytes, so a byte budget shrinks by the
    same factor (a budget of 1 MB/s of bundles is 1 MB/s of stand-in-charged bundles), and
    nothing is compressed (stand-ins say nothing about how real bundles compress: the
    bytes charged are those of plain frames)."""
    serve = s.relay.serve_bytes_per_s
    relay = replace(s.relay, compress_bodies=False)
    if serve is None:
        return relay
    return replace(relay, serve_bytes_per_s=serve * STAND_IN / (s.tx_per_item * s.tx_size))


def run(s: Scenario) -> Result:
    rng = random.Random(s.seed)
    relay = scaled_relay(s)
    _, rtt = load_rtt_matrix()
    one_way_us = [[ms * 500 for ms in row] for row in rtt]
    cores = [RelayCore(node_id(i), relay, random.Random(rng.getrandbits(64)))
             for i in range(s.nodes)]
    regions = [i % len(rtt) for i in range(s.nodes)]
    rng.shuffle(regions)
    behaviours = _assign(s, rng)
    honest = [b is None for b in behaviours]
    meter = _Meter(s, honest)
    runners: list[Any] = [core if b is None else
                          Dishonest(core, b, random.Random(rng.getrandbits(64)))
                          for core, b in zip(cores, behaviours, strict=True)]
    honest_ids = [i for i in range(s.nodes) if honest[i]]
    sim = ScaleSim(runners, regions, one_way_us, s.bandwidth_mbit * 1e6 / 8,
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
        sim.input(rng.choice(honest_ids), at, PublishTx(body))
    block_times = list(range(start + s.block_interval_ms * 1000, end + 1,
                             s.block_interval_ms * 1000))
    for height, at in enumerate(block_times):
        sim.run(at)
        proposer = cores[rng.choice(honest_ids)]
        old = at - s.block_min_age_ms * 1000
        txs = tuple(tx for ident, tx in proposer.pool.items()
                    if meter.published.get(ident, at) <= old)
        header = b"height" + height.to_bytes(8, "big") + proposer.node
        sim.input(node_index(proposer.node), at, PublishBlock(header, txs))
    sim.run(end + s.drain_ms * 1000)
    return _result(s, sim, meter, cores, items, len(block_times), behaviours)


def _assign(s: Scenario, rng: random.Random) -> list[str | None]:
    """Each node's attack behaviour (None: honest), at random positions."""
    behaviours: list[str | None] = [None] * s.nodes
    order = list(range(s.nodes))
    rng.shuffle(order)
    k = 0
    for behaviour, fraction in s.attackers:
        n = round(fraction * s.nodes)
        for i in order[k:k + n]:
            behaviours[i] = behaviour
        k += n
    return behaviours


def _attack_figures(cores: list[RelayCore], behaviours: list[str | None]
                    ) -> tuple[dict[str, float], dict[str, float], float]:
    """Over the links from honest nodes to peers of each behaviour ("honest" included)
    on which the peer was caught (the honest node logged evidence against it): % on which
    the peer is graylisted, % on which its score is negative; and % of honest mesh slots
    held by attackers. A peer that never dealt with a node cannot be caught by it.
    Graylisting wears off as penalties decay, so what counts is whether the peer's score
    ever fell below the threshold; a negative score is the one at the end."""
    links: Counter[str] = Counter()
    graylisted: Counter[str] = Counter()
    negative: Counter[str] = Counter()
    slots = held = 0
    for core, mine in zip(cores, behaviours, strict=True):
        if mine is not None:
            continue
        caught = {record.peer for record in core.scores.evidence}
        for peer in core.peers:
            if peer not in caught:
                continue
            theirs = behaviours[node_index(peer)] or "honest"
            links[theirs] += 1
            graylisted[theirs] += core.scores.was_graylisted(peer)
            negative[theirs] += core.scores.value(peer) < 0
        slots += len(core.mesh)
        held += sum(behaviours[node_index(p)] is not None for p in core.mesh)
    return ({b: 100 * graylisted[b] / links[b] for b in sorted(links)},
            {b: 100 * negative[b] / links[b] for b in sorted(links)},
            100 * held / max(1, slots))


def _result(s: Scenario, sim: ScaleSim, meter: _Meter, cores: list[RelayCore], items: int,
            blocks: int, behaviours: list[str | None]) -> Result:
    honest = [b is None for b in behaviours]
    block_set = meter.blocks
    tx_t95 = [t for k, t in meter.t95.items() if k not in block_set]
    block_t95 = [t for k, t in meter.t95.items() if k in block_set]
    tx_delivered = sum(c for k, c in meter.count.items() if k not in block_set)
    block_delivered = sum(c for k, c in meter.count.items() if k in block_set)
    payload = meter.first_payload
    received = sum(sim.rx_bytes)
    dropped: dict[str, int] = {}
    evidence: dict[str, int] = {}
    for core, ok in zip(cores, honest, strict=True):
        for name, n in core.dropped.items():
            dropped[name] = dropped.get(name, 0) + n
        for record in core.scores.evidence if ok else ():
            kind = record.kind if not honest[node_index(record.peer)] else "honest:" + record.kind
            evidence[kind] = evidence.get(kind, 0) + 1
    graylisted_pct, negative_pct, attacker_mesh_pct = _attack_figures(cores, behaviours)
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
        tx_full_coverage=tx_delivered / max(1, items * sum(honest)),
        block_full_coverage=block_delivered / max(1, blocks * sum(honest)),
        redundancy_pct=100 * (meter.body_bytes - meter.first_body) / max(1, payload),
        overhead_pct=100 * (received - payload) / max(1, payload),
        per_node_mbit_mean=sum(mbit) / len(mbit),
        per_node_mbit_max=max(mbit),
        id_bytes_per_bundle=meter.id_bytes / max(1, items * s.nodes),
        collisions=sum(c.collisions for c in cores),
        retries=sum(c.retries for c in cores),
        dropped=dropped,
        honest=sum(honest),
        graylisted_pct=graylisted_pct,
        negative_pct=negative_pct,
        attacker_mesh_pct=attacker_mesh_pct,
        evidence=evidence,
    )
