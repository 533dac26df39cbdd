"""Fixtures for the API tests: a real node that commits only when a test calls
`node.produce_block()`, so tests decide exactly when blocks happen."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from xinlian.node.service import Node

from .harness import Keys, make_genesis


@pytest.fixture
def keys() -> Keys:
    return Keys("intl")


@pytest.fixture
def node(tmp_path: Path, keys: Keys) -> Iterator[Node]:
    node = Node(tmp_path / "node", make_genesis(keys), keys.node)
    yield node
    asyncio.run(node.stop())
