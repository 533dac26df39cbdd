"""The `xinlian` command: each subcommand group lives in its own module with `register`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from xinlian.cli import (
    client_cmd,
    cluster,
    cluster_plan,
    contract_cmd,
    crypto_cmd,
    data_cmd,
    demo,
    index_cmd,
    node_cmd,
    pq_cmd,
    private_cmd,
    qi,
    validator_cmd,
    web_cmd,
)
from xinlian.crypto.suites import SUITES, get_suite
from xinlian.errors import XinlianError
from xinlian.node.keyfile import key_document, write_key
from xinlian.sdk.errors import RpcError


def keygen(args: argparse.Namespace) -> int:
    suite = get_suite(args.suite)
    key = suite.generate_signing_key()
    doc = key_document(suite, key)
    if args.out:
        write_key(Path(args.out), suite, key)
        del doc["secret"]  # it is in the file; keep it off the terminal
    print(json.dumps(doc))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xinlian", description="Xinlian consortium chain")
    sub = parser.add_subparsers(dest="command", required=True)
    k = sub.add_parser("keygen", help="generate a signing key")
    k.add_argument("--suite", choices=sorted(SUITES), default="sm")
    k.add_argument("--out", help="write the key file here (mode 0600) and print the public part")
    k.set_defaults(func=keygen)
    node_cmd.register(sub)
    client_cmd.register(sub)
    contract_cmd.register(sub)
    index_cmd.register(sub)
    data_cmd.register(sub)
    cluster_plan.register(cluster.register(sub))
    demo.register(sub)
    qi.register(sub)
    crypto_cmd.register(sub)
    validator_cmd.register(sub)
    pq_cmd.register(sub)
    web_cmd.register(sub)
    private_cmd.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except RpcError as exc:  # the node's own error, not the SDK's wrapper of it
        print(f"error[{exc.remote_code} {exc.remote_name}]: {exc.message}", file=sys.stderr)
        return 2
    except XinlianError as exc:
        print(f"error[{exc.code} {exc.name}]: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
