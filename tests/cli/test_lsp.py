"""`xinlian qi lsp` over real pipes: diagnostics as a document changes, formatting, hover,
outline, and malformed messages answered with errors while the server keeps serving.
Plus the sans-I/O pieces on their own: framing fed in pieces, UTF-16 columns."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import pytest

from xinlian.cli.lsp.documents import Document
from xinlian.cli.lsp.framing import FrameError, FrameReader, encode_frame
from xinlian.cli.lsp.server import LanguageServer
from xinlian.lang.fmt import MAX_SOURCE_BYTES

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "qi"
URI = "file:///work/token.qi"
TOKEN = (EXAMPLES / "token.qi").read_text()
BROKEN = TOKEN.replace("balances[from] = have - amount;", "balances[from] = have - amout;")


class Client:
    """Speaks to a server process over its stdin and stdout, one framed message at a time."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "xinlian.cli.main", "qi", "lsp"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.next_id = 0

    @property
    def stdin(self) -> IO[bytes]:
        assert self.proc.stdin is not None
        return self.proc.stdin

    def raw(self, data: bytes) -> None:
        self.stdin.write(data)
        self.stdin.flush()

    def notify(self, method: str, params: Any) -> None:
        self.raw(encode_frame(json.dumps({"jsonrpc": "2.0", "method": method,
                                          "params": params}).encode()))

    def request(self, method: str, params: Any = None) -> dict[str, Any]:
        self.next_id += 1
        self.raw(encode_frame(json.dumps({"jsonrpc": "2.0", "id": self.next_id,
                                          "method": method, "params": params}).encode()))
        return self.receive()

    def receive(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        header = b""
        while not header.endswith(b"\r\n\r\n"):
            byte = self.proc.stdout.read(1)
            assert byte, "the server closed its output"
            header += byte
        length = int(header.split(b":")[1].split(b"\r\n")[0])
        message: dict[str, Any] = json.loads(self.proc.stdout.read(length))
        return message

    def diagnostics(self) -> list[dict[str, Any]]:
        msg = self.receive()
        assert msg["method"] == "textDocument/publishDiagnostics"
        assert msg["params"]["uri"] == URI
        diags: list[dict[str, Any]] = msg["params"]["diagnostics"]
        return diags


@pytest.fixture
def client() -> Any:
    c = Client()
    reply = c.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
    assert reply["result"]["capabilities"]["documentFormattingProvider"] is True
    c.notify("initialized", {})
    yield c
    if c.proc.poll() is None:
        c.proc.kill()
    c.proc.wait()
    assert c.proc.stdin is not None and c.proc.stdout is not None
    c.proc.stdin.close()
    c.proc.stdout.close()


def open_doc(c: Client, text: str) -> None:
    c.notify("textDocument/didOpen", {"textDocument": {
        "uri": URI, "languageId": "qi", "version": 1, "text": text}})


def test_diagnostic_at_the_right_place_then_cleared(client: Client) -> None:
    open_doc(client, BROKEN)
    (diag,) = client.diagnostics()
    line = next(i for i, text in enumerate(BROKEN.split("\n")) if "amout" in text)
    assert diag["range"]["start"] == {"line": line,
                                      "character": BROKEN.split("\n")[line].index("amout")}
    assert diag["code"] == "E7201" and "amout" in diag["message"] and diag["severity"] == 1
    client.notify("textDocument/didChange", {"textDocument": {"uri": URI, "version": 2},
                                             "contentChanges": [{"text": TOKEN}]})
    assert client.diagnostics() == []


def test_parse_and_specification_errors(client: Client) -> None:
    open_doc(client, "contract C {\n    state x u64;\n}\n")
    diag = client.diagnostics()[0]
    assert diag["message"] == "expected `:`, found `u64`"
    assert diag["code"] == "E7110" and diag["range"]["start"] == {"line": 1, "character": 12}
    spec = ("contract C {\n    state x: u64;\n    pub fn f() ensures x + 1\n"
            "    {\n    }\n}\n")
    client.notify("textDocument/didChange", {"textDocument": {"uri": URI, "version": 2},
                                             "contentChanges": [{"text": spec}]})
    (diag,) = client.diagnostics()
    assert diag["code"] == "E7203" and diag["range"]["start"] == {"line": 2, "character": 25}


def test_formatting_returns_the_formatted_text(client: Client) -> None:
    messy = "fn f()->u64{return 1;}"
    open_doc(client, messy)
    assert client.diagnostics() == []
    reply = client.request("textDocument/formatting", {
        "textDocument": {"uri": URI}, "options": {"tabSize": 4, "insertSpaces": True}})
    (edit,) = reply["result"]
    assert edit["newText"] == "fn f() -> u64 { return 1; }\n"
    assert edit["range"] == {"start": {"line": 0, "character": 0},
                             "end": {"line": 0, "character": len(messy)}}


def test_formatting_a_broken_file_fails_cleanly(client: Client) -> None:
    open_doc(client, "fn f( {")
    assert client.diagnostics()
    reply = client.request("textDocument/formatting", {"textDocument": {"uri": URI},
                                                       "options": {}})
    assert reply["error"]["code"] == -32803 and "does not compile" in reply["error"]["message"]


def test_hover_and_outline(client: Client) -> None:
    open_doc(client, TOKEN)
    assert client.diagnostics() == []
    lines = TOKEN.split("\n")
    line = next(i for i, t in enumerate(lines) if "let have = balances[from];" in t)
    col = lines[line].index("balances")
    hover = client.request("textDocument/hover", {"textDocument": {"uri": URI},
                                                  "position": {"line": line, "character": col}})
    assert "balances: map<address, u256>" in hover["result"]["contents"]["value"]
    symbols = client.request("textDocument/documentSymbol",
                             {"textDocument": {"uri": URI}})["result"]
    (token,) = symbols
    children = {c["name"]: c["kind"] for c in token["children"]}
    assert token["name"] == "Token" and token["kind"] == 5
    assert children["balances"] == 8 and children["transfer"] == 12 and children["init"] == 9
    assert children["Transfer"] == 24


def test_malformed_messages_get_errors_and_the_server_goes_on(client: Client) -> None:
    client.raw(b"Content-Length: 6\r\n\r\n{oops}")
    assert client.receive()["error"]["code"] == -32700
    client.raw(b"Content-Type: x\r\n\r\n")
    assert client.receive()["error"]["code"] == -32700
    client.raw(encode_frame(b"[1, 2]"))
    assert client.receive()["error"]["code"] == -32600
    assert client.request("no/such/method")["error"]["code"] == -32601
    bad = client.request("textDocument/hover", {"textDocument": {"uri": "file:///nowhere"},
                                                "position": {"line": 0, "character": 0}})
    assert bad["error"]["code"] == -32602
    client.notify("textDocument/didChange", {"textDocument": {"uri": "file:///nowhere"}})
    assert client.receive()["method"] == "window/logMessage"
    open_doc(client, BROKEN)
    assert len(client.diagnostics()) == 1
    assert client.request("shutdown")["result"] is None
    client.notify("exit", None)
    assert client.proc.wait() == 0


def test_invalid_requests_before_initialize() -> None:
    server = LanguageServer()
    out = server.receive(encode_frame(b'{"jsonrpc": "2.0", "id": 1, "method": "shutdown"}'))
    (body,) = FrameReader().feed(out)
    assert isinstance(body, bytes) and json.loads(body)["error"]["code"] == -32002


def test_invalid_oversize_document_gets_one_diagnostic() -> None:
    server = LanguageServer()
    server.receive(encode_frame(b'{"jsonrpc": "2.0", "id": 1, "method": "initialize"}'))
    text = "// " + "x" * MAX_SOURCE_BYTES
    out = server.receive(encode_frame(json.dumps({
        "jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": URI, "version": 1, "text": text}}}).encode()))
    (body,) = FrameReader().feed(out)
    assert isinstance(body, bytes)
    (diag,) = json.loads(body)["params"]["diagnostics"]
    assert diag["code"] == "E7104"


