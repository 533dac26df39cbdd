"""`xinlian qi lsp`: the language server's core driven over stdin and stdout."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from xinlian.cli.lsp.server import LanguageServer
from xinlian.lang.detect import editor_notes, project_rules


def serve_stdio() -> int:
    """Serve until the client sends `exit` or closes stdin; the exit status is the
    protocol's: 0 after `shutdown`, 1 otherwise. The detectors report on every file that
    compiles, with the user rules of the `.qi-rules` folder at or above the working folder."""
    server = LanguageServer([editor_notes(project_rules(Path.cwd()))])
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
