"""`xinlian pq migrate|bind|status`: a live chain's move to a post-quantum or hybrid suite
(docs/pq.md, "Migration without a fork").

`migrate` proposes the schedule (an organisation admin; others approve with `validator
approve`), `bind` binds a key file of the target suite (`xinlian keygen --suite pq`) to an
account with a transaction signed by the account's key and the new key, `status` prints the
schedule, its phase and how many accounts have bound a key. `rotate` registers a
validator's vote and node keys of the target suite (generated on its machine into its data
directory), each signing the rotation message (execution/rotation.py); an admin of its
organisation proposes it, others approve with `validator approve`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from xinlian.api.format import bytes_of, to_json
from xinlian.cli.node_cmd import (
    GENESIS_FILE,
    ROTATED_NODE_FILE,
    ROTATED_VOTE_FILE,
    node_config,
)
from xinlian.cli.validator_cmd import DEFAULT_RPC, submit_op, submitting_parser
from xinlian.execution.migration import binding_message
from xinlian.execution.payloads import BindKey, Propose, RotateValidatorKeys, ScheduleMigration
from xinlian.execution.rotation import rotation_message
from xinlian.execution.system import validators
from xinlian.ledger.account import ADDRESS_SIZE, address_of
from xinlian.ledger.genesis import load_genesis
from xinlian.node.errors import NodeConfigError
from xinlian.node.keyfile import read_key
from xinlian.sdk.client import Client


def _account(args: argparse.Namespace) -> bytes | None:
    if args.account is None:
        return None
    return bytes_of(args.account, "--account", size=ADDRESS_SIZE)


def migrate(args: argparse.Namespace) -> int:
    return submit_op(args, Propose(ScheduleMigration(args.to, args.at, args.window)),
                     _account(args))


def bind(args: argparse.Namespace) -> int:
    """Bind the key of `--new-key` to the account of `--key`: the transaction is signed by
    the account's key, the proof by the new key."""
    suite, old = read_key(Path(args.key))
    _, new = read_key(Path(args.new_key))
    with Client(args.rpc) as client:
        chain_id = client.chain_info().genesis.chain_id
    account = address_of(old.public_key, suite.hash_bytes)
    proof = new.sign(binding_message(chain_id, account, new.public_key))
    print(json.dumps({"account": "0x" + account.hex()}))
    return submit_op(args, BindKey(new.public_key, proof))


def rotation_of(data: Path, client: Client) -> RotateValidatorKeys:
    """The rotation of the validator whose data directory is `data` to the keys of
    `rotated_vote_key.json` and `rotated_node_key.json` there, signed by both (its current
    record read from `client`, proven against a certified header)."""
    genesis = load_genesis(data / GENESIS_FILE)
    config = node_config(data)
    _, node = read_key(data / str(config["key"]))
    node_id = address_of(node.public_key, genesis.crypto_suite().hash_bytes)
    current = validators(lambda key: client.state_proof(key).value)
    old = next((v for v in current if v.node_key == node.public_key), None)
    if old is None:
        raise NodeConfigError(f"the node key of {data} is not a validator's")
    _, vote = read_key(data / str(config.get("rotated_vote_key", ROTATED_VOTE_FILE)))
    _, new_node = read_key(data / ROTATED_NODE_FILE)
    message = rotation_message(genesis.chain_id, node_id, old, vote.public_key,
                               new_node.public_key)
    return RotateValidatorKeys(node_id, vote.public_key, new_node.public_key,
                               vote.sign(message), new_node.sign(message))


def rotate(args: argparse.Namespace) -> int:
    with Client(args.rpc) as client:
        change = rotation_of(Path(args.data), client)
    print(json.dumps({"validator": "0x" + bytes(change.node).hex()}))
    return submit_op(args, Propose(change))


def status(args: argparse.Namespace) -> int:
    with Client(args.rpc) as client:
        print(json.dumps(to_json(client.pq_status())))
    return 0


def register(pq_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    def submitting(name: str, help_: str) -> argparse.ArgumentParser:
        return submitting_parser(pq_sub, name, help_, "the signing account's key file")

    m = submitting("migrate", "propose moving the chain to a suite at a height (an admin; "
                              "others approve with `validator approve`)")
    m.add_argument("--to", required=True, help="the target suite: pq, hybrid-sm, hybrid-intl")
    m.add_argument("--at", type=int, required=True, help="H: the first height of new keys")
    m.add_argument("--window", type=int, required=True,
                   help="W: blocks from H during which old and new keys both sign")
    m.add_argument("--account", help="0x address the key is bound to (after the switch)")
    m.set_defaults(func=migrate)
    b = submitting("bind", "bind a new key to the account of --key, signed by both keys")
    b.add_argument("--new-key", required=True, help="key file of the target suite")
    b.set_defaults(func=bind)
    r = submitting("rotate", "propose a validator's vote and node keys of the target suite "
                             "(an admin of its organisation)")
    r.add_argument("--data", required=True,
                   help="the validator's data directory, holding rotated_vote_key.json and "
                        "rotated_node_key.json (xinlian keygen --suite ...)")
    r.set_defaults(func=rotate)
    s = pq_sub.add_parser("status", help="the migration's schedule, phase and bound accounts")
    s.add_argument("--rpc", default=DEFAULT_RPC)
    s.set_defaults(func=status)
