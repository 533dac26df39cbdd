"""A seed campaign of whole validators: every ledger must agree at every height.

Each seed fixes a scenario for n validators (testing/validators.py: consensus, ledger
pipeline, execution and LMDB storage, on the deterministic simulator) with clients sending
real signed transfers: link latency, jitter and loss, at most f Byzantine members (each
with a consensus attack, or junk and forged-signature transactions slipped into its
batches), crashes and restarts, partitions. During the chaos phase anything may stall, but
no two validators may ever hold different ledger blocks (header, state root) at one height,
nor one validator two blocks at one height across its restarts, nor consensus commit two
blocks at one height. Then every partition heals and every crashed validator restarts; clients go on
for half the settling time, then stop. Every honest validator's ledger must grow after
healing, and when the run ends the honest validators must agree on one head. A failing seed is printed with the command
that replays it exactly (the same trace hash):

    python -m xinlian.testing.validator_campaign --seeds 50          # seeds 0..49
    python -m xinlian.testing.validator_campaign --seed 17 --verbose  # replay one
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass, field

from xinlian import codec
from xinlian.consensus.core import Config, Submit
from xinlian.consensus.pacemaker import Pacemaker
from xinlian.crypto.keys import Signature
from xinlian.ledger.transaction import SignedTransaction
from xinlian.node.bft import BatchPayload, frame_payload
from xinlian.sim import adversary
from xinlian.sim.network import LinkModel
from xinlian.testing.consensus import byzantine
from xinlian.testing.validators import ValidatorNet

CONFIG = Config(pacemaker=Pacemaker(base_ms=300), sync_retry_ms=200, batch_delay_ms=50)
BEHAVIOURS = ("equivocate", "fork", "forge", "withhold", "garbage", "replay", "silent",
              "junk-txs")


@dataclass(frozen=True)
class Setting:
    """How long a seed runs: `short` for `make test`, `long` for `make sim-campaign`."""

    chaos_ms: int
    settle_ms: int  # the run ends settle_ms after the chaos; clients stop half-way


SHORT = Setting(chaos_ms=1500, settle_ms=2500)
LONG = Setting(chaos_ms=4000, settle_ms=4000)


@dataclass
class Outcome:
    seed: int
    n: int
    ok: bool
    problems: list[str] = field(default_factory=list)
    trace: str = ""
    heights: list[int] = field(default_factory=list)
    txs: list[int] = field(default_factory=list)
    story: list[str] = field(default_factory=list)


def _junk_txs(net: ValidatorNet, node: bytes, plan: random.Random, setting: Setting) -> None:
    """A Byzantine validator puts junk and forged copies of real transfers into batches
    that consensus orders: every honest ledger must skip them alike."""
    client = net.clients[0]
    real = client.transfer(0, net.clients[-1].address)
    signed = codec.decode(real, SignedTransaction)
    forged = codec.encode(SignedTransaction(signed.body, Signature(
        signed.signature.alg, bytes(len(signed.signature.data)))))
    for _ in range(3):
        at = plan.randrange(0, setting.chaos_ms)
        payload = frame_payload(BatchPayload(at, [forged, b"junk", real]))
        net.sim.input(node, Submit(payload + b"\x00\x00\xff\xffjunk", 3), at_ms=at)


def run_seed(seed: int, setting: Setting = LONG) -> Outcome:
    """Build and run the scenario of `seed`; the same seed always gives the same outcome."""
    plan = random.Random(seed)
    n = plan.choice((4, 4, 7))
    f = (n - 1) // 3
    link = LinkModel(latency_ms=plan.choice((5, 10, 25)), jitter_ms=plan.choice((0, 5, 20)),
                     loss=plan.choice((0.0, 0.0, 0.01, 0.05)))
    net = ValidatorNet(n, seed, config=CONFIG, link=link)
    try:
        return _run(net, plan, n, f, link, setting)
    finally:
        net.close()


def _run(net: ValidatorNet, plan: random.Random, n: int, f: int, link: LinkModel,
         setting: Setting) -> Outcome:
    chaos, end = setting.chaos_ms, setting.chaos_ms + setting.settle_ms
    nodes = list(net.nodes)
    net.load(0, chaos)
    story = [f"n={n} link={link}"]
    bad = plan.sample(nodes, plan.randint(0, f))
    for node in bad:
        behaviour = plan.choice(BEHAVIOURS)
        if behaviour == "junk-txs":
            _junk_txs(net, node, plan, setting)
        else:
            net.sim.intercept(node, _interceptor(behaviour))
        story.append(f"{node.hex()[:8]} is byzantine: {behaviour}")
    for _ in range(plan.randint(0, 3)):
        node = plan.choice(nodes)
        down = plan.randrange(100, chaos - 200)
        up = plan.randrange(down + 50, chaos + 1)
        net.sim.crash(node, down)
        net.sim.restart(node, up)
        story.append(f"{node.hex()[:8]} crashes at {down} ms, restarts at {up} ms")
    for _ in range(plan.randint(0, 2)):
        shuffled = nodes[:]
        plan.shuffle(shuffled)
        cut = plan.randint(1, n - 1)
        at = plan.randrange(0, chaos - 100)
        net.sim.partition([shuffled[:cut], shuffled[cut:]], at)
        net.sim.heal(plan.randrange(at + 50, chaos + 1))
        story.append(f"partition {[x.hex()[:8] for x in shuffled[:cut]]} at {at} ms")
    net.sim.heal(chaos)
    for node in nodes:  # anything still down comes back
        net.sim.restart(node, chaos)

    net.sim.run_until(chaos)
    honest = [x for x in nodes if x not in bad]
    at_heal = max(net.log.height(x) for x in nodes)
    net.load(chaos, chaos + setting.settle_ms // 2)  # clients go on for half the settling
    net.sim.run_until(end)
    problems = list(net.log.violations)
    stuck = [x.hex()[:8] for x in honest if net.log.height(x) <= at_heal]
    if stuck:
        problems.append(f"no ledger progress after healing (height {at_heal}) on {stuck}")
    roots = net.state_roots()
    heads = {(net.log.height(x), roots.get(x)) for x in honest}
    if len(heads) != 1:
        problems.append(f"honest validators end on different heads: "
                        f"{sorted((h, (r or b'').hex()[:16]) for h, r in heads)}")
    if not any(net.log.txs.get(x, 0) for x in honest):
        problems.append("no transfer was ever committed")
    return Outcome(net.seed, n, not problems, problems, net.sim.trace_hash,
                   [net.log.height(x) for x in nodes], [net.log.txs.get(x, 0) for x in nodes],
                   story)


def _interceptor(name: str) -> adversary.Interceptor:
    return {
        "equivocate": byzantine.equivocate,
        "fork": byzantine.fork_with_forged_tc,
        "forge": byzantine.forge_signatures,
        "withhold": byzantine.withhold_votes,
        "garbage": lambda: adversary.garbage(0.3),
        "replay": lambda: adversary.replay(0.3),
        "silent": adversary.silent,
    }[name]()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xinlian.testing.validator_campaign",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=20, help="run seeds FIRST..FIRST+N-1")
    parser.add_argument("--first", type=int, default=0, help="first seed")
    parser.add_argument("--seed", type=int, help="replay one seed")
    parser.add_argument("--short", action="store_true", help="the short setting of make test")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    setting = SHORT if args.short else LONG
    seeds = [args.seed] if args.seed is not None else range(args.first, args.first + args.seeds)
    failed = []
    start = time.monotonic()
    for seed in seeds:
        outcome = run_seed(seed, setting)
        if args.verbose or not outcome.ok:
            for line in outcome.story:
                print(f"  seed {seed}: {line}")
        status = "ok" if outcome.ok else "FAIL"
        print(f"seed {seed} n={outcome.n} {status} heights={outcome.heights} "
              f"txs={outcome.txs} trace={outcome.trace[:16]}", flush=True)
        for problem in outcome.problems:
            print(f"  {problem}")
        if not outcome.ok:
            failed.append(seed)
            short = " --short" if args.short else ""
            print(f"  replay: python -m xinlian.testing.validator_campaign --seed {seed}"
                  f"{short} --verbose")
    print(f"{len(seeds) - len(failed)}/{len(seeds)} seeds passed in "
          f"{time.monotonic() - start:.0f} s; failed: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

