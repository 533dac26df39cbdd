"""Open documents and the two ways of counting a column.

The compiler counts columns in characters from 1; the protocol counts lines from 0 and
columns in UTF-16 code units from 0 (a character outside the Basic Multilingual Plane is
two). The conversions live here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse

from xinlian.lang.editor import Analysis


def _units(text: str) -> int:
    return sum(2 if ord(c) > 0xFFFF else 1 for c in text)


@dataclass
class Document:
    uri: str
    text: str
    version: int = 0
    analysis: Analysis | None = None  # of the current text, once analysed
    dirty: bool = field(default=True)  # changed since its diagnostics were published

    @property
    def file(self) -> str:
        """A file name for messages: the path of a file URI, else the URI."""
        parsed = urlparse(self.uri)
        return unquote(parsed.path) if parsed.scheme == "file" else self.uri

    def lines(self) -> list[str]:
        return self.text.split("\n")

    def position(self, line: int, col: int) -> dict[str, int]:
        """The protocol position of the compiler's (line, col)."""
        lines = self.lines()
        if line > len(lines):
            return {"line": len(lines) - 1, "character": _units(lines[-1])}
        text = lines[line - 1]
        return {"line": line - 1, "character": _units(text[:max(0, col - 1)])}

    def compiler_position(self, position: dict[str, Any]) -> tuple[int, int]:
        """The compiler's (line, col) of a protocol position."""
        line, units = int(position["line"]), int(position["character"])
        lines = self.lines()
        text = lines[line] if 0 <= line < len(lines) else ""
        col = 0
        while col < len(text) and units > 0:
            units -= 2 if ord(text[col]) > 0xFFFF else 1
            col += 1
        return line + 1, col + 1

    def offset(self, position: dict[str, Any]) -> int:
        line, col = self.compiler_position(position)
        lines = self.lines()
        if line > len(lines):
            return len(self.text)
        return sum(len(t) + 1 for t in lines[:line - 1]) + min(col - 1, len(lines[line - 1]))

    def end(self) -> dict[str, int]:
        lines = self.lines()
        return {"line": len(lines) - 1, "character": _units(lines[-1])}

    def apply(self, change: dict[str, Any]) -> None:
        """One `contentChanges` entry: the whole text, or a range and its replacement."""
        text = change["text"]
        if not isinstance(text, str):
            raise TypeError("a content change's `text` must be a string")
        if "range" in change:
            start = self.offset(change["range"]["start"])
            end = self.offset(change["range"]["end"])
            text = self.text[:start] + text + self.text[max(start, end):]
        self.text = text
        self.analysis = None
        self.dirty = True
