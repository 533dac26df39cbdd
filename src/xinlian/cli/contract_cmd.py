"""`xinlian contract ...`: deploy, call, query, prove, upgrade and fund Qi contracts on a
running node, through the SDK (docs/sdk.md, "Contracts from the command line").

Arguments are JSON values read by the ABI's parameter types (lang.abi_json). Output is
short text in Qi syntax by default and one JSON document with `--json`. Exit statuses:
0 done; 1 the contract ran and failed (its error and trace are printed; a failed
transaction is still committed and paid for); 2 the command is wrong (usage, a file that
does not compile or read, arguments that do not fit the ABI); 3 the node refused the
request, could not be reached, answered badly or with a proof that does not verify.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xinlian.api.format import bytes_of, to_json
from xinlian.cli.client_cmd import DEFAULT_RPC
from xinlian.errors import XinlianError
from xinlian.lang import show
from xinlian.lang.abi_json import args_from_text, value_from_text, value_to_json
from xinlian.lang.compiler import compile_source
from xinlian.lang.errors import CompileError
from xinlian.ledger.block import Event
from xinlian.node.keyfile import read_key
from xinlian.sdk.client import Client
from xinlian.sdk.contract_abi import ContractAbi, ContractEvent, Method
from xinlian.sdk.contracts import (
    NO_ABI,
    Contract,
    ContractCode,
    ContractReceipt,
    IndexedEvent,
    ProvenValue,
    is_approval,
)
from xinlian.sdk.errors import (
    AbiMismatch,
    ContractFailed,
    ContractReverted,
    IndexQueryError,
    RpcError,
    SdkError,
)
from xinlian.sdk.indexes import IndexPage
from xinlian.sdk.wallet import DEFAULT_FUEL_LIMIT, Wallet

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NODE = 0, 1, 2, 3
ADDRESS_HELP = "the contract's address (0x and 40 hex digits)"


# --- reporting ------------------------------------------------------------------------------

def _reporting(cmd: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run a subcommand and map what goes wrong to the documented exit statuses. Errors go
    to stderr as `error[CODE NAME]: message` (a compile error as its diagnostics); with
    `--json` stdout also gets `{"ok": false, "error": {...}}`."""
    def run(args: argparse.Namespace) -> int:
        try:
            return cmd(args)
        except ContractFailed as exc:
            if args.json:
                _print_json({"ok": False, **failure_json(exc)})
            print(f"error[{exc.remote_code} {exc.remote_name}]: {exc.message}"
                  + "".join(f"\n  at {frame}" for frame in exc.trace), file=sys.stderr)
            return EXIT_FAILED
        except RpcError as exc:  # the node's own error, not the SDK's wrapper of it
            return _error(args, EXIT_NODE, exc.remote_code, exc.remote_name, exc.message)
        except SdkError as exc:  # unreachable, bad answer, timed out, proof failed ...
            status = EXIT_USAGE if isinstance(exc, AbiMismatch | IndexQueryError) else EXIT_NODE
            return _error(args, status, exc.code, exc.name, exc.message)
        except CompileError as exc:
            return _error(args, EXIT_USAGE, exc.code, exc.name, exc.message, str(exc))
        except XinlianError as exc:  # a bad argument, address, key file or ABI
            return _error(args, EXIT_USAGE, exc.code, exc.name, exc.message)
        except OSError as exc:
            return _error(args, EXIT_USAGE, 0, "io_error",
                          f"cannot read {exc.filename or 'file'}: {exc.strerror or exc}",
                          f"error: cannot read {exc.filename or 'file'}: "
                          f"{exc.strerror or exc}")
    return run


def _error(args: argparse.Namespace, status: int, code: int, name: str, message: str,
           text: str | None = None) -> int:
    if args.json:
        _print_json({"ok": False, "error": {"code": code, "name": name, "message": message}})
    print(text or f"error[{code} {name}]: {message}", file=sys.stderr)
    return status


def _print_json(doc: Any) -> None:
    print(json.dumps(doc, indent=2, ensure_ascii=False))


def hx(data: bytes) -> str:
    return "0x" + data.hex()


