"""`xinlian private anon keygen|register|shield|balance|transfer|relay|unshield|request|share|
open`:
anonymous notes on a running node, through the SDK (docs/privacy.md, "Anonymous
transfers").

`--key` is the account's signing key file (`xinlian keygen`); `--anon-key` its anonymous
key file (`anon keygen`, mode 0600: its view key finds the account's notes, its spend
key spends them); `--share` a regulator member's key-share file (`xinlian private
regulator keygen`); `--blinding` the file `anon request` writes (mode 0600): the
requester's blindings, without which the opening recorded on chain reads as nothing. A
transfer is signed by the account that submits it, which pays the
fee and is refunded from the notes: `transfer --relayer ADDRESS --out FILE` prepares it
for another account (the relayer), which submits it with `relay FILE`, so the sender's
own account signs nothing. Output is short text, or one JSON object with `--json`. Exit
statuses as `xinlian private transfer`: 0 done; 1 the transaction was committed and
failed (its typed error printed, nothing of it applied, its fee paid); 2 the command or
a file is wrong; 3 the node refused the request, could not be reached, or answered with
a proof that does not verify.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from xinlian import codec
from xinlian.api.format import bytes_of
from xinlian.cli.client_cmd import DEFAULT_RPC
from xinlian.cli.contract_cmd import EXIT_FAILED, EXIT_OK
from xinlian.cli.contract_cmd import _print_json as print_json
from xinlian.cli.private_conf_cmd import _done, read_blinding, read_share, write_blinding
from xinlian.cli.private_files import Reader, runner, write
from xinlian.crypto.privacy.anonymous import MalformedTransferError
from xinlian.crypto.privacy.confidential import GROUPS
from xinlian.execution.anonymous_payloads import AnonTransfer
from xinlian.node.keyfile import read_key
from xinlian.sdk.anonymous import AnonymousNotes, keys_doc, load_keys, new_keys
from xinlian.sdk.client import Client
from xinlian.sdk.errors import AnonymousFailed

_files = Reader(MalformedTransferError)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    a = sub.add_parser("anon", help="anonymous notes: senders hidden in rings, receivers "
                                    "behind one-time keys, amounts hidden, regulator opening")
    asub = a.add_subparsers(dest="anon_command", required=True)

    def node(p: argparse.ArgumentParser, keys: bool = True) -> argparse.ArgumentParser:
        p.add_argument("--key", required=True, help="the account's signing key file")
        if keys:
            p.add_argument("--anon-key", required=True, help="its anonymous key file")
        p.add_argument("--rpc", default=DEFAULT_RPC)
        p.add_argument("--timeout", type=float, default=30.0)
        p.add_argument("--json", action="store_true")
        return p

    def spending(p: argparse.ArgumentParser) -> None:
        p.add_argument("--ring", type=int, default=4,
                       help="notes in each spent note's ring (the spent one among decoys)")
        p.add_argument("--relayer", default=None, metavar="ADDRESS",
                       help="prepare for this account to submit (with --out) instead of "
                            "submitting from --key's account, which would name the sender")
        p.add_argument("--out", default=None, help="the prepared transfer's file")

    k = asub.add_parser("keygen", help="make anonymous keys (view, spend; OS CSPRNG)")
    k.add_argument("--group", choices=sorted(GROUPS), default="ristretto255")
    k.add_argument("--out", required=True, help="key file to write (mode 0600)")
    k.set_defaults(func=keygen, json=False)

    node(asub.add_parser("register", help="register the anonymous address on chain")
         ).set_defaults(func=_run(cmd_register))
    s = node(asub.add_parser("shield", help="move a public amount into a new note"))
    s.add_argument("amount", type=int)
    s.add_argument("--among", default="", help="other registered accounts to hide the "
                                               "note's owner among, comma-separated")
    s.set_defaults(func=_run(cmd_shield))
    b = node(asub.add_parser("balance", help="scan the chain's notes for this account's"))
    b.set_defaults(func=_run(cmd_balance))
    t = node(asub.add_parser("transfer", help="pay a registered account from the notes"))
    t.add_argument("to", help="the receiver's account (0x...)")
    t.add_argument("amount", type=int)
    t.add_argument("--among", default="", help="other registered accounts to hide the "
                                               "receiver among, comma-separated")
    spending(t)
    t.set_defaults(func=_run(cmd_transfer))
    u = node(asub.add_parser("unshield", help="move an amount of the notes to a public "
                                              "balance"))
    u.add_argument("amount", type=int)
    u.add_argument("--to", default=None, help="the public account (default: --key's)")
    spending(u)
    u.set_defaults(func=_run(cmd_unshield))
    r = node(asub.add_parser("relay", help="submit a transfer prepared for this account"),
             keys=False)
    r.add_argument("prepared", help="the file of `transfer --relayer ... --out`")
    r.set_defaults(func=_run(cmd_relay))
    q = node(asub.add_parser("request", help="as a regulator member: ask to open an "
                                             "anonymous transfer (blinded: only you read "
                                             "it)"), keys=False)
    q.add_argument("tx", help="the transfer's transaction hash (0x...)")
    q.add_argument("--share", required=True, help="the member's key-share file")
    q.add_argument("--blinding-out", required=True,
                   help="file to write the blindings to (mode 0600): `open` needs it")
    q.set_defaults(func=_run(cmd_request))
    sh = node(asub.add_parser("share", help="as a regulator member: publish the decryption "
                                            "shares of an anonymous transfer on its open "
                                            "request"), keys=False)
    sh.add_argument("tx", help="the transfer's transaction hash (0x...)")
    sh.add_argument("--share", required=True, help="the member's key-share file")
    sh.set_defaults(func=_run(cmd_share))
    o = asub.add_parser("open", help="read an opened transfer: senders, receivers, amounts "
                                     "(with the requester's --blinding)")
    o.add_argument("tx", help="the transfer's transaction hash (0x...)")
    o.add_argument("--blinding", default=None,
                   help="the blinding file `anon request` wrote (the requester's)")
    o.add_argument("--rpc", default=DEFAULT_RPC)
    o.add_argument("--json", action="store_true")
    o.set_defaults(func=_run(cmd_open))


_run = runner(AnonymousFailed)


def keygen(args: argparse.Namespace) -> int:
    write(args.out, keys_doc(new_keys(args.group)), secret=True)
    print(f"anonymous keys ({args.group}) written to {args.out}")
    return EXIT_OK


def _notes(args: argparse.Namespace, client: Client, keys: bool = True) -> AnonymousNotes:
    _, key = read_key(Path(args.key))
    return client.anonymous(client.wallet(key), load_keys(args.anon_key) if keys else None,
                            timeout=args.timeout)


def _accounts(text: str) -> list[bytes]:
    return [bytes_of(a.strip(), "--among", size=20) for a in text.split(",") if a.strip()]


def cmd_register(args: argparse.Namespace) -> int:
    with Client(args.rpc) as client:
        return _done(args, _notes(args, client).register(), "anonymous address registered")


def cmd_shield(args: argparse.Namespace) -> int:
    with Client(args.rpc) as client:
        receipt = _notes(args, client).shield(args.amount, _accounts(args.among))
    return _done(args, receipt, f"shielded {args.amount}")


def cmd_balance(args: argparse.Namespace) -> int:
    with Client(args.rpc) as client:
        owned = _notes(args, client).scan()
    total = sum(n.amount for n in owned)
    if args.json:
        print_json({"balance": total, "notes": [{"index": n.index, "amount": n.amount}
                                                for n in owned]})
    else:
        print(f"anonymous balance {total} in {len(owned)} notes")
    return EXIT_OK


def _spend(args: argparse.Namespace, notes: AnonymousNotes, op: AnonTransfer,
           text: str) -> int:
    """Submit `op`, or with --relayer write it for the relayer."""
    if args.relayer is None:
        return _done(args, notes.relay(op), text)
    wallet = notes.wallet
    assert wallet is not None
    write(args.out, {"kind": "anonymous-transfer", "chain_id": wallet.chain_id,
                     "submitter": args.relayer, "payload": codec.encode(op).hex()})
    if args.json:
        print_json({"ok": True, "prepared": args.out, "fee": op.transfer.fee})
    else:
        print(f"{text}: prepared for {args.relayer} in {args.out} (fee {op.transfer.fee} "
              "from the notes)")
    return EXIT_OK


def _relayer(args: argparse.Namespace) -> bytes | None:
    if args.relayer is not None and args.out is None:
        raise MalformedTransferError("--relayer needs --out: the file the relayer submits")
    return None if args.relayer is None else bytes_of(args.relayer, "--relayer", size=20)


def cmd_transfer(args: argparse.Namespace) -> int:
    to = bytes_of(args.to, "receiver", size=20)
    relayer = _relayer(args)
    with Client(args.rpc) as client:
        notes = _notes(args, client)
        op = notes.prepare_transfer(to, args.amount, among=_accounts(args.among),
                                    submitter=relayer, ring=args.ring)
        return _spend(args, notes, op, f"sent {args.amount} anonymously to {args.to}")


def cmd_unshield(args: argparse.Namespace) -> int:
    relayer = _relayer(args)
    with Client(args.rpc) as client:
        notes = _notes(args, client)
        wallet = notes.wallet
        assert wallet is not None
        to = wallet.address if args.to is None else bytes_of(args.to, "--to", size=20)
        op = notes.prepare_transfer(None, 0, public_out=args.amount, public_to=to,
                                    submitter=relayer, ring=args.ring)
        return _spend(args, notes, op, f"unshielded {args.amount} to 0x{to.hex()}")


def cmd_relay(args: argparse.Namespace) -> int:
    doc = _files.read(args.prepared)
    try:
        op = codec.decode(_files.hex(doc, "payload"), AnonTransfer)
    except codec.CodecError as exc:
        raise MalformedTransferError(f"{args.prepared}: payload: {exc.message}") from None
    submitter = bytes_of(_files.text(doc, "submitter"), "submitter", size=20)
    with Client(args.rpc) as client:
        notes = _notes(args, client, keys=False)
        wallet = notes.wallet
        assert wallet is not None
        if submitter != wallet.address:
            raise MalformedTransferError(f"{args.prepared} was prepared for 0x"
                                         f"{submitter.hex()}, not this account")
        receipt = notes.relay(op)
    return _done(args, receipt, f"relayed (fee {op.transfer.fee} refunded from the notes)")


def cmd_request(args: argparse.Namespace) -> int:
    index, secret = read_share(args.share)
    tx_hash = bytes_of(args.tx, "transaction hash", size=32)
    with Client(args.rpc) as client:
        receipt, rhos = _notes(args, client, keys=False).request_open(tx_hash, index)
    write_blinding(args.blinding_out, secret.group, tx_hash, index, rhos)
    return _done(args, receipt, f"open request of member {index} published; blindings "
                 f"written to {args.blinding_out}", blinding=args.blinding_out)


def cmd_share(args: argparse.Namespace) -> int:
    index, secret = read_share(args.share)
    tx_hash = bytes_of(args.tx, "transaction hash", size=32)
    with Client(args.rpc) as client:
        receipt = _notes(args, client, keys=False).share(tx_hash, secret, index)
    opened = any(e.name == "Opened" for e in receipt.events)
    return _done(args, receipt, f"shares of member {index} published"
                 + ("; the opening is recorded (the requester reads it with its blindings)"
                    if opened else ""), opened=opened)


def cmd_open(args: argparse.Namespace) -> int:
    tx_hash = bytes_of(args.tx, "transaction hash", size=32)
    rhos = None if args.blinding is None else read_blinding(args.blinding, tx_hash)
    with Client(args.rpc) as client:
        reads = AnonymousNotes(client)
        blinded = reads.blind_opening(tx_hash)
        found = None if blinded is not None and rhos is None else reads.opened(tx_hash, rhos)
        if found is None and blinded is None:
            traced = reads.trace(tx_hash) is not None
            threshold = reads.regulator().threshold
            request = reads.request(tx_hash)
            shares = reads.shares(tx_hash)
    if blinded is not None and found is None:
        if args.json:
            print_json({"opened": True, "senders": None, "outputs": None,
                        "requester": blinded.requester,
                        "members": [s.index for s in blinded.shares],
                        "height": blinded.height})
        else:
            print(f"0x{tx_hash.hex()}: opened at block {blinded.height} for member "
                  f"{blinded.requester}; it reads only with its blindings (--blinding)")
        return EXIT_OK
    if found is None:
        pending = None if request is None else request.requester
        if args.json:
            print_json({"opened": False, "transfer": traced, "requested_by": pending,
                        "shares": shares})
        if not traced:
            status = "no anonymous transfer"
        elif pending is None:
            status = ("no open request (a member asks with `xinlian private anon "
                      "request`)")
        else:
            status = (f"member {pending} requested it; {len(shares)} of {threshold} "
                      "members' shares in (members answer with `xinlian private anon "
                      "share`)")
        print(f"0x{tx_hash.hex()}: not opened: {status}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print_json({"opened": True, "senders": ["0x" + s.hex() for s in found.senders],
                    "outputs": [{"receiver": "0x" + r.hex(), "amount": v}
                                for r, v in zip(found.receivers, found.amounts, strict=True)],
                    "requester": found.requester, "members": found.members,
                    "height": found.height})
    else:
        senders = ", ".join("0x" + s.hex() for s in found.senders)
        outputs = ", ".join(f"0x{r.hex()}: {v}"
                            for r, v in zip(found.receivers, found.amounts, strict=True))
        print(f"from {senders} to {outputs} (opened at block {found.height} by members "
              f"{found.members})")
    return EXIT_OK
