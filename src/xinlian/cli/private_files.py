"""JSON documents of the `xinlian private` commands: strict field readers that raise the
calling scheme's typed error (so a bad file exits with status 2 and that scheme's code),
and a writer that can make the file readable by its owner only (keys, openings)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from xinlian.errors import XinlianError

Doc = dict[str, Any]


class Reader:
    """Reads fields of a scheme's documents, raising `error` on anything unexpected."""

    def __init__(self, error: type[XinlianError]) -> None:
        self.error = error

    def read(self, path: str) -> Doc:
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise self.error(f"{path}: {exc}") from None
        if not isinstance(doc, dict):
            raise self.error(f"{path}: expected a JSON object")
        return doc

    def get(self, doc: Doc, name: str) -> Any:
        if name not in doc:
            raise self.error(f"missing field {name!r}")
        return doc[name]

    def text(self, doc: Doc, name: str) -> str:
        value = self.get(doc, name)
        if not isinstance(value, str):
            raise self.error(f"field {name!r}: expected a string")
        return value

    def hex(self, doc: Doc, name: str) -> bytes:
        try:
            return bytes.fromhex(self.text(doc, name))
        except ValueError:
            raise self.error(f"field {name!r}: not hex") from None

    def texts(self, doc: Doc, name: str) -> list[str]:
        value = self.get(doc, name)
        if not isinstance(value, list) or not all(isinstance(m, str) for m in value):
            raise self.error(f"field {name!r}: expected a list of strings")
        return value

    def hexes(self, doc: Doc, name: str) -> list[bytes]:
        try:
            return [bytes.fromhex(h) for h in self.texts(doc, name)]
        except ValueError:
            raise self.error(f"field {name!r}: not a list of hex strings") from None

    def ints(self, doc: Doc, name: str) -> list[int]:
        value = self.get(doc, name)
        if not isinstance(value, list) or not all(type(i) is int for i in value):
            raise self.error(f"field {name!r}: expected a list of integers")
        return value


def write(path: str, doc: Doc, secret: bool = False) -> None:
    """Write `doc` as indented JSON; `secret` files are created mode 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, ensure_ascii=False)
        f.write("\n")
