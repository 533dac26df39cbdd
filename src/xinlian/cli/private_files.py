"""JSON documents of the `xinlian private` commands: strict field readers that raise the
calling scheme's typed error (so a bad file exits with status 2 and that scheme's code),
a writer that can make the file readable by its owner only (keys, openings), and the
commands' common reporting (`runner`)."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xinlian.cli.contract_cmd import _reporting as reporting
from xinlian.cli.data_cmd import report_tx_failed
from xinlian.errors import XinlianError
from xinlian.sdk.errors import TxFailed

Doc = dict[str, Any]
Cmd = Callable[[argparse.Namespace], int]


def runner(failure: type[TxFailed]) -> Callable[[Cmd], Cmd]:
    """`xinlian contract`'s reporting, plus a committed transaction of this scheme that
    failed (`failure`): exit 1, saying nothing of it applied and what fee it paid."""
    def wrap(cmd: Cmd) -> Cmd:
        def run(args: argparse.Namespace) -> int:
            try:
                return cmd(args)
            except failure as exc:
                receipt = exc.receipt
                return report_tx_failed(args, exc, f"and nothing of it applied (tx 0x"
                                        f"{receipt.tx_hash.hex()}, fee {receipt.fee_paid} "
                                        "paid)")
        return reporting(run)
    return wrap


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
