"""`xinlian private keygen|register|deposit|transfer|balance|withdraw|request|share|open` and
`xinlian private regulator keygen|propose`: confidential accounts with regulator tracing on
a running node, through the SDK (docs/privacy.md, "Confidential transfers").

`--key` is the account's signing key file (`xinlian keygen`); `--conf-key` its
confidential key file (`xinlian private keygen`, mode 0600: it decrypts the balance and
proves transfers); `--share` a regulator member's key-share file (`private regulator
keygen`, which runs the DKG keygen with every member's party in this process:
crypto/privacy/homomorphic/ceremony.py, `local_keygen`; whoever runs it sees every share);
`--blinding` the file `private request` writes (mode 0600): the requester's rho, without
which the opening recorded on chain does not give the amount.
Output is short text, or one JSON object with `--json`. Exit statuses as
`xinlian contract`: 0 done; 1 the transaction was committed and failed (its typed error is
printed, nothing of it applied, its fee paid); 2 the command or a file is wrong; 3 the node
refused the request, could not be reached, or answered with a proof that does not verify.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from xinlian.api.format import bytes_of
from xinlian.cli.client_cmd import DEFAULT_RPC
from xinlian.cli.contract_cmd import EXIT_FAILED, EXIT_OK
from xinlian.cli.contract_cmd import _print_json as print_json
from xinlian.cli.private_files import Doc, Reader, runner, write
from xinlian.codec import CodecError
from xinlian.crypto.primitives.groups import Group, GroupError, Scalar
from xinlian.crypto.privacy.confidential import GROUPS, elgamal, get_group
from xinlian.crypto.privacy.confidential.errors import MalformedProofError
from xinlian.crypto.privacy.homomorphic.ceremony import local_keygen
from xinlian.crypto.threshold.dkg import DkgError, KeyShare, PublicKeyPackage
from xinlian.execution.confidential_payloads import RegulatorMember, SetRegulator
from xinlian.execution.payloads import Propose
from xinlian.ledger.block import Receipt
from xinlian.node.keyfile import read_key
from xinlian.sdk.client import Client
from xinlian.sdk.confidential import ConfidentialAccounts, load_secret, new_secret
from xinlian.sdk.errors import ConfidentialFailed

_files = Reader(MalformedProofError)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    def node(p: argparse.ArgumentParser, conf: bool = True) -> argparse.ArgumentParser:
        p.add_argument("--key", required=True, help="the account's signing key file")
        if conf:
            p.add_argument("--conf-key", required=True, help="its confidential key file")
        p.add_argument("--rpc", default=DEFAULT_RPC)
        p.add_argument("--timeout", type=float, default=30.0)
        p.add_argument("--json", action="store_true")
        return p

    k = sub.add_parser("keygen", help="make a confidential-account key (OS CSPRNG)")
    k.add_argument("--group", choices=sorted(GROUPS), default="ristretto255")
    k.add_argument("--out", required=True, help="key file to write (mode 0600)")
    k.set_defaults(func=keygen, json=False)

    node(sub.add_parser("register", help="register the confidential key on chain")
         ).set_defaults(func=_run(cmd_register))
    d = node(sub.add_parser("deposit", help="move a public amount into the confidential "
                                            "balance"), conf=False)
    d.add_argument("amount", type=int)
    d.set_defaults(func=_run(cmd_deposit))
    t = node(sub.add_parser("transfer", help="send an encrypted amount to a registered "
                                             "account (traceable by the regulator)"))
    t.add_argument("to", help="the receiver's address (0x...)")
    t.add_argument("amount", type=int)
    t.set_defaults(func=_run(cmd_transfer))
    b = node(sub.add_parser("balance", help="decrypt the account's confidential balance"))
    b.set_defaults(func=_run(cmd_balance))
    w = node(sub.add_parser("withdraw", help="move an amount back to the public balance"))
    w.add_argument("amount", type=int)
    w.set_defaults(func=_run(cmd_withdraw))
    q = node(sub.add_parser("request", help="as a regulator member: ask to open a transfer "
                                            "(blinded: only you read the amount)"), conf=False)
    q.add_argument("tx", help="the transfer's id: its transaction hash, or conf_pay's (0x...)")
    q.add_argument("--share", required=True, help="the member's key-share file")
    q.add_argument("--blinding-out", required=True,
                   help="file to write the blinding to (mode 0600): `open` needs it")
    q.set_defaults(func=_run(cmd_request))
    s = node(sub.add_parser("share", help="as a regulator member: publish a decryption "
                                          "share on a transfer's open request"), conf=False)
    s.add_argument("tx", help="the transfer's transaction hash (0x...)")
    s.add_argument("--share", required=True, help="the member's key-share file")
    s.set_defaults(func=_run(cmd_share))
    o = sub.add_parser("open", help="read an opened transfer: sender, receiver, amount (the "
                                    "amount with the requester's --blinding)")
    o.add_argument("tx", help="the transfer's id (0x...)")
    o.add_argument("--blinding", default=None,
                   help="the blinding file `private request` wrote (the requester's)")
    o.add_argument("--flag-above", type=int, default=None, metavar="AMOUNT",
                   help="the abnormal-transaction rule: flag amounts above AMOUNT")
    o.add_argument("--rpc", default=DEFAULT_RPC)
    o.add_argument("--json", action="store_true")
    o.set_defaults(func=_run(cmd_open))

    r = sub.add_parser("regulator", help="the regulator's threshold key (DKG) and its "
                                         "governance proposal")
    rsub = r.add_subparsers(dest="regulator_command", required=True)
    rk = rsub.add_parser("keygen", help="run the DKG among the members (all parties in this "
                                        "process) and write their share files")
    rk.add_argument("--members", type=int, required=True, help="n")
    rk.add_argument("--threshold", type=int, required=True, help="t: shares that open")
    rk.add_argument("--group", choices=sorted(GROUPS), default="ristretto255")
    rk.add_argument("--out-dir", required=True)
    rk.set_defaults(func=_run(regulator_keygen), json=False)
    rp = node(rsub.add_parser("propose", help="propose the regulator key (SetRegulator)"),
              conf=False)
    rp.add_argument("regulator", help="regulator.json from `regulator keygen`")
    rp.add_argument("--accounts", required=True,
                    help="the members' accounts, comma-separated, in member order")
    rp.set_defaults(func=_run(regulator_propose))


_run = runner(ConfidentialFailed)


# --- files ----------------------------------------------------------------------------------

def keygen(args: argparse.Namespace) -> int:
    sk = new_secret(args.group)
    write(args.out, {"kind": "confidential-key", "group": args.group,
                     "secret": sk.encode().hex(),
                     "public_key": elgamal.public_key(sk).encode().hex()}, secret=True)
    print(f"confidential key ({args.group}) written to {args.out}")
    return EXIT_OK


def _scalar(group: Group, doc: Doc, name: str) -> Scalar:
    try:
        return group.decode_scalar(_files.hex(doc, name))
    except GroupError as exc:
        raise MalformedProofError(f"field {name!r}: {exc}") from exc


def read_share(path: str) -> tuple[int, Scalar]:
    """(member index, secret share) of a `regulator keygen` member file, or of a member
    file of the DKG ceremony (`xinlian private agg dkg-step`, each member its own party)."""
    doc = _files.read(path)
    if "key_share" in doc:
        try:
            share = KeyShare.decode(_files.hex(doc, "key_share"))
        except (CodecError, GroupError, DkgError) as exc:
            raise MalformedProofError(f"{path}: key_share: {exc}") from None
        return share.identifier, share.secret
    group = get_group(_files.text(doc, "group"))
    index = _files.get(doc, "index")
    if not isinstance(index, int) or index <= 0:
        raise MalformedProofError(f"{path}: field 'index' must be a positive integer")
    sk = _scalar(group, doc, "secret")
    if group.base_mul(sk).encode() != _files.hex(doc, "verifying_share"):
        raise MalformedProofError(f"{path}: the secret does not match its verifying share")
    return index, sk


def regulator_keygen(args: argparse.Namespace) -> int:
    group = get_group(args.group)
    if not 1 <= args.threshold <= args.members:
        raise MalformedProofError("need 1 <= --threshold <= --members")
    shares = local_keygen(group, args.members, args.threshold,
                          b"xinlian-regulator-key/" + os.urandom(16))
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    public = shares[0].public
    for s in shares:
        write(str(out / f"member-{s.identifier}.json"), {
            "kind": "regulator-share", "group": group.name, "index": s.identifier,
            "secret": s.secret.encode().hex(),
            "verifying_share": group.base_mul(s.secret).encode().hex()}, secret=True)
    members = [{"index": i, "verifying_share": _verifying(public, i).hex()}
               for i in public.members]
    write(str(out / "regulator.json"), {
        "kind": "regulator", "group": group.name, "threshold": public.threshold,
        "public_key": public.group_public_key.encode().hex(), "members": members})
    print(f"regulator key ({group.name}, {public.threshold} of {len(members)}) by DKG: "
          f"{out}/regulator.json and member-1..{len(members)}.json")
    return EXIT_OK


def regulator_change(doc: Doc, accounts: list[bytes]) -> SetRegulator:
    """The SetRegulator of a `regulator keygen` regulator.json, or of the DKG ceremony's
    key.json (`xinlian private agg dkg-step`; its key package), with the members' accounts
    in member order."""
    if "key_package" in doc:
        try:
            public = PublicKeyPackage.decode(_files.hex(doc, "key_package"))
        except (CodecError, GroupError, DkgError) as exc:
            raise MalformedProofError(f"key_package: {exc}") from None
        shares: list[tuple[Any, bytes]] = [(i, _verifying(public, i)) for i in public.members]
        group, threshold = public.group.name, public.threshold
        key = public.group_public_key.encode()
    else:
        members = _files.get(doc, "members")
        if not isinstance(members, list) or not all(isinstance(m, dict) for m in members):
            raise MalformedProofError("field 'members': expected a list of objects")
        shares = [(_files.get(m, "index"), _files.hex(m, "verifying_share")) for m in members]
        threshold = _files.get(doc, "threshold")
        group, key = _files.text(doc, "group"), _files.hex(doc, "public_key")
    if len(shares) != len(accounts):
        raise MalformedProofError("--accounts needs one account per member of the file")
    if not isinstance(threshold, int) or not all(isinstance(i, int) for i, _ in shares):
        raise MalformedProofError("the threshold and member indices must be integers")
    return SetRegulator(group, threshold, key, [
        RegulatorMember(i, a, y) for (i, y), a in zip(shares, accounts, strict=True)])


def _verifying(public: PublicKeyPackage, i: int) -> bytes:
    share = public.verifying_share(i)
    assert share is not None  # i is one of its members
    return share.encode()


def regulator_propose(args: argparse.Namespace) -> int:
    accounts = [bytes_of(a.strip(), "--accounts", size=20) for a in args.accounts.split(",")]
    change = regulator_change(_files.read(args.regulator), accounts)
    _, key = read_key(Path(args.key))
    with Client(args.rpc) as client:
        tx = client.wallet(key).system(Propose(change))
        receipt = client.send(tx, timeout=args.timeout)
    if receipt.status != 0:
        raise ConfidentialFailed(receipt)
    return _done(args, receipt, "regulator key proposed" + (
        ", in force" if any(e.name == "RegulatorSet" for e in receipt.events)
        else f"; approve with: xinlian validator approve --proposal 0x{tx.hash.hex()}"))


# --- on chain ---------------------------------------------------------------------------------

def _accounts(args: argparse.Namespace, client: Client, conf: bool = True
              ) -> ConfidentialAccounts:
    _, key = read_key(Path(args.key))
    secret = load_secret(args.conf_key) if conf else None
    return client.confidential(client.wallet(key), secret, timeout=args.timeout)


def _done(args: argparse.Namespace, receipt: Receipt, text: str, **extra: Any) -> int:
    if args.json:
        print_json({"ok": True, "tx_hash": "0x" + receipt.tx_hash.hex(),
                    "fee_paid": receipt.fee_paid, **extra})
    else:
        print(f"{text} (tx 0x{receipt.tx_hash.hex()}, fee {receipt.fee_paid})")
    return EXIT_OK


def cmd_register(args: argparse.Namespace) -> int:
    with Client(args.rpc) as client:
        return _done(args, _accounts(args, client).register(), "confidential key registered")


def cmd_deposit(args: argparse.Namespace) -> int:
    with Client(args.rpc) as client:
        receipt = _accounts(args, client, conf=False).deposit(args.amount)
    return _done(args, receipt, f"deposited {args.amount}")


def cmd_transfer(args: argparse.Namespace) -> int:
    to = bytes_of(args.to, "receiver", size=20)
    with Client(args.rpc) as client:
        receipt = _accounts(args, client).transfer(to, args.amount)
    return _done(args, receipt, f"sent {args.amount} confidentially to {args.to}")


def cmd_withdraw(args: argparse.Namespace) -> int:
    with Client(args.rpc) as client:
        receipt = _accounts(args, client).withdraw(args.amount)
    return _done(args, receipt, f"withdrew {args.amount}")


def cmd_balance(args: argparse.Namespace) -> int:
    with Client(args.rpc) as client:
        balance = _accounts(args, client).balance()
    if args.json:
        print_json({"balance": balance})
    else:
        print(f"confidential balance {balance}")
    return EXIT_OK


def cmd_request(args: argparse.Namespace) -> int:
    index, secret = read_share(args.share)
    tx_hash = bytes_of(args.tx, "transfer id", size=32)
    with Client(args.rpc) as client:
        receipt, rho = _accounts(args, client, conf=False).request_open(tx_hash, index)
    write_blinding(args.blinding_out, secret.group, tx_hash, index, [rho])
    return _done(args, receipt, f"open request of member {index} published; blinding "
                 f"written to {args.blinding_out}", blinding=args.blinding_out)


def is_blinding(doc: Doc) -> bool:
    return doc.get("kind") == "open-blinding"


def write_blinding(path: str, group: Group, tx_hash: bytes, index: int,
                   rhos: list[Scalar]) -> None:
    """A requester's blinding file (mode 0600): a confidential transfer's one rho, or an
    anonymous transfer's rhos, one per ciphertext."""
    doc: Doc = {"kind": "open-blinding", "group": group.name, "transfer": tx_hash.hex(),
                "requester": index}
    if len(rhos) == 1:
        doc["rho"] = rhos[0].encode().hex()
    else:
        doc["rhos"] = [rho.encode().hex() for rho in rhos]
    write(path, doc, secret=True)


