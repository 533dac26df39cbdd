"""A seed campaign of whole validators: every ledger must agree at every height.

Each seed fixes a scenario for n validators (testing/validators.py: consensus, ledger
pipeline, execution and LMDB storage, on the deterministic simulator) with clients sending
real signed transfers: link latency, jitter and loss, at most f Byzantine members (each
with a consensus attack, or junk and forged-signature transactions slipped into its
batches), crashes and restarts, partitions. During the chaos phase anything may stall, but
no two validators may ever hold different ledger blocks (header, state root) at one height,
nor one validator two blocks at one height across its restarts, nor consensus commit two
blocks at one height. Then every partition heals and every crashed validator restarts;
clients go on for half the settling time, then stop. Every honest validator's ledger must
grow after healing, and when the run ends the honest validators must agree on one head and
each hold the committee's certificate of every header committed before healing (no
certificate may name a header that no ledger committed, at any time). A failing seed is
printed with the command that replays it exactly (the same trace hash):

    python -m xinlian.testing.validator_campaign --seeds 50          # seeds 0..49
    python -m xinlian.testing.validator_campaign --seed 17 --verbose  # replay one
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass, field

from xinlian import codec
from xinlian.consensus.core import Config, Submit
from xinlian.consensus.pacemaker import Pacemaker
from xinlian.crypto.keys import Signature
from xinlian.ledger.transaction import SignedTransaction
from xinlian.node.bft import BatchPayload, frame_payload
from xinlian.sim.network import LinkModel
from xinlian.testing import seeds
from xinlian.testing.consensus import byzantine
from xinlian.testing.validators import ValidatorNet

CONFIG = Config(pacemaker=Pacemaker(base_ms=300), sync_retry_ms=200, batch_delay_ms=50)
# consensus attacks (not "height": it signs with the consensus core's key), and junk in batches
BEHAVIOURS = (*(b for b in byzantine.BEHAVIOURS if b != "height"), "junk-txs")


@dataclass(frozen=True)
class Setting:
    """How long a seed runs: `short` for `make test`, `long` for `make sim-campaign`."""

    chaos_ms: int
    settle_ms: int  # the run ends settle_ms after the chaos; clients stop half-way


SHORT = Setting(chaos_ms=1500, settle_ms=2500)
LONG = Setting(chaos_ms=4000, settle_ms=8000)


@dataclass
class Outcome(seeds.Outcome):
    txs: list[int] = field(default_factory=list)  # transactions in each node's ledger


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
    n, f, link = seeds.network(plan)
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
            net.sim.intercept(node, byzantine.behaviour(behaviour))
        story.append(f"{_name(node)} is byzantine: {behaviour}")
    story += seeds.crashes(net.sim, plan, nodes, plan.randint(0, 3), chaos, _name)
    story += seeds.partitions(net.sim, plan, nodes, plan.randint(0, 2), chaos, _name)
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
    uncertified = _uncertified(net, honest, at_heal)
    if uncertified:
        problems.append(f"headers committed before healing lack a certificate: {uncertified}")
    return Outcome(net.seed, n, not problems, problems, net.sim.trace_hash,
                   [net.log.height(x) for x in nodes], story,
                   txs=[net.log.txs.get(x, 0) for x in nodes])


def _uncertified(net: ValidatorNet, honest: list[bytes], below: int) -> dict[str, list[int]]:
    """Per honest validator, the heights up to `below` it holds no committee certificate
    for (by the end every header committed before healing must be certified everywhere)."""
    out = {}
    for node in honest:
        validator = net.validator(node)
        if validator is None:
            continue
        missing = [h for h in range(min(below, validator.ledger.chain.height) + 1)
                   if validator.bft.certified(h) is None]
        if missing:
            out[_name(node)] = missing
    return out


def _name(node: bytes) -> str:
    return node.hex()[:8]


def main(argv: list[str] | None = None) -> int:
    return seeds.main(argv, "python -m xinlian.testing.validator_campaign",
                      __doc__.split("\n")[0], 20,
                      lambda seed, short: run_seed(seed, SHORT if short else LONG),
                      lambda o: f"heights={o.heights} txs={o.txs}", short=True)


if __name__ == "__main__":
    sys.exit(main())

