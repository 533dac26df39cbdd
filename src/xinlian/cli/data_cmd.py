"""`xinlian data ...`: declare collections, put, delete, get, query and aggregate records,
read their history and the plan of their adaptive indexes on a running node, through the SDK
(docs/data.md). Every read is verified
against the chain's headers.

Values on the command line are read by their attribute's kind: number and time as integers
(a time also as an ISO 8601 date-time, UTC unless it says otherwise), text as given, bytes
as 0x hex, encrypted as an integer (encrypted and proven under the attribute's aggregate
key, data_encrypted_cmd.py) or a contribution in 0x hex, sequence and blob as JSON (`[[time,
number], ...]`, `{"root": "0x..", "size": .., "chunk_size": .., "media_type": ".."}`).
Output is short text by default, one JSON document with `--json`. Exit statuses as `xinlian
contract`: 0 done; 1 the transaction was committed and failed (its error is printed; the fee
is paid); 2 the command is wrong (usage, an unknown attribute, a value of the wrong kind, a
query the collection does not allow); 3 the node refused the request, could not be reached,
or answered with a proof that does not verify.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from xinlian.api.format import to_json
from xinlian.cli.client_cmd import DEFAULT_RPC
from xinlian.cli.contract_cmd import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from xinlian.cli.contract_cmd import _error as report_error
from xinlian.cli.contract_cmd import _print_json as print_json
from xinlian.cli.contract_cmd import _reporting as reporting
from xinlian.execution.data.model import Collection, Kind
from xinlian.execution.data.query import DataRecord
from xinlian.ledger.block import Receipt
from xinlian.node.keyfile import read_key
from xinlian.sdk.client import Client
from xinlian.sdk.data import Condition, DataAggregate, DataCollection, DataPage
from xinlian.sdk.errors import DataQueryFailed, DataWriteFailed, TxFailed
from xinlian.storage.blob_proof import BlobCommitment

DataCmd = Callable[[argparse.Namespace], int]


def report_tx_failed(args: argparse.Namespace, exc: TxFailed, text: str) -> int:
    """A committed transaction that failed: its error on stderr as `error[CODE NAME]: the
    transaction failed TEXT` (and as JSON with `--json`); exit status 1."""
    receipt = exc.receipt
    if args.json:
        print_json({"ok": False, "error": {"code": exc.remote_code, "name": exc.remote_name},
                    "tx_hash": "0x" + receipt.tx_hash.hex(), "fee_paid": receipt.fee_paid})
    print(f"error[{exc.remote_code} {exc.remote_name}]: the transaction failed {text}",
          file=sys.stderr)
    return EXIT_FAILED


def _data_reporting(cmd: DataCmd) -> DataCmd:
    """`xinlian contract`'s reporting, plus the data model's failures: a failed data
    transaction exits 1, a query or write the collection refuses exits 2."""
    def run(args: argparse.Namespace) -> int:
        try:
            return cmd(args)
        except DataWriteFailed as exc:
            return report_tx_failed(args, exc, f"(fee {exc.receipt.fee_paid} paid)")
        except DataQueryFailed as exc:
            reason = exc.reason or exc
            return report_error(args, EXIT_USAGE, reason.code, reason.name, exc.message)
    return reporting(run)


def value_from_text(kind: str, text: str) -> Any:
    """A command-line value as the Python value of its attribute's kind (module docstring);
    DataQueryFailed if it does not read as one."""
    try:
        if kind == Kind.NUMBER:
            return int(text)
        if kind == Kind.TIME:
            return int(text) if text.lstrip("-").isdigit() else _ms(text)
        if kind == Kind.BYTES or (kind == Kind.ENCRYPTED and text.startswith("0x")):
            return bytes.fromhex(text.removeprefix("0x"))
        if kind == Kind.ENCRYPTED:  # a value the SDK encrypts under the attribute's key
            return int(text)
        if kind == Kind.SEQUENCE:
            return [(int(t), int(v)) for t, v in json.loads(text)]
        if kind == Kind.BLOB:
            doc = json.loads(text)
            return BlobCommitment(bytes.fromhex(doc["root"].removeprefix("0x")), int(doc["size"]),
                           int(doc["chunk_size"]),
                           doc.get("media_type", "application/octet-stream"))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise DataQueryFailed(f"{text!r} is not a {kind} value: {exc}") from None
    return text


def _ms(text: str) -> int:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def _client(args: argparse.Namespace) -> Client:
    return Client(args.rpc)


def _collection(args: argparse.Namespace, client: Client, signed: bool) -> DataCollection:
    wallet = client.wallet(read_key(Path(args.key))[1]) if signed else None
    return client.data(args.collection, wallet=wallet, timeout=getattr(args, "timeout", 30.0))


def _kinds(data: DataCollection) -> dict[str, str]:
    return {a.name: a.kind for a in data.info().attributes}


def _value_json(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, BlobCommitment):
        return to_json(value)
    if isinstance(value, list):
        return [list(point) for point in value]
    return value


def record_json(record: DataRecord) -> dict[str, Any]:
    out = {"id": _id_text(record.id), "values": {k: _value_json(v)
                                                 for k, v in record.values.items()},
           "height": record.height, "tx_hash": "0x" + record.tx_hash.hex()}
    return out


def _id_text(rid: bytes) -> str:
    try:
        text = rid.decode()
    except UnicodeDecodeError:
        return "0x" + rid.hex()
    return text if text.isprintable() and not text.startswith("0x") else "0x" + rid.hex()


def _id_arg(text: str) -> bytes:
    """A record id: 0x hex, or text as its UTF-8."""
    if text.startswith("0x"):
        try:
            return bytes.fromhex(text[2:])
        except ValueError:
            raise DataQueryFailed(f"record id {text!r} is not hex") from None
    return text.encode()


def _done(args: argparse.Namespace, receipt: Receipt, text: str) -> int:
    if args.json:
        print_json({"ok": True, "tx_hash": "0x" + receipt.tx_hash.hex(),
                    "fee_paid": receipt.fee_paid})
    else:
        print(f"{text} (tx 0x{receipt.tx_hash.hex()}, fee {receipt.fee_paid})")
    return EXIT_OK


# --- commands -------------------------------------------------------------------------------

def cmd_collection(args: argparse.Namespace) -> int:
    with _client(args) as client:
        if not args.attr:
            found = _collection(args, client, False).info(height=args.height)
            return _show_collection(args, found)
        if args.key is None:
            raise DataQueryFailed("declaring a collection needs --key")
        attributes: dict[str, tuple[str, str]] = {}
        for spec in args.attr:
            parts = spec.split(":")
            if len(parts) not in (2, 3) or not parts[0]:
                raise DataQueryFailed(f"--attr {spec!r}: expected NAME:KIND[:INDEX]")
            attributes[parts[0]] = (parts[1], parts[2] if len(parts) == 3 else "auto")
        receipt = _collection(args, client, True).declare(
            attributes, writers=[_address(a) for a in args.writer],
            writer_orgs=args.writer_org, readers=[_address(a) for a in args.reader],
            reader_orgs=args.reader_org, adapt_every=args.adapt_every)
        return _done(args, receipt, f"collection {args.collection} declared")


def _address(text: str) -> bytes:
    try:
        raw = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raw = b""
    if len(raw) != 20:
        raise DataQueryFailed(f"{text!r} is not an address (0x and 40 hex digits)")
    return raw


def _show_collection(args: argparse.Namespace, found: Collection) -> int:
    if args.json:
        print_json(to_json(found))
        return EXIT_OK
    print(f"collection {found.name} (version {found.version}, owner 0x{found.owner.hex()})")
    for attr in found.attributes:
        print(f"  {attr.name}: {attr.kind}, index {attr.index}")
    writers = [f"0x{w.hex()}" for w in found.writers] + found.writer_orgs
    print(f"  writers: {', '.join(writers) or 'the owner only'}")
    return EXIT_OK


def cmd_put(args: argparse.Namespace) -> int:
    with _client(args) as client:
        data = _collection(args, client, True)
        kinds = _kinds(data)
        records: dict[bytes, dict[str, Any]] = {}
        if args.id is not None:
            records[_id_arg(args.id)] = _fields(kinds, args.fields)
        if args.records is not None:
            doc = json.loads(Path(args.records).read_text())
            if not isinstance(doc, dict):
                raise DataQueryFailed("--records holds a JSON object: id -> {attribute: value}")
            for rid, fields in doc.items():
                records[_id_arg(rid)] = _fields(kinds, [f"{k}={_text(v)}"
                                                         for k, v in fields.items()])
        if not records:
            raise DataQueryFailed("nothing to put: give ID ATTR=VALUE... or --records FILE")
        receipt = data.put(records)
        return _done(args, receipt, f"{len(records)} record(s) written")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _fields(kinds: dict[str, str], given: list[str]) -> dict[str, Any]:
    out = {}
    for item in given:
        name, sep, text = item.partition("=")
        if not sep:
            raise DataQueryFailed(f"{item!r}: expected ATTRIBUTE=VALUE")
        if name not in kinds:
            raise DataQueryFailed(f"no attribute {name!r}")
        out[name] = value_from_text(kinds[name], text)
    return out


def cmd_delete(args: argparse.Namespace) -> int:
    with _client(args) as client:
        receipt = _collection(args, client, True).delete([_id_arg(i) for i in args.ids])
        return _done(args, receipt, f"{len(args.ids)} record(s) deleted")


def cmd_get(args: argparse.Namespace) -> int:
    with _client(args) as client:
        data = _collection(args, client, False)
        record = data.get(_id_arg(args.id), height=args.height)
        kinds = {} if args.json or record is None else _kinds(data)
    if args.json:
        print_json(None if record is None else record_json(record))
    elif record is None:
        print(f"no record {args.id} (its absence verified)")
    else:
        _print_record(record, kinds)
    return EXIT_OK


def _print_record(record: DataRecord, kinds: dict[str, str]) -> None:
    """One line: times as UTC date-times, the other values as JSON."""
    doc = record_json(record)
    values = ", ".join(
        f"{k}={_iso(v) if kinds.get(k) == Kind.TIME else json.dumps(v, ensure_ascii=False)}"
        for k, v in doc["values"].items())
    print(f"{doc['id']}: {values}  (block {record.height})")


AGGREGATES = ("count", "sum", "min", "max")


def _iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def cmd_query(args: argparse.Namespace) -> int:
    with _client(args) as client:
        data = _collection(args, client, False)
        kinds = _kinds(data)
        if args.where:
            return _print_page(args, _select(args, data, kinds), kinds)
        if args.attribute is None:
            raise DataQueryFailed("name the attribute to query, or give --where conditions")
        kind = kinds.get(args.attribute)
        if kind is None:
            raise DataQueryFailed(f"no attribute {args.attribute!r}")
        if args.keyword or args.any or args.unwanted:
            return _print_page(args, _search(args, data), kinds)
        lo, hi = (None if v is None else value_from_text(kind, v) for v in (args.lo, args.hi))
        wanted = [f for f in AGGREGATES if getattr(args, f)]
        if wanted:
            return _print_aggregate(data.aggregate(args.attribute, lo, hi, height=args.height),
                                    wanted, args.json)
        page: DataPage = data.query(args.attribute, lo, hi, descending=args.desc,
                                    limit=args.limit, cursor=_cursor(args.cursor),
                                    height=args.height)
    return _print_page(args, page, kinds)


def _search(args: argparse.Namespace, data: DataCollection) -> DataPage:
    """A keyword query: --keyword (every word) or --any (one at least), --not (none)."""
    if args.keyword and args.any:
        raise DataQueryFailed("--keyword and --any do not combine: look for all words or "
                              "for any")
    if args.lo is not None or args.hi is not None or args.desc or any(
            getattr(args, f) for f in AGGREGATES):
        raise DataQueryFailed("a keyword query takes no --from, --to, --desc or figures")
    return data.search(args.attribute, args.keyword or args.any, any_of=bool(args.any),
                       exclude=args.unwanted, limit=args.limit,
                       cursor=_cursor(args.cursor), height=args.height)


def _select(args: argparse.Namespace, data: DataCollection, kinds: dict[str, str]
            ) -> DataPage:
    """A query of several conditions (--where), driven by --drive or the node's choice."""
    if args.attribute is not None or args.lo is not None or args.hi is not None or (
            args.keyword or args.any or args.unwanted or any(getattr(args, f)
                                                              for f in AGGREGATES)):
        raise DataQueryFailed("--where takes no attribute, --from, --to, --keyword, --any, "
                              "--not or figures: give every condition with --where")
    conditions = [condition_from_text(kinds, text) for text in args.where]
    drive = None
    if args.drive is not None:
        drive = next((i for i, c in enumerate(conditions)
                      if c.attribute == args.drive and not c.negate), None)
        if drive is None:
            raise DataQueryFailed(f"no condition on {args.drive!r} to drive the query")
    return data.select(conditions, drive=drive, descending=args.desc, limit=args.limit,
                       scan=args.scan, cursor=_cursor(args.cursor), height=args.height)