def failure_json(exc: ContractFailed) -> dict[str, Any]:
    error: dict[str, Any] = {"code": exc.remote_code, "name": exc.remote_name,
                             "message": exc.message, "trace": exc.trace}
    if isinstance(exc, ContractReverted):
        error |= {"error": exc.error_name, "args": value_to_json(exc.error_args)}
    out: dict[str, Any] = {"error": error, "fuel_used": exc.fuel_used}
    if exc.receipt is not None:
        out |= {"tx_hash": hx(exc.receipt.tx_hash), "fee_paid": exc.receipt.fee_paid}
    return out


def event_json(event: ContractEvent | Event) -> dict[str, Any]:
    if isinstance(event, ContractEvent):
        return {"name": event.event_name, "args": value_to_json(event.as_dict())}
    return {"source": event.source, "name": event.name, "data": hx(event.data)}


def event_text(abi: ContractAbi, event: ContractEvent | Event) -> str:
    if isinstance(event, ContractEvent):
        params = abi.event_params(event.event_name)
        values = event.as_dict()
        return show.error(event.event_name, [(p.name, p.type) for p in params],
                          [values[p.name] for p in params])
    return f"{event.name} from {event.source}: {hx(event.data)}"


def report(args: argparse.Namespace, abi: ContractAbi, method: Method | None,
           out: ContractReceipt, head: str) -> int:
    """Print a committed, successful contract transaction."""
    if args.json:
        _print_json({"ok": True, "contract": hx(out.contract), "tx_hash": hx(out.tx_hash),
                     "value": value_to_json(out.value),
                     "events": [event_json(e) for e in out.events],
                     "fuel_used": out.fuel_used, "fee_paid": out.fee_paid})
        return EXIT_OK
    value = "" if method is None or out.value is None else \
        f" -> {show.value(method.returns, out.value)}"
    print(f"{head}{value} (tx {hx(out.tx_hash)}, fuel {out.fuel_used}, fee {out.fee_paid})")
    for e in out.events:
        print(f"  event {event_text(abi, e)}")
    return EXIT_OK


# --- inputs ---------------------------------------------------------------------------------

def address_arg(text: str) -> bytes:
    return bytes_of(text, "address", size=20)


def load_code(args: argparse.Namespace) -> ContractCode:
    """A .qi file compiled here (`--contract`, `-O`), or a .wasm with its ABI (`--abi`,
    else the .abi.json beside it)."""
    path = Path(args.file)
    if path.suffix == ".qi":
        return ContractCode.of(compile_source(path.read_text(), str(path), args.opt,
                                              args.contract))
    return ContractCode.from_files(path, Path(args.abi) if args.abi else None)


def load_abi(args: argparse.Namespace) -> ContractAbi:
    path = Path(args.abi)
    if path.suffix == ".qi":
        return ContractCode.of(compile_source(path.read_text(), str(path), args.opt,
                                              args.contract)).abi
    return ContractAbi.of(path.read_bytes())


def wallet_of(args: argparse.Namespace, client: Client) -> Wallet:
    _, key = read_key(Path(args.key))
    return client.wallet(key)


def contract_of(args: argparse.Namespace, client: Client, wallet: Wallet | None = None
                ) -> Contract:
    """The wrapper of ADDRESS, typed by `--abi` or else by the ABI proven from the chain."""
    return client.contract(address_arg(args.address), load_abi(args) if args.abi else None,
                           wallet=wallet,
                           fuel_limit=getattr(args, "fuel", DEFAULT_FUEL_LIMIT),
                           fee_limit=getattr(args, "fee_limit", None),
                           timeout=getattr(args, "timeout", 30.0))


# --- commands -------------------------------------------------------------------------------

def cmd_deploy(args: argparse.Namespace) -> int:
    code = load_code(args)
    params = [] if code.abi.constructor is None else [
        (p.name, p.type) for p in code.abi.constructor.params]
    init = args_from_text(params, "init", args.args)
    with Client(args.rpc) as client:
        wallet = wallet_of(args, client)
        out = client.deploy(wallet, code, *init, fuel_limit=args.fuel,
                            fee_limit=args.fee_limit, timeout=args.timeout)
    name = code.abi.contract or "contract"
    return report(args, code.abi, None, out, f"deployed {name} at {hx(out.contract)}")


