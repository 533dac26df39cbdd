"""`xinlian qi`: compile, run and test Qi contracts from the command line."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xinlian.lang import parser
from xinlian.lang.abi_json import args_from_text, params_of, value_to_json
from xinlian.lang.compiler import Artifact, compile_source
from xinlian.lang.detect_flow import SEVERITIES
from xinlian.lang.errors import (
    ArgumentError,
    CompileError,
    EngineError,
    FuelLimitError,
    QiError,
)
from xinlian.lang.fmt import format_source
from xinlian.lang.types import ADDRESS_LEN


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    qi = subparsers.add_parser("qi", help="the Qi contract language toolchain")
    sub = qi.add_subparsers(dest="qi_command", required=True)

    c = sub.add_parser("compile", help="compile a .qi file to a Wasm module")
    c.add_argument("file")
    _opt_flags(c)
    c.add_argument("-o", "--output", help="module path (default: FILE with .wasm)")
    c.add_argument("--abi", action="store_true", help="also write FILE.abi.json")
    c.add_argument("--debug", action="store_true", help="also write the source map FILE.map.json")
    c.set_defaults(func=_reporting(cmd_compile))

    r = sub.add_parser("run", help="deploy into a local in-memory chain and call a method")
    r.add_argument("file")
    _opt_flags(r)
    r.add_argument("--init", nargs="*", default=[], metavar="ARG",
                   help="constructor arguments (JSON)")
    r.add_argument("--call", required=True, nargs="+", metavar=("FN", "ARG"),
                   help="method to call and its arguments (JSON; bytes as \"0x..\")")
    r.add_argument("--sender", default=None, help="caller address (40 hex digits)")
    r.add_argument("--fuel", type=int, default=None)
    r.set_defaults(func=_reporting(cmd_run))

    t = sub.add_parser("test", help="run `test fn`s in .qi files (and pytest on .py files)")
    t.add_argument("files", nargs="+")
    t.set_defaults(func=_reporting(cmd_test))

    d = sub.add_parser("debug", help="step through a call (or a test) at source level")
    d.add_argument("file")
    d.add_argument("--contract", help="which contract of the file (default: the last)")
    what = d.add_mutually_exclusive_group(required=True)
    what.add_argument("--call", metavar="'METHOD(ARGS)'",
                      help="the call to debug, arguments as JSON (bytes as \"0x..\")")
    what.add_argument("--test", metavar="NAME", help="debug this `test fn` instead")
    d.add_argument("--init", nargs="*", default=[], metavar="ARG",
                   help="constructor arguments (JSON)")
    d.add_argument("--sender", default=None, help="caller address (40 hex digits)")
    d.add_argument("--break", dest="breaks", type=int, action="append", default=[],
                   metavar="LINE", help="print only the steps at this line (repeatable)")
    d.add_argument("--json", action="store_true", help="print the whole trace as JSON")
    d.set_defaults(func=_reporting(cmd_debug))

    v = sub.add_parser("verify", help="prove each public function against its specification")
    v.add_argument("file")
    v.add_argument("--contract", help="which contract of the file (default: the last)")
    v.add_argument("--function", help="only this function")
    v.add_argument("--timeout", type=float, default=10.0,
                   help="seconds per proof goal (default 10)")
    v.add_argument("--json", action="store_true", help="print the report as JSON")
    v.add_argument("--emit-test", metavar="OUT.qi",
                   help="write FILE with the first counterexample added as a failing `test fn`")
    v.set_defaults(func=_reporting(cmd_verify))

    k = sub.add_parser("check", help="run the vulnerability detectors (and the project's "
                       ".qi-rules) on a contract")
    k.add_argument("file")
    k.add_argument("--contract", help="which contract of the file (default: the last)")
    k.add_argument("--format", choices=["text", "json", "sarif"], default="text")
    k.add_argument("--rules", metavar="DIR", help="load rules from DIR/*.toml (default: the "
                   "nearest .qi-rules folder at or above FILE's folder)")
    k.add_argument("--no-rules", action="store_true", help="built-in detectors only")
    k.add_argument("--only", metavar="ID,...", help="run only these detectors")
    k.add_argument("--fail-on", choices=list(SEVERITIES), default="low",
                   help="exit 1 if a finding is at least this severe (default: low)")
    k.add_argument("--upgrade-from", help="ABI JSON of the version this one upgrades")
    k.add_argument("--list", action="store_true", help="list the detectors and exit")
    k.set_defaults(func=_reporting(cmd_check))
    f = sub.add_parser("fmt", help="format .qi files in place (idempotent, keeps comments)")
    f.add_argument("files", nargs="+")
    f.add_argument("--check", action="store_true",
                   help="change nothing; exit 1 if a file is not formatted")
    f.set_defaults(func=cmd_fmt)

    lsp = sub.add_parser("lsp", help="serve the Language Server Protocol on stdin/stdout")
    lsp.set_defaults(func=cmd_lsp)


# exit statuses of `xinlian qi run` (and of compile/test where they apply)
EXIT_OK, EXIT_CALL_FAILED, EXIT_BAD_INPUT, EXIT_INIT_FAILED = 0, 1, 2, 3
# `qi verify`: all goals proved 0, a counterexample 1, bad input or unsupported 2, timeout 4
EXIT_TIMEOUT = 4
# `qi check`: no finding at or above --fail-on 0, some 1, bad input or a bad rule 2


def _reporting(cmd: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run a subcommand; a bad program, bad module, bad argument value or unreadable file
    is printed as a typed error (never a traceback), exit status 2."""
    def run(args: argparse.Namespace) -> int:
        try:
            return cmd(args)
        except CompileError as exc:
            print(str(exc), file=sys.stderr)
        except QiError as exc:
            print(f"error[{exc.code} {exc.name}]: {exc}", file=sys.stderr)
        except OSError as exc:
            print(f"error: cannot read {exc.filename or 'file'}: {exc.strerror or exc}",
                  file=sys.stderr)
        return EXIT_BAD_INPUT
    return run


