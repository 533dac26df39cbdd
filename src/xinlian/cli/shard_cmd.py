"""`xinlian shard security`: how often a shard committee fails, and the size to choose.

Prints, for each node count and adversary fraction, log2 of the probability that one
committee of each size holds more corrupt members than its BFT core tolerates; the committee
size (and shard count) that keeps a whole epoch below each target; and, for `--layout N:K`,
the most corrupt nodes that layout survives. Exact arithmetic (xinlian.sharding.security);
docs/sharding.md explains the model and its limits. `--json` prints one object per line.
"""

from __future__ import annotations

import argparse
import json
from fractions import Fraction
from typing import Any

from xinlian.sharding.errors import InvalidParameters
from xinlian.sharding.security import (
    committee_failure,
    corrupt_nodes,
    layout,
    log2,
    max_corrupt,
    pick_committee_size,
)


def _fraction(text: str) -> Fraction:
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"not a fraction: {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"an adversary fraction is in [0, 1), not {text}")
    return value


def _layout(text: str) -> tuple[int, int]:
    try:
        nodes, shards = (int(x) for x in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a layout is NODES:SHARDS, not {text!r}") from None
    return nodes, shards


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    shard = sub.add_parser("shard", help="sharding: committee security analysis")
    cmds = shard.add_subparsers(dest="shard_cmd", required=True)
    s = cmds.add_parser("security", help="committee failure probabilities and the size to pick")
    s.add_argument("--nodes", type=int, nargs="+", default=[512, 1024])
    s.add_argument("--adversary", type=_fraction, nargs="+",
                   default=[Fraction(1, 100), Fraction(5, 100), Fraction(1, 10),
                            Fraction(1, 5), Fraction(1, 4)],
                   help="fractions of corrupt nodes (0.1 or 1/10)")
    s.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 64, 128, 256])
    s.add_argument("--bits", type=int, nargs="+", default=[20, 40],
                   help="targets: epoch failure at most 2^-BITS")
    s.add_argument("--layout", type=_layout, nargs="*", default=[],
                   help="NODES:SHARDS layouts (committees of NODES // (SHARDS + 1))")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_security)


def _show(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    if rows:
        print(" | ".join(rows[0]))
        for row in rows:
            print(" | ".join(str(v) for v in row.values()))
        print()


def _bits(p: Fraction) -> str:
    return "impossible" if p == 0 else f"2^{log2(p):.1f}"


def cmd_security(args: argparse.Namespace) -> int:
    for n in args.nodes:
        for size in args.sizes:
            if not 1 <= size <= n:
                raise InvalidParameters(f"a committee of {size} does not fit in {n} nodes")
    tails, picks, layouts = [], [], []
    for n in args.nodes:
        for a in args.adversary:
            k = corrupt_nodes(n, a)
            tails.append({"nodes": n, "adversary": str(a), "corrupt": k,
                          **{f"c={c}": _bits(committee_failure(n, k, c)) for c in args.sizes}})
            row: dict[str, Any] = {"nodes": n, "adversary": str(a), "corrupt": k}
            for b in args.bits:
                try:
                    p = pick_committee_size(n, k, b)
                    row[f"2^-{b}"] = f"c={p.size} shards={p.shards} ({_bits(p.failure)})"
                except InvalidParameters:
                    row[f"2^-{b}"] = "none"
            picks.append(row)
    for n, k in args.layout:
        c = n // (k + 1)
        row = {"nodes": n, "shards": k, "committee": c}
        for b in args.bits:
            row[f"most corrupt for 2^-{b}"] = max_corrupt(n, c, k, b)
        row["failure at 5%"] = _bits(layout(n, corrupt_nodes(n, Fraction(1, 20)), c, k).failure)
        layouts.append(row)
    for rows in (tails, picks, layouts):
        _show(rows, args.json)
    return 0
