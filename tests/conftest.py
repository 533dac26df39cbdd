"""Shared test settings: hypothesis runs derandomised so that every run is the same."""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "xinlian", derandomize=True, deadline=None, max_examples=100,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("xinlian")
