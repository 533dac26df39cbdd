"""`xinlian data blob put|get`: move a blob attribute's payload (docs/data.md "Blobs").

`put` commits to a file, uploads the chunks the node lacks and writes the record with the
commitment; `get` streams the payload to a file (or stdout), each chunk verified against the
commitment of the verified record before it is written. Both sign their requests with
`--key` (a reader downloads, a writer uploads). Exit statuses as `xinlian data`; a chunk
that does not verify exits 3 with what was written before it left in place.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from xinlian.api.format import to_json
from xinlian.cli.contract_cmd import EXIT_OK
from xinlian.cli.contract_cmd import _print_json as print_json
from xinlian.cli.data_cmd import _client, _collection, _id_arg


def cmd_blob_put(args: argparse.Namespace) -> int:
    with _client(args) as client, Path(args.file).open("rb") as source:
        data = _collection(args, client, True)
        commitment = data.put_blob(_id_arg(args.id), args.attribute, source, args.media_type)
    if args.json:
        print_json({"ok": True, "commitment": to_json(commitment)})
    else:
        print(f"stored {commitment.size} bytes as blob 0x{commitment.root.hex()}")
    return EXIT_OK


def cmd_blob_get(args: argparse.Namespace) -> int:
    with _client(args) as client:
        data = _collection(args, client, True)
        chunks = data.get_blob(_id_arg(args.id), args.attribute)
        if args.out is None:
            for chunk in chunks:
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            return EXIT_OK
        size = 0
        with Path(args.out).open("wb") as sink:
            for chunk in chunks:
                sink.write(chunk)
                size += len(chunk)
    if args.json:
        print_json({"ok": True, "size": size, "out": args.out})
    else:
        print(f"wrote {size} verified bytes to {args.out}")
    return EXIT_OK


def add_blob_arguments(put: argparse.ArgumentParser, get: argparse.ArgumentParser) -> None:
    for p in (put, get):
        p.add_argument("id", help="the record's id (text, or 0x hex)")
        p.add_argument("attribute", help="a blob attribute of the collection")
    put.add_argument("file", help="the payload")
    put.add_argument("--media-type", default="application/octet-stream",
                     help="type/subtype (default application/octet-stream)")
    get.add_argument("--out", help="write the payload here (default: stdout)")
