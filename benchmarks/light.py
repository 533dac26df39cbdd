"""Light-node header sync: how fast a client that knows only the genesis verifies a chain.

    python -m benchmarks.light [--suites intl sm pq] [--validators 4] [--epochs 8]

A chain is made by whole validators in the simulator (seeded; real signatures, real
ledgers in LMDB), with an epoch change every `--epoch-ms` simulated milliseconds, and then
verified the way sdk/headers.py does it, from genesis, with the data a full node serves:

- `sync_headers_per_s`: a light node's sync (FlyClient-style): the proof of every epoch
  change, one certified checkpoint per epoch and the highest certified header: headers
  covered (the anchor's height + 1) per second of verification. Its cost is per epoch, not
  per header (`sync_epochs_per_s`), so this rate grows with the blocks an epoch holds;
- `certified_headers_per_s`, its peer in the same run: checking every header's own
  certificate (a client that downloads every header);
- `proven_headers_per_s`: old headers proven against the anchor by MMR inclusion proofs
  (node/history.py), each with the state proof of the anchor's history peaks;
- `bytes_per_epoch`: the encoded epoch proof plus checkpoint a light node downloads per
  epoch, and `certificate_bytes` / `header_proof_bytes`.
Network time is not included: these are the client's verification costs and sizes.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from statistics import mean
from typing import Any

from benchmarks.report import line, print_lines
from xinlian import codec
from xinlian.consensus.core import Config
from xinlian.consensus.pacemaker import Pacemaker
from xinlian.node.certify import CertifiedHeader, genesis_root
from xinlian.node.history import HeaderProof
from xinlian.sdk.headers import HeaderChain
from xinlian.testing.validators import ValidatorNet

BENCH = "light"


def _fresh(net: ValidatorNet) -> HeaderChain:
    genesis = net.genesis
    return HeaderChain(genesis_root(genesis), genesis.chain_id,
                       genesis.crypto_suite().hash_bytes)


def sync(suite: str, validators: int, epochs: int, epoch_ms: int, seed: int
         ) -> Iterator[dict[str, Any]]:
    net = ValidatorNet(validators, seed, suite=suite,
                       config=Config(pacemaker=Pacemaker(base_ms=300)))
    try:
        end = 500 + epoch_ms * epochs
        net.load(0, end)
        net.new_epochs([500 + epoch_ms * i for i in range(epochs)])
        net.sim.run_until(end + 1500)
        validator = net.validator(net.nodes[0])
        assert validator is not None and not net.log.violations
        bft, chain = validator.bft, validator.ledger.chain
        anchor = bft.latest_certified()
        assert anchor is not None
        top = anchor.header.height
        proofs = bft.epoch_proofs(0, epochs + 1)
        checkpoints = {e: c for e in range(len(proofs)) if (c := bft.checkpoint(e))}
        certified: list[CertifiedHeader] = [c for h in range(top + 1)
                                            if (c := bft.certified(h)) is not None]
        old: list[HeaderProof] = [p for h in range(top)
                                  if (p := chain.header_proof(h, top)) is not None]
    finally:
        net.close()
    common = {"suite": suite, "validators": validators, "epochs": len(proofs),
              "headers": top + 1}

    start = time.perf_counter()
    light = _fresh(net)
    light.follow(proofs)
    for epoch, checkpoint in checkpoints.items():
        light.accept_checkpoint(epoch, checkpoint)
    light.accept(anchor)
    sync_s = time.perf_counter() - start
    yield line(BENCH, "sync_headers_per_s", (top + 1) / sync_s, "headers/s",
         sync_ms=round(sync_s * 1000, 3), checkpoints=len(checkpoints), **common)
    yield line(BENCH, "sync_epochs_per_s", len(proofs) / sync_s, "epochs/s", **common)

    every = _fresh(net)
    every.follow(proofs)
    start = time.perf_counter()
    for one in certified:
        every.accept(one)
    every_s = time.perf_counter() - start
    yield line(BENCH, "certified_headers_per_s", len(certified) / every_s, "headers/s",
         checked=len(certified), sync_ratio=round(every_s / sync_s, 2), **common)

    start = time.perf_counter()
    for proof in old:
        light.prove(proof)
    yield line(BENCH, "proven_headers_per_s", len(old) / (time.perf_counter() - start),
         "headers/s", proven=len(old), **common)

    per_epoch = [len(codec.encode(p)) + len(codec.encode(checkpoints[e]))
                 for e, p in enumerate(proofs) if e in checkpoints]
    yield line(BENCH, "bytes_per_epoch", mean(per_epoch), "bytes", **common)
    yield line(BENCH, "certificate_bytes", mean(len(codec.encode(c.cert)) for c in certified),
         "bytes", **common)
    yield line(BENCH, "header_proof_bytes", mean(len(codec.encode(p)) for p in old), "bytes",
         **common)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="benchmarks.light")
    parser.add_argument("--suites", nargs="+", default=["intl", "sm", "pq"])
    parser.add_argument("--validators", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--epoch-ms", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    return parser


def run(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    for suite in args.suites:
        yield from sync(suite, args.validators, args.epochs, args.epoch_ms, args.seed)


def main() -> None:
    print_lines(run(parser().parse_args()))


if __name__ == "__main__":
    main()
