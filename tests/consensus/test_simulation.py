"""Consensus under simulation: steady state, crashes, partitions, Byzantine members."""

from __future__ import annotations

import pytest

from xinlian.consensus.core import Config
from xinlian.consensus.pacemaker import Pacemaker
from xinlian.sim import adversary
from xinlian.sim.network import LinkModel
from xinlian.testing.consensus import byzantine
from xinlian.testing.consensus.simnet import ConsensusNet

FAST = Config(pacemaker=Pacemaker(base_ms=300), sync_retry_ms=200, batch_delay_ms=100)


def net(n: int, seed: int, **kw: object) -> ConsensusNet:
    network = ConsensusNet(n, seed, config=FAST, **kw)  # type: ignore[arg-type]
    network.load(1000, 100, 0, 100_000)
    return network


def progress(network: ConsensusNet, nodes: list[bytes] | None = None) -> list[int]:
    return [network.log.height(n) for n in (nodes or network.committee.nodes)]


@pytest.mark.parametrize("n", [4, 7])
def test_steady_state_commits_every_batch_on_every_node(n: int) -> None:
    network = net(n, 1)
    network.run(2000)
    nodes = network.committee.nodes
    assert not network.log.violations
    assert min(progress(network)) >= 20
    # the same transactions are ordered everywhere (up to the slowest node's height)
    low = min(progress(network))
    chains = {tuple(network.log.by_node[node][h] for h in range(1, low + 1)) for node in nodes}
    assert len(chains) == 1
    assert network.committed_txs(nodes[0]) > 1000


def test_the_sm_suite_with_sm2_vote_lists() -> None:
    network = net(4, 2, suite="sm", aggregate=False)
    network.run(1500)
    assert not network.log.violations
    assert min(progress(network)) >= 10
    assert network.core(network.committee.nodes[0]).meter["bls_verify"] == 0


def test_crashed_leader_is_replaced_by_view_change_and_restarts_safely() -> None:
    network = net(4, 3)
    victim = network.committee.nodes[1]
    network.sim.crash(victim, 500)
    network.run(3000)
    others = [n for n in network.committee.nodes if n != victim]
    mid = progress(network, others)
    assert min(mid) >= 15  # progress despite the dead leader's rounds
    assert any(network.core(n).metrics["committed"] for n in others)
    network.sim.restart(victim, 3000)
    network.run(6000)
    assert not network.log.violations
    assert network.log.height(victim) >= min(mid)  # caught up through block sync


def test_every_node_crashes_and_restarts_from_its_persisted_state() -> None:
    network = net(4, 4)
    for i, node in enumerate(network.committee.nodes):
        network.sim.crash(node, 600 + 300 * i)
        network.sim.restart(node, 800 + 300 * i)
    network.run(4000)
    assert not network.log.violations
    assert min(progress(network)) >= 20


def test_restarted_node_never_votes_twice_in_a_round() -> None:
    network = net(4, 5)
    node = network.committee.nodes[2]
    for t in range(300, 2000, 170):
        network.sim.crash(node, t)
        network.sim.restart(node, t + 20)
    network.run(3000)
    assert not network.log.violations
    core = network.core(node)
    assert core.safety.state.highest_voted_round >= 1
    assert min(progress(network)) >= 10


def test_partition_without_quorum_stalls_and_heal_resumes() -> None:
    network = net(4, 6)
    a, b, c, d = network.committee.nodes
    network.sim.partition([[a, b], [c, d]], 500)
    network.sim.heal(3000)
    network.run(2900)
    stalled = progress(network)
    network.run(3000)
    assert progress(network) == stalled  # no quorum on either side: nothing commits
    network.run(7000)
    assert not network.log.violations
    assert min(progress(network)) > max(stalled)


