"""`xinlian crypto dkg|frost|roast|tbls|tsm2|ring|pre`: run a distributed-crypto protocol.

Each command runs one protocol of xinlian.crypto as a real message exchange between
parties: in the seeded simulator (`--mode sim`, any size, reproducible from `--seed`) or
with every party its own OS process over loopback TCP (`--mode processes`, small n), where
each party generates its own secrets and learns only the others' public keys.
It prints a summary, or with `--json` one JSON object. Exit status 0 when the protocol
produced its verified result, 1 when it did not (the report says why and whom it blames),
2 for bad parameters. docs/crypto/cli.md shows every command with its output.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from xinlian.testing.mpc.procrun import run_processes
from xinlian.testing.mpc.protocols import SETUPS, build
from xinlian.testing.mpc.setup import Params
from xinlian.testing.mpc.simrun import RunResult, run_sim

HELP = {
    "dkg": "distributed key generation (+ --refresh, --reshare-to)",
    "frost": "FROST threshold Schnorr signing through a coordinator",
    "roast": "ROAST: FROST signing robust to silent and cheating signers",
    "tbls": "threshold BLS: partial signatures combined by a combiner",
    "tsm2": "threshold SM2: key generation, presigning and signing (+ --refresh)",
    "ring": "accountable linkable ring signatures: verifier links, openers open",
    "pre": "threshold proxy re-encryption: owner, M-of-N proxies, receiver",
}
CURVES = {
    "dkg": ("ed25519", "secp256k1", "sm2"),
    "frost": ("ed25519", "secp256k1"),
    "roast": ("ed25519", "secp256k1"),
    "ring": ("ed25519", "secp256k1", "sm2"),
    "pre": ("sm2", "secp256k1"),
}
SHOWN = ("threshold", "keys", "variant", "group_key", "public_key", "signature", "verified",
         "sessions_started", "signers", "accepted", "rejected", "linked", "opened",
         "plaintext", "identified", "error")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    crypto = subparsers.add_parser("crypto", help="run distributed-crypto protocols")
    sub = crypto.add_subparsers(dest="crypto_command", required=True)
    for name in SETUPS:
        p = sub.add_parser(name, help=HELP[name])
        _common(p)
        if name in CURVES:
            p.add_argument("--curve", choices=CURVES[name], default=CURVES[name][0])
        if name == "dkg":
            p.add_argument("--refresh", action="store_true", help="then refresh every share")
            p.add_argument("--reshare-to", type=int, default=0, metavar="N2",
                           help="then reshare the key to members 1..N2")
            p.add_argument("--new-threshold", type=int, default=0, metavar="T2",
                           help="threshold after resharing (default 2*N2/3 + 1)")
        if name == "tsm2":
            p.add_argument("--refresh", action="store_true",
                           help="refresh every share after presigning, then sign with the "
                                "presignature made before the refresh")
        if name in ("frost", "roast", "tbls"):
            p.add_argument("--keys", choices=("dealer", "dkg"), default=None,
                           help="key shares from a seeded dealer (sim only; the default "
                                "there), or from a DKG run first (the default, and the only "
                                "source, with processes)")
        if name == "ring":
            p.add_argument("--variant", choices=("accountable", "traceable"),
                           default="accountable",
                           help="LSAG with escrow and openers, or Fujisaki-Suzuki tracing")
            p.add_argument("--signers", type=int, default=0,
                           help="ring members that sign (default: all)")
            p.add_argument("--openers", type=int, default=3, help="opener committee size")
            p.add_argument("--opener-threshold", type=int, default=2,
                           help="openers needed to open a signature")
        p.set_defaults(func=cmd_run, protocol=name)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--parties", "-n", type=int, default=5,
                   help="members / signers / proxies (coordinators come on top)")
    p.add_argument("--threshold", "-t", type=int, default=0,
                   help="threshold (default 2n/3 + 1)")
    p.add_argument("--mode", choices=("sim", "processes"), default="sim")
    p.add_argument("--seed", type=int, default=1,
                   help="sim: seeds keys, nonces and the simulator; processes: only session "
                        "ids (each party draws its own secrets from the OS CSPRNG)")
    p.add_argument("--faulty", type=int, default=0, help="how many parties misbehave")
    p.add_argument("--fault", default="silent", help="how they misbehave (see the docs)")
    p.add_argument("--message", default="xinlian threshold demo")
    p.add_argument("--round-ms", type=int, default=None,
                   help="how long a party waits for one round's messages "
                        "(default 1000 in sim, 10000 with processes, which start slowly)")
    p.add_argument("--latency-ms", type=float, default=20.0, help="sim: one-way latency")
    p.add_argument("--loss", type=float, default=0.0, help="sim: message loss rate")
    p.add_argument("--measured", action="store_true",
                   help="sim: charge each party the CPU time it really used, as if on its own "
                        "machine (simulated time = completion time; transcript not reproducible)")
    p.add_argument("--deadline-s", type=float, default=120.0, help="processes: give up after")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def cmd_run(args: argparse.Namespace) -> int:
    params = Params(protocol=args.protocol, parties=args.parties, threshold=args.threshold,
                    seed=args.seed, curve=getattr(args, "curve", ""), faulty=args.faulty,
                    fault=args.fault, message=args.message,
                    round_ms=args.round_ms or (1000 if args.mode == "sim" else 10_000),
                    refresh=getattr(args, "refresh", False),
                    reshare_to=getattr(args, "reshare_to", 0),
                    new_threshold=getattr(args, "new_threshold", 0),
                    signers=getattr(args, "signers", 0), openers=getattr(args, "openers", 3),
                    opener_threshold=getattr(args, "opener_threshold", 2),
                    keys=getattr(args, "keys", None) or ("dealer" if args.mode == "sim"
                                                         else "dkg"),
                    variant=getattr(args, "variant", "accountable"))
    setup = build(params)
    result = (run_sim(setup, latency_ms=args.latency_ms, loss=args.loss, measured=args.measured)
              if args.mode == "sim"
              else run_processes(setup, deadline_s=args.deadline_s))
    report = result.report()
    print(json.dumps(report) if args.json else human(result))
    return 0 if report["finished"] and report.get("ok") else 1


def human(result: RunResult) -> str:
    r = result.report()
    status = "ok" if r["finished"] and r.get("ok") else "FAILED"
    lines = [f"{r['protocol']}: {r['parties']} parties ({r['mode']}) -> {status}"]
    lines += [f"  {key.replace('_', ' ')}: {_show(r[key])}" for key in SHOWN if key in r]
    for phase in r.get("phases", []):
        lines.append(f"  {phase['kind']}: t={phase['threshold']}, {phase['receivers']} "
                     f"members, {phase['qualified']} qualified dealers, excluded "
                     f"{_show(phase['excluded'])}, parties agree: {phase['agree']}")
    lines.append("  secrets: " + ("seeded from --seed (simulation only)" if r["secrets"] == "seeded"
                                  else "each party its own, from the OS CSPRNG"))
    timing = f"simulated {r['sim_ms']} ms, " if "sim_ms" in r else ""
    lines.append(f"  messages: {r['messages']} ({r['bytes']:,} bytes), {timing}"
                 f"wall {r['wall_s']} s")
    dropped = {k: v for k, v in r["dropped"].items() if v}
    lines.append(f"  envelopes dropped: {_show(dropped)}")
    if "transcript" in r:
        lines.append(f"  transcript: {r['transcript']}")
    return "\n".join(lines)


def _show(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value)) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "none"
    return str(value)
