"""Leader reputation: a deterministic function of committed history that stops electing a
crashed member (simulations and property tests are seeded)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.consensus.blocks import BlockTree, block_id
from xinlian.consensus.certificates import Cert
from xinlian.consensus.committee import Committee, bitmap
from xinlian.consensus.core import Config, ConsensusCore
from xinlian.consensus.leader import (
    Activity,
    Election,
    Reputation,
    compute_active,
    compute_leader,
    round_robin,
)
from xinlian.consensus.messages import QC, Block
from xinlian.consensus.pacemaker import Pacemaker
from xinlian.testing.consensus.committees import genesis, local_committee
from xinlian.testing.consensus.simnet import ConsensusNet

COMMITTEE, _ = local_committee(4)
PARAMS = Reputation()
FAST = Config(pacemaker=Pacemaker(base_ms=300), sync_retry_ms=200, batch_delay_ms=100)


def committed_history(core: ConsensusCore) -> list[Activity]:
    """The activity of every committed block of the epoch, replayed from the block tree."""
    election = Election.restore(core.committee, core.config.reputation, core.tree,
                                core.committed_id, bytes(core.root.block_id), keep=10**6)
    assert not election.truncated
    return list(election.history)


def crashed_network(victim: int, reputation: Reputation, until_ms: int
                    ) -> tuple[ConsensusNet, bytes]:
    network = ConsensusNet(4, 21, config=Config(pacemaker=FAST.pacemaker, sync_retry_ms=200,
                                                batch_delay_ms=100, reputation=reputation))
    dead = network.committee.nodes[victim]
    network.load(1000, 100, 0, until_ms, nodes=[n for n in network.committee.nodes if n != dead])
    network.sim.crash(dead, 500)
    network.run(until_ms)
    assert not network.log.violations
    return network, dead


def dead_share(network: ConsensusNet, dead: bytes, reputation: Reputation) -> float:
    """Of the rounds from 4n past the cut of its last block to now, the share the dead leads."""
    core = network.core(next(n for n in network.committee.nodes if n != dead))
    history = committed_history(core)
    crash_round = max(a.round for a in history if a.author == network.committee.index(dead))
    start = crash_round + reputation.exclude_rounds + 4 * network.committee.n
    rounds = range(start, core.round)
    assert len(rounds) >= 50
    elected = [compute_leader(network.committee, reputation, r, history) for r in rounds]
    return elected.count(dead) / len(rounds)


def test_a_crashed_member_is_no_longer_elected_once_the_window_fills() -> None:
    network, dead = crashed_network(1, PARAMS, 6000)
    assert dead_share(network, dead, PARAMS) <= 0.02
    # round-robin hands it every fourth round, each costing timeouts: far fewer blocks
    slow, _ = crashed_network(1, Reputation(enabled=False), 6000)
    alive = next(n for n in network.committee.nodes if n != dead)
    assert network.log.height(alive) > 2 * slow.log.height(alive)


def test_honest_nodes_compute_the_same_leaders() -> None:
    network, dead = crashed_network(2, PARAMS, 4000)
    cores = [network.core(n) for n in network.committee.nodes if n != dead]
    histories = [committed_history(c) for c in cores]
    common = min(len(h) for h in histories)
    assert common >= 30 and len({tuple(h[:common]) for h in histories}) == 1
    # every round whose cut lies below every node's last commit has one leader everywhere
    settled = min(h[-1].round for h in histories) + PARAMS.exclude_rounds
    rounds = range(settled - 40, settled + 1)
    leaders = {tuple(c.election.leader(r) for r in rounds) for c in cores}
    assert len(leaders) == 1


def test_a_restarted_node_rebuilds_the_same_election_from_its_store() -> None:
    network, _ = crashed_network(3, PARAMS, 3000)
    node = network.committee.nodes[0]
    core = network.core(node)
    reborn = ConsensusCore(node, network.keys[node], network.genesis, network.sim.store(node),
                           network.config)
    assert reborn.committed_id == core.committed_id
    rounds = range(core.round - 30, core.round + 2)
    assert [reborn.election.leader(r) for r in rounds] == [core.election.leader(r)
                                                          for r in rounds]


def test_without_history_the_rotation_is_round_robin() -> None:
    election = Election(COMMITTEE, PARAMS)
    assert [election.leader(r) for r in range(1, 9)] == [round_robin(COMMITTEE, r)
                                                        for r in range(1, 9)]
    assert {round_robin(COMMITTEE, r) for r in range(4)} == set(COMMITTEE.nodes)


def test_a_member_whose_latest_record_is_a_failed_round_is_not_elected() -> None:
    # member 1 voted, then led a skipped round; member 0 also failed, then voted again
    history = [Activity(5, (0, 1, 2), (), 3), Activity(8, (0, 2, 3), (0, 1), 2),
               Activity(9, (0, 2, 3), (), 3)]
    assert compute_active(history) == [0, 2, 3]
    leaders = {compute_leader(COMMITTEE, PARAMS, r, history) for r in range(12, 17)}
    assert leaders == {COMMITTEE.nodes[i] for i in (0, 2, 3)}


def test_a_stale_window_falls_back_to_round_robin() -> None:
    """Three active members, one of them dead, never commit two rounds in a row: once the
    newest block at the cut is more than `stale_rounds` old the rotation is round-robin."""
    history = [Activity(10, (0, 1, 2), (), 1)]
    fresh = 10 + PARAMS.exclude_rounds + COMMITTEE.n  # the last round still using it
    assert {compute_leader(COMMITTEE, PARAMS, r, history)
            for r in range(13, fresh + 1)} <= {COMMITTEE.nodes[i] for i in (0, 1, 2)}
    assert [compute_leader(COMMITTEE, PARAMS, r, history) for r in range(fresh + 1, fresh + 9)
            ] == [round_robin(COMMITTEE, r) for r in range(fresh + 1, fresh + 9)]


# -- property: the election is a function of committed history -----------------------------

def chain_of(committee: Committee, steps: list[tuple[int, int, list[int]]]
             ) -> list[tuple[bytes, Block]]:
    """Committed blocks from (round gap, author, voters) steps; certificates carry only the
    signer bitmaps that the election reads (nothing here verifies signatures)."""
    root = genesis(committee)
    parent, round_ = bytes(root.block_id), 0
    justify = QC(committee.epoch, 0, 0, parent, Cert(b"", []))
    out = []
    for height, (gap, author, voters) in enumerate(steps, start=1):
        round_ += gap
        block = Block(committee.epoch, round_, height, parent, author, justify, None, [], None)
        bid = block_id(committee, block)
        out.append((bid, block))
        justify = QC(committee.epoch, round_, height, bid,
                     Cert(bitmap(sorted(set(voters)), committee.n), [b""]))
        parent = bid
    return out


def steps_(most: int) -> st.SearchStrategy[list[tuple[int, int, list[int]]]]:
    return st.lists(st.tuples(st.integers(1, 4), st.integers(0, 3),
                              st.lists(st.integers(0, 3), min_size=3, max_size=4)),
                    max_size=most)


@settings(max_examples=60, deadline=None)
@given(steps=steps_(40), extra=steps_(30), window=st.integers(0, 12), exclude=st.integers(1, 8))
def test_property_the_leader_is_a_deterministic_function_of_committed_history(
        steps: list[tuple[int, int, list[int]]], extra: list[tuple[int, int, list[int]]],
        window: int, exclude: int) -> None:
    params = Reputation(window=window, exclude_rounds=exclude)
    chain = chain_of(COMMITTEE, steps + extra)
    root = bytes(genesis(COMMITTEE).block_id)
    later = Election(COMMITTEE, params, keep=1000)
    for _, block in chain:
        later.observe(block)
    prefix = list(later.history)[:len(steps)]
    top = prefix[-1].round if prefix else 0
    # fed block by block, or rebuilt from a stored tree: the same history and leaders
    live = Election(COMMITTEE, params)
    tree = BlockTree({})
    for bid, block in chain[:len(steps)]:
        live.observe(block)
        tree.add(bid, block)
    rebuilt = Election.restore(COMMITTEE, params, tree, chain[len(steps) - 1][0] if steps
                               else root, root)
    assert list(live.history) == list(rebuilt.history) == prefix
    rounds = range(1, top + exclude + 1)  # every cut at or below the last block of `steps`
    expected = [compute_leader(COMMITTEE, params, r, prefix) for r in rounds]
    assert [live.leader(r) for r in rounds] == expected
    assert [rebuilt.leader(r) for r in rounds] == expected
    # blocks committed later, above a round's cut, do not change that round's leader
    assert [later.leader(r) for r in rounds] == expected
    # a leader chosen by reputation authored or certified a block of its window
    for r, chosen in zip(rounds, expected, strict=True):
        window_ = [a for a in prefix if a.round <= r - exclude][-(window or 4):]
        shown = {COMMITTEE.nodes[i] for a in window_ for i in (a.author, *a.voters)}
        assert chosen in shown or chosen == round_robin(COMMITTEE, r)
        assert set(compute_active(window_)) <= {COMMITTEE.index(n) for n in shown}
