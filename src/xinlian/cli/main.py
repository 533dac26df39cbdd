"""The `xinlian` command: each subcommand group lives in its own module with `register`."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

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


# The commands each module of xinlian.cli registers. A command line imports only the module
# of its command (the whole CLI imports the node, the SDK, the Qi toolchain and the
# workbench: about three times the import time of one command); `--help` and an unknown
# command import them all.
COMMANDS: dict[str, tuple[str, ...]] = {
    "node_cmd": ("init", "node"),
    "client_cmd": ("tx", "query"),
    "contract_cmd": ("contract",),
    "index_cmd": ("index",),
    "data_cmd": ("data",),
    "cluster": ("cluster",),
    "demo": ("demo",),
    "qi": ("qi",),
    "crypto_cmd": ("crypto",),
    "validator_cmd": ("validator",),
    "pq_cmd": ("pq",),
    "web_cmd": ("web", "web-anchor", "web-user"),
    "private_cmd": ("private",),
    "shard_cmd": ("shard",),
}


def _register(module: str, sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cli = importlib.import_module(f"xinlian.cli.{module}")
    if module == "cluster":  # `cluster plan` lives in a module of its own
        importlib.import_module("xinlian.cli.cluster_plan").register(cli.register(sub))
    else:
        cli.register(sub)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of `command` alone (and `keygen`) when it is one."""
    parser = argparse.ArgumentParser(prog="xinlian", description="Xinlian consortium chain")
    sub = parser.add_subparsers(dest="command", required=True)
    k = sub.add_parser("keygen", help="generate a signing key")
    k.add_argument("--suite", choices=sorted(SUITES), default="sm")
    k.add_argument("--out", help="write the key file here (mode 0600) and print the public part")
    k.set_defaults(func=keygen)
    modules = [m for m, names in COMMANDS.items() if command in names]
    for module in modules if modules or command == "keygen" else COMMANDS:
        _register(module, sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv[0] if argv else None).parse_args(argv)
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
