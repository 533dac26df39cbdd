"""Shared test settings: hypothesis runs derandomised so that every run is the same; under
xdist (`make test` runs two workers) each test module is one unit of work, and the tests
that start processes are one unit together, run first."""

from pathlib import PurePosixPath
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from xdist.scheduler import LoadScopeScheduling

settings.register_profile(
    "xinlian", derandomize=True, deadline=None, max_examples=100,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("xinlian")

PROCESSES = "processes"  # the unit of the tests that start node processes, browsers, netns


def _unit(nodeid: str) -> str:
    """The unit of work a test belongs to: end-to-end and walk-through tests (node
    processes, browsers, namespaces) share one, so one runs at a time, as without xdist;
    each other module is one, since a module's tests may build on each other's state
    (module-scoped fixtures of a chain)."""
    path = PurePosixPath(nodeid.split("::", 1)[0])
    if "e2e" in path.parts or "docs" in path.parts or "netns" in path.name:
        return PROCESSES
    return str(path)


class _Units(LoadScopeScheduling):  # type: ignore[misc]  # xdist ships no types
    """xdist's scheduling by scope, with `_unit` as the scope."""

    def _split_scope(self, nodeid: str) -> str:
        return _unit(nodeid)


class _Scheduler:
    """The hook that hands xdist `_Units` (registered only where xdist runs: a hook of a
    plugin that is not loaded, `-p no:xdist`, would be refused)."""

    @staticmethod
    def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadScopeScheduling:
        return _Units(config, log)


def pytest_configure(config: pytest.Config) -> None:
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_Scheduler())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The shared unit first: one worker starts on it while the other runs every
    in-process module beside it."""
    items.sort(key=lambda item: _unit(item.nodeid) != PROCESSES)
