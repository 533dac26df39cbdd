"""User-defined detectors: declarative rules over the IR, read from TOML.

A project keeps its rules in `.qi-rules/*.toml`; `xinlian qi check` loads them next to the
built-in detectors. Each `[[rule]]` names the IR node it reports (`[rule.match]`), and may
narrow it to functions (`[rule.function]`), to nodes that run after another node
(`[rule.after]`), and to functions where some node is absent (`[rule.unless]`, searched in
the function and every function it calls). The format is in docs/qi/detectors.md. A rule
that does not follow it is refused whole with `RuleError`, naming the file, the rule and
the key.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from xinlian.lang import ir
from xinlian.lang.detect_flow import (
    SEVERITIES,
    Context,
    Detector,
    Finding,
    conditions,
    exprs_in,
    in_order,
)
from xinlian.lang.errors import QiError

NODES = ("state_write", "state_read", "host", "call", "ext_call", "async", "emit", "revert",
         "binary", "cast", "loop", "try")
FUNCTION_KINDS = ("fn", "init", "migrate", "callback", "scheduled")
RULE_KEYS = {"id", "severity", "title", "description", "message", "match", "function",
             "after", "unless"}
PATTERN_KEYS = {"node", "name", "in_condition"}
FUNCTION_KEYS = {"name", "public", "view", "kind"}
ID = re.compile(r"[a-z][a-z0-9-]{1,63}")


class RuleError(QiError):
    """A user-defined detector rule is malformed: bad TOML, an unknown key or node kind, a
    missing field, a bad severity, or an id that is taken."""

    code = 7230
    name = "bad_detector_rule"


@dataclass(frozen=True)
class Pattern:
    """An IR node: its kind, a glob on its name, and whether it must be in a condition."""

    node: str
    name: str | None = None
    in_condition: bool | None = None

    def matches(self, n: ir.Stmt | ir.Expr, in_cond: bool) -> bool:
        label = _label(n, self.node)
        if label is None:
            return False
        if self.name is not None and not fnmatch.fnmatchcase(label, self.name):
            return False
        return self.in_condition is None or self.in_condition == in_cond


def _label(n: ir.Stmt | ir.Expr, kind: str) -> str | None:
    """The name `n` goes by if it is a node of `kind` (the empty string if nameless)."""
    match kind, n:
        case ("state_write", ir.SStore(state=st)) | ("state_read", ir.SLoad(state=st)):
            return st.name
        case "host", ir.Host(name=name):
            return name
        case "call", ir.Call(fn=name):
            return name
        case "ext_call", ir.ExtCall(iface=iface, method=method):
            return f"{iface}.{method}"
        case "async", ir.Async(args=[ir.ExtCall(iface=iface, method=method)]):
            return f"{iface}.{method}"
        case "binary", ir.Bin(op=op):
            return op
        case "cast", ir.Cast(ty=ty):
            return str(ty)
        case ("emit", ir.Emit()) | ("revert", ir.Revert()) | ("loop", ir.Loop()) | \
                ("try", ir.Try() | ir.TryBlock()):
            return ""
    return None


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    title: str
    description: str
    message: str
    match: Pattern
    function: dict[str, Any]
    after: Pattern | None
    unless: Pattern | None

    def detector(self) -> Detector:
        return Detector(self.id, self.severity, self.title, self.description, self.run)

    def run(self, ctx: Context) -> list[Finding]:
        out = []
        for fn in ctx.functions():
            if not self.selects(fn):
                continue
            reached = ctx.reach(fn)
            if self.unless is not None and any(self.unless.matches(n, c) for g in reached
                                               for n, c in _nodes(g)):
                continue
            seen_after = self.after is None
            for n, in_cond in _nodes(fn):
                if self.match.matches(n, in_cond) and seen_after:
                    out.append(ctx.finding(self.id, self.severity,
                                           f"`{fn.name}`: {self.message}", n.span, fn))
                if self.after is not None and self.after.matches(n, in_cond):
                    seen_after = True
        return out

    def selects(self, fn: ir.Function) -> bool:
        f = self.function
        return ((f.get("name") is None or fnmatch.fnmatchcase(fn.name, f["name"]))
                and f.get("public", fn.public) == fn.public
                and f.get("view", fn.view) == fn.view
                and f.get("kind", fn.kind) == fn.kind)


def _nodes(fn: ir.Function) -> Iterator[tuple[ir.Stmt | ir.Expr, bool]]:
    """Every node of `fn` in program order, with whether it is part of a condition."""
    cond = {id(e) for c in conditions(fn.body) for e in exprs_in(c)}
    seen: set[int] = set()
    for n in in_order(fn.body):
        if id(n) not in seen:  # loop bodies come twice in `in_order`
            seen.add(id(n))
            yield n, id(n) in cond


def parse_rules(text: str, file: str, taken: set[str] | None = None) -> list[Detector]:
    """The detectors of one rule file's text (no I/O: the language server passes text)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{file}: not valid TOML: {exc}") from exc
    extra = set(doc) - {"rule"}
    if extra:
        raise RuleError(f"{file}: unknown top-level key(s) {', '.join(sorted(extra))}; "
                        "rules are `[[rule]]` tables")
    rules = doc.get("rule", [])
    if not isinstance(rules, list) or not rules:
        raise RuleError(f"{file}: no `[[rule]]` tables")
    used = set(taken or ())
    out = []
    for i, raw in enumerate(rules, 1):
        rule = _rule(raw, f"{file}: rule {i}")
        if rule.id in used:
            raise RuleError(f"{file}: rule {i}: id `{rule.id}` is already taken")
        used.add(rule.id)
        out.append(rule.detector())
    return out


