"""`xinlian private monitor`: the regulator's abnormal-transaction rules (a TOML file,
execution/confidential_monitor.py) over the private transactions opened on a running
node, read proven through the SDK (docs/privacy.md, "Monitoring opened transactions").

Prints one JSON object: the findings, how many opened transactions the rules saw, and
the blinded openings no blinding file of `--blinding-dir` reads. Exit 0 when it ran
(findings are its output, not a failure); 2 a bad rules or blinding file; 3 the node
refused, could not be reached, or answered with a proof that does not verify.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from xinlian.cli.client_cmd import DEFAULT_RPC
from xinlian.cli.contract_cmd import EXIT_OK
from xinlian.cli.contract_cmd import _print_json as print_json
from xinlian.cli.contract_cmd import _reporting as reporting
from xinlian.cli.private_conf_cmd import blinding_of, is_blinding
from xinlian.crypto.primitives.groups import Scalar
from xinlian.execution.confidential_monitor import parse_rules
from xinlian.sdk.client import Client
from xinlian.sdk.confidential import monitor


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    m = sub.add_parser("monitor", help="as the regulator: run abnormal-transaction rules "
                                       "(amount, velocity, fan-out/in) over opened transfers")
    m.add_argument("--rules", required=True, help="the rules file (TOML)")
    m.add_argument("--rpc", default=DEFAULT_RPC)
    m.add_argument("--from-height", type=int, default=0, metavar="H",
                   help="consider openings recorded from block H on")
    m.add_argument("--blinding-dir", default=None, metavar="D",
                   help="a folder of blinding files (*.json, `private request` and "
                        "`private anon request`): the openings they read enter the rules")
    m.set_defaults(func=reporting(cmd_monitor), json=True)


def read_blindings(folder: str) -> dict[bytes, list[Scalar]]:
    """The blindings of the blinding files in `folder` (other JSON files are skipped)."""
    found: dict[bytes, list[Scalar]] = {}
    for path in sorted(Path(folder).glob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError):
            continue
        if isinstance(doc, dict) and is_blinding(doc):
            transfer_id, rhos = blinding_of(str(path), doc)
            found[transfer_id] = rhos
    return found


def cmd_monitor(args: argparse.Namespace) -> int:
    rules = parse_rules(Path(args.rules).read_text(encoding="utf-8"))
    blindings = {} if args.blinding_dir is None else read_blindings(args.blinding_dir)
    with Client(args.rpc) as client:
        report = monitor(client, rules, from_height=args.from_height, blindings=blindings)
    print_json({"opened": report.opened,
                "unread": ["0x" + t.hex() for t in report.unread],
                "findings": [f.to_json() for f in report.findings]})
    return EXIT_OK
