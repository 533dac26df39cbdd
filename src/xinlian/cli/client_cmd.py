"""`xinlian tx ...` and `xinlian query ...`: talk to a running node through the SDK.

Every query result is verified client-side before it is printed (header signature by the
node key, state proofs against the header's state root, transaction inclusion against the
block's tx_root); output is one JSON document.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from xinlian.api.format import bytes_of, to_json
from xinlian.node.keyfile import read_key
from xinlian.sdk.client import Client

DEFAULT_RPC = "http://127.0.0.1:8545"


def _print(value: Any) -> None:
    print(json.dumps(to_json(value), indent=2))


def transfer(args: argparse.Namespace) -> int:
    _, key = read_key(Path(args.key))
    with Client(args.rpc) as client:
        wallet = client.wallet(key)
        tx = wallet.transfer(bytes_of(args.to, "--to", size=20), args.amount,
                             args.memo.encode())
        if args.no_wait:
            print(json.dumps({"hash": "0x" + client.submit(tx).hex()}))
        else:
            receipt = client.send(tx, timeout=args.timeout)
            _print(receipt)
    return 0


def query(args: argparse.Namespace) -> int:
    view: Any
    with Client(args.rpc) as client:
        if args.what == "block":
            ref = args.ref
            view = (client.block_by_hash(bytes_of(ref, "block hash", size=32))
                    if ref.startswith("0x") else client.block(int(ref)))
        elif args.what == "tx":
            view = client.transaction(bytes_of(args.ref, "transaction hash", size=32))
        else:
            view = client.account(bytes_of(args.ref, "address", size=20))
    if view is None:
        print(json.dumps({"found": False}))
        return 1
    _print(view)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tx = sub.add_parser("tx", help="build, sign and submit a transaction").add_subparsers(
        dest="tx_cmd", required=True)
    t = tx.add_parser("transfer", help="transfer funds and wait for the receipt")
    t.add_argument("--key", required=True, help="the sender's key file (xinlian keygen)")
    t.add_argument("--to", required=True, help="0x-prefixed 20-byte address")
    t.add_argument("--amount", required=True, type=int)
    t.add_argument("--memo", default="")
    t.add_argument("--rpc", default=DEFAULT_RPC)
    t.add_argument("--timeout", type=float, default=30.0)
    t.add_argument("--no-wait", action="store_true", help="print the hash without waiting")
    t.set_defaults(func=transfer)

    q = sub.add_parser("query", help="query a node; results are verified before printing")
    q.add_argument("what", choices=["block", "tx", "account"])
    q.add_argument("ref", help="block height or 0x hash; tx hash; account address")
    q.add_argument("--rpc", default=DEFAULT_RPC)
    q.set_defaults(func=query)
