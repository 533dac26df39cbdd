"""`xinlian qi check`: run the vulnerability detectors on a Qi program.

`find_issues` takes source text and returns findings, with no I/O, so that the command
line, the language server (through `editor_notes`) and tests share it. `project_rules`
reads a project's `.qi-rules/*.toml` (the only part that touches files).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from xinlian.lang import ast as A
from xinlian.lang import checker, parser
from xinlian.lang.detect_flow import Context, Detector, Finding
from xinlian.lang.detect_rules import RuleError, parse_rules
from xinlian.lang.detectors import DETECTORS
from xinlian.lang.editor import (
    ERROR_SEVERITY,
    HINT_SEVERITY,
    INFO_SEVERITY,
    WARNING_SEVERITY,
    Note,
    NoteSource,
)
from xinlian.lang.errors import CompileError
from xinlian.lang.upgrade_rule import UpgradeRule

RULES_DIR = ".qi-rules"
# as Slither's editor extension does: a high finding reads as an error, info as a hint
EDITOR_SEVERITY = {"high": ERROR_SEVERITY, "medium": WARNING_SEVERITY, "low": INFO_SEVERITY,
                   "info": HINT_SEVERITY}


def find_issues(source: str, file: str = "<input>", contract: str | None = None,
                rules: Sequence[Detector] = (), only: Iterable[str] | None = None,
                old_layout: list[dict[str, Any]] | None = None) -> list[Finding]:
    """Every finding of the built-in detectors and `rules` on the contract (default: the
    last of the file), ordered by line. `only` keeps the detectors with those ids;
    `old_layout` is the ABI storage of the version this one upgrades when that version is
    not in the file. A program that does not compile raises `CompileError`."""
    tree = parser.parse(source, file)
    prog = checker.check(tree, source, contract)
    ctx = context_of(tree, source, prog, old_layout)
    chosen = select(rules, only)
    found = [f for d in chosen for f in d.run(ctx)]
    return sorted(set(found), key=lambda f: (f.line, f.col, f.detector, f.message))


def editor_notes(rules: Sequence[Detector] = ()) -> NoteSource:
    """The detectors (built-in and `rules`) as a language server's extra diagnostics."""

    def run(source: str, file: str) -> list[Note]:
        try:
            found = find_issues(source, file, rules=rules)
        except CompileError:
            return []  # the editor already shows why it does not compile
        lines = source.split("\n")
        return [Note(f.line, f.col, _word_length(lines, f.line, f.col), f.message, f.detector,
                     EDITOR_SEVERITY[f.severity], "qi check") for f in found]

    return run


def _word_length(lines: list[str], line: int, col: int) -> int:
    """The length of the name (or else the one character) a finding points at."""
    text = lines[line - 1][col - 1:] if 0 < line <= len(lines) else ""
    word = re.match(r"\w+", text)
    return len(word.group()) if word else 1


def select(rules: Sequence[Detector] = (), only: Iterable[str] | None = None) -> list[Detector]:
    """The built-in detectors and `rules`, or those of them whose ids are in `only`."""
    every = [*DETECTORS, *rules]
    if only is None:
        return every
    wanted = set(only)
    unknown = wanted - {d.id for d in every}
    if unknown:
        raise RuleError(f"no detector with id {', '.join(sorted(unknown))}")
    return [d for d in every if d.id in wanted]


def context_of(tree: A.Program, source: str, prog: Any,
               old_layout: list[dict[str, Any]] | None = None) -> Context:
    decl = next((c for c in tree.contracts if c.name == prog.contract), None)
    ctx = Context(prog)
    if decl is None:
        return ctx
    ctx.contract_span = decl.span
    ctx.state_spans = {s.name: s.span for s in decl.states}
    old = next((c for c in tree.contracts if c.name == prog.upgrades), None)
    if old_layout is not None:
        ctx.old_states = frozenset(str(e["name"]) for e in old_layout)
    elif old is not None:
        ctx.old_states = frozenset(s.name for s in old.states)
    if old is not None:
        clause = old.upgrade_rule
        ctx.old_rule = UpgradeRule() if clause is None else UpgradeRule(
            clause.kind, clause.threshold, tuple(clause.approvers))
    return ctx


def project_rules(start: Path) -> list[Detector]:
    """The rules of the nearest `.qi-rules` folder at `start` or above it (none if there
    is none), file by file in name order."""
    for folder in [start, *start.parents]:
        rules_dir = folder / RULES_DIR
        if rules_dir.is_dir():
            return rules_in(rules_dir)
    return []


def rules_in(rules_dir: Path) -> list[Detector]:
    out: list[Detector] = []
    taken = {d.id for d in DETECTORS}
    for path in sorted(rules_dir.glob("*.toml")):
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise RuleError(f"{path}: cannot read: {exc}") from exc
        found = parse_rules(text, str(path), taken)
        taken |= {d.id for d in found}
        out += found
    return out