def blinding_of(path: str, doc: Doc) -> tuple[bytes, list[Scalar]]:
    """The transfer id and rhos of a blinding file (`private request`, `anon request`)."""
    if not is_blinding(doc):
        raise MalformedProofError(f"{path}: not a blinding file (xinlian private request)")
    group = get_group(_files.text(doc, "group"))
    if "rhos" not in doc:
        return _files.hex(doc, "transfer"), [_scalar(group, doc, "rho")]
    try:
        rhos = [group.decode_scalar(raw) for raw in _files.hexes(doc, "rhos")]
    except GroupError as exc:
        raise MalformedProofError(f"field 'rhos': {exc}") from exc
    return _files.hex(doc, "transfer"), rhos


def read_blinding(path: str, tx_hash: bytes) -> list[Scalar]:
    """The rhos of a blinding file for transfer `tx_hash`."""
    transfer_id, rhos = blinding_of(path, _files.read(path))
    if transfer_id != tx_hash:
        raise MalformedProofError(f"{path}: the blinding of another transfer")
    return rhos


def cmd_share(args: argparse.Namespace) -> int:
    index, secret = read_share(args.share)
    tx_hash = bytes_of(args.tx, "transfer id", size=32)
    with Client(args.rpc) as client:
        accounts = _accounts(args, client, conf=False)
        receipt = accounts.share(tx_hash, secret, index)
    opened = any(e.name == "Opened" for e in receipt.events)
    return _done(args, receipt, f"share of member {index} published"
                 + ("; the opening is recorded (the requester reads it with its blinding)"
                    if opened else ""), opened=opened)


