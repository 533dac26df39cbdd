"""Keystroke-to-diagnostic latency of `xinlian qi lsp` on the example contracts.

For each example: open it in a server process over pipes, then send `didChange`s that
type and delete a space at the end of the file, so that every keystroke leaves a program
that compiles and is analysed in full (parse, then check every contract with its tests and
specifications, then the vulnerability detectors: the slowest path; a keystroke that
breaks the syntax stops at the parser), and time each from writing the change to reading
its `publishDiagnostics` (wall clock), p50 of KEYSTROKES. The same changes fed to an
in-process `LanguageServer` (with the detectors, as `qi lsp` runs) are timed in the
thread's CPU time, the figure that other jobs on the machine do not inflate.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from benchmarks.report import emit, percentile
from xinlian.cli.lsp.framing import FrameReader, encode_frame
from xinlian.cli.lsp.server import LanguageServer
from xinlian.lang.detect import editor_notes

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "qi"
KEYSTROKES = 21


def _frame(method: str, params: Any, id_: int | None = None) -> bytes:
    msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
    if id_ is not None:
        msg["id"] = id_
    return encode_frame(json.dumps(msg).encode())


def _changes(uri: str, source: str) -> list[bytes]:
    return [_frame("textDocument/didChange", {
        "textDocument": {"uri": uri, "version": i + 2},
        "contentChanges": [{"text": source + " " * (i % 2)}]}) for i in range(KEYSTROKES)]


def _read_message(out: IO[bytes]) -> dict[str, Any]:
    header = b""
    while not header.endswith(b"\r\n\r\n"):
        byte = out.read(1)
        if not byte:
            raise EOFError("the language server closed its output")
        header += byte
    message: dict[str, Any] = json.loads(out.read(int(header.split(b":")[1].split(b"\r")[0])))
    return message


def _over_pipes(files: list[Path]) -> dict[str, list[float]]:
    proc = subprocess.Popen([sys.executable, "-m", "xinlian.cli.main", "qi", "lsp"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    stdin, stdout = proc.stdin, proc.stdout

    def send(data: bytes) -> None:
        stdin.write(data)
        stdin.flush()

    def diagnostics() -> None:
        while _read_message(stdout).get("method") != "textDocument/publishDiagnostics":
            pass

    send(_frame("initialize", {"capabilities": {}}, 1))
    _read_message(stdout)
    out: dict[str, list[float]] = {}
    for path in files:
        uri, source = path.as_uri(), path.read_text()
        send(_frame("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "qi", "version": 1, "text": source}}))
        diagnostics()
        out[path.name] = []
        for change in _changes(uri, source):
            start = time.perf_counter()
            send(change)
            diagnostics()
            out[path.name].append(time.perf_counter() - start)
    send(_frame("shutdown", None, 2))
    send(_frame("exit", None))
    stdin.close()
    proc.wait()
    stdout.close()
    return out


def _in_process(path: Path) -> list[float]:
    server = LanguageServer([editor_notes()])
    server.receive(_frame("initialize", {"capabilities": {}}, 1))
    uri, source = path.as_uri(), path.read_text()
    server.receive(_frame("textDocument/didOpen", {"textDocument": {
        "uri": uri, "version": 1, "text": source}}))
    times = []
    for change in _changes(uri, source):
        start = time.thread_time()
        reply = server.receive(change)
        times.append(time.thread_time() - start)
        assert FrameReader().feed(reply), "no diagnostics were published"
    return times


def main() -> None:
    files = sorted(EXAMPLES.glob("*.qi"))
    load = round(os.getloadavg()[0], 1)
    wall = _over_pipes(files)
    all_wall: list[float] = []
    all_cpu: list[float] = []
    for path in files:
        cpu = _in_process(path)
        lines = path.read_text().count("\n")
        emit("verifier", "lsp_keystroke_to_diagnostic_p50_ms",
             percentile(wall[path.name], 50) * 1000, "ms", file=path.name, lines=lines,
             cpu_p50_ms=round(percentile(cpu, 50) * 1000, 3), keystrokes=KEYSTROKES,
             load_average=load)
        all_wall += wall[path.name]
        all_cpu += cpu
    emit("verifier", "lsp_keystroke_to_diagnostic_p50_ms", percentile(all_wall, 50) * 1000,
         "ms", file="all examples", cpu_p50_ms=round(percentile(all_cpu, 50) * 1000, 3),
         keystrokes=len(all_wall), load_average=load)


if __name__ == "__main__":
    main()
