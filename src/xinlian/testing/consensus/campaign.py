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

import argparse
import random
import sys
import time
from dataclasses import dataclass, field

from xinlian.consensus.committee import Committee
from xinlian.consensus.core import Config, Reconfigure
from xinlian.consensus.pacemaker import Pacemaker
from xinlian.sim import adversary
from xinlian.sim.network import LinkModel
from xinlian.sim.runtime import Interceptor
from xinlian.testing.consensus import byzantine
from xinlian.testing.consensus.simnet import ConsensusNet

CHAOS_MS = 3000
END_MS = 7000
CONFIG = Config(pacemaker=Pacemaker(base_ms=300), sync_retry_ms=200, batch_delay_ms=200)
BEHAVIOURS = ("equivocate", "fork", "forge", "withhold", "height", "garbage", "replay",
              "silent")


@dataclass
class Outcome:
    seed: int
    n: int
    ok: bool
    problems: list[str] = field(default_factory=list)
    trace: str = ""
    heights: list[int] = field(default_factory=list)
    story: list[str] = field(default_factory=list)
    epochs: list[int] = field(default_factory=list)


def _interceptor(name: str) -> Interceptor:
    return {
        "equivocate": byzantine.equivocate,
        "fork": byzantine.fork_with_forged_tc,
        "forge": byzantine.forge_signatures,
        "withhold": byzantine.withhold_votes,
        "height": byzantine.vote_other_height,
        "garbage": lambda: adversary.garbage(0.3),
        "replay": lambda: adversary.replay(0.3),
        "silent": adversary.silent,
    }[name]()


def run_seed(seed: int) -> Outcome:
    """Build and run the scenario of `seed`; the same seed always gives the same outcome."""
    plan = random.Random(seed)
    n = plan.choice((4, 4, 7))
    f = (n - 1) // 3
    link = LinkModel(latency_ms=plan.choice((5, 10, 25)), jitter_ms=plan.choice((0, 5, 20)),
                     loss=plan.choice((0.0, 0.0, 0.01, 0.05)))
    net = ConsensusNet(n, seed, config=CONFIG, link=link)
    nodes = list(net.committee.nodes)
    net.load(400, 100, 0, END_MS)
    story = [f"n={n} link={link}"]

    bad = plan.sample(nodes, plan.randint(0, f))
    for node in bad:
        behaviour = plan.choice(BEHAVIOURS)
        net.sim.intercept(node, _interceptor(behaviour))
        story.append(f"{node.decode()} is byzantine: {behaviour}")
    for _ in range(plan.randint(0, 4)):
        node = plan.choice(nodes)
        down = plan.randrange(100, CHAOS_MS - 200)
        up = plan.randrange(down + 50, CHAOS_MS + 1)
        net.sim.crash(node, down)
        net.sim.restart(node, up)
        story.append(f"{node.decode()} crashes at {down} ms, restarts at {up} ms")
    for _ in range(plan.randint(0, 2)):
        shuffled = nodes[:]
        plan.shuffle(shuffled)
        cut = plan.randint(1, n - 1)
        at = plan.randrange(0, CHAOS_MS - 100)
        net.sim.partition([shuffled[:cut], shuffled[cut:]], at)
        net.sim.heal(plan.randrange(at + 50, CHAOS_MS + 1))
        story.append(f"partition {[x.decode() for x in shuffled[:cut]]} at {at} ms")
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xinlian.testing.consensus.campaign",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=50, help="run seeds 0..N-1")
    parser.add_argument("--first", type=int, default=0, help="first seed")
    parser.add_argument("--seed", type=int, help="replay one seed")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    seeds = [args.seed] if args.seed is not None else range(args.first, args.first + args.seeds)
    failed = []
    start = time.monotonic()
    for seed in seeds:
        outcome = run_seed(seed)
        if args.verbose or not outcome.ok:
            for line in outcome.story:
                print(f"  seed {seed}: {line}")
        status = "ok" if outcome.ok else "FAIL"
        print(f"seed {seed} n={outcome.n} {status} heights={outcome.heights} "
              f"epochs={outcome.epochs} trace={outcome.trace[:16]}", flush=True)
        for problem in outcome.problems:
            print(f"  {problem}")
        if not outcome.ok:
            failed.append(seed)
            print(f"  replay: python -m xinlian.testing.consensus.campaign --seed {seed} --verbose")
    print(f"{len(seeds) - len(failed)}/{len(seeds)} seeds passed in "
          f"{time.monotonic() - start:.0f} s; failed: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
