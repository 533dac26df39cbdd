"""A seed campaign for cross-shard transfers: atomicity and conservation of value under faults.

Each seed runs, in one deterministic simulation, three shard committees and a beacon
committee of four real consensus cores each (BLS votes, the real dissemination), with link
jitter and loss, one Byzantine member per committee at most (the consensus campaign's
behaviours: equivocating or forking leaders, forged or withheld votes, garbage, replay,
silence), crashes with restarts and partitions during a chaos phase. Around the cores:

- each shard's ordered blocks (the first commit of each height, from the batches in the
  members' stores) run through that shard's `ShardLedger`; its header is certified with a
  quorum of the committee's real BLS keys (the certification round's message delay is not
  simulated) and submitted to the beacon committee, again until it is cross-linked;
- the beacon's ordered blocks run through `CrossLinks`;
- clients sign transfers, a third intra-shard and the rest cross-shard, some for more than
  they hold, and submit them to a member of their shard until the ledger decides them;
- a relayer turns every cross-linked receipt into a claim for the destination shard, but
  loses a share of them (a relayer crash); a recipient's wallet sweeps every so often and
  relays what is still in flight; a Byzantine relayer replays claims and sends ones with a
  changed amount, an early beacon height, a wrong epoch and a wrong destination.

The checks: no two members of a committee commit different blocks at a height; after every
ledger block, balances on all shards plus the receipts in flight equal the supply; every
credited claim is a receipt some shard emitted, credited once; no forged claim is ever
credited; after healing, nothing stays in flight and every honest member commits again.

    python -m xinlian.testing.sharding.campaign --seeds 20
    python -m xinlian.testing.sharding.campaign --seed 3 --verbose
"""

from __future__ import annotations

import random
import struct
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from msgspec.structs import replace

from xinlian import codec
from xinlian.consensus.certificates import VoteKey
from xinlian.consensus.committee import Committee, EpochRoot
from xinlian.consensus.core import Committed, Config, ConsensusCore, Submit
from xinlian.consensus.dissemination import PREFIX as BATCH_PREFIX
from xinlian.consensus.messages import BatchMsg, kind
from xinlian.consensus.pacemaker import Pacemaker
from xinlian.sharding.errors import ShardingError
from xinlian.sharding.ledger import BlockResult
from xinlian.sharding.receipts import CertifiedHeader, Claim, Receipt, ShardTx, SignedTransfer
from xinlian.sim.network import NetworkModel
from xinlian.sim.runtime import Factory, Simulation
from xinlian.testing import seeds
from xinlian.testing.consensus import byzantine
from xinlian.testing.consensus.committees import genesis, local_committee
from xinlian.testing.sharding.world import Client, World, make_world

SHARDS, MEMBERS, CLIENTS = 3, 4, 3
CHAOS_MS, CLIENTS_UNTIL_MS, END_MS = 2500, 3500, 8000
TICK_MS, RESEND_MS, SWEEP_MS = 50, 400, 500
CONFIG = Config(pacemaker=Pacemaker(base_ms=300), sync_retry_ms=200, batch_delay_ms=50)
RECORD = struct.Struct(">I")


def record(value: object) -> bytes:
    """One length-prefixed record of a batch (batches concatenate submitted payloads)."""
    data = codec.encode(value)
    return RECORD.pack(len(data)) + data


def records(payload: bytes) -> Iterator[bytes]:
    at = 0
    while at < len(payload):
        (length,) = RECORD.unpack_from(payload, at)
        yield payload[at + RECORD.size:at + RECORD.size + length]
        at += RECORD.size + length


@dataclass
class Chain:
    """One committee's members and its ordered log (the first commit of each height)."""

    committee: Committee
    keys: dict[bytes, VoteKey]
    blocks: dict[int, bytes] = field(default_factory=dict)  # height -> block id
    heights: dict[bytes, int] = field(default_factory=dict)  # member -> last height
    applied: int = 0  # ledger or beacon blocks applied (non-empty consensus blocks)


@dataclass
class Outcome(seeds.Outcome):
    counts: Counter[str] = field(default_factory=Counter)


