"""Shared test settings: hypothesis runs derandomised so that every run is the same; under
xdist (`make test` runs two workers), the tests that start processes take turns."""

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "xinlian", derandomize=True, deadline=None, max_examples=100,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("xinlian")


@pytest.hookimpl(tryfirst=True)  # before xdist's hook reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """End-to-end and walk-through tests (node processes, browsers, namespaces) share one
    xdist group, so one runs at a time, as without xdist, while the other worker runs the
    in-process tests beside it: the machine's two cores are both used, and no two networks
    of node processes compete for them."""
    for item in items:
        parts = item.path.parts
        if "e2e" in parts or "docs" in parts or "netns" in item.path.name:
            item.add_marker(pytest.mark.xdist_group("processes"))