def condition_from_text(kinds: dict[str, str], text: str) -> Condition:
    """A --where condition: `ATTR=LO..HI` (either bound may be left out), `ATTR=VALUE`,
    `ATTR~TEXT` (every word of TEXT), `ATTR~|TEXT` (at least one), each negated by a
    leading `!`."""
    negate = text.startswith("!")
    body = text[1:] if negate else text
    at = min((i for i in (body.find("="), body.find("~")) if i > 0), default=-1)
    if at < 0:
        raise DataQueryFailed(f"condition {text!r} is not ATTR=LO..HI, ATTR=VALUE, "
                              "ATTR~TEXT or ATTR~|TEXT")
    name, op, rest = body[:at], body[at], body[at + 1:]
    kind = kinds.get(name)
    if kind is None:
        raise DataQueryFailed(f"no attribute {name!r}")
    if op == "~":
        any_of = rest.startswith("|")
        return Condition(name, words=(rest[1:] if any_of else rest,), any_of=any_of,
                         negate=negate)
    lo, sep, hi = rest.partition("..")
    if not sep:
        hi = lo
    lo_value, hi_value = (value_from_text(kind, v) if v else None for v in (lo, hi))
    return Condition(name, lo_value, hi_value, negate=negate)


def _print_page(args: argparse.Namespace, page: DataPage, kinds: dict[str, str]) -> int:
    cursor = None if page.cursor is None else "0x" + page.cursor.hex()
    if args.json:
        print_json({"records": [record_json(r) for r in page.records], "height": page.height,
                    "cursor": cursor, "verified": True})
        return EXIT_OK
    for record in page.records:
        _print_record(record, kinds)
    print(f"{len(page.records)} record(s) at block {page.height}, verified"
          + (f"; more: --cursor {cursor} --height {page.height}" if cursor else ""))
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    """An adaptive collection's index plan: per attribute its index, the candidate a review
    would choose now and why, the last change and its reason, the window's counts."""
    with _client(args) as client:
        plan = _collection(args, client, False).plan(height=args.height)
    if args.json:
        print_json({"adapts": plan.adapts, "height": plan.height,
                    "next_review": plan.next_review, "records": plan.records,
                    "attributes": [to_json(a) for a in plan.attributes],
                    "local": {k: {"range": r, "keyword": w}
                              for k, (r, w) in plan.local.items()},
                    "verified": True})
        return EXIT_OK
    if not plan.adapts:
        print(f"collection {args.collection} does not adapt its indexes (at block "
              f"{plan.height}, verified)")
        return EXIT_OK
    print(f"collection {args.collection}: {plan.records} records, next review at block "
          f"{plan.next_review} (at block {plan.height}, verified)")
    for a in plan.attributes:
        here = plan.local.get(a.name, (0, 0))
        print(f"  {a.name} ({a.kind}): index {a.index} since block {a.changed}: {a.reason}")
        print(f"    window: {a.writes} writes, {a.words} words, {a.values} values; reported "
              f"{a.range_queries} range, {a.keyword_queries} keyword queries; served here "
              f"{here[0]} range, {here[1]} keyword")
        for e in a.estimates:
            print(f"    {e.index}: upkeep {e.upkeep} us, saving {e.saving} us, net {e.net} us, "
                  f"build {e.build} us")
        print(f"    candidate {a.candidate}: {a.why}")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """Report queries served off chain (ATTRIBUTE:KIND=COUNT ...) for the next review."""
    counts: dict[str, dict[str, int]] = {}
    for item in args.counts:
        head, sep, number = item.partition("=")
        attribute, colon, kind = head.partition(":")
        if not (sep and colon and attribute and number.isdigit()):
            raise DataQueryFailed(f"{item!r}: expected ATTRIBUTE:KIND=COUNT")
        counts.setdefault(attribute, {})[kind] = int(number)
    with _client(args) as client:
        receipt = _collection(args, client, True).report(counts)
    total = sum(n for kinds in counts.values() for n in kinds.values())
    return _done(args, receipt, f"{total} queries reported")


