"""The CLI reports the node's own error code and name when the node refuses a request."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from xinlian.cli.main import main
from xinlian.node.keyfile import write_key

from .conftest import harness

Keys: Any = harness.Keys  # type: ignore[attr-defined]
Background: Any = harness.Background  # type: ignore[attr-defined]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    keys = Keys("intl")
    background = Background(tmp_path / "node", keys)
    try:
        yield keys, background
    finally:
        background.close()


def test_a_refused_transfer_shows_the_nodes_error_code(
        served: tuple[Any, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keys, background = served
    key_file = tmp_path / "carol.key"
    write_key(key_file, keys.suite, keys.carol)  # carol has no account on the chain
    code = main(["tx", "transfer", "--key", str(key_file), "--to",
                 "0x" + keys.address["bob"].hex(), "--amount", "1",
                 "--rpc", background.server.url])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error[40"), err  # the ledger's admission error (4xxx) ...
    assert "6103" not in err and "tx_rejected" not in err  # ... not the SDK's wrapper
