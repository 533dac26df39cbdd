"""What the workbench asks of the Qi toolchain about one file, as JSON-ready dicts: the
same compiler, test runner, prover and detectors as `xinlian qi compile/test/verify/check`.
A file that does not compile answers with its diagnostics (1-based line and column)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xinlian.cli.qi_tests import run_tests
from xinlian.execution.vm.debugger import debug_call
from xinlian.lang.compiler import Artifact, compile_source
from xinlian.lang.detect import find_issues, project_rules
from xinlian.lang.errors import CompileError
from xinlian.lang.verify import verify_source

OPT_LEVELS = (0, 1, 2)
VERIFY_TIMEOUT_MS = 10_000


def diagnostics(exc: CompileError) -> dict[str, Any]:
    return {"ok": False, "diagnostics": [
        {"line": d.span.line, "col": d.span.col, "length": d.span.length,
         "code": f"E{d.code}", "message": d.message} for d in exc.diagnostics]}


def compiled(art: Artifact) -> dict[str, Any]:
    return {"ok": True, "size": len(art.wasm), "code_hash": art.code_hash, "abi": art.abi,
            "debug": [[off, fn, s.line, s.col] for off, fn, s in art.source_map]}


def compile_file(source: str, file: str, opt_level: int) -> dict[str, Any]:
    try:
        return compiled(compile_source(source, file, opt_level))
    except CompileError as exc:
        return diagnostics(exc)


def test_file(source: str, file: str) -> dict[str, Any]:
    try:
        outcomes = run_tests(source, file)
    except CompileError as exc:
        return diagnostics(exc)
    return {"ok": all(t.passed for t in outcomes), "tests": [
        {"contract": t.contract, "name": t.name, "passed": t.passed, "failure": t.failure,
         "fuel_used": t.fuel_used} for t in outcomes]}


def debug_file(source: str, file: str, call: str | None, test: str | None,
               init: list[str]) -> dict[str, Any]:
    """The recorded trace of one call (after deploying with `init`) or `test fn` of a
    debug build, on a local chain of its own (never the connected node)."""
    try:
        trace = debug_call(source, file, call, test, init)
    except CompileError as exc:
        return diagnostics(exc)
    return {"ok": trace.error is None, "trace": trace.to_json()}


def verify_file(source: str, file: str) -> dict[str, Any]:
    try:
        report = verify_source(source, file, None, VERIFY_TIMEOUT_MS)
    except CompileError as exc:
        return diagnostics(exc)
    return {"ok": True, **report.to_json()}


def check_file(source: str, file: str, project: Path) -> dict[str, Any]:
    """The detectors' findings, with the project's own `.qi-rules`."""
    try:
        found = find_issues(source, file, rules=project_rules(project))
    except CompileError as exc:
        return diagnostics(exc)
    return {"ok": True, "findings": [f.to_json() for f in found]}
