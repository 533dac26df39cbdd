"""A simulated consensus network: n cores on the sim runtime, with load and checks.

Used by the tests, the seed campaign and the benchmarks. It records every commit on every
node and reports a safety violation the moment two nodes (or one node, before and after a
restart) commit different blocks at one height. Load is opaque bytes whose chunks carry a
small header (submit time, transaction count) that only this harness reads, to measure
submit-to-commit latency; the cores never look inside.
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from xinlian import codec
from xinlian.consensus.certificates import Meter, VoteKey
from xinlian.consensus.committee import Committee, EpochRoot
from xinlian.consensus.core import Committed, Config, ConsensusCore, EpochStarted, Submit
from xinlian.consensus.dissemination import PREFIX as BATCH_PREFIX
from xinlian.consensus.dissemination import BatchReady
from xinlian.consensus.messages import BatchMsg, kind
from xinlian.protocol import Action, Core, Event
from xinlian.sim.network import LinkModel, NetworkModel
from xinlian.sim.runtime import Simulation
from xinlian.testing.consensus.committees import genesis, local_committee

CHUNK_HEADER = struct.Struct(">QII")


def chunk(now_ms: int, count: int, tx_size: int) -> bytes:
    """Opaque load: `count` transactions of `tx_size` bytes, with the harness's header."""
    length = max(count * tx_size, CHUNK_HEADER.size)
    return CHUNK_HEADER.pack(now_ms, count, length) + bytes(length - CHUNK_HEADER.size)


def chunks(payload: bytes) -> list[tuple[int, int]]:
    """(submit time, count) of every chunk in a batch payload."""
    out, at = [], 0
    while at + CHUNK_HEADER.size <= len(payload):
        t, count, length = CHUNK_HEADER.unpack_from(payload, at)
        out.append((t, count))
        at += length
    return out


def crypto_cost(costs_us: Mapping[str, float]) -> Callable[[bytes, Core, Event, Sequence[Action]],
                                                             int]:
    """A CPU model that charges each operation counted in a core's meter at a fixed cost."""
    last: dict[int, tuple[Meter, Counter[str]]] = {}  # keeps each meter alive: ids stay unique

    def cost(node: bytes, core: Core, event: Event, actions: Sequence[Action]) -> int:
        meter: Meter = core.meter  # type: ignore[attr-defined]
        before = last.setdefault(id(meter), (meter, Counter()))[1]
        total = sum(costs_us.get(k, 0.0) * (v - before[k]) for k, v in meter.items())
        before.update({k: v - before[k] for k, v in meter.items()})
        return int(total)
    return cost


@dataclass
class CommitLog:
    """Every node's commits; `violations` is non-empty iff safety broke."""

    by_node: dict[bytes, dict[int, bytes]] = field(default_factory=dict)
    chain: dict[int, bytes] = field(default_factory=dict)
    times: dict[bytes, list[tuple[int, Committed]]] = field(default_factory=dict)
    epochs: dict[bytes, list[tuple[int, EpochRoot]]] = field(default_factory=dict)
    ready: dict[bytes, list[bytes]] = field(default_factory=dict)  # BatchReady digests
    violations: list[str] = field(default_factory=list)

    def record(self, node: bytes, now_ms: int, value: object) -> None:
        if isinstance(value, EpochStarted):
            self.epochs.setdefault(node, []).append((now_ms, value.root))
        if isinstance(value, BatchReady):
            self.ready.setdefault(node, []).append(value.digest)
        if not isinstance(value, Committed):
            return
        mine = self.by_node.setdefault(node, {})
        first = self.chain.setdefault(value.height, value.block_id)
        if first != value.block_id:
            self.violations.append(f"height {value.height}: {node!r} committed "
                                   f"{value.block_id.hex()[:16]}, others {first.hex()[:16]}")
        if mine.get(value.height, value.block_id) != value.block_id:
            self.violations.append(f"{node!r} committed two blocks at height {value.height}")
        mine[value.height] = value.block_id
        self.times.setdefault(node, []).append((now_ms, value))

    def height(self, node: bytes) -> int:
        return max(self.by_node.get(node, {0: b""}))


