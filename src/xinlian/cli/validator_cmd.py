"""`xinlian validator ...`: a new validator's keys, and the governance that adds or removes one.

A validator joins in four steps (docs/cluster.md, "Join and leave"): its operator creates a
data directory (`xinlian init ... --listen host:port`) and its vote key (`validator keys`);
admins of more than 2/3 of the organisations propose (`validator add`) and approve
(`validator approve`); then `xinlian node start` catches up from a state snapshot of its
peers. `validator remove` is proposed and approved the same way.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from xinlian.api.format import bytes_of, to_json
from xinlian.cli.cluster import new_consensus_key
from xinlian.cli.node_cmd import CONSENSUS_KEY_FILE, GENESIS_FILE, node_config
from xinlian.crypto.keys import PublicKey
from xinlian.execution.payloads import AddValidator, Approve, Propose, RemoveValidator, SystemOp
from xinlian.ledger.genesis import Validator, load_genesis
from xinlian.node.errors import NodeConfigError
from xinlian.node.keyfile import read_key, write_consensus_key
from xinlian.sdk.client import Client

DEFAULT_RPC = "http://127.0.0.1:8545"


def keys(args: argparse.Namespace) -> int:
    """Create the vote key of a data directory (once) and print the proposal's fields."""
    data = Path(args.data)
    suite = load_genesis(data / GENESIS_FILE).crypto_suite()
    config = node_config(data)
    path = data / CONSENSUS_KEY_FILE
    if not path.exists():
        write_consensus_key(path, suite, *new_consensus_key(suite))
    try:
        vote = json.loads(path.read_text(encoding="utf-8"))
        public, pop = vote["public_key"], vote["pop"]
    except (OSError, ValueError, KeyError) as exc:
        raise NodeConfigError(f"cannot read consensus key file {path}: {exc}") from exc
    _, node_key = read_key(data / str(config["key"]))
    print(json.dumps({"node_key": "0x" + node_key.public_key.data.hex(),
                      "consensus_key": "0x" + public, "pop": "0x" + pop,
                      "endpoint": config.get("listen")}))
    return 0


def submit_op(args: argparse.Namespace, op: SystemOp, account: bytes | None = None) -> int:
    """Sign `op` with the key file `args.key` (for `account`, if a migration bound the key
    to one), submit it to `args.rpc` and print its receipt; 0 if it succeeded."""
    _, key = read_key(Path(args.key))
    with Client(args.rpc) as client:
        tx = client.wallet(key, account).system(op)
        receipt = client.send(tx, timeout=args.timeout)
    print(json.dumps({"transaction": "0x" + tx.hash.hex(), "receipt": to_json(receipt)}))
    return 0 if receipt.status == 0 else 1


def _node_key(args: argparse.Namespace) -> PublicKey:
    suite, _ = read_key(Path(args.key))
    return PublicKey(suite.signature, bytes_of(args.node_key, "--node-key", max_size=4096))


def add(args: argparse.Namespace) -> int:
    validator = Validator(args.organisation, _node_key(args),
                          bytes_of(args.consensus_key, "--consensus-key", max_size=4096),
                          bytes_of(args.pop, "--pop", max_size=96), args.power, args.endpoint)
    return submit_op(args, Propose(AddValidator(validator)))


def remove(args: argparse.Namespace) -> int:
    return submit_op(args, Propose(RemoveValidator(_node_key(args))))


def approve(args: argparse.Namespace) -> int:
    return submit_op(args, Approve(bytes_of(args.proposal, "--proposal", size=32)))


def submitting_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str,
                      help_: str, key_help: str) -> argparse.ArgumentParser:
    """A subcommand that signs with `--key` and submits to `--rpc` (see `submit_op`)."""
    p = sub.add_parser(name, help=help_)
    p.add_argument("--key", required=True, help=key_help)
    p.add_argument("--rpc", default=DEFAULT_RPC)
    p.add_argument("--timeout", type=float, default=30.0)
    return p


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("validator", help="a validator's keys; add or remove validators")
    cmds = group.add_subparsers(dest="validator_cmd", required=True)
    k = cmds.add_parser("keys", help="create the vote key of a data directory (once) and "
                                     "print what `validator add` needs")
    k.add_argument("--data", required=True)
    k.set_defaults(func=keys)

    def governance(name: str, help_: str) -> argparse.ArgumentParser:
        return submitting_parser(cmds, name, help_, "an organisation admin's key file")

    a = governance("add", "propose a new validator (its organisation's vote counts)")
    a.add_argument("--organisation", required=True, help="the organisation that runs it")
    a.add_argument("--node-key", required=True, help="0x hex, from `validator keys`")
    a.add_argument("--consensus-key", required=True, help="0x hex, from `validator keys`")
    a.add_argument("--pop", default="0x", help="0x hex BLS proof of possession (intl)")
    a.add_argument("--endpoint", required=True, help="host:port where peers reach it")
    a.add_argument("--power", type=int, default=1)
    a.set_defaults(func=add)
    r = governance("remove", "propose removing a validator")
    r.add_argument("--node-key", required=True, help="0x hex node key of the validator")
    r.set_defaults(func=remove)
    p = governance("approve", "approve an open proposal for your organisation")
    p.add_argument("--proposal", required=True, help="0x hash of the proposing transaction")
    p.set_defaults(func=approve)