def cmd_history(args: argparse.Namespace) -> int:
    """A record's versions, oldest first (or, with --as-of, the one in force then)."""
    with _client(args) as client:
        data = _collection(args, client, False)
        rid = _id_arg(args.id)
        if args.as_of is not None:
            found = data.as_of(rid, args.as_of, height=args.height)
            versions, doc = [] if found is None else [found], {"as_of": args.as_of}
        else:
            history = data.history(rid, first=args.first, limit=args.limit,
                                   height=args.height)
            versions = history.versions
            doc = {"first": history.first, "size": history.size, "height": history.height,
                   "next": history.next}
    rows = [{"height": v.height, "tx_index": v.tx_index, "tx_hash": "0x" + v.tx_hash.hex(),
             "deleted": v.deleted, "value_hash": None if v.deleted else "0x" + v.value_hash.hex()}
            for v in versions]
    if args.json:
        print_json({**doc, "versions": rows, "verified": True})
        return EXIT_OK
    for row in rows:
        what = "delete" if row["deleted"] else f"put {row['value_hash']}"
        print(f"block {row['height']} tx {row['tx_index']} {row['tx_hash']}: {what}")
    if args.as_of is not None:
        print(("no version" if not rows else "in force") + f" at block {args.as_of}, verified")
    else:
        more = doc["next"]
        print(f"{len(rows)} of {doc['size']} version(s) at block {doc['height']}, verified"
              + (f"; more: --first {more} --height {doc['height']}" if more else ""))
    return EXIT_OK


