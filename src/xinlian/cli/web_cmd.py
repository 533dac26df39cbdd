"""`xinlian web` (the browser workbench next to a node) and `xinlian web-user` (adds a
user with a password and roles to its users file)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from pathlib import Path

from xinlian.web.errors import BadWebArgument


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    w = subparsers.add_parser("web", help="serve the browser workbench for Qi projects")
    w.add_argument("--projects", required=True, metavar="DIR",
                   help="folder whose sub-folders are the projects")
    w.add_argument("--users", required=True, metavar="FILE",
                   help="users file written by `xinlian web-user`")
    w.add_argument("--node", metavar="URL", help="the node's RPC URL (for deploy, calls and "
                   "the explorer)")
    w.add_argument("--key", metavar="FILE", help="the key file (from `xinlian keygen`) that "
                   "signs deployments, calls and upgrades; it stays on the server")
    w.add_argument("--trust-anchor", metavar="FILE", help="the chain's pin (from `xinlian "
                   "web-anchor`, obtained out of band): its genesis hash and a solo chain's "
                   "node key, checked by the server and shown to the page")
    w.add_argument("--listen", default="127.0.0.1:8600", metavar="HOST:PORT",
                   help="where to serve (port 0: any free port); prints {\"web\": URL}")
    w.set_defaults(func=cmd_web)
    a = subparsers.add_parser("web-anchor", help="print the trust anchor (pin) of a node's "
                              "chain for `xinlian web --trust-anchor` and the workbench page")
    a.add_argument("--data", required=True, metavar="DIR",
                   help="the node's data directory (its genesis and node key)")
    a.set_defaults(func=cmd_web_anchor)
    u = subparsers.add_parser("web-user", help="add or replace a workbench user; the "
                              "password comes from XINLIAN_WEB_PASSWORD or a prompt")
    u.add_argument("--users", required=True, metavar="FILE")
    u.add_argument("name")
    u.add_argument("--role", action="append", default=[], metavar="PROJECT=ROLE",
                   help="owner, editor or viewer of PROJECT (`*`: every project); repeatable")
    u.set_defaults(func=cmd_web_user)


def _listen(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise BadWebArgument(f"--listen {text!r} is not HOST:PORT")
    return host, int(port)


def cmd_web(args: argparse.Namespace) -> int:
    from xinlian.web.anchor import read_pin
    from xinlian.web.chain import Chain
    from xinlian.web.projects import Projects
    from xinlian.web.server import Workbench, serve
    from xinlian.web.users import load_users

    host, port = _listen(args.listen)
    projects = Path(args.projects)
    if not projects.is_dir():
        raise BadWebArgument(f"--projects {args.projects} is not a folder")
    if args.key and not args.node:
        raise BadWebArgument("--key needs --node: it signs for that node's chain")
    if args.trust_anchor and not args.node:
        raise BadWebArgument("--trust-anchor needs --node: it pins that node's chain")
    pin = read_pin(Path(args.trust_anchor)) if args.trust_anchor else None
    chain = (Chain(args.node, Path(args.key) if args.key else None, pin)
             if args.node else None)
    bench = Workbench(Projects(projects), load_users(Path(args.users)), chain)
    try:
        asyncio.run(serve(bench, host, port))
    except KeyboardInterrupt:
        pass
    finally:
        if chain is not None:
            chain.close()
    return 0


def cmd_web_anchor(args: argparse.Namespace) -> int:
    from xinlian.cli.node_cmd import GENESIS_FILE, KEY_FILE
    from xinlian.ledger.genesis import load_genesis
    from xinlian.node.keyfile import read_key
    from xinlian.web.anchor import pin_of

    data = Path(args.data)
    genesis = load_genesis(data / GENESIS_FILE)
    node_key = None if genesis.validators else read_key(data / KEY_FILE)[1].public_key
    print(json.dumps(pin_of(genesis, node_key).to_json()))
    return 0


def cmd_web_user(args: argparse.Namespace) -> int:
    from xinlian.web.users import ROLES, User, hash_password, save_user

    roles = {}
    for item in args.role:
        project, _, role = item.partition("=")
        if not project or role not in ROLES:
            raise BadWebArgument(f"--role {item!r} is not PROJECT=ROLE with ROLE among "
                                 f"{', '.join(ROLES)}")
        roles[project] = role
    password = os.environ.get("XINLIAN_WEB_PASSWORD") or getpass.getpass("password: ")
    if not password:
        raise BadWebArgument("an empty password")
    save_user(Path(args.users), User(args.name, hash_password(password), roles))
    print(f"{args.name}: {roles}", file=sys.stderr)
    return 0
