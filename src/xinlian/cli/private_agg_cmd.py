"""`xinlian private agg keygen|contribute|sum|share|open`: encrypted sums and counts on the
SM2 curve as JSON files (docs/privacy.md#encrypted-aggregates).

- keygen runs the DKG keygen among the members in this process (crypto/privacy/homomorphic/
  ceremony.py: for one operator or a trial) and writes the public key file and one key-share
  file per member (mode 0600); dkg-join|dkg-roster|dkg-step (private_agg_dkg.py) run it
  with each member on its own, exchanging message files.
- contribute encrypts a value (a count's 0/1, or a sum's value of 8, 16 or 32 bits) under
  the aggregate key, with its proof bound to `--context` (name the poll and the member).
- sum verifies contributions in one batch and adds them: the aggregate file.
- share makes one member's proven decryption share of an aggregate.
- open checks the shares (members only, proofs) and prints the value from t of them.
- compare-* (private_agg_compare.py): whether the value is at least T, proven to everyone,
  the value known to one prover only.

Every file is validated when read: bad input exits with status 2 and a typed error (895x).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from xinlian.cli.private_files import Doc, Reader, write
from xinlian.codec import CodecError
from xinlian.crypto.primitives.groups import SM2, Element, GroupError
from xinlian.crypto.privacy.homomorphic import contribution, elgamal, threshold
from xinlian.crypto.privacy.homomorphic.ceremony import local_keygen
from xinlian.crypto.privacy.homomorphic.elgamal import Ciphertext
from xinlian.crypto.privacy.homomorphic.errors import (
    AggregateStatementError,
    InvalidContributionError,
    MalformedAggregateInputError,
)
from xinlian.crypto.threshold.dkg import DkgError, KeyShare, PublicKeyPackage

files = Reader(MalformedAggregateInputError)
MAX_MEMBERS = 64  # a local keygen's members (the DKG costs O(n^2) multiplications a party)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    a = sub.add_parser("agg", help="encrypted sums and counts opened by t of n members")
    asub = a.add_subparsers(dest="agg_command", required=True)

    k = asub.add_parser("keygen", help="an aggregate key by the DKG among the members, here")
    k.add_argument("--members", type=int, required=True, help="n, the key's members 1..n")
    k.add_argument("--threshold", type=int, required=True, help="t, members needed to open")
    k.add_argument("--out-dir", required=True, help="folder for key.json and member-<i>.json")
    k.set_defaults(func=keygen)

    c = asub.add_parser("contribute", help="encrypt a value with its proof")
    c.add_argument("--key", required=True, help="the public key file (key.json)")
    c.add_argument("--value", type=int, required=True)
    c.add_argument("--bits", type=int, choices=contribution.BIT_SIZES, default=0,
                   help="0: a count (the value is 0 or 1); 8, 16, 32: a sum's value range")
    c.add_argument("--context", required=True,
                   help="what the contribution is for and who makes it, e.g. poll-7/bank-a")
    c.add_argument("--out", required=True, help="contribution file to write")
    c.set_defaults(func=contribute)

    s = asub.add_parser("sum", help="verify contributions (one batch) and add them")
    s.add_argument("--key", required=True, help="the public key file")
    s.add_argument("contributions", nargs="+", help="contribution files")
    s.add_argument("--out", required=True, help="aggregate file to write")
    s.set_defaults(func=add)

    h = asub.add_parser("share", help="a member's proven decryption share of an aggregate")
    h.add_argument("--key-share", required=True, help="the member's key-share file")
    h.add_argument("aggregate", help="aggregate file")
    h.add_argument("--out", required=True, help="share file to write")
    h.set_defaults(func=share)

    o = asub.add_parser("open", help="check the shares and print the aggregate's value")
    o.add_argument("--key", required=True, help="the public key file")
    o.add_argument("aggregate", help="aggregate file")
    o.add_argument("shares", nargs="+", help="share files (at least t)")
    o.set_defaults(func=open_aggregate)

    from xinlian.cli import private_agg_compare, private_agg_dkg  # they build on this module

    private_agg_dkg.register(asub)
    private_agg_compare.register(asub)


# --- reading the documents -------------------------------------------------------------------

def public_key(path: str) -> PublicKeyPackage:
    doc = files.read(path)
    try:
        public = PublicKeyPackage.decode(files.hex(doc, "key_package"))
    except (CodecError, GroupError, DkgError) as exc:
        raise MalformedAggregateInputError(f"{path}: key_package: {exc}") from None
    if public.group is not SM2:
        raise AggregateStatementError(f"{path}: aggregates are on sm2, not {public.group.name}")
    return public


def int_field(doc: Doc, name: str) -> int:
    value = files.get(doc, name)
    if type(value) is not int:
        raise MalformedAggregateInputError(f"field {name!r}: expected an integer")
    return value


def aggregate_of(path: str) -> tuple[Doc, Ciphertext]:
    doc = files.read(path)
    return doc, elgamal.decode(SM2, files.hex(doc, "aggregate"))


# --- the commands ----------------------------------------------------------------------------

def keygen(args: argparse.Namespace) -> int:
    if not 1 <= args.threshold <= args.members <= MAX_MEMBERS:
        raise AggregateStatementError(
            f"need 1 <= threshold <= members <= {MAX_MEMBERS}, got t={args.threshold}, "
            f"n={args.members}")
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    session = b"xinlian-aggregate-key/" + out.resolve().as_posix().encode()
    shares = local_keygen(SM2, args.members, args.threshold, session)
    key = write_keys(out, shares)
    print(json.dumps({"group": SM2.name, "threshold": args.threshold,
                      "members": len(shares), "aggregate_key": key}))
    return 0


def write_keys(out: Path, shares: list[KeyShare]) -> str:
    """key.json (public) and member-<i>.json (mode 0600) for each share; the key's hex."""
    public = shares[0].public
    key = public.group_public_key.encode().hex()
    write(str(out / "key.json"), {"group": SM2.name, "threshold": public.threshold,
                                  "members": list(public.members), "aggregate_key": key,
                                  "key_package": public.encode().hex()})
    for s in shares:
        write(str(out / f"member-{s.identifier}.json"),
              {"member": s.identifier, "key_share": s.encode().hex()}, secret=True)
    return key


