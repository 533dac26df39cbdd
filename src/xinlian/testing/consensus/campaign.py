"""A seed campaign: random faults against a simulated committee, checking safety and liveness.

Each seed fixes a scenario — committee size, link jitter and loss, which members are
Byzantine (at most f) and how, crashes and restarts, partitions, sometimes an epoch change —
and the run that follows.
During the chaos phase anything may stall, but no two nodes may ever commit different blocks
at one height (safety). Then every partition heals and every crashed node restarts; every
honest node must commit new blocks before the run ends (liveness). A failing seed is printed
with the command that replays it exactly:

    python -m xinlian.testing.consensus.campaign --seeds 200          # seeds 0..199
    python -m xinlian.testing.consensus.campaign --seed 17 --verbose  # replay one
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass, field

from xinlian.consensus.committee import Committee
from xinlian.consensus.core import Config, Reconfigure
from xinlian.consensus.pacemaker import Pacemaker
from xinlian.testing import seeds
from xinlian.testing.consensus import byzantine
from xinlian.testing.consensus.simnet import ConsensusNet

CHAOS_MS = 3000
END_MS = 7000
CONFIG = Config(pacemaker=Pacemaker(base_ms=300), sync_retry_ms=200, batch_delay_ms=200)


@dataclass
class Outcome(seeds.Outcome):
    epochs: list[int] = field(default_factory=list)


def run_seed(seed: int) -> Outcome:
    """Build and run the scenario of `seed`; the same seed always gives the same outcome."""
    plan = random.Random(seed)
    n, f, link = seeds.network(plan)
    net = ConsensusNet(n, seed, config=CONFIG, link=link)
    nodes = list(net.committee.nodes)
    net.load(400, 100, 0, END_MS)
    story = [f"n={n} link={link}"]

    bad = plan.sample(nodes, plan.randint(0, f))
    for node in bad:
        behaviour = plan.choice(byzantine.BEHAVIOURS)
        net.sim.intercept(node, byzantine.behaviour(behaviour))
        story.append(f"{node.decode()} is byzantine: {behaviour}")
    story += seeds.crashes(net.sim, plan, nodes, plan.randint(0, 4), CHAOS_MS, _name)
    story += seeds.partitions(net.sim, plan, nodes, plan.randint(0, 2), CHAOS_MS, _name)
    reconfigure = plan.random() < 0.4
    if reconfigure:  # an epoch change (same members) in the middle of the chaos
        nxt = Committee(1, net.committee.suite, net.committee.aggregate, net.committee.members)
        at = plan.randrange(200, CHAOS_MS - 200)
        for node in nodes:  # governance decides it everywhere; a node that was down
            net.sim.input(node, Reconfigure(nxt), at_ms=at)  # hears it again on restart
            net.sim.input(node, Reconfigure(nxt), at_ms=CHAOS_MS + 1)
        story.append(f"epoch change decided at {at} ms")
    net.sim.heal(CHAOS_MS)
    for node in nodes:  # anything still down comes back
        net.sim.restart(node, CHAOS_MS)

    net.run(CHAOS_MS)
    honest = [x for x in nodes if x not in bad]
    at_heal = max(net.log.height(x) for x in nodes)
    net.run(END_MS)
    problems = list(net.log.violations)
    stuck = [x.decode() for x in honest if net.log.height(x) <= at_heal]
    if stuck:
        problems.append(f"no progress after healing (height {at_heal}) on {stuck}")
    behind = [x.decode() for x in honest if reconfigure and _epoch(net, x) != 1]
    if behind:
        problems.append(f"the epoch change never took effect on {behind}")
    return Outcome(seed, n, not problems, problems, net.sim.trace_hash,
                   [net.log.height(x) for x in nodes], story,
                   [_epoch(net, x) for x in nodes])


def _epoch(net: ConsensusNet, node: bytes) -> int:
    roots = net.log.epochs.get(node, [])
    return roots[-1][1].committee.epoch if roots else 0


def _name(node: bytes) -> str:
    return node.decode()


def main(argv: list[str] | None = None) -> int:
    return seeds.main(argv, "python -m xinlian.testing.consensus.campaign",
                      __doc__.split("\n")[0], 50, lambda seed, short: run_seed(seed),
                      lambda o: f"heights={o.heights} epochs={o.epochs}")


if __name__ == "__main__":
    sys.exit(main())
