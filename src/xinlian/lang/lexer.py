"""Qi lexer: source text to tokens, reporting every bad character instead of stopping."""

from __future__ import annotations

from dataclasses import dataclass

from xinlian.lang.errors import E_LEX_CHAR, E_LEX_NUMBER, E_LEX_STRING, Diagnostic, Span

KEYWORDS = frozenset([
    "contract", "interface", "struct", "enum", "event", "error", "state", "fn", "pub",
    "view", "init", "let", "mut", "if", "else", "while", "for", "in", "break", "continue",
    "return", "emit", "revert", "require", "assert", "true", "false", "none", "try",
    "catch", "async", "then", "every", "blocks", "indexed", "reads", "writes", "upgrades",
    "test", "as", "and", "or", "not",
])

PUNCT = sorted([
    "->", "=>", "::", "..", "+=", "-=", "*=", "/=", "%=", "==", "!=", "<=", ">=", "<<",
    ">>", "&&", "||", "(", ")", "{", "}", "[", "]", ",", ";", ":", ".", "+", "-", "*", "/",
    "%", "<", ">", "=", "!", "&", "|", "^", "?", "@",
], key=len, reverse=True)


@dataclass(frozen=True)
class Token:
    kind: str  # "ident", "int", "str", "bytes", "kw", "op", "eof" (and "comment" on request)
    text: str
    span: Span
    value: object = None


def lex(source: str, file: str, comments: bool = False) -> tuple[list[Token], list[Diagnostic]]:
    """Tokens of `source`; with `comments`, each comment is a token too (kind "comment",
    its text verbatim) for tools that must keep them, such as the formatter."""
    toks: list[Token] = []
    diags: list[Diagnostic] = []
    i, line, col = 0, 1, 1
    n = len(source)

    def span(length: int) -> Span:
        return Span(file, line, col, max(1, length))

    while i < n:
        c = source[i]
        if c == "\n":
            i, line, col = i + 1, line + 1, 1
            continue
        if c in " \t\r":
            i, col = i + 1, col + 1
            continue
        if source.startswith("//", i):
            j = source.find("\n", i)
            j = n if j < 0 else j
            if comments:
                toks.append(Token("comment", source[i:j].rstrip(), span(j - i)))
            col += j - i
            i = j
            continue
        if source.startswith("/*", i):
            end = source.find("*/", i + 2)
            stop = n if end < 0 else end + 2
            if comments:
                toks.append(Token("comment", source[i:stop], span(stop - i)))
            while i < stop:
                if source[i] == "\n":
                    line, col = line + 1, 1
                else:
                    col += 1
                i += 1
            continue
        if c.isalpha() or c == "_":
            j = i
            while j < n and (source[j].isalnum() or source[j] == "_"):
                j += 1
            word = source[i:j]
            if word in ("hex", "b") and j < n and source[j] == '"':
                tok, j2, err = _bytes_literal(source, j, word, span(j - i))
                if err:
                    diags.append(Diagnostic(E_LEX_STRING, err, span(1)))
                toks.append(tok)
                col += j2 - i
                i = j2
                continue
            toks.append(Token("kw" if word in KEYWORDS else "ident", word, span(j - i)))
            col += j - i
            i = j
            continue
        if c.isdigit():
            j = i
            while j < n and (source[j].isalnum() or source[j] == "_"):
                j += 1
            text = source[i:j].replace("_", "")
            try:
                value = int(text, 0) if not (len(text) > 1 and text[0] == "0"
                                             and text[1].isdigit()) else None
            except ValueError:
                value = None
            if value is None:
                diags.append(Diagnostic(E_LEX_NUMBER, f"malformed number `{source[i:j]}`",
                                        span(j - i)))
                value = 0
            toks.append(Token("int", source[i:j], span(j - i), value))
            col += j - i
            i = j
            continue
        if c == '"':
            tok, j, err = _string_literal(source, i, span(1))
            if err:
                diags.append(Diagnostic(E_LEX_STRING, err, span(1)))
            toks.append(tok)
            col += j - i
            i = j
            continue
        for p in PUNCT:
            if source.startswith(p, i):
                toks.append(Token("op", p, span(len(p))))
                i += len(p)
                col += len(p)
                break
        else:
            diags.append(Diagnostic(E_LEX_CHAR, f"unexpected character {c!r}", span(1)))
            i += 1
            col += 1
    toks.append(Token("eof", "", Span(file, line, col)))
    return toks, diags


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "0": "\0"}


def _string_literal(source: str, i: int, start: Span) -> tuple[Token, int, str | None]:
    j = i + 1
    out: list[str] = []
    err = None
    while j < len(source) and source[j] not in '"\n':
        if source[j] == "\\" and j + 1 < len(source):
            esc = source[j + 1]
            if esc in _ESCAPES:
                out.append(_ESCAPES[esc])
            else:
                err = err or f"unknown escape `\\{esc}`"
            j += 2
        else:
            out.append(source[j])
            j += 1
    if j >= len(source) or source[j] != '"':
        return Token("str", source[i:j], start, "".join(out)), j, "unterminated string"
    return Token("str", source[i:j + 1], start, "".join(out)), j + 1, err


def _bytes_literal(source: str, j: int, prefix: str, start: Span) -> tuple[Token, int, str | None]:
    tok, end, err = _string_literal(source, j, start)
    text = str(tok.value)
    value = b""
    if prefix == "hex":
        try:
            value = bytes.fromhex(text)
        except ValueError:
            err = err or "hex literal needs an even number of hex digits"
    else:
        try:
            value = text.encode("ascii")
        except UnicodeEncodeError:
            err = err or "byte string literal must be ASCII"
    return Token("bytes", prefix + tok.text, start, value), end, err