class ShardedNet:
    def __init__(self, seed: int, plan: random.Random) -> None:
        _, _, link = seeds.network(plan)  # its links; committees stay at 4 members
        self.plan = plan
        self.world: World = make_world(SHARDS, MEMBERS, CLIENTS, seed=b"campaign")
        beacon = local_committee(MEMBERS, seed=b"campaign/beacon",
                                 nodes=[b"beacon-%02d" % i for i in range(MEMBERS)])
        self.chains = [Chain(c, k) for c, k in self.world.committees] + [Chain(*beacon)]
        self.beacon = self.chains[-1]
        self.sim = Simulation(seed, NetworkModel(link), classify=kind)
        self.owner = {node: i for i, ch in enumerate(self.chains) for node in ch.committee.nodes}
        for chain in self.chains:
            root = genesis(chain.committee)
            for node in chain.committee.nodes:
                self.sim.add_node(node, self._factory(chain, root))
        self.ledgers = self.world.ledgers()
        self.links = self.world.links()
        self.results: list[list[BlockResult]] = [[] for _ in range(SHARDS)]
        self.certified: list[list[CertifiedHeader]] = [[] for _ in range(SHARDS)]
        self.emitted: dict[tuple[int, int, int], Receipt] = {}  # (source, dest, nonce)
        self.credited: Counter[tuple[int, int, int]] = Counter()
        self.decided: dict[bytes, ShardingError | None] = {}  # transfer encoding -> outcome
        self.outstanding: dict[int, tuple[SignedTransfer, int]] = {}  # client -> (tx, sent)
        self.forged: set[bytes] = set()  # encodings of claims a Byzantine relayer made
        self.violations: list[str] = []
        self.counts: Counter[str] = Counter()
        self.sim.observe(self._observe)

    @staticmethod
    def _factory(chain: Chain, root: EpochRoot) -> Factory:
        def make(name: bytes, stored: Mapping[bytes, bytes]) -> ConsensusCore:
            return ConsensusCore(name, chain.keys[name], root, stored, CONFIG)
        return make

    # -- helpers -------------------------------------------------------------------------

    def _up(self, chain: Chain) -> list[bytes]:
        return [x for x in chain.committee.nodes if self.sim.is_up(x)] or \
            list(chain.committee.nodes)

    def _submit(self, chain: Chain, *values: object, at_ms: int) -> None:
        node = self.plan.choice(self._up(chain))
        self.sim.input(node, Submit(b"".join(record(v) for v in values), len(values)),
                       at_ms=at_ms)

    def in_flight(self) -> int:
        return sum(r.amount for key, r in self.emitted.items() if not self.credited[key])

    def _payload(self, chain: Chain, digest: bytes) -> bytes | None:
        for node in chain.committee.nodes:
            raw = self.sim.store(node).get(BATCH_PREFIX + digest)
            if raw is not None:
                return bytes(codec.decode(raw, BatchMsg).batch.payload)
        return None

    # -- the ordered logs --------------------------------------------------------------

    def _observe(self, node: bytes, now_ms: int, value: object) -> None:
        if not isinstance(value, Committed):
            return
        chain = self.chains[self.owner[node]]
        new = value.height not in chain.blocks
        first = chain.blocks.setdefault(value.height, value.block_id)
        if first != value.block_id:
            self.violations.append(f"{node.decode()} committed another block at height "
                                   f"{value.height}")
        chain.heights[node] = max(chain.heights.get(node, 0), value.height)
        if not new or not value.digests:
            return  # not the first commit of this height, or an empty block
        payloads = [self._payload(chain, d) for d in value.digests]
        if any(p is None for p in payloads):
            self.violations.append(f"a committed batch of {node.decode()} is nowhere stored")
            return
        items = [item for p in payloads if p for item in records(p)]
        if chain is self.beacon:
            self._apply_beacon(items, now_ms)
        else:
            self._apply_shard(self.chains.index(chain), items, now_ms)

    def _apply_beacon(self, items: list[bytes], now_ms: int) -> None:
        certified = [codec.decode(x, CertifiedHeader) for x in items]
        self.beacon.applied += 1
        for item, error in self.links.apply_block(self.beacon.applied, certified):
            if error is not None:
                self.counts[f"cross-link refused: {error.name}"] += 1
                continue
            header = item.header
            result = self.results[header.shard][header.height - 1]
            for index in range(len(result.receipts)):
                claim = self.world.claim(result, index, self.beacon.applied)
                if self.plan.random() < 0.3:
                    self.counts["relayer lost a claim"] += 1
                else:
                    self._submit(self.chains[claim.receipt.dest], ShardTx(claim=claim),
                                 at_ms=now_ms + self.plan.randint(5, 100))
                if self.plan.random() < 0.5:
                    self._byzantine_relay(claim, now_ms)

    def _byzantine_relay(self, claim: Claim, now_ms: int) -> None:
        r = claim.receipt
        bad = self.plan.choice([
            claim,  # a replay, sent again later
            replace(claim, receipt=replace(r, amount=r.amount + 1000)),
            replace(claim, beacon_height=claim.beacon_height - 1),
            replace(claim, receipt=replace(r, epoch=r.epoch + 1)),
            replace(claim, receipt=replace(r, dest=(r.dest + 1) % SHARDS)),
        ])
        if bad is not claim:
            self.forged.add(codec.encode(bad))
        self._submit(self.chains[bad.receipt.dest], ShardTx(claim=bad),
                     at_ms=now_ms + self.plan.randint(5, 1500))

    def _apply_shard(self, shard: int, items: list[bytes], now_ms: int) -> None:
        txs = [codec.decode(x, ShardTx) for x in items]
        if self.ledgers[shard].beacon_height_needed(txs) > self.links.height:
            self.violations.append(f"shard {shard} ordered a claim beyond the beacon's view")
            return
        result = self.ledgers[shard].apply_block(txs, self.links)
        self.results[shard].append(result)
        self.chains[shard].applied += 1
        for tx, error in zip(txs, result.outcomes, strict=True):
            self._account(shard, tx, error)
        for r in result.receipts:
            self.emitted[r.source, r.dest, r.nonce] = r
        self._conservation(f"after shard {shard} block {result.header.height}")
        self.certified[shard].append(self.world.certify(result.header))
        self._submit(self.beacon, self.certified[shard][-1], at_ms=now_ms + 10)

    def _account(self, shard: int, tx: ShardTx, error: ShardingError | None) -> None:
        outcome = "ok" if error is None else error.name
        if tx.transfer is not None:
            self.decided.setdefault(codec.encode(tx.transfer), error)
            self.counts[f"transfer {outcome}"] += 1
            return
        claim = tx.claim
        assert claim is not None
        self.counts[f"claim {outcome}"] += 1
        if error is not None:
            return
        key = (claim.receipt.source, claim.receipt.dest, claim.receipt.nonce)
        self.credited[key] += 1
        if self.emitted.get(key) != claim.receipt:
            self.violations.append(f"shard {shard} credited a receipt no shard emitted: {key}")
        if self.credited[key] > 1:
            self.violations.append(f"receipt {key} credited {self.credited[key]} times")
        if codec.encode(claim) in self.forged:
            self.violations.append(f"a forged claim for {key} was credited")

    def _conservation(self, when: str) -> None:
        held = sum(ledger.total() for ledger in self.ledgers)
        if held + self.in_flight() != self.world.supply:
            self.violations.append(f"{when}: {held} held + {self.in_flight()} in flight != "
                                   f"supply {self.world.supply}")

    # -- the actors ----------------------------------------------------------------------

    def clients(self, sim: Simulation) -> None:
        """Each tick: a client with nothing outstanding may send a transfer; one whose
        transfer is undecided sends it again now and then."""
        now = sim.now_ms
        for i, client in enumerate(self.world.clients):
            pending = self.outstanding.get(i)
            if pending is not None:
                tx, sent = pending
                if codec.encode(tx) in self.decided:
                    del self.outstanding[i]
                elif now - sent >= RESEND_MS:
                    self._send(client, tx, now)
                    self.outstanding[i] = (tx, now)
                continue
            if now < CLIENTS_UNTIL_MS and self.plan.random() < 0.3:
                client.nonce = self.ledgers[client.shard].accounts[client.address].nonce
                to = self.plan.choice([c for c in self.world.clients if c is not client])
                tx = client.transfer(to.address, self.plan.randint(1, 400))
                self._send(client, tx, now)
                self.outstanding[i] = (tx, now)
        sim.at(now + TICK_MS, self.clients)

    def _send(self, client: Client, tx: SignedTransfer, now: int) -> None:
        self._submit(self.chains[client.shard], ShardTx(transfer=tx), at_ms=now + 1)

    def sweep(self, sim: Simulation) -> None:
        """The recipients' wallets relay cross-linked receipts still in flight, and shards'
        headers not yet cross-linked go to the beacon again."""
        now = sim.now_ms
        for shard, results in enumerate(self.results):
            waiting = self.certified[shard][self.links.linked(shard):][:16]
            if waiting:  # in one submission, so that one batch keeps their order
                self._submit(self.beacon, *waiting, at_ms=now + 1)
            for result in results[:self.links.linked(shard)]:
                for index, r in enumerate(result.receipts):
                    if not self.credited[r.source, r.dest, r.nonce]:
                        height = self.links.links[shard][result.header.height - 1].beacon_height
                        claim = self.world.claim(result, index, height)
                        self._submit(self.chains[r.dest], ShardTx(claim=claim), at_ms=now + 1)
        sim.at(now + SWEEP_MS, self.sweep)