def _method_args(abi: ContractAbi, args: argparse.Namespace) -> tuple[Method, list[Any]]:
    method = abi.method(args.method)
    return method, args_from_text([(p.name, p.type) for p in method.params], method.name,
                                  args.args)


def cmd_call(args: argparse.Namespace) -> int:
    with Client(args.rpc) as client:
        token = contract_of(args, client)
        method, values = _method_args(token.abi, args)
        token.wallet = wallet_of(args, client)
        out = token.fn(method.name).transact(*values)
    return report(args, token.abi, method, out, method.name)


def cmd_query(args: argparse.Namespace) -> int:
    with Client(args.rpc) as client:
        token = contract_of(args, client)
        method, values = _method_args(token.abi, args)
        value = token.fn(method.name).query(*values, height=args.height)
    if args.json:
        _print_json({"ok": True, "value": value_to_json(value)})
    else:
        print("()" if value is None else show.value(method.returns, value))
    return EXIT_OK


def cmd_proof(args: argparse.Namespace) -> int:
    with Client(args.rpc) as client:
        token = contract_of(args, client)
        var = token.abi.var(args.var)
        keys = args_from_text([(f"key {i + 1}", t) for i, t in enumerate(var.keys)],
                              args.var, args.keys)
        proven: ProvenValue = token.proof(args.var, *keys, height=args.height)
    if args.json:
        _print_json({"ok": True, "value": value_to_json(proven.value),
                     "present": proven.present, "height": proven.height,
                     "key": hx(proven.proof.key), "verified": True})
    else:
        absent = "" if proven.present else " (absent: the zero value)"
        print(f"{show.value(var.value, proven.value)}{absent}, proven at block "
              f"{proven.height}")
    return EXIT_OK


def _field_value(abi: ContractAbi, event: str, given: str, flag: str) -> tuple[str, Any]:
    """`FIELD=VALUE` of `--where`/`--from`/`--to`, the value read by the parameter's type."""
    name, sep, raw = given.partition("=")
    param = next((p for p in abi.event_params(event) if p.name == name), None)
    if not sep or param is None:
        raise IndexQueryError(f"{flag} {given!r}: expected FIELD=VALUE with FIELD a "
                              f"parameter of `{event}`")
    return name, value_from_text(param.type, raw, f"{flag} {name}")


def cmd_events(args: argparse.Namespace) -> int:
    with Client(args.rpc) as client:
        token = contract_of(args, client)
        abi = token.abi
        abi.event_params(args.event)  # AbiMismatch (exit 2) for an unknown event
        where: dict[str, Any] = {}
        bounds: dict[str, Any] = {}
        if args.where is not None:
            if args.lo is not None or args.hi is not None:
                raise IndexQueryError("--where selects one value; --from/--to a range")
            name, value = _field_value(abi, args.event, args.where, "--where")
            where[name] = value
        elif args.lo is not None or args.hi is not None:
            ends = {flag: _field_value(abi, args.event, given, flag) for given, flag in
                    ((args.lo, "--from"), (args.hi, "--to")) if given is not None}
            fields = {name for name, _ in ends.values()}
            if len(fields) != 1:
                raise IndexQueryError("--from and --to must name the same field")
            bounds = {"field": fields.pop(), "lo": ends.get("--from", ("", None))[1],
                      "hi": ends.get("--to", ("", None))[1]}
        cursor = None if args.cursor is None else bytes_of(args.cursor, "--cursor")
        page: IndexPage[IndexedEvent] = token.events(
            args.event, limit=args.limit, cursor=cursor, newest_first=not args.oldest_first,
            height=args.height, **bounds, **where)
    next_page = None if page.cursor is None else hx(page.cursor)
    if args.json:
        _print_json({"ok": True, "height": page.height, "verified": True,
                     "events": [{"height": e.height, "tx_index": e.tx_index,
                                 "event_index": e.event_index, "engine_run": e.engine_run,
                                 **event_json(e.event)} for e in page.items],
                     "cursor": next_page})
        return EXIT_OK
    for e in page.items:
        run = "engine run" if e.engine_run else "tx"
        print(f"block {e.height} {run} {e.tx_index} event {e.event_index}: "
              f"{event_text(abi, e.event)}")
    print(f"{len(page.items)} event(s), proven at block {page.height}"
          + ("" if next_page is None else f"; next page: --cursor {next_page}"))
    return EXIT_OK