def cmd_open(args: argparse.Namespace) -> int:
    tx_hash = bytes_of(args.tx, "transfer id", size=32)
    rho = None if args.blinding is None else read_blinding(args.blinding, tx_hash)[0]
    with Client(args.rpc) as client:
        reads = ConfidentialAccounts(client)
        blinded = reads.blind_opening(tx_hash)
        found = None if blinded is not None and rho is None else reads.opened(tx_hash, rho)
        if found is None and blinded is None:
            traced = reads.trace(tx_hash) is not None
            regulator = reads.regulator()
            request = reads.request(tx_hash)
            shares = reads.shares(tx_hash)
    if blinded is not None and found is None:
        if args.json:
            print_json({"opened": True, "sender": "0x" + blinded.sender.hex(),
                        "receiver": "0x" + blinded.receiver.hex(), "amount": None,
                        "requester": blinded.requester,
                        "members": [s.index for s in blinded.shares],
                        "height": blinded.height})
        else:
            print(f"0x{blinded.sender.hex()} -> 0x{blinded.receiver.hex()}: opened at block "
                  f"{blinded.height} for member {blinded.requester}; the amount reads only "
                  "with its blinding (--blinding)")
        return EXIT_OK
    if found is None:
        pending = None if request is None else request.requester
        if args.json:
            print_json({"opened": False, "transfer": traced, "requested_by": pending,
                        "shares": shares})
        if not traced or regulator is None:
            status = "no confidential transfer"
        elif pending is None:
            status = "no open request (a member asks with `xinlian private request`)"
        else:
            status = (f"member {pending} requested it; {len(shares)} of "
                      f"{regulator.threshold} shares in (members answer with "
                      "`xinlian private share`)")
        print(f"0x{tx_hash.hex()}: not opened: {status}", file=sys.stderr)
        return EXIT_FAILED
    flagged = args.flag_above is not None and found.amount > args.flag_above
    if args.json:
        print_json({"opened": True, "sender": "0x" + found.sender.hex(),
                    "receiver": "0x" + found.receiver.hex(), "amount": found.amount,
                    "requester": found.requester, "members": found.members,
                    "height": found.height, "flagged": flagged})
    else:
        print(f"0x{found.sender.hex()} -> 0x{found.receiver.hex()}: {found.amount} "
              f"(opened at block {found.height} by members {found.members})"
              + (f"\nFLAGGED: amount above {args.flag_above}" if flagged else ""))
    return EXIT_OK
