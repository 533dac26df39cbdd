"""The SDK tests share tests/api/harness.py (a real node behind a real server); it is
loaded by path because the two test directories are separate packages. `keys` and `served`
give a module one node (test_verify.py and test_headers.py make their own), `client` a
blocking client of it."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from xinlian.sdk import Client

_PATH = Path(__file__).parents[1] / "api" / "harness.py"
_NAME = "xinlian_tests_harness"


def _load() -> object:
    if _NAME not in sys.modules:
        spec = importlib.util.spec_from_file_location(_NAME, _PATH)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[_NAME] = module
        spec.loader.exec_module(module)
    return sys.modules[_NAME]


harness = _load()


@pytest.fixture(scope="module")
def keys() -> Any:
    """The harness's keys on `intl`, for the tests of one module."""
    return harness.Keys("intl")  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, keys: Any) -> Iterator[Any]:
    """A node producing blocks behind a server, in a thread of its own (for the blocking
    client), for the tests of one module."""
    background = harness.Background(  # type: ignore[attr-defined]
        Path(tmp_path_factory.mktemp("node")), keys)
    yield background
    background.close()


@pytest.fixture(scope="module")
def client(served: Any) -> Iterator[Client]:
    """A blocking client of the module's node."""
    with Client(served.server.url) as client:
        yield client


@pytest.fixture
def served_fresh(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """A node of its own for one test (the harness's `intl` keys, the node behind a server
    in a thread), for tests that change the chain's rules or need a clean pool."""
    keys = harness.Keys("intl")  # type: ignore[attr-defined]
    background = harness.Background(tmp_path / "node", keys)  # type: ignore[attr-defined]
    try:
        yield keys, background
    finally:
        background.close()