def cmd_blocks(args: argparse.Namespace) -> int:
    """The blocks of a window whose Bloom filters may hold a change of the record (--id),
    a put of the attribute (--attr), or any change of the collection."""
    with _client(args) as client:
        window = _collection(args, client, False).blocks(
            args.first, args.stop, rid=None if args.id is None else _id_arg(args.id),
            attribute=args.attr, match="all" if args.match == "all" else "any",
            limit=args.limit, height=args.height)
    if args.json:
        print_json({"blocks": window.blocks, "first": window.first, "stop": window.stop,
                    "height": window.height, "next": window.next, "verified": True})
        return EXIT_OK
    listed = ", ".join(map(str, window.blocks)) or "none"
    print(f"blocks that may hold it: {listed} (of [{window.first}, {window.stop}) at block "
          f"{window.height}, verified)" + ("" if window.next is None else
                                          f"; more: --first {window.next} --height "
                                          f"{window.height}"))
    return EXIT_OK


def _print_aggregate(found: DataAggregate, wanted: list[str], as_json: bool) -> int:
    figures = {f: getattr(found, f) for f in wanted}
    if as_json:
        print_json({**figures, "height": found.height, "verified": True})
        return EXIT_OK
    print(", ".join(f"{f} {'-' if v is None else v}" for f, v in figures.items())
          + f" at block {found.height}, verified")
    return EXIT_OK


