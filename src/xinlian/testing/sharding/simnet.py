"""Many committees of real consensus cores in one simulation: sharded throughput and latency.

`ShardedSim` runs k shard committees and a beacon committee (or, with k = 1 and no beacon,
one unsharded committee) as real `ConsensusCore`s in one seeded `Simulation`, each node
with its NIC, the crypto each core performs charged as simulated CPU (simnet.crypto_cost).
Load is opaque chunks, as in the consensus benchmark, with a header only this harness reads:
submit time, transaction count, kind and destination. The bytes are the real encoded sizes
of a signed transfer and of a claim with its proof (`transfer_size`, `claim_size`).

The cross-shard path, as in docs/sharding.md: a debit chunk commits on its source shard;
that shard block's certified header (the real encoded size; the certification round itself
is not simulated: the header is sent to the beacon one round trip after the commit) is
ordered by the beacon committee; when the beacon commits it, a relayer submits the claim
chunk to a member of the destination shard, one one-way delay later; the transfer is done
when the destination commits the claim. Ledger execution is not simulated: the figures are
what the consensus layers order, like benchmarks/consensus_sim.py's.

Commits are observed at each committee's first member; a height counts once.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

from msgspec.structs import replace

from xinlian import codec
from xinlian.consensus.certificates import VoteKey
from xinlian.consensus.committee import Committee, EpochRoot
from xinlian.consensus.core import Committed, Config, ConsensusCore, Submit
from xinlian.consensus.dissemination import PREFIX as BATCH_PREFIX
from xinlian.consensus.messages import BatchMsg, kind
from xinlian.ledger import merkle
from xinlian.sharding.ledger import BlockResult
from xinlian.sharding.receipts import ShardTx
from xinlian.sim.network import LinkModel, NetworkModel
from xinlian.sim.runtime import Factory, Simulation
from xinlian.testing.consensus.committees import genesis, local_committee
from xinlian.testing.consensus.simnet import crypto_cost
from xinlian.testing.sharding.world import HASH, make_world

HEADER = struct.Struct(">QIIBI")  # submit ms, count, length, kind, destination / link id
INTRA, DEBIT, CLAIM, LINK = 0, 1, 2, 3


def chunk(t_ms: int, count: int, size: int, what: int, extra: int) -> bytes:
    length = max(count * size, HEADER.size)
    return HEADER.pack(t_ms, count, length, what, extra) + bytes(length - HEADER.size)


def read_chunks(payload: bytes) -> list[tuple[int, int, int, int]]:
    out, at = [], 0
    while at + HEADER.size <= len(payload):
        t, count, length, what, extra = HEADER.unpack_from(payload, at)
        out.append((t, count, what, extra))
        at += length
    return out


def wire_sizes() -> tuple[int, int, int]:
    """The encoded sizes of a signed transfer, a claim (a receipt proven under the header of
    a block that emitted 64 receipts) and a certified header, from real objects."""
    world = make_world(2, seed=b"sizes")
    sender = world.clients[0]
    to = next(c for c in world.clients if c.shard == 1)
    transfer = ShardTx(transfer=sender.transfer(to.address, 1))
    result = world.ledgers()[0].apply_block([transfer], world.links())
    receipts = [replace(result.receipts[0], nonce=i) for i in range(64)]
    header = replace(result.header, receipt_count=len(receipts),
                     receipts_root=merkle.root([codec.encode(r) for r in receipts], HASH))
    claim = ShardTx(claim=world.claim(BlockResult(header, receipts, []), 0, 1))
    return (len(codec.encode(transfer)), len(codec.encode(claim)),
            len(codec.encode(world.certify(header))))


@dataclass
class Group:
    committee: Committee
    keys: dict[bytes, VoteKey]
    seen: set[int] = field(default_factory=set)


@dataclass
class Tally:
    """Transactions done per kind: (done time, latency ms, count)."""

    intra: list[tuple[int, int, int]] = field(default_factory=list)
    cross: list[tuple[int, int, int]] = field(default_factory=list)


class ShardedSim:
    def __init__(self, seed: int, shards: int, size: int, beacon_size: int,
                 costs: Mapping[str, float], config: Config, one_way_ms: float,
                 nic_bytes_per_s: float) -> None:
        self.rng = random.Random(seed)
        self.shards = shards
        self.one_way_ms = int(one_way_ms)
        self.sim = Simulation(seed, NetworkModel(LinkModel(latency_ms=one_way_ms),
                                                 nic_bytes_per_s=nic_bytes_per_s),
                              cpu_cost=crypto_cost(costs), classify=kind)
        self.committees: list[Group] = []
        for c in range(shards + (1 if beacon_size else 0)):
            names = [b"c%03d-%04d" % (c, i) for i in range(size if c < shards else beacon_size)]
            committee, keys = local_committee(len(names), nodes=names, seed=b"scale")
            self.committees.append(Group(committee, keys))
            root = genesis(committee)
            for name in names:
                self.sim.add_node(name, self._factory(keys, root, config))
        self.observer = {cm.committee.nodes[0]: i for i, cm in enumerate(self.committees)}
        self.transfer_size, self.claim_size, self.link_size = wire_sizes()
        self.links: list[list[tuple[int, int, int]]] = []  # link id -> debits (t, count, dest)
        self.tally = Tally()
        self.sim.observe(self._observe)

    @staticmethod
    def _factory(keys: dict[bytes, VoteKey], root: EpochRoot, config: Config) -> Factory:
        def make(name: bytes, stored: Mapping[bytes, bytes]) -> ConsensusCore:
            return ConsensusCore(name, keys[name], root, stored, config)
        return make

    def load(self, per_shard_tx_s: float, cross: float, start_ms: int, end_ms: int,
             every_ms: int = 10) -> None:
        """New transactions at `per_shard_tx_s` on every shard, spread over its members; a
        fraction `cross` of them go to another shard (one destination per member and tick)."""
        for s in range(self.shards):
            nodes = self.committees[s].committee.nodes
            per_tick = per_shard_tx_s * every_ms / 1000 / len(nodes)
            owed = [0.0, 0.0]
            for t in range(start_ms, end_ms, every_ms):
                for node in nodes:
                    owed[0] += per_tick * (1 - cross)
                    owed[1] += per_tick * cross
                    parts = []
                    intra, debit = int(owed[0]), int(owed[1])
                    if intra:
                        parts.append(chunk(t, intra, self.transfer_size, INTRA, 0))
                    if debit and self.shards > 1:
                        dest = self.rng.choice([d for d in range(self.shards) if d != s])
                        parts.append(chunk(t, debit, self.transfer_size, DEBIT, dest))
                    owed[0] -= intra
                    owed[1] -= debit
                    if parts:
                        self.sim.input(node, Submit(b"".join(parts), intra + debit), at_ms=t)

    def _payload(self, cm: Group, digest: bytes) -> bytes:
        for node in cm.committee.nodes:
            raw = self.sim.store(node).get(BATCH_PREFIX + digest)
            if raw is not None:
                return bytes(codec.decode(raw, BatchMsg).batch.payload)
        raise AssertionError("a committed batch is stored by no member")

    def _observe(self, node: bytes, now_ms: int, value: object) -> None:
        index = self.observer.get(node)
        if index is None or not isinstance(value, Committed):
            return
        cm = self.committees[index]
        if value.height in cm.seen:
            return
        cm.seen.add(value.height)
        debits: list[tuple[int, int, int]] = []
        for digest in value.digests:
            for t, count, what, extra in read_chunks(self._payload(cm, digest)):
                if what == INTRA:
                    self.tally.intra.append((now_ms, now_ms - t, count))
                elif what == DEBIT:
                    debits.append((t, count, extra))
                elif what == CLAIM:
                    self.tally.cross.append((now_ms, now_ms - t, count))
                elif what == LINK:
                    self._relay(extra, now_ms)
        if index < self.shards and value.digests and self.shards > 1:
            self.links.append(debits)
            beacon = self.committees[-1].committee.nodes
            self.sim.input(self.rng.choice(beacon),
                           Submit(chunk(0, 1, self.link_size, LINK, len(self.links) - 1)),
                           at_ms=now_ms + 2 * self.one_way_ms)

    def _relay(self, link: int, now_ms: int) -> None:
        for t, count, dest in self.links[link]:
            node = self.rng.choice(self.committees[dest].committee.nodes)
            self.sim.input(node, Submit(chunk(t, count, self.claim_size, CLAIM, 0), count),
                           at_ms=now_ms + self.one_way_ms)