def cmd_upgrade(args: argparse.Namespace) -> int:
    code = load_code(args)
    with Client(args.rpc) as client:
        token = client.contract(address_arg(args.address), code.abi,
                                wallet=wallet_of(args, client), fuel_limit=args.fuel,
                                fee_limit=args.fee_limit, timeout=args.timeout)
        out = token.upgrade(code)
    if is_approval(out.contract, code.abi, out.receipt):
        head = f"approved the upgrade of {hx(out.contract)} (not applied yet)"
    else:
        head = f"upgraded {hx(out.contract)} to {code.abi.contract or 'new code'}"
    return report(args, code.abi, None, out, head)


def cmd_fund(args: argparse.Namespace) -> int:
    with Client(args.rpc) as client:
        out = client.fund(wallet_of(args, client), address_arg(args.address), args.amount,
                          fee_limit=args.fee_limit, timeout=args.timeout)
    return report(args, NO_ABI, None, out, f"funded {hx(out.contract)} with {args.amount}")


def cmd_set_admin(args: argparse.Namespace) -> int:
    with Client(args.rpc) as client:
        token = client.contract(address_arg(args.address), NO_ABI,
                                wallet=wallet_of(args, client), fee_limit=args.fee_limit,
                                timeout=args.timeout)
        out = token.set_admin(address_arg(args.admin))
    return report(args, NO_ABI, None, out, f"{hx(out.contract)} now has admin {args.admin}")


def cmd_info(args: argparse.Namespace) -> int:
    with Client(args.rpc) as client:
        view = client.contract_info(address_arg(args.address), height=args.height)
    if args.json:
        _print_json({"ok": True, **to_json(view)})
        return EXIT_OK
    name = view.abi.get("contract") or "contract"
    print(f"{name} at {hx(view.address)}: version {view.version}, code {hx(view.code_hash)}, "
          f"admin {hx(view.admin)}, upgrade by {view.upgrade.get('rule', 'admin')}, "
          f"{'frozen' if view.frozen else 'not frozen'}, prepaid "
          f"{view.balance}, created at block {view.created_height} (proven at block "
          f"{view.height})")
    return EXIT_OK


def cmd_versions(args: argparse.Namespace) -> int:
    with Client(args.rpc) as client:
        views = client.contract_versions(address_arg(args.address))
    if args.json:
        _print_json({"ok": True, "versions": to_json(views)})
        return EXIT_OK
    for v in views:
        print(f"version {v.version}: code {hx(v.code_hash)}, block {v.height}, "
              f"tx {hx(v.tx_hash)}")
    return EXIT_OK


# --- the parser -----------------------------------------------------------------------------

def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rpc", default=DEFAULT_RPC, help=f"node URL (default {DEFAULT_RPC})")
    p.add_argument("--json", action="store_true", help="print one JSON document")


def _signing(p: argparse.ArgumentParser, fuel: bool = True) -> None:
    p.add_argument("--key", required=True, help="the sender's key file (xinlian keygen)")
    if fuel:
        p.add_argument("--fuel", type=int, default=DEFAULT_FUEL_LIMIT,
                       help=f"fuel limit (default {DEFAULT_FUEL_LIMIT:,})")
    p.add_argument("--fee-limit", type=int, default=None,
                   help="fee limit (default: the least the node admits)")
    p.add_argument("--timeout", type=float, default=30.0,
                   help="seconds to wait for the commit (default 30)")


