"""Epoch change: the next committee takes effect once the block carrying it commits."""

from __future__ import annotations

from xinlian.consensus.core import Config, EpochStarted, Reconfigure
from xinlian.consensus.pacemaker import Pacemaker
from xinlian.sim.runtime import Simulation
from xinlian.testing.consensus.committees import local_committee, node_name
from xinlian.testing.consensus.simnet import ConsensusNet

FAST = Config(pacemaker=Pacemaker(base_ms=300), sync_retry_ms=200, batch_delay_ms=100)


def joining(network: ConsensusNet, node: bytes, epoch: int, delay_ms: int) -> None:
    """Start `node` from the root of `epoch` as soon as some member enters that epoch (what
    the node's operator does with a snapshot taken at the epoch boundary)."""
    _, keys = local_committee(0, epoch=epoch, nodes=[node])

    def watch(who: bytes, now_ms: int, value: object) -> None:
        if (isinstance(value, EpochStarted) and value.root.committee.epoch == epoch
                and node not in network.sim.nodes):
            network.add(node, value.root, start_ms=now_ms + delay_ms, key=keys[node])
    network.sim.observe(watch)


def test_add_then_remove_a_validator_without_a_halt() -> None:
    network = ConsensusNet(4, 31, config=FAST)
    network.load(1000, 100, 0, 100_000)
    five, _ = local_committee(5, epoch=1)
    for node in network.committee.nodes:
        network.sim.input(node, Reconfigure(five), at_ms=1000)
    joining(network, node_name(4), 1, delay_ms=100)
    gone = node_name(1)
    four, _ = local_committee(0, epoch=2, nodes=[n for n in five.nodes if n != gone])

    def reconfigure(sim: Simulation) -> None:
        for n in five.nodes:
            sim.input(n, Reconfigure(four), at_ms=sim.now_ms)
    network.sim.at(3000, reconfigure)
    network.run(6000)

    assert not network.log.violations
    epochs = {n: [r.committee.epoch for _, r in network.log.epochs[n]]
              for n in network.log.epochs}
    assert epochs[node_name(0)][-2:] == [1, 2]
    assert epochs[node_name(4)][-1] == 2
    # the new member takes part: it proposed and commits what the others commit
    new = network.core(node_name(4))
    assert new.metrics["proposed"] > 0
    assert network.log.height(node_name(4)) >= network.log.height(node_name(0)) - 3
    # the removed member stops proposing; the rest keep committing in epoch 2
    switched = max(t for t, r in network.log.epochs[node_name(0)] if r.committee.epoch == 2)
    after = [c for t, c in network.log.times[node_name(0)] if t > switched]
    assert len(after) >= 10 and all(c.epoch == 2 for c in after)
    assert network.core(gone).epoch == 2 and network.core(gone).me is None


def test_reconfiguration_not_decided_locally_is_not_voted() -> None:
    network = ConsensusNet(4, 32, config=FAST)
    network.load(1000, 100, 0, 100_000)
    five, _ = local_committee(5, epoch=1)
    network.sim.input(network.committee.nodes[0], Reconfigure(five), at_ms=500)
    network.run(3000)
    assert not network.log.violations
    assert all(network.core(n).epoch == 0 for n in network.committee.nodes)
    assert max(network.log.height(n) for n in network.committee.nodes) >= 10


def test_a_decided_committee_survives_a_restart() -> None:
    network = ConsensusNet(4, 35, config=FAST)
    node = network.committee.nodes[1]
    five, _ = local_committee(5, epoch=1)
    network.sim.input(node, Reconfigure(five), at_ms=10)
    network.sim.crash(node, 20)
    network.sim.restart(node, 30)
    network.run(40)
    assert network.core(node).pending_reconfig == five


def test_wrong_epoch_or_invalid_committee_is_refused() -> None:
    network = ConsensusNet(4, 33, config=FAST)
    skip, _ = local_committee(4, epoch=5)
    node = network.committee.nodes[0]
    network.sim.input(node, Reconfigure(skip), at_ms=10)
    network.run(20)
    assert network.core(node).pending_reconfig is None
    assert network.core(node).metrics["reconfig_wrong_epoch"] == 1


def test_node_that_slept_through_an_epoch_change_catches_up() -> None:
    network = ConsensusNet(4, 34, config=FAST)
    network.load(1000, 100, 0, 100_000)
    sleeper = network.committee.nodes[3]
    same, _ = local_committee(4, epoch=1)
    for node in network.committee.nodes:
        network.sim.input(node, Reconfigure(same), at_ms=800)
    network.sim.crash(sleeper, 500)
    network.sim.restart(sleeper, 3000)
    network.run(6000)
    assert not network.log.violations
    assert network.core(sleeper).epoch == 1
    assert network.log.height(sleeper) >= network.log.height(network.committee.nodes[0]) - 3