def _cursor(text: str | None) -> bytes | None:
    if text is None:
        return None
    try:
        return bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise DataQueryFailed(f"cursor {text!r} is not hex") from None


# --- the parser -----------------------------------------------------------------------------

def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("data", help="data collections: declare, put, get, query records, "
                           "their history and the blocks that changed them")
    c = group.add_subparsers(dest="data_cmd", required=True)

    def command(name: str, text: str, cmd: DataCmd, signed: bool,
                parent: argparse._SubParsersAction[argparse.ArgumentParser] = c
                ) -> argparse.ArgumentParser:
        p = parent.add_parser(name, help=text)
        p.add_argument("--rpc", default=DEFAULT_RPC, help=f"node URL (default {DEFAULT_RPC})")
        p.add_argument("--json", action="store_true", help="print one JSON document")
        p.add_argument("collection", help="the collection's name")
        if signed:
            p.add_argument("--key", required=name != "collection",
                           help="the sender's key file (xinlian keygen)")
            p.add_argument("--timeout", type=float, default=30.0,
                           help="seconds to wait for the receipt")
        p.set_defaults(func=_data_reporting(cmd))
        return p

    p = command("collection", "show a collection, or declare or alter it (with --attr)",
                cmd_collection, True)
    p.add_argument("--attr", action="append", default=[], metavar="NAME:KIND[:INDEX]",
                   help="an attribute: kind number|time|text|sequence|blob|bytes|encrypted, "
                        "index "
                        "auto|range|keyword|none (default auto); repeat for each")
    p.add_argument("--writer", action="append", default=[], metavar="ADDRESS")
    p.add_argument("--writer-org", action="append", default=[], metavar="ORGANISATION")
    p.add_argument("--reader", action="append", default=[], metavar="ADDRESS")
    p.add_argument("--reader-org", action="append", default=[], metavar="ORGANISATION")
    p.add_argument("--height", type=int, default=None, help="show it as of this block")
    p.add_argument("--adapt-every", type=int, default=0, metavar="BLOCKS",
                   help="review the indexes of the auto attributes every BLOCKS blocks: "
                        "build, drop or switch them by the queries reported (default 0: "
                        "resolve each once, now)")
    p = command("plan", "an adaptive collection's index plan, its candidates and reasons, "
                "verified", cmd_plan, False)
    p.add_argument("--height", type=int, default=None, help="as of this block")
    p = command("report", "report queries served off chain, for the next review of an "
                "adaptive collection", cmd_report, True)
    p.add_argument("counts", nargs="+", metavar="ATTRIBUTE:KIND=COUNT",
                   help="KIND range (ranges, time windows, aggregates) or keyword")
    p = command("put", "write records (each whole)", cmd_put, True)
    p.add_argument("id", nargs="?", help="the record's id (text, or 0x hex)")
    p.add_argument("fields", nargs="*", metavar="ATTR=VALUE")
    p.add_argument("--records", metavar="FILE",
                   help="a JSON object of records: id -> {attribute: value}")
    p = command("delete", "delete records", cmd_delete, True)
    p.add_argument("ids", nargs="+", metavar="ID")
    p = command("get", "read one record, verified", cmd_get, False)
    p.add_argument("id", help="the record's id (text, or 0x hex)")
    p.add_argument("--height", type=int, default=None, help="as of this block")
    p = command("query", "records whose attribute lies in a range, or whose text holds "
                "words, verified", cmd_query, False)
    p.add_argument("attribute", nargs="?", help="a range-indexed attribute (or "
                   "keyword-indexed, with --keyword, --any, --not); none with --where")
    p.add_argument("--from", dest="lo", metavar="VALUE", help="lowest value (included)")
    p.add_argument("--to", dest="hi", metavar="VALUE", help="highest value (included)")
    p.add_argument("--desc", action="store_true", help="highest values first")
    p.add_argument("--limit", type=int, default=100, help="records per page (1..1000)")
    p.add_argument("--cursor", help="continue after a previous page (its cursor)")
    p.add_argument("--height", type=int, default=None,
                   help="as of this block (give the first page's to page on)")
    for figure in AGGREGATES:
        p.add_argument(f"--{figure}", action="store_true",
                       help=f"print the proven {figure} of the range's values, not its records")
    p.add_argument("--keyword", action="append", default=[], metavar="TEXT",
                   help="records whose text (keyword-indexed) holds every word of TEXT; "
                        "repeat for more")
    p.add_argument("--any", action="append", default=[], metavar="TEXT",
                   help="records whose text holds at least one word of TEXT")
    p.add_argument("--not", dest="unwanted", action="append", default=[], metavar="TEXT",
                   help="with --keyword: and none of the words of TEXT")
    p.add_argument("--where", action="append", default=[], metavar="CONDITION",
                   help="records that satisfy every condition: ATTR=LO..HI (a bound may be "
                        "left out), ATTR=VALUE, ATTR~TEXT (every word), ATTR~|TEXT (any "
                        "word); a leading ! negates; repeat for each (at most 8)")
    p.add_argument("--drive", metavar="ATTR",
                   help="with --where: drive by the index of the condition on ATTR "
                        "(default: the node picks the cheapest)")
    p.add_argument("--scan", type=int, default=1000,
                   help="with --where: candidates per page at most (1..1000)")

    p = command("history", "a record's versions with the transactions that wrote them",
                cmd_history, False)
    p.add_argument("id", help="the record's id (text, or 0x hex)")
    p.add_argument("--as-of", type=int, default=None, metavar="H",
                   help="only the version in force at the end of block H")
    p.add_argument("--first", type=int, default=0, help="the first version (0: the oldest)")
    p.add_argument("--limit", type=int, default=100, help="versions per page (1..1000)")
    p.add_argument("--height", type=int, default=None,
                   help="the history as of this block (give the first page's to page on)")

    p = command("blocks", "the blocks of a window that may hold a change (Bloom filters, "
                "verified): a block left out holds none", cmd_blocks, False)
    p.add_argument("first", type=int, help="the window's first block")
    p.add_argument("stop", type=int, help="the block after its last")
    p.add_argument("--id", help="a change of this record (text, or 0x hex)")
    p.add_argument("--attr", help="a put of this attribute")
    p.add_argument("--match", choices=("any", "all"), default="any",
                   help="with --id and --attr: either (any, default) or both (all)")
    p.add_argument("--limit", type=int, default=1000, help="blocks per page (1..1000)")
    p.add_argument("--height", type=int, default=None,
                   help="as of this block (give the first page's to page on)")

    from xinlian.cli import data_blob, data_encrypted_cmd  # they build on this module

    data_encrypted_cmd.add(command)

    blob = c.add_parser("blob", help="put or get a blob attribute's payload, verified")
    b = blob.add_subparsers(dest="blob_cmd", required=True)
    data_blob.add_blob_arguments(
        command("put", "upload a file into a record's blob attribute",
                data_blob.cmd_blob_put, True, b),
        command("get", "download a blob attribute's payload, every chunk verified",
                data_blob.cmd_blob_get, True, b))
