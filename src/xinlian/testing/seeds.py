"""What the seed campaigns share: faults drawn from a scenario's seed, and the command line.

Each campaign (testing/consensus/campaign.py for consensus cores, validator_campaign.py for
whole validators) draws its scenario from `random.Random(seed)`; the helpers here draw in a
fixed order, so a seed keeps its scenario.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from xinlian.sim.network import LinkModel
from xinlian.sim.runtime import Simulation

Name = Callable[[bytes], str]


def network(plan: random.Random) -> tuple[int, int, LinkModel]:
    """n (4 or 7), the faults it tolerates f, and the links' latency, jitter and loss."""
    n = plan.choice((4, 4, 7))
    link = LinkModel(latency_ms=plan.choice((5, 10, 25)), jitter_ms=plan.choice((0, 5, 20)),
                     loss=plan.choice((0.0, 0.0, 0.01, 0.05)))
    return n, (n - 1) // 3, link


def crashes(sim: Simulation, plan: random.Random, nodes: Sequence[bytes], count: int,
            chaos_ms: int, name: Name) -> list[str]:
    """`count` crashes, each followed by a restart before the chaos ends; the story."""
    story = []
    for _ in range(count):
        node = plan.choice(nodes)
        down = plan.randrange(100, chaos_ms - 200)
        up = plan.randrange(down + 50, chaos_ms + 1)
        sim.crash(node, down)
        sim.restart(node, up)
        story.append(f"{name(node)} crashes at {down} ms, restarts at {up} ms")
    return story


def partitions(sim: Simulation, plan: random.Random, nodes: Sequence[bytes], count: int,
               chaos_ms: int, name: Name) -> list[str]:
    """`count` partitions in two, each healed before the chaos ends; the story."""
    story = []
    for _ in range(count):
        shuffled = list(nodes)
        plan.shuffle(shuffled)
        cut = plan.randint(1, len(nodes) - 1)
        at = plan.randrange(0, chaos_ms - 100)
        sim.partition([shuffled[:cut], shuffled[cut:]], at)
        sim.heal(plan.randrange(at + 50, chaos_ms + 1))
        story.append(f"partition {[name(x) for x in shuffled[:cut]]} at {at} ms")
    return story


@dataclass
class Outcome:
    """How one seed went: `heights` per node, `story` the scenario drawn from the seed."""

    seed: int
    n: int
    ok: bool
    problems: list[str] = field(default_factory=list)
    trace: str = ""
    heights: list[int] = field(default_factory=list)
    story: list[str] = field(default_factory=list)


Out = TypeVar("Out", bound=Outcome)


def main(argv: list[str] | None, prog: str, description: str, default_seeds: int,
         run: Callable[[int, bool], Out], describe: Callable[[Out], str],
         short: bool = False) -> int:
    """Run seeds, print one line each (and the story of a failing or `--verbose` one) with
    the command that replays a failure; 1 if any failed. `short`: the campaign has a short
    setting (`--short`), and `run` gets whether it was asked for."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--seeds", type=int, default=default_seeds,
                        help="run seeds FIRST..FIRST+N-1")
    parser.add_argument("--first", type=int, default=0, help="first seed")
    parser.add_argument("--seed", type=int, help="replay one seed")
    if short:
        parser.add_argument("--short", action="store_true", help="the short setting")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    is_short = bool(getattr(args, "short", False))
    seeds = [args.seed] if args.seed is not None else range(args.first, args.first + args.seeds)
    failed = []
    start = time.monotonic()
    for seed in seeds:
        outcome = run(seed, is_short)
        if args.verbose or not outcome.ok:
            for line in outcome.story:
                print(f"  seed {seed}: {line}")
        status = "ok" if outcome.ok else "FAIL"
        print(f"seed {seed} n={outcome.n} {status} {describe(outcome)} "
              f"trace={outcome.trace[:16]}", flush=True)
        for problem in outcome.problems:
            print(f"  {problem}")
        if not outcome.ok:
            failed.append(seed)
            flag = " --short" if is_short else ""
            print(f"  replay: python -m {prog.split()[-1]} --seed {seed}{flag} --verbose")
    print(f"{len(seeds) - len(failed)}/{len(seeds)} seeds passed in "
          f"{time.monotonic() - start:.0f} s; failed: {failed}")
    return 1 if failed else 0