def test_minority_partition_catches_up_after_heal() -> None:
    network = net(7, 7)
    nodes = network.committee.nodes
    network.sim.partition([nodes[:5], nodes[5:]], 300)
    network.sim.heal(2500)
    network.run(2500)
    assert min(progress(network, list(nodes[:5]))) > max(progress(network, list(nodes[5:])))
    network.run(5000)
    assert not network.log.violations
    assert min(progress(network)) >= max(progress(network, list(nodes[:5]))) - 20


@pytest.mark.parametrize("n", [4, 7])
def test_equivocating_leader_cannot_break_safety(n: int) -> None:
    network = net(n, 8)
    network.sim.intercept(network.committee.nodes[0], byzantine.equivocate())
    network.run(3000)
    assert not network.log.violations
    assert min(progress(network)) >= 10


def test_forged_and_withheld_votes_are_tolerated() -> None:
    network = net(7, 9)
    nodes = network.committee.nodes
    network.sim.intercept(nodes[1], byzantine.forge_signatures())
    network.sim.intercept(nodes[2], byzantine.withhold_votes())
    network.run(3000)
    assert not network.log.violations
    assert min(progress(network)) >= 10
    invalid = sum(network.core(n).votes.invalid + network.core(n).timeouts.invalid
                  for n in nodes)
    assert invalid > 0  # the forged votes were caught and dropped


def test_forged_votes_with_sm2_lists_are_dropped_on_arrival() -> None:
    network = net(4, 10, suite="sm", aggregate=False)
    network.sim.intercept(network.committee.nodes[3], byzantine.forge_signatures())
    network.run(2000)
    assert not network.log.violations
    assert min(progress(network)) >= 5
    assert sum(network.core(n).votes.invalid for n in network.committee.nodes) > 0


def test_garbage_and_replayed_messages_are_dropped_and_counted() -> None:
    network = net(4, 11)
    bad = network.committee.nodes[3]
    network.sim.intercept(bad, adversary.chain(adversary.garbage(0.5), adversary.replay(0.3)))
    network.run(3000)
    assert not network.log.violations
    assert min(progress(network)) >= 15
    dropped = sum(v for n in network.committee.nodes[:3]
                  for k, v in network.core(n).metrics.items() if k.startswith("dropped"))
    assert dropped > 0


def test_silent_member_is_tolerated() -> None:
    network = net(4, 12)
    network.sim.intercept(network.committee.nodes[0], adversary.silent())
    network.run(5000)
    assert not network.log.violations
    assert min(progress(network, list(network.committee.nodes[1:]))) >= 5


def test_lossy_links_still_commit() -> None:
    network = net(4, 13, link=LinkModel(latency_ms=10, jitter_ms=10, loss=0.05))
    network.run(4000)
    assert not network.log.violations
    assert min(progress(network)) >= 20


def test_same_seed_replays_the_same_trace() -> None:
    def run(seed: int) -> tuple[str, list[int]]:
        network = net(4, seed)
        network.sim.crash(network.committee.nodes[0], 400)
        network.sim.restart(network.committee.nodes[0], 900)
        network.run(1500)
        return network.sim.trace_hash, progress(network)

    assert run(21) == run(21)
    assert run(21)[0] != run(22)[0]


# -- regressions found by the simulator ----------------------------------------------------

def test_regression_a_node_left_in_an_old_round_is_sent_the_certificates_it_missed() -> None:
    """Seed 12, 5% loss and a silent member: a member that lost a proposal kept timing out
    in its old round while the others, stuck too, ignored its stale timeouts. Now a stale
    timeout is answered (once) with the certificates that lead to the current round."""
    from xinlian import codec
    from xinlian.consensus.core import root_qc
    from xinlian.consensus.messages import Certified, Timeout
    from xinlian.protocol import Receive, Send

    network = net(4, 12)
    network.run(1000)
    a, b = network.committee.nodes[0], network.committee.nodes[1]
    core = network.core(a)
    assert core.round > 2
    stale = codec.encode(Timeout(0, 1, root_qc(network.genesis), None, b"\x00" * 96))
    reply = core.handle(Receive(1000, b, stale))
    assert len(reply) == 1 and isinstance(reply[0], Send) and reply[0].to == b
    help_ = codec.decode(reply[0].message, Certified)
    assert help_.qc.round + 1 == core.round or (help_.tc and help_.tc.round + 1 == core.round)
    assert core.handle(Receive(1001, b, stale)) == []  # only once per round and peer



