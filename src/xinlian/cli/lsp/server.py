"""The Qi language server's core: protocol bytes in, protocol bytes out, no I/O.

`LanguageServer.receive` takes whatever bytes arrived from the client and returns the
bytes to send back: responses to the requests among them, then fresh diagnostics for
every document they changed. Analysis runs once per batch, not once per keystroke: edits
that arrive together are analysed together, so a fast typist never queues stale work.

It serves the subset of the Language Server Protocol an editor needs for Qi: full-text
(and ranged) document sync, `publishDiagnostics` (compile and specification errors, plus
any extra `NoteSource`s such as vulnerability detectors), `formatting`, `hover` (types of
names and fields, signatures of functions) and `documentSymbol` (the file's outline).
A malformed message gets a JSON-RPC error (or, for a notification, a log message) and
the server carries on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from xinlian.cli.lsp.documents import Document
from xinlian.cli.lsp.framing import FrameError, FrameReader, encode_frame
from xinlian.lang.editor import (
    ERROR_SEVERITY,
    HINT_SEVERITY,
    INFO_SEVERITY,
    WARNING_SEVERITY,
    Analysis,
    Note,
    NoteSource,
    Symbol,
    analyse,
)
from xinlian.lang.errors import CompileError, QiError
from xinlian.lang.fmt import SourceTooLarge, format_source, require_size

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602
SERVER_NOT_INITIALIZED, REQUEST_FAILED = -32002, -32803
_SEVERITY = {ERROR_SEVERITY: 1, WARNING_SEVERITY: 2, INFO_SEVERITY: 3, HINT_SEVERITY: 4}
_SYMBOL_KIND = {"contract": 5, "function": 12, "constructor": 9, "state": 8, "field": 8,
                "enum": 10, "interface": 11, "struct": 23, "event": 24, "error": 19}
CAPABILITIES = {
    "textDocumentSync": {"openClose": True, "change": 1},  # whole text on each change
    "documentFormattingProvider": True,
    "hoverProvider": True,
    "documentSymbolProvider": True,
}
Message = dict[str, Any]


class ParamsError(ValueError):
    """A request or notification whose parameters are not what the method takes."""


def _field(params: Any, key: str, kind: type | tuple[type, ...]) -> Any:
    value = params.get(key) if isinstance(params, dict) else None
    if not isinstance(value, kind):
        raise ParamsError(f"`{key}` is missing or of the wrong type")
    return value


def _response(id_: int | str | None, result: Any) -> Message:
    return {"jsonrpc": "2.0", "id": id_, "result": result}


def _error(id_: int | str | None, code: int, message: str) -> Message:
    return {"jsonrpc": "2.0", "id": id_, "error": {"code": code, "message": message}}


def _notification(method: str, params: Any) -> Message:
    return {"jsonrpc": "2.0", "method": method, "params": params}


class LanguageServer:
    def __init__(self, extra: Sequence[NoteSource] = ()) -> None:
        self.extra = tuple(extra)  # more diagnostics for programs that compile
        self.reader = FrameReader()
        self.docs: dict[str, Document] = {}
        self.initialized = False
        self.shut_down = False
        self.exit_code: int | None = None  # set by `exit`: 0 after `shutdown`, else 1
        self.closed: list[Document] = []  # closed since the last batch: diagnostics to clear
        self.requests: dict[str, Callable[[Any], Any]] = {
            "shutdown": self.shutdown,
            "textDocument/formatting": self.formatting,
            "textDocument/hover": self.hover,
            "textDocument/documentSymbol": self.document_symbol,
        }
        self.notifications: dict[str, Callable[[Any], None]] = {
            "exit": self.exit,
            "textDocument/didOpen": self.did_open,
            "textDocument/didChange": self.did_change,
            "textDocument/didClose": self.did_close,
        }

    # --- bytes and messages -------------------------------------------------------------
    def receive(self, data: bytes) -> bytes:
        out: list[Message] = []
        for item in self.reader.feed(data):
            if self.exit_code is not None:
                break
            if isinstance(item, FrameError):
                out.append(_error(None, PARSE_ERROR, item.reason))
            else:
                out += self.handle(item)
        out += self.publish_changed()
        return b"".join(encode_frame(json.dumps(m, ensure_ascii=False).encode()) for m in out)

    def handle(self, body: bytes) -> list[Message]:
        try:
            msg = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return [_error(None, PARSE_ERROR, f"the message is not JSON: {exc}")]
        id_ = msg.get("id") if isinstance(msg, dict) else None
        if not isinstance(id_, (int, str)) or isinstance(id_, bool):
            id_ = None
        if not isinstance(msg, dict) or msg.get("jsonrpc") != "2.0":
            return [_error(id_, INVALID_REQUEST, "not a JSON-RPC 2.0 message object")]
        method = msg.get("method")
        if method is None and ("result" in msg or "error" in msg):
            return []  # a response: this server sends no requests, so none is awaited
        if not isinstance(method, str):
            return [_error(id_, INVALID_REQUEST, "a message needs a string `method`")]
        params = msg.get("params")
        if "id" in msg:
            if id_ is None:
                return [_error(None, INVALID_REQUEST, "a request id is a number or a string")]
            return [self.request(id_, method, params)]
        return self.notify(method, params)

    def request(self, id_: int | str, method: str, params: Any) -> Message:
        if method == "initialize":
            self.initialized = True
            return _response(id_, {"capabilities": CAPABILITIES,
                                   "serverInfo": {"name": "xinlian-qi"}})
        if not self.initialized:
            return _error(id_, SERVER_NOT_INITIALIZED, "`initialize` must come first")
        if self.shut_down:
            return _error(id_, INVALID_REQUEST, "the server is shutting down")
        handler = self.requests.get(method)
        if handler is None:
            return _error(id_, METHOD_NOT_FOUND, f"no method `{method}`")
        try:
            return _response(id_, handler(params))
        except (ParamsError, KeyError, TypeError, ValueError) as exc:
            return _error(id_, INVALID_PARAMS, f"bad parameters for `{method}`: {exc}")
        except CompileError as exc:
            first = exc.diagnostics[0]
            return _error(id_, REQUEST_FAILED, f"the file does not compile: {first.span}: "
                                               f"{first.message}")
        except QiError as exc:
            return _error(id_, REQUEST_FAILED, str(exc))

    def notify(self, method: str, params: Any) -> list[Message]:
        handler = self.notifications.get(method)
        if handler is None or (not self.initialized and method != "exit"):
            return []  # unknown notifications (and any before `initialize`) are dropped
        try:
            handler(params)
        except (ParamsError, KeyError, TypeError, ValueError) as exc:
            return [_notification("window/logMessage", {
                "type": 1, "message": f"bad parameters for `{method}`: {exc}"})]
        return []

    # --- documents ----------------------------------------------------------------------
    def document(self, params: Any) -> Document:
        uri = _field(_field(params, "textDocument", dict), "uri", str)
        doc = self.docs.get(uri)
        if doc is None:
            raise ParamsError(f"{uri} is not open")
        return doc

    def did_open(self, params: Any) -> None:
        item = _field(params, "textDocument", dict)
        uri = _field(item, "uri", str)
        self.docs[uri] = Document(uri, _field(item, "text", str), _version(item))

    def did_change(self, params: Any) -> None:
        doc = self.document(params)
        changes = _field(params, "contentChanges", list)
        for change in changes:
            doc.apply(change)
        doc.version = _version(params["textDocument"])

    def did_close(self, params: Any) -> None:
        doc = self.document(params)
        del self.docs[doc.uri]
        doc.analysis, doc.dirty = Analysis([], [], []), True
        self.closed.append(doc)

    def exit(self, params: Any) -> None:
        self.exit_code = 0 if self.shut_down else 1

    def shutdown(self, params: Any) -> None:
        self.shut_down = True

    def analysis(self, doc: Document) -> Analysis:
        if doc.analysis is None:
            try:
                require_size(doc.text, doc.file)
                doc.analysis = analyse(doc.text, doc.file, self.extra)
            except SourceTooLarge as exc:
                doc.analysis = Analysis([Note(1, 1, 1, str(exc), f"E{exc.code}")], [], [])
        return doc.analysis

    def publish_changed(self) -> list[Message]:
        out = []
        for doc in [*self.closed, *self.docs.values()]:
            if doc.dirty:
                doc.dirty = False
                out.append(_notification("textDocument/publishDiagnostics", {
                    "uri": doc.uri, "version": doc.version,
                    "diagnostics": [_diagnostic(doc, n) for n in self.analysis(doc).notes]}))
        self.closed = []
        return out

    # --- requests -----------------------------------------------------------------------
    def formatting(self, params: Any) -> list[Message]:
        doc = self.document(params)
        formatted = format_source(doc.text, doc.file)
        if formatted == doc.text:
            return []
        return [{"range": {"start": {"line": 0, "character": 0}, "end": doc.end()},
                 "newText": formatted}]

    def hover(self, params: Any) -> Message | None:
        doc = self.document(params)
        line, col = doc.compiler_position(_field(params, "position", dict))
        found = self.analysis(doc).hover_at(line, col)
        if found is None:
            return None
        return {"contents": {"kind": "markdown", "value": f"```qi\n{found.text}\n```"},
                "range": _range(doc, found.line, found.col, found.length)}

    def document_symbol(self, params: Any) -> list[Message]:
        doc = self.document(params)
        return [_symbol(doc, s) for s in self.analysis(doc).symbols]


def _version(item: dict[str, Any]) -> int:
    version = item.get("version", 0)
    return version if isinstance(version, int) else 0


def _range(doc: Document, line: int, col: int, length: int) -> Message:
    return {"start": doc.position(line, col), "end": doc.position(line, col + length)}


def _diagnostic(doc: Document, note: Note) -> Message:
    return {"range": _range(doc, note.line, note.col, note.length),
            "severity": _SEVERITY[note.severity], "code": note.code,
            "source": note.source, "message": note.message}


def _symbol(doc: Document, s: Symbol) -> Message:
    return {"name": s.name, "kind": _SYMBOL_KIND[s.kind],
            "range": {"start": doc.position(s.span.line, s.span.col),
                      "end": doc.position(*s.end)},
            "selectionRange": _range(doc, s.span.line, s.span.col, s.span.length),
            "children": [_symbol(doc, c) for c in s.children]}
