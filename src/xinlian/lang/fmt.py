"""The Qi formatter: one layout for every program, comments kept where they were.

Theory of operation. The formatter re-spaces the program's own tokens and never adds,
drops or reorders one, so the formatted program is the same program (it compiles to the
same module; `format_source` re-lexes its output and refuses to return text whose tokens
differ). The writer decides only whitespace:

- between two tokens on a line: one space or none, by the tokens' roles (a unary `-`
  hugs its operand, a call's `(` its callee, `list<u8>` has no spaces);
- line breaks: kept where the source has them (blank lines collapse to one, and go away
  after an opening and before a closing bracket). A block of statements written over
  several lines gets one statement per line; a block written on one line stays on it;
- indentation: four spaces per block level, one more for the continuation lines of a
  statement and for the lines inside a bracket opened on an earlier line.

Comments ride along: a comment on the line of a token stays there, a comment on a line of
its own stays on its own line, indented like the code around it. Since every rule
depends only on the tokens and on which of them start lines, and the output keeps both,
formatting formatted text changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from xinlian.lang.errors import CompileError, QiError
from xinlian.lang.fmt_roles import BLOCK, LIST, TokenRoles, token_roles
from xinlian.lang.lexer import Token, lex

MAX_SOURCE_BYTES = 1 << 20  # larger files are refused by the formatter and the language server
INDENT = "    "
_OPEN = {"(": ")", "[": "]", "{": "}"}
_CALL_WORDS = frozenset(["require", "assert", "init", "reads", "writes"])


class SourceTooLarge(QiError):
    """A source file over `MAX_SOURCE_BYTES`: refused before any work is done on it."""

    code = 7104
    name = "source_too_large"


class SourceNotText(QiError):
    """A source file that cannot be read or is not UTF-8 text."""

    code = 7105
    name = "source_not_text"


class FormatError(QiError):
    """The formatter's output would not be the same program; the source is left alone."""

    code = 7120
    name = "format_error"


def require_size(source: str, file: str) -> None:
    """Raise `SourceTooLarge` if `source` is over the limit."""
    size = len(source.encode("utf-8", "surrogatepass"))
    if size > MAX_SOURCE_BYTES:
        raise SourceTooLarge(f"{file}: {size} bytes, over the limit of {MAX_SOURCE_BYTES}")


