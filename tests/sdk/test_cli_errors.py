"""The CLI reports the node's own error code and name when the node refuses a request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from xinlian.cli.main import main
from xinlian.node.keyfile import write_key


def test_a_refused_transfer_shows_the_nodes_error_code(
        served_fresh: tuple[Any, Any], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    keys, background = served_fresh
    key_file = tmp_path / "carol.key"
    write_key(key_file, keys.suite, keys.carol)  # carol has no account on the chain
    code = main(["tx", "transfer", "--key", str(key_file), "--to",
                 "0x" + keys.address["bob"].hex(), "--amount", "1",
                 "--rpc", background.server.url])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error[40"), err  # the ledger's admission error (4xxx) ...
    assert "6103" not in err and "tx_rejected" not in err  # ... not the SDK's wrapper
