"""Fixtures: compile Qi source and deploy it into a fresh in-memory world."""

from __future__ import annotations

import pytest

from xinlian.execution.vm.local import LocalChain


@pytest.fixture
def chain() -> LocalChain:
    return LocalChain()
