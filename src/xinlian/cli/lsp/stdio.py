"""`xinlian qi lsp`: the language server's core driven over stdin and stdout."""

from __future__ import annotations

import os
import sys

from xinlian.cli.lsp.server import LanguageServer


def serve_stdio() -> int:
    """Serve until the client sends `exit` or closes stdin; the exit status is the
    protocol's: 0 after `shutdown`, 1 otherwise."""
    server = LanguageServer()
    stdin, stdout = sys.stdin.buffer.fileno(), sys.stdout.buffer
    while server.exit_code is None:
        data = os.read(stdin, 1 << 16)  # whatever has arrived: a batch is analysed once
        if not data:
            return 1
        reply = server.receive(data)
        if reply:
            stdout.write(reply)
            stdout.flush()
    return server.exit_code
