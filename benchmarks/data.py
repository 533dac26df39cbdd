"""Every data benchmark of issue 13 in one run (`make bench-data`): JSON lines out.

    python -m benchmarks.data [--quick | --scale] [--only btree inverted ...]

Runs, in this order, each module's `run(args)` with the arguments of the chosen size:

- `btree` (benchmarks/data_btree.py): range pages of the Merkle B+-tree, served with proofs
  and verified, against a plain LMDB scan of the same entries; aggregates; block updates;
- `inverted` (data_inverted.py): keyword and boolean pages of the inverted index, against a
  plain LMDB scan of the same postings;
- `provenance` (data_provenance.py): record histories and block-filter windows, against a
  plain LMDB scan of the same versions;
- `model` (data_model.py): ingest through the node's block executor and chain store, and a
  collection's range pages read back as typed records;
- `select` (data_select.py): queries of several conditions (words AND a number range AND a
  time window), served with proofs and verified, by each driver and the node's choice (a
  modest store: 10,000 records by default, seconds);
- `node` (data_node.py): ingest as signed DATA_WRITE transactions through a real solo node
  process over JSON-RPC, with what limits it, and verified pages read back by the SDK;
- `blobs` (data_blobs.py): the blob store's write and verified read MB/s;
- `light` (light.py): light-node header sync rate and bytes per epoch.

The default size stores 1 million records per index; `--quick` a few ten thousand (a
minute or two, to check that everything runs); `--scale` 10 million per index (the issue's
store size: about an hour on 2 cores) and a larger ingest through the node. Every line
carries `size` and the machine's 1-minute load average when it was printed (`load1`): the
machine may be shared, so rates come with their CPU-time figures where the module takes
them.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from benchmarks import (
    data_blobs,
    data_btree,
    data_inverted,
    data_model,
    data_node,
    data_provenance,
    data_select,
    light,
)
from benchmarks.report import MACHINE, print_lines

SIZES = ("quick", "default", "scale")


@dataclass(frozen=True)
class Section:
    """One module: its argument parser and generator, and its arguments per size."""

    parse: Callable[[list[str]], argparse.Namespace]
    run: Callable[[argparse.Namespace], Iterator[dict[str, Any]]]
    argv: dict[str, list[str]]


SECTIONS: dict[str, Section] = {
    "btree": Section(data_btree.parser().parse_args, data_btree.run, {
        "quick": ["--records", "100000", "--pages", "50", "--aggregates", "10",
                  "--block", "200"],
        "default": ["--records", "1000000", "--pages", "400"],
        "scale": ["--records", "10000000", "--pages", "400", "--aggregates", "10"]}),
    "inverted": Section(data_inverted.parser().parse_args, data_inverted.run, {
        "quick": ["--records", "50000", "--edits", "5000"],
        "default": ["--records", "1000000", "--edits", "20000"],
        "scale": ["--records", "10000000", "--edits", "20000"]}),
    "provenance": Section(data_provenance.parse, data_provenance.run, {
        "quick": ["--keys", "100", "--blocks", "200", "--pages", "50"],
        "default": ["--keys", "1000", "--blocks", "1000", "--pages", "400"],
        "scale": ["--keys", "10000", "--blocks", "1000", "--pages", "400"]}),
    "model": Section(data_model.parser().parse_args, data_model.run, {
        "quick": ["--records", "5000", "--repeats", "5"],
        "default": ["--records", "100000"],
        "scale": ["--records", "100000"]}),
    "select": Section(data_select.parser().parse_args, data_select.run, {
        "quick": ["--records", "5000"],
        "default": ["--records", "10000"],
        "scale": ["--records", "100000"]}),
    "node": Section(data_node.parser().parse_args, data_node.run, {
        "quick": ["--records", "10000", "--accounts", "50"],
        "default": ["--records", "100000"],
        "scale": ["--records", "1000000", "--accounts", "256"]}),
    "blobs": Section(data_blobs.parser().parse_args, data_blobs.run, {
        "quick": ["--mib", "16", "--chunks-kib", "1024", "--backends", "disk", "--repeats",
                  "1", "--ranges", "20"],
        "default": ["--mib", "128", "--chunks-kib", "256", "1024"],
        "scale": ["--mib", "1024", "--chunks-kib", "1024"]}),
    "light": Section(light.parser().parse_args, light.run, {
        "quick": ["--suites", "sm", "--epochs", "4"],
        "default": [],
        "scale": []}),
}


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="benchmarks.data", description=__doc__.split("\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="size", action="store_const", const="quick",
                      help="a small run of every section (a minute or two)")
    size.add_argument("--scale", dest="size", action="store_const", const="scale",
                      help="10 million records per index (about an hour on 2 cores)")
    parser.set_defaults(size="default")
    parser.add_argument("--only", nargs="+", choices=sorted(SECTIONS), default=list(SECTIONS),
                        help="run these sections only")
    return parser


def run(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    for name in args.only:
        section = SECTIONS[name]
        argv = section.argv[args.size]
        for figure in section.run(section.parse(argv)):
            yield {"bench": f"data_{name}", **figure, **MACHINE, "size": args.size,
                   "argv": " ".join(argv), "load1": round(os.getloadavg()[0], 2)}


def main() -> None:
    print_lines(run(parser().parse_args()))


if __name__ == "__main__":
    main()
