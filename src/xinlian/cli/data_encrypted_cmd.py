"""`xinlian data aggregate-key|encrypted-sum`: encrypted attributes of collections
(docs/privacy.md#encrypted-aggregates, "On the chain").

- aggregate-key: the owner sets an encrypted attribute's key, from the key file of
  `xinlian private agg keygen` (the DKG group key), and the contributions' bits, once.
- A put gives an encrypted attribute an integer (`xinlian data put loans bank-a
  amount=35000`): the SDK encrypts it under the proven key with a proof bound to the
  record, the validators check the proof.
- encrypted-sum: reads the records of a range query with their proofs, checks every
  contribution's proof again and writes their homomorphic sum as an aggregate file, which
  members open with `xinlian private agg share|open`.

Exit statuses as `xinlian data`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from xinlian.cli.contract_cmd import EXIT_OK
from xinlian.cli.contract_cmd import _print_json as print_json
from xinlian.cli.data_cmd import _client, _collection, _done, _kinds, value_from_text
from xinlian.cli.private_agg_cmd import public_key
from xinlian.cli.private_files import write
from xinlian.crypto.privacy.homomorphic.contribution import BIT_SIZES
from xinlian.sdk.errors import DataQueryFailed

Command = Callable[..., argparse.ArgumentParser]


def add(command: Command) -> None:
    """Add the commands through data_cmd.register's `command` (its common options)."""
    p = command("aggregate-key", "set an encrypted attribute's aggregate key, once (owner)",
                cmd_aggregate_key, True)
    p.add_argument("attribute", help="the encrypted attribute")
    p.add_argument("--aggregate-key", required=True, metavar="FILE",
                   help="the key file of xinlian private agg keygen (key.json)")
    p.add_argument("--bits", type=int, choices=BIT_SIZES, required=True,
                   help="0: counts (each value 0 or 1); 8, 16, 32: sums of values below 2^bits")
    p = command("encrypted-sum", "sum an encrypted attribute over a verified range query",
                cmd_encrypted_sum, False)
    p.add_argument("attribute", help="the encrypted attribute")
    p.add_argument("--over", required=True, metavar="ATTR",
                   help="the range-indexed attribute whose records are summed")
    p.add_argument("--from", dest="lo", metavar="VALUE", help="its lowest value (included)")
    p.add_argument("--to", dest="hi", metavar="VALUE", help="its highest value (included)")
    p.add_argument("--out", required=True, help="aggregate file to write")


def cmd_aggregate_key(args: argparse.Namespace) -> int:
    key = public_key(args.aggregate_key).group_public_key.encode()
    with _client(args) as client:
        receipt = _collection(args, client, True).set_aggregate_key(args.attribute, key,
                                                                    args.bits)
    return _done(args, receipt, f"aggregate key of {args.attribute} set")


def cmd_encrypted_sum(args: argparse.Namespace) -> int:
    with _client(args) as client:
        data = _collection(args, client, False)
        kinds = _kinds(data)
        if args.over not in kinds:
            raise DataQueryFailed(f"no attribute {args.over!r}")
        lo, hi = (None if v is None else value_from_text(kinds[args.over], v)
                  for v in (args.lo, args.hi))
        records = list(data.query_all(args.over, lo, hi))
        found = data.encrypted_sum(args.attribute, records)
    doc = {"group": "sm2", "aggregate": found.ciphertext.encode().hex(), "bound": found.bound,
           "contributions": found.count, "collection": args.collection,
           "attribute": args.attribute, "records": [r.id.hex() for r in records],
           "height": max((r.height for r in records), default=0)}
    write(args.out, doc)
    summary = {"contributions": found.count, "bound": found.bound}
    if args.json:
        print_json(summary)
    else:
        print(json.dumps(summary))
    return EXIT_OK
