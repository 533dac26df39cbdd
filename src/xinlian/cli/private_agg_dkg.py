"""`xinlian private agg dkg-join|dkg-roster|dkg-step`: the aggregate key by the DKG keygen
with each member running its own party and the members exchanging message files
(crypto/privacy/homomorphic/ceremony.py `member_step`).

1. Each member: `dkg-join --member I --secret me.json --public pub-I.json`. The secret file
   (mode 0600, never overwritten) holds its share-encryption secret and the seed of its
   party's randomness, both from the OS CSPRNG; the public file its encryption key.
2. Anyone: `dkg-roster --threshold T --session NAME pub-*.json --out roster.json`.
3. Each member, again and again: `dkg-step --roster roster.json --secret me.json --messages
   DIR --out-dir keys`. It posts the member's next message into DIR
   (`round-R-member-I.msg`), says whose messages of the round it waits for, and at the end
   writes keys/key.json and keys/member-I.json as `keygen` does. DIR is whatever the members
   share (the DKG needs every member to see the same messages: post them on the chain).
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path

from xinlian.cli.private_agg_cmd import files, int_field, write_keys
from xinlian.cli.private_files import Doc, write
from xinlian.codec import CodecError
from xinlian.crypto.primitives.groups import SM2, GroupError
from xinlian.crypto.privacy.homomorphic.ceremony import member_step, message_round
from xinlian.crypto.privacy.homomorphic.errors import (
    AggregateStatementError,
    MalformedAggregateInputError,
)
from xinlian.crypto.threshold.dkg import DkgConfig, DkgError

_MESSAGE = re.compile(r"round-(\d+)-member-(\d+)\.msg")


def register(asub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    j = asub.add_parser("dkg-join", help="a member's DKG secrets (OS CSPRNG) and public key")
    j.add_argument("--member", type=int, required=True, help="its id, 1..n")
    j.add_argument("--secret", required=True, help="secret file to write (mode 0600)")
    j.add_argument("--public", required=True, help="public file to write")
    j.set_defaults(func=join)

    r = asub.add_parser("dkg-roster", help="the members' public files into a roster")
    r.add_argument("--threshold", type=int, required=True)
    r.add_argument("--session", required=True, help="a name no other key ceremony uses")
    r.add_argument("publics", nargs="+", help="the members' public files")
    r.add_argument("--out", required=True, help="roster file to write")
    r.set_defaults(func=roster)

    s = asub.add_parser("dkg-step", help="a member's next DKG message, or its key share")
    s.add_argument("--roster", required=True, help="the roster file")
    s.add_argument("--secret", required=True, help="this member's secret file")
    s.add_argument("--messages", required=True, help="the folder of the members' messages")
    s.add_argument("--out-dir", required=True, help="where key.json and member-I.json go")
    s.set_defaults(func=step)


def join(args: argparse.Namespace) -> int:
    if not 1 <= args.member < 1 << 32:
        raise AggregateStatementError(f"a member id is 1..2^32-1, not {args.member}")
    if Path(args.secret).exists():
        raise AggregateStatementError(f"{args.secret} exists: a member's secrets are made once")
    secret = SM2.random_scalar()
    write(args.secret, {"member": args.member, "encryption_secret": secret.encode().hex(),
                        "seed": os.urandom(32).hex()}, secret=True)
    public = {"member": args.member, "encryption_key": SM2.base_mul(secret).encode().hex()}
    write(args.public, public)
    print(json.dumps(public))
    return 0


def roster(args: argparse.Namespace) -> int:
    keys: dict[str, str] = {}
    for path in args.publics:
        doc = files.read(path)
        member = int_field(doc, "member")
        keys[str(member)] = files.text(doc, "encryption_key")
    if len(keys) != len(args.publics):
        raise AggregateStatementError("two public files name one member")
    doc = {"group": SM2.name, "session": args.session, "threshold": args.threshold,
           "members": dict(sorted(keys.items(), key=lambda kv: int(kv[0])))}
    _config(doc)  # refuses a roster no run can have
    write(args.out, doc)
    print(json.dumps({"members": len(keys), "threshold": args.threshold}))
    return 0


def _config(doc: Doc) -> DkgConfig:
    members = files.get(doc, "members")
    if not isinstance(members, dict) or not all(
            isinstance(k, str) and k.isdigit() and isinstance(v, str)
            for k, v in members.items()):
        raise MalformedAggregateInputError("field 'members': expected {id: key hex}")
    try:
        keys = {int(i): SM2.decode_element(bytes.fromhex(k)) for i, k in members.items()}
        return DkgConfig.keygen(SM2, files.text(doc, "session").encode(), sorted(keys),
                                int_field(doc, "threshold"), keys)
    except (ValueError, GroupError) as exc:
        raise MalformedAggregateInputError(f"roster: {exc}") from None
    except DkgError as exc:
        raise AggregateStatementError(f"roster: {exc.message}") from None


def _messages(folder: Path, members: tuple[int, ...]) -> dict[tuple[int, int], bytes]:
    found: dict[tuple[int, int], bytes] = {}
    for path in sorted(folder.glob("round-*-member-*.msg")):
        match = _MESSAGE.fullmatch(path.name)
        if match is None:
            continue
        rnd, member = int(match[1]), int(match[2])
        data = path.read_bytes()
        try:
            if member not in members or message_round(data) != rnd:
                raise MalformedAggregateInputError(f"{path.name}: not a round-{rnd} message "
                                                   "of a member")
        except (DkgError, CodecError) as exc:
            raise MalformedAggregateInputError(f"{path.name}: {exc}") from None
        found[(rnd, member)] = data
    return found


def step(args: argparse.Namespace) -> int:
    config = _config(files.read(args.roster))
    secret = files.read(args.secret)
    me = int_field(secret, "member")
    if me not in config.receivers:
        raise AggregateStatementError(f"member {me} is not on the roster")
    try:
        encryption = SM2.decode_scalar(files.hex(secret, "encryption_secret"))
    except GroupError as exc:
        raise MalformedAggregateInputError(f"field 'encryption_secret': {exc}") from None
    if SM2.base_mul(encryption) != config.encryption_keys[me]:
        raise AggregateStatementError(f"the roster has another key for member {me}")
    folder = Path(args.messages)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        now = member_step(config, me, encryption, files.hex(secret, "seed"),
                          _messages(folder, config.receivers))
    except DkgError as exc:
        raise AggregateStatementError(f"the DKG: {exc.message}") from None
    for rnd, data in now.posted.items():
        path = folder / f"round-{rnd}-member-{me}.msg"
        if not path.exists():
            path.write_bytes(data)
    if now.share is None:
        print(json.dumps({"member": me, "round": now.round, "waiting": now.waiting}))
        return 0
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    key = write_keys(out, [now.share])
    print(json.dumps({"member": me, "done": True, "aggregate_key": key}))
    return 0
