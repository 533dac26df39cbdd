"""The relay core driven by the scale simulator: mesh bounds, compact blocks, delivery."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest

from xinlian.network.relay.cache import BoundedStore, SeenCache
from xinlian.network.relay.core import (
    BlockDelivered,
    Connect,
    PublishBlock,
    PublishTx,
    RelayConfig,
    RelayCore,
    TxDelivered,
    block_id,
    short_id_key,
    short_ids,
    tx_id,
    txs_digest,
)
from xinlian.network.relay.messages import (
    BlockHave,
    Compact,
    GetBlockTxs,
    IHave,
    IWant,
    Txs,
    decode_message,
    encode_message,
)
from xinlian.network.relay.score import Misbehaviour
from xinlian.protocol import Deliver, Input, Receive, Send, Start
from xinlian.sim.scale import ScaleSim, node_id
from xinlian.testing.relay_scenario import Scenario, load_rtt_matrix, run

CONFIG = RelayConfig()


class Net:
    """n relay cores on the scale simulator, one region, 20 ms one way; records traffic."""

    def __init__(self, n: int, config: RelayConfig = CONFIG, seed: int = 7) -> None:
        rng = random.Random(seed)
        self.cores = [RelayCore(node_id(i), config, random.Random(rng.getrandbits(64)))
                      for i in range(n)]
        self.sent: list[Any] = []
        self.delivered: list[tuple[int, Any]] = []
        self.sim = ScaleSim(self.cores, [0] * n, [[20_000]], 1e9, self._size,
                            lambda node, at, value: self.delivered.append((node, value)))
        for i in range(n):
            self.sim.start(i, rng.randrange(config.heartbeat_ms * 1000))

    def _size(self, message: bytes) -> int:
        self.sent.append(decode_message(message))
        return len(message)

    def connect(self, a: int, b: int) -> None:
        self.sim.input(a, self.sim.now_us, Connect(node_id(b)))
        self.sim.input(b, self.sim.now_us, Connect(node_id(a)))

    def run_ms(self, ms: int) -> None:
        self.sim.run(self.sim.now_us + ms * 1000)


def test_mesh_degree_stays_within_bounds_and_is_symmetric() -> None:
    net = Net(80)
    rng = random.Random(1)
    for a in range(80):
        for b in rng.sample(range(80), 12):
            if a != b:
                net.connect(a, b)
    net.run_ms(5_000)
    for core in net.cores:
        assert CONFIG.d_lo <= len(core.mesh) <= CONFIG.d_hi
        for peer in core.mesh:  # a graft is accepted both ways or pruned
            assert core.node in net.cores[int.from_bytes(peer, "big")].mesh


def test_a_node_grafted_by_everyone_prunes_down_to_its_upper_bound() -> None:
    net = Net(30, replace(CONFIG, d=4, d_lo=3, d_hi=6))
    for b in range(1, 30):
        net.connect(0, b)
    net.run_ms(3_000)
    assert len(net.cores[0].mesh) <= 6
    assert all(len(c.mesh) <= 6 for c in net.cores)


def _line(n: int) -> Net:
    net = Net(n)
    for a in range(n - 1):
        net.connect(a, a + 1)
    net.run_ms(1_000)
    return net


def test_a_block_is_rebuilt_from_the_pool_and_only_missing_txs_are_fetched() -> None:
    net = _line(2)
    b = net.cores[1]
    txs = tuple(b"tx-%d" % i for i in range(10))
    for tx in txs[:7]:  # b already holds seven of the ten
        b.handle(Input(0, PublishTx(tx)))
    net.sent.clear()
    net.sim.input(0, net.sim.now_us, PublishBlock(b"header-1", txs))
    net.run_ms(1_000)
    requests = [m for m in net.sent if isinstance(m, GetBlockTxs)]
    assert [m.indexes for m in requests] == [[7, 8, 9]]
    blocks = [v for node, v in net.delivered if node == 1 and isinstance(v, BlockDelivered)]
    assert len(blocks) == 1 and blocks[0].txs == txs
    assert b.collisions == 0


def test_a_compact_block_naming_the_wrong_pool_tx_falls_back_to_the_full_list() -> None:
    """A sender whose short ids name another pool transaction: the digest check catches
    the wrong list and the whole list is fetched; the right block is still delivered."""
    net = _line(2)
    a, b = net.cores
    decoy, real = b"decoy", b"real"
    b.handle(Input(0, PublishTx(decoy)))
    a.handle(Input(0, PublishBlock(b"h", (real,))))
    digest = txs_digest([tx_id(real)])
    ident = block_id(b"h", digest)
    now = net.sim.now_us // 1000
    b.handle(Receive(now, a.node, encode_message(BlockHave(ident))))
    link_key = b.peers[a.node].link_key
    assert link_key is not None
    lie = short_ids(short_id_key(link_key, ident), [tx_id(decoy)])[0].to_bytes(6, "little")
    out = b.handle(Receive(now, a.node, encode_message(Compact(ident, b"h", digest, lie))))
    fetch = [decode_message(x.message) for x in out if isinstance(x, Send)]
    assert fetch == [GetBlockTxs(ident, [0])] and b.collisions == 1
    reply = a.handle(Receive(now, b.node, encode_message(fetch[0])))
    assert isinstance(reply[0], Send)
    done = b.handle(Receive(now, a.node, reply[0].message))
    assert any(isinstance(x, Deliver) and isinstance(x.value, BlockDelivered)
               and x.value.txs == (real,) for x in done)


def test_transactions_are_announced_in_batches_and_pulled_once() -> None:
    net = _line(3)
    net.sent.clear()
    for k in range(20):
        net.sim.input(0, net.sim.now_us, PublishTx(b"t%d" % k))
    net.run_ms(2_000)
    got = {n: {v.tx_id for m, v in net.delivered if m == n and isinstance(v, TxDelivered)}
           for n in range(3)}
    assert len(got[1]) == len(got[2]) == 20
    ihaves = [m for m in net.sent if isinstance(m, IHave)]
    assert len(ihaves) <= 4  # 20 ids in one announcement per link, not 20
    bodies = sum(len(m.txs) for m in net.sent if isinstance(m, Txs))
    assert bodies == 40      # each of the two receivers got each body once


def test_malformed_unknown_and_unsolicited_input_is_dropped_and_counted() -> None:
    # Scoring off, so that the first offence does not graylist the peer (see
    # test_relay_scoring.py); the evidence is logged all the same.
    core = RelayCore(node_id(0), replace(CONFIG, scoring=None), random.Random(1))
    core.handle(Start(0))
    core.handle(Input(0, Connect(node_id(1))))
    evidence = [core.handle(Receive(1, node_id(1), b"\x01\xff")),
                core.handle(Receive(1, node_id(1), b"\x09" + encode_message(IHave([]))[1:])),
                core.handle(Receive(1, node_id(9), encode_message(IHave([bytes(32)])))),
                core.handle(Receive(1, node_id(1), encode_message(Txs([b"never asked"]))))]
    assert core.dropped == {"malformed_relay_message": 1, "unsupported_relay_version": 1,
                            "unknown_peer": 1, "unsolicited_tx": 1}
    # Nothing is sent back; what the known peer did is handed out as evidence.
    assert [[x.value for x in out if isinstance(x, Deliver)] for out in evidence] == [
        [Misbehaviour(1, node_id(1), "malformed", b"")],
        [],  # another version: not an offence
        [],
        [Misbehaviour(1, node_id(1), "unsolicited_tx", tx_id(b"never asked"))]]
    assert list(core.scores.evidence) == [x.value for out in evidence for x in out
                                          if isinstance(x, Deliver)]


def test_requests_are_capped() -> None:
    core = RelayCore(node_id(0), replace(CONFIG, max_wanted=5), random.Random(1))
    core.handle(Input(0, Connect(node_id(1))))
    out = core.handle(Receive(1, node_id(1), encode_message(IHave(
        [bytes([i]) * 32 for i in range(9)]))))
    assert isinstance(out[0], Send)
    asked = decode_message(out[0].message)
    assert isinstance(asked, IWant) and len(asked.ids) == 5
    assert core.dropped["wanted_full"] == 4


def test_caches_are_bounded_in_count_and_time() -> None:
    seen = SeenCache(ttl_ms=100, cap=3)
    for i in range(5):
        seen.add(bytes([i]), now_ms=i)
    assert len(seen) == 3 and bytes([0]) not in seen and bytes([4]) in seen
    seen.expire(now_ms=103)
    assert len(seen) == 1
    store: BoundedStore[int] = BoundedStore(2)
    for i in range(3):
        store.put(bytes([i]), i)
    assert len(store) == 2 and store.get(bytes([0])) is None
    with pytest.raises(ValueError):
        SeenCache(0, 1)


def test_two_hundred_nodes_all_receive_every_block_and_transaction() -> None:
    scenario = Scenario(nodes=200, tx_per_s=2_000, load_ms=2_000, warmup_ms=2_000,
                        drain_ms=4_000, seed=3)
    first = run(scenario)
    assert first.items == 40 and first.blocks == 2
    assert first.tx_full_coverage == 1.0 and first.block_full_coverage == 1.0
    assert first.tx_p95_s < 5 and first.block_p95_s < 5
    assert first.redundancy_pct < 10
    assert run(scenario) == first  # one seed, one run


def test_the_latency_matrix_spans_six_continents() -> None:
    names, rtt = load_rtt_matrix()
    prefixes = {name.split("-")[0] for name in names}
    assert {"af", "ap", "eu", "sa", "us", "ca", "me"} <= prefixes
    assert all(rtt[i][i] < 10 for i in range(len(names)))


def test_a_light_node_publishes_through_fanout_and_stays_out_of_meshes() -> None:
    net = Net(12)
    light = RelayCore(node_id(11), replace(CONFIG, mesh_member=False, d=4, d_lo=2, d_hi=6,
                                           fanout_ttl_ms=2_000), random.Random(3))
    net.cores[11] = net.sim.cores[11] = light
    for a in range(12):
        for b in range(a + 1, 12):
            net.connect(a, b)
    net.run_ms(2_000)
    assert not light.mesh and all(light.node not in c.mesh for c in net.cores[:11])
    net.sim.input(11, net.sim.now_us, PublishTx(b"from a light node"))
    net.run_ms(2_000)
    assert len(light.fanout) == 4
    got = {n for n, v in net.delivered if isinstance(v, TxDelivered)}
    assert got == set(range(12))
    net.run_ms(3_000)  # no publication for longer than the fanout's ttl
    assert not light.fanout


def test_transactions_of_an_earlier_block_are_not_fetched_again() -> None:
    """A lagging proposer repeats transactions already in a block: the receiver rebuilds
    them from the transactions of recent blocks, and still answers IWant for them."""
    net = _line(2)
    first = tuple(b"first-%d" % i for i in range(5))
    net.sim.input(0, net.sim.now_us, PublishBlock(b"h1", first))
    net.run_ms(1_000)
    net.sent.clear()
    net.sim.input(0, net.sim.now_us, PublishBlock(b"h2", (*first, b"new")))
    net.run_ms(1_000)
    assert [m.indexes for m in net.sent if isinstance(m, GetBlockTxs)] == [[5]]
    b = net.cores[1]
    out = b.handle(Receive(net.sim.now_us // 1000, node_id(0),
                           encode_message(IWant([tx_id(first[0])]))))
    assert isinstance(out[0], Send) and decode_message(out[0].message) == Txs([first[0]])