def _opt_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-O", dest="opt", type=int, choices=[0, 1, 2], default=1,
                   help="optimisation level: -O0, -O1 (default), -O2")
    p.add_argument("--contract", help="which contract of the file (default: the last)")
    p.add_argument("--upgrade-from", help="ABI JSON of the version this one upgrades")


def _old_layout(args: argparse.Namespace) -> list[dict[str, Any]] | None:
    """The storage layout of `--upgrade-from ABI.json`, if given."""
    if not getattr(args, "upgrade_from", None):
        return None
    try:
        layout: list[dict[str, Any]] = json.loads(Path(args.upgrade_from).read_text())["storage"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ArgumentError(f"--upgrade-from {args.upgrade_from} is not an ABI JSON "
                            f"with a `storage` section ({exc})") from exc
    return layout


def _compile(args: argparse.Namespace, test_mode: bool = False) -> Artifact:
    path = Path(args.file)
    return compile_source(path.read_text(), str(path), args.opt, args.contract,
                          test_mode=test_mode, old_layout=_old_layout(args))


def cmd_compile(args: argparse.Namespace) -> int:
    art = _compile(args)
    out = Path(args.output or Path(args.file).with_suffix(".wasm"))
    out.write_bytes(art.wasm)
    print(f"{out}: {len(art.wasm)} bytes, sha256 {art.code_hash}")
    if args.abi:
        p = out.with_suffix(".abi.json")
        p.write_text(art.abi_json() + "\n")
        print(p)
    if args.debug:
        p = out.with_suffix(".map.json")
        p.write_text(art.debug_json() + "\n")
        print(p)
    return 0


def _parse_args(art: Artifact, fn: str, raw: list[str]) -> list[Any]:
    return args_from_text(params_of(art.abi, fn), fn, raw)


def parse_address(text: str) -> bytes:
    """An address given on the command line: 40 hex digits, with or without `0x`."""
    try:
        raw = bytes.fromhex(text.removeprefix("0x").removeprefix("0X"))
    except ValueError:
        raw = b""
    if len(raw) != ADDRESS_LEN:
        raise ArgumentError(f"--sender {text!r} is not an address (40 hex digits, "
                            "optionally after 0x)")
    return raw


def cmd_run(args: argparse.Namespace) -> int:
    from xinlian.execution.vm.engine import MAX_TX_FUEL
    from xinlian.execution.vm.local import DEFAULT_SENDER, LocalChain

    sender = parse_address(args.sender) if args.sender is not None else DEFAULT_SENDER
    if args.fuel is not None and not 1 <= args.fuel <= MAX_TX_FUEL:
        raise FuelLimitError(f"--fuel {args.fuel} is outside 1..{MAX_TX_FUEL}")
    art = _compile(args)
    chain = LocalChain()
    init = _parse_args(art, "init", args.init) if args.init else []
    fn, *raw = args.call
    call_args = _parse_args(art, fn, raw)
    try:
        addr = chain.deploy(art, *init, sender=sender)
    except EngineError as exc:  # the constructor failed: nothing was deployed
        print(json.dumps({"stage": "init", "error": exc.to_dict()}, indent=2,
                         ensure_ascii=False))
        return EXIT_INIT_FAILED
    res = chain.call(addr, fn, *call_args, sender=sender, fuel=args.fuel,
                     measure_memory=True)
    report: dict[str, Any] = {"fuel_used": res.fuel_used}
    if res.ok:
        report["result"] = value_to_json(res.value)
        report["events"] = [{"name": e.name, "args": value_to_json(e.args),
                             "indexed": list(e.indexed)} for e in res.events]
    else:
        assert res.error is not None
        report["error"] = res.error.to_dict()
    report["resources"] = res.resources()
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return EXIT_OK if res.ok else EXIT_CALL_FAILED


def cmd_test(args: argparse.Namespace) -> int:
    from xinlian.cli.qi_tests import run_tests

    failures = passed = py_code = 0
    py_files = [f for f in args.files if f.endswith(".py")]
    for f in args.files:
        if f.endswith(".py"):
            continue
        for t in run_tests(Path(f).read_text(), f):
            label = f"{f}::{t.contract}::{t.name}" if t.contract else f"{f}::{t.name}"
            if t.passed:
                passed += 1
                print(f"PASS {label} ({t.fuel_used} fuel)")
            else:
                failures += 1
                print(f"FAIL {label}: {t.failure}")
    if py_files:
        # a separate process: pytest installs signal handlers (faulthandler) that would
        # replace the ones wasmtime uses to turn traps into errors in this process
        py_code = subprocess.run([sys.executable, "-m", "pytest", "-q", *py_files],
                                 check=False).returncode
        print(f"pytest: {'passed' if py_code == 0 else f'failed (exit {py_code})'}")
    print(f"Qi tests: {passed} passed, {failures} failed")
    if passed + failures == 0 and not py_files:
        print("error: no tests ran", file=sys.stderr)
        return 1
    return 0 if failures == 0 and py_code == 0 else 1


def cmd_debug(args: argparse.Namespace) -> int:
    from xinlian.cli.qi_debug import print_trace
    from xinlian.execution.vm.debugger import debug_call
    from xinlian.execution.vm.local import DEFAULT_SENDER

    sender = parse_address(args.sender) if args.sender is not None else DEFAULT_SENDER
    trace = debug_call(Path(args.file).read_text(), args.file, args.call, args.test,
                       args.init, args.contract, sender)
    doc = trace.to_json()
    if args.breaks:
        doc["steps"] = [dict(s, index=i) for i, s in enumerate(doc["steps"])
                        if s["line"] in args.breaks]
    if args.json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        print_trace(doc, args.file)
    return EXIT_OK if trace.error is None else EXIT_CALL_FAILED


def cmd_verify(args: argparse.Namespace) -> int:
    from xinlian.lang.verify import COUNTEREXAMPLE, TIMEOUT, verify_source

    if not 0 < args.timeout <= 3600:
        raise ArgumentError("--timeout must be between 0 and 3600 seconds")
    report = verify_source(Path(args.file).read_text(), args.file, args.contract,
                           int(args.timeout * 1000), args.function)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        for g in report.goals:
            print(f"{g.status.upper():14} {args.file}:{g.line} {g.function}: {g.what} "
                  f"({g.seconds:.3f} s)")
            if g.counterexample:
                print(f"    {json.dumps(g.counterexample)}")
        print(f"{report.status}: {len(report.goals)} goals" if report.goals else
              "nothing to prove: no specifications")
    if args.emit_test:
        _emit_test(args, report)
    return {COUNTEREXAMPLE: EXIT_CALL_FAILED, TIMEOUT: EXIT_TIMEOUT}.get(report.status, EXIT_OK)


def cmd_check(args: argparse.Namespace) -> int:
    from xinlian.lang import detect, detect_report

    if args.rules and args.no_rules:
        raise ArgumentError("--rules and --no-rules exclude each other")
    path = Path(args.file)
    rules = ([] if args.no_rules else detect.rules_in(Path(args.rules)) if args.rules
             else detect.project_rules(path.resolve().parent))
    only = [x for x in args.only.split(",") if x] if args.only else None
    chosen = detect.select(rules, only)
    if args.list:
        for d in chosen:
            print(f"{d.id:24} {d.severity:7} {d.title}")
        return EXIT_OK
    findings = detect.find_issues(path.read_text(), str(path), args.contract, rules, only,
                                  _old_layout(args))
    if args.format == "json":
        print(detect_report.json_report(findings, chosen))
    elif args.format == "sarif":
        print(detect_report.sarif_report(findings, chosen))
    else:
        print(detect_report.text_report(findings))
    worst = SEVERITIES.index(args.fail_on)
    return EXIT_CALL_FAILED if any(SEVERITIES.index(f.severity) <= worst
                                   for f in findings) else EXIT_OK
def cmd_fmt(args: argparse.Namespace) -> int:
    """Format each file (or with --check only report it); a file that cannot be read,
    is too large or does not parse is reported and left untouched, and the others are
    still done (exit 2 if any was bad, else 1 if --check found one to change)."""
    from xinlian.lang.fmt import read_source

    bad = unformatted = 0
    for name in args.files:
        path = Path(name)
        try:
            source = read_source(path)
            formatted = format_source(source, name)
        except CompileError as exc:
            print(str(exc), file=sys.stderr)
            bad += 1
            continue
        except QiError as exc:
            print(f"error[{exc.code} {exc.name}]: {exc}", file=sys.stderr)
            bad += 1
            continue
        if formatted == source:
            continue
        unformatted += 1
        if args.check:
            print(f"would reformat {name}")
        else:
            _replace(path, formatted)
            print(f"formatted {name}")
    if bad:
        return EXIT_BAD_INPUT
    return 1 if args.check and unformatted else EXIT_OK


def _replace(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file, so a failed write leaves the old."""
    tmp = path.with_name(f".{path.name}.fmt-tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def cmd_lsp(args: argparse.Namespace) -> int:
    from xinlian.cli.lsp.stdio import serve_stdio

    return serve_stdio()


def _emit_test(args: argparse.Namespace, report: Any) -> None:
    from xinlian.lang.replay import with_test

    source = Path(args.file).read_text()
    tree = parser.parse(source, args.file)
    if report.contract != tree.contracts[-1].name:
        raise ArgumentError("--emit-test adds the test to the last contract of the file: "
                            f"`{report.contract}` is not")
    test = next((g.test for g in report.goals if g.test), None)
    if test is None:
        print("no test written: no counterexample a test can replay", file=sys.stderr)
        return
    Path(args.emit_test).write_text(with_test(source, test))
    print(f"{args.emit_test}: run it with `xinlian qi test {args.emit_test}`")