def test_frames_fed_in_pieces_and_refused_frames() -> None:
    data = encode_frame(b'{"a": 1}') + b"Content-Length: x\r\n\r\n" + encode_frame(b"{}")
    reader = FrameReader()
    got: list[bytes | FrameError] = []
    for i in range(len(data)):
        got += reader.feed(data[i:i + 1])
    assert got[0] == b'{"a": 1}' and isinstance(got[1], FrameError) and got[2] == b"{}"
    reader = FrameReader()
    big = b"Content-Length: %d\r\n\r\n" % (64 << 20)
    assert isinstance(reader.feed(big)[0], FrameError)
    assert reader.feed(b"x" * 1000) == []  # the refused body is skipped as it arrives


def test_columns_count_utf16_units() -> None:
    doc = Document(URI, "let s = \"\U0001F600\"; x\nnext")  # `x`: column 14, unit 14
    assert doc.position(1, 14) == {"line": 0, "character": 14}  # the emoji counts two
    assert doc.compiler_position({"line": 0, "character": 14}) == (1, 14)
    doc.apply({"range": {"start": {"line": 0, "character": 14},
                         "end": {"line": 1, "character": 0}}, "text": "y\n"})
    assert doc.text == "let s = \"\U0001F600\"; y\nnext"


def test_detector_findings_are_diagnostics(client: Client) -> None:
    ballot = (EXAMPLES / "ballot.qi").read_text()
    open_doc(client, ballot)
    (diag,) = client.diagnostics()
    assert ballot.split("\n")[42][11:16] == "close"  # `qi check`: ballot.qi:43:12
    assert diag["code"] == "missing-event" and diag["source"] == "qi check"
    assert diag["severity"] == 3 and "changes phase" in diag["message"]
    assert diag["range"] == {"start": {"line": 42, "character": 11},
                             "end": {"line": 42, "character": 16}}
    broken = ballot.replace("emit Voted(caller(), index);", "emit Voted(caller(), indx);")
    assert broken != ballot
    client.notify("textDocument/didChange", {"textDocument": {"uri": URI, "version": 2},
                                             "contentChanges": [{"text": broken}]})
    (error,) = client.diagnostics()  # a file that does not compile gets no findings
    assert error["source"] == "qi" and "indx" in error["message"]
