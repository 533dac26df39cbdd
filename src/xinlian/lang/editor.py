"""What an editor asks of the compiler about one source text: its diagnostics, the types of
its names, and its outline.

`analyse` runs the parser, then the checker once per contract of the file (so every
contract, its tests and its specifications are checked, not only the one a build picks)
and the storage-layout check of an upgrade, and gathers everything into one `Analysis`.
Positions are the compiler's: 1-based lines and columns counted in characters; the
language server converts them to the protocol's.

Other analyses (the vulnerability detectors, a user's own rules) plug in as `NoteSource`s:
functions from a source text and its file name to notes, run only on a program that
compiles, since they read a checked program.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from xinlian.lang import ast as A
from xinlian.lang import ir
from xinlian.lang.checker import ERROR, Checker
from xinlian.lang.compiler import check_upgrade_layout
from xinlian.lang.errors import CompileError, Diagnostic, Span
from xinlian.lang.lexer import Token, lex
from xinlian.lang.parser import parse
from xinlian.lang.types import Ty

ERROR_SEVERITY, WARNING_SEVERITY, INFO_SEVERITY, HINT_SEVERITY = "error", "warning", "info", "hint"


@dataclass(frozen=True)
class Note:
    """One message about a place in the source (1-based line and column, in characters)."""

    line: int
    col: int
    length: int
    message: str
    code: str
    severity: str = ERROR_SEVERITY
    source: str = "qi"


NoteSource = Callable[[str, str], list[Note]]  # (source text, file name) -> notes


@dataclass(frozen=True)
class Hover:
    line: int
    col: int
    length: int
    text: str  # `name: type` or a function's signature


@dataclass
class Symbol:
    name: str
    kind: str  # contract, interface, struct, enum, function, constructor, state, event, ...
    span: Span  # where the name (or the declaring keyword) is
    end: tuple[int, int]  # line and column just after the declaration's last token
    children: list[Symbol] = field(default_factory=list)


@dataclass
class Analysis:
    notes: list[Note]
    hovers: list[Hover]
    symbols: list[Symbol]

    def hover_at(self, line: int, col: int) -> Hover | None:
        """The hover whose text covers this position, if any."""
        return next((h for h in self.hovers
                     if h.line == line and h.col <= col < h.col + h.length), None)


def note_of(d: Diagnostic) -> Note:
    return Note(d.span.line, d.span.col, d.span.length, d.message, f"E{d.code}")


def analyse(source: str, file: str, extra: Sequence[NoteSource] = ()) -> Analysis:
    """Diagnostics, hovers and outline of `source`; `extra` sources run if it compiles."""
    try:
        tree = parse(source, file)
    except CompileError as exc:
        return Analysis([note_of(d) for d in exc.diagnostics], [], [])
    diags: list[Diagnostic] = []
    hovers: dict[Hover, None] = {}
    contracts: list[str | None] = [c.name for c in tree.contracts] or [None]
    for contract in contracts:
        recorder = _TypeRecorder(tree, source)
        try:
            prog = recorder.run(contract)
            check_upgrade_layout(tree, source, prog)
        except CompileError as exc:
            diags += exc.diagnostics
        hovers.update(dict.fromkeys(recorder.hovers))
    notes = [note_of(d) for d in dict.fromkeys(diags)]
    if not notes:
        for run in extra:
            notes += run(source, file)
    hovers.update(dict.fromkeys(_declaration_hovers(tree)))
    return Analysis(notes, list(hovers), _outline(tree, lex(source, file)[0]))


class _TypeRecorder(Checker):
    """The checker in test mode, writing down the type of each name and field it checks
    (state maps included, which it reads as paths, not names) and the signature of each
    function it sees called."""

    def __init__(self, prog: A.Program, source: str) -> None:
        super().__init__(prog, source, test_mode=True)
        self.hovers: list[Hover] = []

    def note(self, span: Span, text: str) -> None:
        self.hovers.append(Hover(span.line, span.col, span.length, text))

    def expr(self, e: A.Expr, want: Ty | None, allow_unit: bool = False) -> ir.Expr:
        out = super().expr(e, want, allow_unit)
        if out.ty != ERROR and isinstance(e, A.Name):
            self.note(e.span, f"{e.ident}: {out.ty}")
        elif out.ty != ERROR and isinstance(e, A.Field):
            self.note(e.span, f"{e.name}: {out.ty}")
        return out

    def map_path(self, e: A.Expr) -> tuple[ir.StateVar, list[ir.Expr]] | None:
        found = super().map_path(e)
        root = e
        while isinstance(root, A.Index):
            root = root.base
        if found is not None:
            self.note(root.span, f"{found[0].name}: {found[0].ty}")
        return found

    def e_Call(self, e: A.Call, want: Ty | None) -> ir.Expr:
        if isinstance(e.func, A.Name) and e.func.ident in self.fn_sigs:
            self.note(e.func.span, signature(self.fn_sigs[e.func.ident]))
        return super().e_Call(e, want)


def type_text(t: A.TypeRef) -> str:
    """A type as it is written in source."""
    if t.name == "array":
        return f"[{type_text(t.args[0])}; {t.size}]"
    if t.name == "optional":
        return f"{type_text(t.args[0])}?"
    if t.args:
        return f"{t.name}<{', '.join(type_text(a) for a in t.args)}>"
    return t.name


def signature(d: A.FnDecl) -> str:
    words = ["pub"] * d.public + ["view"] * d.view + ["fn"]
    params = ", ".join(f"{p.name}: {type_text(p.type)}" for p in d.params)
    ret = f" -> {type_text(d.ret)}" if d.ret else ""
    return f"{' '.join(words)} {d.name}({params}){ret}"


def _functions(tree: A.Program) -> Iterable[A.FnDecl]:
    yield from tree.functions
    for c in tree.contracts:
        yield from c.functions
    for i in tree.interfaces:
        yield from i.methods


def _declaration_hovers(tree: A.Program) -> Iterable[Hover]:
    for d in _functions(tree):
        if not d.is_init:
            yield Hover(d.span.line, d.span.col, d.span.length, signature(d))
        for p in d.params:
            yield Hover(p.span.line, p.span.col, p.span.length, f"{p.name}: {type_text(p.type)}")
    for s in tree.structs:
        for p in s.fields:
            yield Hover(p.span.line, p.span.col, p.span.length, f"{p.name}: {type_text(p.type)}")


def _outline(tree: A.Program, tokens: list[Token]) -> list[Symbol]:
    ends = _DeclarationEnds(tokens)

    def sym(name: str, kind: str, span: Span, children: list[Symbol] | None = None) -> Symbol:
        return Symbol(name, kind, span, ends.end_from(span), children or [])

    def fn(d: A.FnDecl) -> Symbol:
        return sym(d.name, "constructor" if d.is_init else "function", d.span)

    out = [sym(s.name, "struct", s.span, [
        Symbol(p.name, "field", p.span, (p.span.line, p.span.col + p.span.length))
        for p in s.fields]) for s in tree.structs]
    out += [sym(e.name, "enum", e.span) for e in tree.enums]
    out += [sym(i.name, "interface", i.span, [fn(m) for m in i.methods])
            for i in tree.interfaces]
    out += [fn(d) for d in tree.functions]
    for c in tree.contracts:
        members = [sym(s.name, "state", s.span) for s in c.states]
        members += [sym(e.name, "event", e.span) for e in c.events]
        members += [sym(e.name, "error", e.span) for e in c.errors]
        members += [fn(d) for d in c.functions]
        out.append(sym(c.name, "contract", c.span, members))
    return sorted(out, key=lambda s: (s.span.line, s.span.col))


class _DeclarationEnds:
    """Where a declaration that starts at a token ends: at its `;` or at the `}` that
    closes its first brace, whichever comes first at its own nesting level."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = {(t.span.line, t.span.col): i for i, t in enumerate(tokens)}

    def end_from(self, span: Span) -> tuple[int, int]:
        i = self.index.get((span.line, span.col), len(self.tokens) - 1)
        depth = 0
        last = self.tokens[i]
        for t in self.tokens[i:]:
            if t.kind == "eof":
                break
            last = t
            if t.kind != "op":
                continue
            if t.text in ("(", "[", "{"):
                depth += 1
            elif t.text in (")", "]", "}"):
                depth -= 1
                if depth < 0 or (depth == 0 and t.text == "}"):
                    break
            elif t.text == ";" and depth == 0:
                break
        return last.span.line, last.span.col + len(last.text)