class ConsensusNet:
    """n members of one committee driven by a seeded simulation."""

    def __init__(self, n: int, seed: int, *, suite: str = "intl", aggregate: bool | None = None,
                 config: Config | None = None, link: LinkModel | None = None,
                 nic_bytes_per_s: float | None = None,
                 cpu_costs_us: Mapping[str, float] | None = None,
                 committee: tuple[Committee, dict[bytes, VoteKey]] | None = None) -> None:
        self.committee, self.keys = committee or local_committee(n, suite=suite,
                                                                 aggregate=aggregate)
        self.genesis = genesis(self.committee)
        self.config = config or Config()
        network = NetworkModel(link or LinkModel(latency_ms=10, jitter_ms=5),
                               nic_bytes_per_s=nic_bytes_per_s)
        cpu = crypto_cost(cpu_costs_us) if cpu_costs_us else None
        self.sim = Simulation(seed, network, cpu_cost=cpu, classify=kind)
        self.log = CommitLog()
        self.sim.observe(self.log.record)
        self.roots: dict[bytes, EpochRoot] = {}
        for node in self.committee.nodes:
            self.add(node, self.genesis)

    def add(self, node: bytes, root: EpochRoot, start_ms: int | None = None,
            key: VoteKey | None = None) -> None:
        """Run a core for `node` that starts from `root` (a genesis or a later epoch)."""
        if key is not None:
            self.keys[node] = key
        self.roots[node] = root

        def factory(name: bytes, stored: Mapping[bytes, bytes]) -> ConsensusCore:
            return ConsensusCore(name, self.keys[name], self.roots[name], stored, self.config)
        self.sim.add_node(node, factory, start_ms)

    def core(self, node: bytes) -> ConsensusCore:
        core = self.sim.core(node)
        assert isinstance(core, ConsensusCore)
        return core

    def load(self, tx_per_s: float, tx_size: int, start_ms: int, end_ms: int,
             every_ms: int = 10, nodes: Sequence[bytes] | None = None) -> None:
        """Submit transactions at a steady total rate, spread over `nodes` (default: all)."""
        targets = list(nodes or self.committee.nodes)
        per_tick = tx_per_s * every_ms / 1000 / len(targets)
        owed = dict.fromkeys(targets, 0.0)
        for t in range(start_ms, end_ms, every_ms):
            for node in targets:
                owed[node] += per_tick
                count = int(owed[node])
                if count:
                    owed[node] -= count
                    self.sim.input(node, Submit(chunk(t, count, tx_size), count), at_ms=t)

    def run(self, until_ms: int) -> None:
        self.sim.run_until(until_ms)
        for node in self.sim.nodes:
            core = self.sim.core(node)
            if isinstance(core, ConsensusCore) and core.metrics["conflicting_commit"]:
                note = f"{node!r} saw a certified branch conflicting with its commits"
                if note not in self.log.violations:
                    self.log.violations.append(note)

    def committed_txs(self, node: bytes, start_ms: int = 0, end_ms: int | None = None) -> int:
        return sum(c.tx_count for t, c in self.log.times.get(node, [])
                   if t >= start_ms and (end_ms is None or t < end_ms))

    def latencies(self, node: bytes, start_ms: int = 0, end_ms: int | None = None
                  ) -> list[tuple[int, int]]:
        """(latency ms, tx count) for every chunk submitted in the window, from its submission
        to the commit of the block ordering it at `node`."""
        out: list[tuple[int, int]] = []
        stores = [self.sim.store(n) for n in self.sim.nodes]
        for t, c in self.log.times.get(node, []):
            for digest in c.digests:
                raw = next((s[BATCH_PREFIX + digest] for s in stores
                            if BATCH_PREFIX + digest in s), None)
                if raw is None:
                    continue
                for submitted, count in chunks(bytes(codec.decode(raw, BatchMsg).batch.payload)):
                    if submitted >= start_ms and (end_ms is None or submitted < end_ms):
                        out.append((t - submitted, count))
        return out