def _rule(raw: Any, where: str) -> Rule:
    if not isinstance(raw, dict):
        raise RuleError(f"{where}: a rule is a table")
    _keys(raw, RULE_KEYS, where)
    for key in ("id", "severity", "description", "match"):
        if key not in raw:
            raise RuleError(f"{where}: missing `{key}`")
    rid = _text(raw, "id", where)
    if not ID.fullmatch(rid):
        raise RuleError(f"{where}: id `{rid}` must be 2-64 of a-z, 0-9 and `-`, starting "
                        "with a letter")
    where = f"{where} (`{rid}`)"
    severity = _text(raw, "severity", where)
    if severity not in SEVERITIES:
        raise RuleError(f"{where}: severity `{severity}` is not one of {', '.join(SEVERITIES)}")
    title = _text(raw, "title", where) if "title" in raw else rid
    function = raw.get("function", {})
    if not isinstance(function, dict):
        raise RuleError(f"{where}: `function` is a table")
    _keys(function, FUNCTION_KEYS, f"{where}: function")
    for key, ty in (("name", str), ("public", bool), ("view", bool), ("kind", str)):
        if key in function and not isinstance(function[key], ty):
            raise RuleError(f"{where}: function.{key} must be a {ty.__name__}")
    if function.get("kind", "fn") not in FUNCTION_KINDS:
        raise RuleError(f"{where}: function.kind `{function['kind']}` is not one of "
                        f"{', '.join(FUNCTION_KINDS)}")
    return Rule(rid, severity, title, _text(raw, "description", where),
                _text(raw, "message", where) if "message" in raw else title,
                _pattern(raw["match"], f"{where}: match"), function,
                _pattern(raw["after"], f"{where}: after") if "after" in raw else None,
                _pattern(raw["unless"], f"{where}: unless") if "unless" in raw else None)


def _pattern(raw: Any, where: str) -> Pattern:
    if not isinstance(raw, dict):
        raise RuleError(f"{where}: must be a table")
    _keys(raw, PATTERN_KEYS, where)
    node = raw.get("node")
    if node not in NODES:
        raise RuleError(f"{where}: node `{node}` is not one of {', '.join(NODES)}")
    name = _text(raw, "name", where) if "name" in raw else None
    in_cond = raw.get("in_condition")
    if in_cond is not None and not isinstance(in_cond, bool):
        raise RuleError(f"{where}: in_condition must be true or false")
    return Pattern(node, name, in_cond)


def _keys(raw: dict[str, Any], allowed: set[str], where: str) -> None:
    extra = set(raw) - allowed
    if extra:
        raise RuleError(f"{where}: unknown key(s) {', '.join(sorted(extra))} (allowed: "
                        f"{', '.join(sorted(allowed))})")


def _text(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw[key]
    if not isinstance(value, str) or not value:
        raise RuleError(f"{where}: `{key}` must be a non-empty string")
    return value
