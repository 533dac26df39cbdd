"""`xinlian index events|state`: a contract's indexed events and state writes, queried by
value over the SDK, every page verified against a signed header before it is printed."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from xinlian.api.format import bytes_of
from xinlian.cli.client_cmd import DEFAULT_RPC
from xinlian.cli.qi import parse_address
from xinlian.lang import abi
from xinlian.lang.abi_json import value_from_text, value_to_json
from xinlian.lang.errors import ArgumentError
from xinlian.sdk.client import Client
from xinlian.sdk.errors import IndexQueryError
from xinlian.sdk.indexes import EventRecord, Plan, StateRecord, events_plan, state_plan


def _abi(path: str | None, client: Client, contract: bytes) -> dict[str, Any]:
    """The ABI from `--abi`, or else that of the contract's current code, proven."""
    if path is None:
        return client.contract_info(contract).abi
    try:
        spec = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexQueryError(f"cannot read the ABI {path}: {exc}") from None
    if not isinstance(spec, dict):
        raise IndexQueryError(f"{path} is not an ABI (a JSON object)")
    return spec


def _find(items: list[dict[str, Any]], name: str, what: str) -> dict[str, Any]:
    found = next((x for x in items if x.get("name") == name), None)
    if found is None:
        raise IndexQueryError(f"the ABI has no {what} `{name}`")
    return found


def _value(t_json: Any, raw: str | None, what: str) -> Any:
    return None if raw is None else value_from_text(abi.type_from_json(t_json), raw, what)


def _events(contract: bytes, spec: dict[str, Any], args: argparse.Namespace,
            options: dict[str, Any]) -> Plan[EventRecord]:
    if args.field is None:
        if args.equals is not None or args.lo is not None or args.hi is not None:
            raise ArgumentError("--equals, --lo and --hi need --field")
        return events_plan(contract, spec, args.event, **options)
    event = _find(spec.get("events", []), args.event, "event")
    t = _find(event["params"], args.field, "parameter")["type"]
    bounds = ({"equals": _value(t, args.equals, "--equals")} if args.equals is not None else
              {"lo": _value(t, args.lo, "--lo"), "hi": _value(t, args.hi, "--hi")})
    return events_plan(contract, spec, args.event, args.field, **bounds, **options)


def _state(contract: bytes, spec: dict[str, Any], args: argparse.Namespace,
           options: dict[str, Any]) -> Plan[StateRecord]:
    types = _find(spec.get("storage", []), args.variable, "state variable").get(
        "key_types", [])
    if len(args.keys) > len(types) or (
            (args.lo is not None or args.hi is not None) and len(args.keys) >= len(types)):
        raise IndexQueryError(f"`{args.variable}` has {len(types)} map keys")
    keys = [_value(t, raw, f"map key {i + 1}") for i, (t, raw) in
            enumerate(zip(types, args.keys, strict=False))]
    nxt = types[len(keys)] if len(keys) < len(types) else None
    return state_plan(contract, spec, args.variable, keys, lo=_value(nxt, args.lo, "--lo"),
                      hi=_value(nxt, args.hi, "--hi"), **options)


def run(args: argparse.Namespace) -> int:
    contract = parse_address(args.contract)
    options: dict[str, Any] = {
        "newest_first": not args.oldest_first, "limit": args.limit,
        "cursor": None if args.cursor is None else bytes_of(args.cursor, "--cursor")}
    with Client(args.rpc) as client:
        spec = _abi(args.abi, client, contract)
        plan: Plan[Any] = (
            _events(contract, spec, args, options) if args.cmd == "events"
            else _state(contract, spec, args, options))
        page = client.query_index(plan, height=args.height)
    print(json.dumps({"height": page.height, "items": value_to_json([vars(i) for i in page.items]),
                      "cursor": None if page.cursor is None else "0x" + page.cursor.hex()},
                     indent=2, ensure_ascii=False))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    index = sub.add_parser(
        "index", help="query a contract's indexed events and state writes (verified)"
    ).add_subparsers(dest="cmd", required=True)
    e = index.add_parser("events", help="events by an indexed parameter, newest first")
    e.add_argument("contract", help="the contract's address (40 hex digits)")
    e.add_argument("event", help="the event's name, e.g. Transfer")
    e.add_argument("--field", help="the indexed parameter to select by (default: every "
                                   "event of that name, by position)")
    e.add_argument("--equals", help="the value (JSON; hex for bytes and addresses)")
    s = index.add_parser("state", help="writes to an indexed state variable, newest first")
    s.add_argument("contract", help="the contract's address (40 hex digits)")
    s.add_argument("variable", help="the indexed state variable, e.g. balances")
    s.add_argument("keys", nargs="*", help="leading map keys (equality)")
    for p in (e, s):
        p.add_argument("--abi", help="the contract's ABI JSON (xinlian qi compile --abi; "
                                     "default: the ABI of its current code, proven from "
                                     "the chain)")
        p.add_argument("--lo", help="the smallest value (or next map key), included")
        p.add_argument("--hi", help="the largest value (or next map key), included")
        p.add_argument("--limit", type=int, default=100, help="entries per page (1..1000)")
        p.add_argument("--cursor", help="continue after a previous page (its `cursor`)")
        p.add_argument("--oldest-first", action="store_true")
        p.add_argument("--height", type=int, help="read the index as of this block")
        p.add_argument("--rpc", default=DEFAULT_RPC)
        p.set_defaults(func=run)