def run_seed(seed: int) -> Outcome:
    plan = random.Random(seed)
    net = ShardedNet(seed, plan)
    story = []
    nodes = [x for ch in net.chains for x in ch.committee.nodes]
    bad: list[bytes] = []
    for chain in net.chains:
        if plan.random() < 0.5:
            node = plan.choice(chain.committee.nodes)
            behaviour = plan.choice(byzantine.BEHAVIOURS)
            net.sim.intercept(node, byzantine.behaviour(behaviour))
            bad.append(node)
            story.append(f"{node.decode()} is byzantine: {behaviour}")
    for chain in net.chains:  # crashes of honest members, each restarted before the heal
        members = [x for x in chain.committee.nodes if x not in bad]
        story += seeds.crashes(net.sim, plan, members, plan.randint(0, 2), CHAOS_MS, _name)
    story += seeds.partitions(net.sim, plan, nodes, plan.randint(0, 2), CHAOS_MS, _name)
    net.sim.heal(CHAOS_MS)
    for node in nodes:
        net.sim.restart(node, CHAOS_MS)
    net.sim.at(0, net.clients)
    net.sim.at(SWEEP_MS, net.sweep)
    net.sim.run_until(CHAOS_MS)
    at_heal = {x: net.chains[net.owner[x]].heights.get(x, 0) for x in nodes}
    net.sim.run_until(END_MS)
    problems = list(net.violations)
    net._conservation("at the end")
    problems += net.violations[len(problems):]
    if net.in_flight():
        problems.append(f"{net.in_flight()} still in flight at the end")
    stuck = [x.decode() for x in nodes if x not in bad
             and net.chains[net.owner[x]].heights.get(x, 0) <= at_heal[x]]
    if stuck:
        problems.append(f"no commit after healing on {stuck}")
    if not net.emitted:
        problems.append("no cross-shard transfer was ever debited")
    undecided = len(net.outstanding)
    if undecided:
        problems.append(f"{undecided} transfers never decided")
    return Outcome(seed, MEMBERS, not problems, problems, net.sim.trace_hash,
                   [ch.applied for ch in net.chains], story, net.counts)


def _name(node: bytes) -> str:
    return node.decode()


def main(argv: list[str] | None = None) -> int:
    return seeds.main(argv, "python -m xinlian.testing.sharding.campaign",
                      (__doc__ or "").split("\n")[0], 20, lambda seed, short: run_seed(seed),
                      lambda o: f"blocks={o.heights} {dict(sorted(o.counts.items()))}")


if __name__ == "__main__":
    sys.exit(main())