def read_source(path: Path) -> str:
    """A source file's text, refusing an oversize file before reading it and a file that
    is not UTF-8 (`SourceTooLarge`, `SourceNotText`); `OSError`s become `SourceNotText`
    too, so a caller has one error family to report."""
    try:
        size = path.stat().st_size
        if size > MAX_SOURCE_BYTES:
            raise SourceTooLarge(f"{path}: {size} bytes, over the limit of {MAX_SOURCE_BYTES}")
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceNotText(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") \
            from exc
    except OSError as exc:
        raise SourceNotText(f"{path}: cannot be read ({exc.strerror or exc})") from exc


@dataclass
class _Frame:
    kind: str  # BLOCK, LIST, or "inline" (parentheses, brackets, literal braces)
    indent: int  # indentation of the lines inside
    multiline: bool = False  # a BLOCK/LIST written over several lines


def format_source(source: str, file: str = "<input>") -> str:
    """The formatted text of a Qi program; raises `CompileError` if it does not lex or
    parse, `SourceTooLarge` over the size limit."""
    require_size(source, file)
    tokens, diags = lex(source, file, comments=True)
    if diags:
        raise CompileError(sorted(diags, key=lambda d: (d.span.line, d.span.col)), source)
    code = [t for t in tokens if t.kind != "comment"]
    roles = token_roles(code, file, source)
    out = _Writer(tokens, roles).run()
    if _shape(lex(out, file, comments=True)[0]) != _shape(tokens):
        raise FormatError(f"{file}: formatting would change the program's tokens; "
                          "the file is left as it is")
    return out


def _shape(tokens: list[Token]) -> list[tuple[str, str]]:
    return [(t.kind, t.text) for t in tokens]


def _end_line(t: Token) -> int:
    return t.span.line + t.text.count("\n")


class _Writer:
    """Lays out one token stream (comments included) as lines of text."""

    def __init__(self, tokens: list[Token], roles: TokenRoles) -> None:
        self.tokens = tokens[:-1]  # without eof
        self.roles = roles
        self.code_index: dict[int, int] = {}  # position in `tokens` -> index without comments
        self.match: dict[int, int] = {}  # opener position <-> closer position
        self.generic_close: set[int] = set()
        self.index_tokens()
        self.lines: list[str] = []
        self.cur = ""
        self.line_indent = 0
        self.frames = [_Frame(BLOCK, 0, True)]
        self.stmt_end = True  # the last code token ended a statement or opened a block
        self.want_break: str | None = None  # "hard" after `//`; "stmt" / "close" after code

    def index_tokens(self) -> None:
        stack: list[int] = []
        depth = 0
        for pos, t in enumerate(self.tokens):
            if t.kind == "comment":
                continue
            ci = self.code_index[pos] = len(self.code_index)
            if t.kind != "op":
                continue
            if ci in self.roles.generic:
                depth += 1
            elif depth and t.text in (">", ">>"):
                depth -= len(t.text)
                self.generic_close.add(pos)
            elif t.text in _OPEN:
                stack.append(pos)
            elif t.text in (")", "]", "}"):
                opener = stack.pop()
                self.match[opener], self.match[pos] = pos, opener

    def role(self, pos: int) -> str | None:
        """BLOCK or LIST for a `{` (and its `}`) of those kinds, else None."""
        t = self.tokens[pos]
        if t.kind != "op" or t.text not in ("{", "}"):
            return None
        if t.text == "}":
            pos = self.match[pos]
        return self.roles.braces.get(self.code_index[pos])

    def is_code(self, pos: int, *texts: str) -> bool:
        t = self.tokens[pos]
        return t.kind == "op" and t.text in texts

    def run(self) -> str:
        prev_end = 1
        for pos, t in enumerate(self.tokens):
            self.place(pos, t, t.span.line - prev_end)
            prev_end = _end_line(t)
        self.flush()
        return "\n".join(self.lines) + "\n" if self.lines else ""

    def flush(self) -> None:
        if self.cur:
            self.lines.append(self.cur.rstrip())
        self.cur = ""

    def place(self, pos: int, t: Token, gap: int) -> None:
        comment = t.kind == "comment"
        closer = not comment and self.is_code(pos, ")", "]", "}")
        frame = self.frames.pop() if closer else None
        empty_pair = closer and self.match[pos] == pos - 1
        if comment:
            newline = gap > 0 or self.want_break == "hard"
        elif empty_pair:
            newline = False
        elif frame is not None and frame.multiline:
            newline = True
        elif self.want_break == "close" and t.kind == "kw" and t.text in ("else", "catch"):
            newline = gap > 0
        else:
            newline = gap > 0 or self.want_break is not None
        if not self.cur:
            newline = True
        if newline:
            self.new_line(pos, t, gap, frame)
        elif self.cur:
            self.cur += " " if self.spaced(pos - 1, pos) else ""
        self.cur += t.text
        if comment:
            if t.text.startswith("//"):
                self.want_break = "hard"
            return
        self.want_break = None
        self.after_code(pos, t, frame)

    def new_line(self, pos: int, t: Token, gap: int, closed: _Frame | None) -> None:
        had_text = bool(self.lines or self.cur)
        prev = self.tokens[pos - 1] if pos else None
        after_open = prev is not None and prev.kind == "op" and prev.text in _OPEN
        self.flush()
        if had_text and gap > 1 and not after_open and closed is None:
            self.lines.append("")
        top = self.frames[-1]
        if closed is not None:
            indent = closed.indent - 1
        elif top.kind == BLOCK and not self.stmt_end and self.role(pos) != BLOCK:
            indent = top.indent + 1  # a continuation line of a statement
        else:
            indent = top.indent
        self.line_indent = indent
        self.cur = INDENT * indent

    def after_code(self, pos: int, t: Token, closed: _Frame | None) -> None:
        role = self.role(pos)
        top = self.frames[-1]
        if closed is not None:
            self.stmt_end = closed.kind in (BLOCK, LIST)
            if closed.multiline:
                self.want_break = "close"
            return
        if t.kind == "op" and t.text in _OPEN:
            if role in (BLOCK, LIST):
                close = self.match[pos]
                multiline = _end_line(t) != self.tokens[close].span.line and close != pos + 1
                self.frames.append(_Frame(role, top.indent + 1, multiline))
                self.want_break = "stmt" if multiline else None
                self.stmt_end = True
            else:
                self.frames.append(_Frame("inline", self.line_indent + 1))
                self.stmt_end = False
            return
        self.stmt_end = t.text == ";" and t.kind == "op" and top.kind == BLOCK
        if self.stmt_end and top.multiline:
            self.want_break = "stmt"

    def spaced(self, before: int, pos: int) -> bool:
        """Whether one space separates two tokens on a line."""
        p, t = self.tokens[before], self.tokens[pos]
        if p.kind == "comment":
            return True
        if t.kind == "comment":
            return True
        pt, tt = p.text if p.kind == "op" else "", t.text if t.kind == "op" else ""
        if tt in (",", ";", ".", "?", ")", "]", "..", "::", ":") or pt in (".", "..", "(",
                                                                             "[", "::"):
            return False
        if self.code_index[before] in self.roles.unary and p.text != "not":
            return False
        if (self.code_index[before] in self.roles.generic
                or self.code_index[pos] in self.roles.generic or pos in self.generic_close):
            return False
        if tt == "(":  # a call's or a declaration's parameters hug the name
            return not (p.kind == "ident" or pt in (")", "]")
                        or (p.kind == "kw" and p.text in _CALL_WORDS))
        if tt == "[":  # an index hugs what it indexes
            return self.code_index[pos] in self.roles.lists
        if pt == "{":
            return tt != "}"
        return True