def contribute(args: argparse.Namespace) -> int:
    key = public_key(args.key).group_public_key
    c = contribution.contribute(key, args.value, args.bits, args.context.encode())
    data = c.encode()
    write(args.out, {"group": SM2.name, "bits": args.bits, "context": args.context,
                     "contribution": data.hex()})
    print(json.dumps({"bits": args.bits, "contribution_bytes": len(data)}))
    return 0


def add(args: argparse.Namespace) -> int:
    key = public_key(args.key).group_public_key
    items = []
    for path in args.contributions:
        doc = files.read(path)
        c = contribution.decode(SM2, files.hex(doc, "contribution"))
        if int_field(doc, "bits") != c.bits:
            raise MalformedAggregateInputError(f"{path}: bits do not match the contribution")
        items.append((c, files.text(doc, "context").encode()))
    contexts = [ctx for _, ctx in items]
    if len(set(contexts)) != len(contexts):
        raise InvalidContributionError("two contributions with one context: one member, "
                                       "one contribution")
    try:
        total, bound = contribution.aggregate(key, items)
    except InvalidContributionError:
        bad = [path for path, item in zip(args.contributions, items, strict=True)
               if not _verifies(key, item)]
        raise InvalidContributionError(f"refused, the proof does not verify: {bad}") from None
    write(args.out, {"group": SM2.name, "aggregate": total.encode().hex(), "bound": bound,
                     "contributions": len(items)})
    print(json.dumps({"contributions": len(items), "bound": bound}))
    return 0


def _verifies(key: Element, item: tuple[contribution.Contribution, bytes]) -> bool:
    try:
        contribution.verify(key, item[0], item[1])
    except InvalidContributionError:
        return False
    return True


def key_share_of(path: str) -> KeyShare:
    doc = files.read(path)
    try:
        return KeyShare.decode(files.hex(doc, "key_share"))
    except (CodecError, GroupError, DkgError) as exc:
        raise MalformedAggregateInputError(f"{path}: key_share: {exc}") from None


def share(args: argparse.Namespace) -> int:
    key_share = key_share_of(args.key_share)
    _, ct = aggregate_of(args.aggregate)
    made = threshold.make_share(key_share, ct)
    write(args.out, {"member": made.member, "share": made.encode().hex()})
    print(json.dumps({"member": made.member}))
    return 0


def open_aggregate(args: argparse.Namespace) -> int:
    public = public_key(args.key)
    doc, ct = aggregate_of(args.aggregate)
    bound = int_field(doc, "bound")
    shares = [threshold.decode_share(public, files.hex(files.read(p), "share"))
              for p in args.shares]
    value = threshold.decrypt(public, ct, shares, bound)
    print(json.dumps({"value": value, "contributions": int_field(doc, "contributions"),
                      "shares": len(shares), "threshold": public.threshold}))
    return 0