def _compiling(p: argparse.ArgumentParser) -> None:
    p.add_argument("--contract", help="which contract of a .qi file (default: the last)")
    p.add_argument("-O", dest="opt", type=int, choices=[0, 1, 2], default=1,
                   help="optimisation level of a .qi file (default 1)")


def _abi_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--abi", help="the contract's ABI: its .abi.json, or its .qi source "
                   "(default: the ABI of its current code, proven from the chain)")
    _compiling(p)


def _method_target(p: argparse.ArgumentParser) -> None:
    p.add_argument("address", help=ADDRESS_HELP)
    p.add_argument("method")
    p.add_argument("args", nargs="*", metavar="ARG", help="arguments (JSON)")
    _abi_arg(p)


def _code_source(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("file", help=f"{what}: a .qi source, or a .wasm module")
    p.add_argument("--abi", help="the .wasm's ABI (default: FILE with .abi.json)")
    _compiling(p)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("contract", help="deploy, call and query Qi contracts on a node")
    c = group.add_subparsers(dest="contract_cmd", required=True)

    def command(name: str, text: str, cmd: Callable[[argparse.Namespace], int]
                ) -> argparse.ArgumentParser:
        p = c.add_parser(name, help=text)
        _common(p)
        p.set_defaults(func=_reporting(cmd))
        return p

    d = command("deploy", "deploy a contract (.qi compiled here, or .wasm + ABI)", cmd_deploy)
    _code_source(d, "the code")
    d.add_argument("args", nargs="*", metavar="ARG", help="constructor arguments (JSON)")
    _signing(d)

    k = command("call", "call a method in a transaction and wait for the receipt", cmd_call)
    _method_target(k)
    _signing(k)

    q = command("query", "run a method read-only (no transaction)", cmd_query)
    _method_target(q)
    q.add_argument("--height", type=int, default=None, help="on this block's state")

    p = command("proof", "a stored value, proven against a verified header", cmd_proof)
    p.add_argument("address", help=ADDRESS_HELP)
    p.add_argument("var", help="the state variable")
    p.add_argument("keys", nargs="*", metavar="KEY", help="map keys (JSON), outermost first")
    p.add_argument("--height", type=int, default=None, help="at this block")
    _abi_arg(p)

    e = command("events", "a contract's events from the node's index, proven complete",
                cmd_events)
    e.add_argument("address", help=ADDRESS_HELP)
    e.add_argument("event", help="the event's name, e.g. Transfer")
    e.add_argument("--where", metavar="FIELD=VALUE",
                   help="events whose indexed parameter FIELD equals VALUE (JSON)")
    e.add_argument("--from", dest="lo", metavar="FIELD=VALUE",
                   help="events whose indexed FIELD is at least VALUE")
    e.add_argument("--to", dest="hi", metavar="FIELD=VALUE",
                   help="events whose indexed FIELD is at most VALUE")
    e.add_argument("--limit", type=int, default=100, help="events per page (1..1000)")
    e.add_argument("--cursor", help="continue after a previous page (its cursor)")
    e.add_argument("--oldest-first", action="store_true")
    e.add_argument("--height", type=int, default=None, help="the index as of this block")
    _abi_arg(e)

    u = command("upgrade", "replace a contract's code (its admin only)", cmd_upgrade)
    u.add_argument("address", help=ADDRESS_HELP)
    _code_source(u, "the new code")
    _signing(u)

    i = command("info", "the contract's record, proven", cmd_info)
    i.add_argument("address", help=ADDRESS_HELP)
    i.add_argument("--height", type=int, default=None, help="at this block")

    command("versions", "every version of the contract's code, proven",
            cmd_versions).add_argument("address", help=ADDRESS_HELP)

    a = command("set-admin", "hand the contract's admin role on (its admin only)",
                cmd_set_admin)
    a.add_argument("address", help=ADDRESS_HELP)
    a.add_argument("admin", help="the new admin's address (0x and 40 hex digits)")
    _signing(a, fuel=False)

    f = command("fund", "prepay a contract's scheduled runs", cmd_fund)
    f.add_argument("address", help=ADDRESS_HELP)
    f.add_argument("amount", type=int)
    _signing(f, fuel=False)