def test_regression_a_forged_tc_cannot_justify_extending_an_old_qc() -> None:
    """A node already past round r-1 used to skip checking the TC inside a proposal of round
    r, and the voting rule trusts that TC's reported high-QC rounds: a Byzantine leader could
    attach a forged TC (all rounds 0) to fork from an old QC. Every attached TC is checked."""
    from xinlian import codec
    from xinlian.consensus.certificates import Cert
    from xinlian.consensus.committee import bitmap
    from xinlian.consensus.messages import TC, Block, Proposal
    from xinlian.protocol import Receive, Send

    network = net(4, 14)
    network.run(800)
    node = network.committee.nodes[0]
    core = network.core(node)
    old = min((b for b in core.tree.blocks.values() if b.justify.round >= 1),
              key=lambda b: b.round).justify
    round_ = core.round
    fake = TC(0, round_ - 1, [0, 0, 0], Cert(bitmap([0, 1, 2], 4), [b"\xa0" + bytes(95)]))
    author = core.election.leader(round_)
    author_index = network.committee.index(author)
    assert author_index is not None
    fork = Block(0, round_, old.height + 1, old.block_id, author_index, old, fake, [], None)
    before = core.metrics["dropped_InvalidCertificate"]
    actions = core.handle(Receive(network.sim.now_ms, author, codec.encode(Proposal(fork))))
    assert not [a for a in actions if isinstance(a, Send)]
    assert core.metrics["dropped_InvalidCertificate"] == before + 1


@pytest.mark.parametrize("n", [4, 7])
def test_forking_leader_with_a_forged_tc_is_ignored(n: int) -> None:
    network = net(n, 15)
    network.sim.intercept(network.committee.nodes[1], byzantine.fork_with_forged_tc())
    network.run(2500)
    assert not network.log.violations
    assert min(progress(network)) >= 10
    dropped = sum(network.core(x).metrics["dropped_InvalidCertificate"]
                  for x in network.committee.nodes)
    assert dropped > 0


def test_regression_a_vote_with_a_wrong_height_cannot_spoil_the_qc() -> None:
    """Votes were tallied by (round, block) while each signs (round, height, block): one
    Byzantine vote naming another height made the leader build a QC that no one accepts."""
    network = net(4, 16)
    network.sim.intercept(network.committee.nodes[3], byzantine.vote_other_height())
    network.run(2000)
    assert not network.log.violations
    assert min(progress(network, list(network.committee.nodes[:3]))) >= 15


def test_a_quiet_chain_waits_for_payload_and_proposes_as_soon_as_it_comes() -> None:
    """Without load a leader waits `idle_ms` before an empty block instead of proposing one
    per network round trip; a batch that becomes orderable is proposed at once."""
    config = Config(pacemaker=Pacemaker(base_ms=1000), idle_ms=250, batch_delay_ms=20)
    network = ConsensusNet(4, 5, config=config, link=LinkModel(latency_ms=5))
    network.load(40_000, 100, 2000, 2010)  # one burst of 400 transactions at t = 2 s
    network.run(3000)
    node = network.committee.nodes[0]
    times = [t for t, _ in network.log.times[node]]
    quiet = [t for t in times if 500 <= t < 2000]
    assert 3 <= len(quiet) <= 8  # about one block per idle wait, not one per 10 ms
    assert not network.log.violations
    latencies = network.latencies(node)
    assert sum(c for _, c in latencies) == 400
    assert max(ms for ms, _ in latencies) < 150  # seal, certify, propose, commit: no idle wait
