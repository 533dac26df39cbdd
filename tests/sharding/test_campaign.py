"""The cross-shard seed campaign: short seeds in every run, a replay, a check that its
checks bite, and a long campaign marked slow."""

from __future__ import annotations

import pytest

from xinlian.sharding.ledger import NonceSet
from xinlian.testing.sharding.campaign import Outcome, run_seed

_RUNS: dict[int, Outcome] = {}


def _run(seed: int) -> Outcome:
    if seed not in _RUNS:
        _RUNS[seed] = run_seed(seed)
    return _RUNS[seed]


@pytest.mark.parametrize("seed", [0, 3])
def test_transfers_are_atomic_and_value_is_conserved(seed: int) -> None:
    outcome = _run(seed)
    assert outcome.ok, (outcome.problems, outcome.story)
    counts = outcome.counts
    assert counts["claim ok"] > 0 and counts["transfer ok"] > 0
    # the Byzantine relayer's replays and forgeries reached the shards and were refused
    assert counts["claim replayed_receipt"] > 0
    assert counts["claim invalid_receipt_proof"] + counts["claim not_cross_linked"] > 0


def test_a_seed_replays_exactly() -> None:
    first, again = _run(0), run_seed(0)
    assert first.trace == again.trace and first.counts == again.counts


def test_a_ledger_without_replay_protection_fails_the_campaign(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With the nonce set forgetting everything, replayed claims credit again: the
    campaign reports the double credit and the broken conservation."""
    monkeypatch.setattr(NonceSet, "__contains__", lambda self, nonce: False)
    outcome = run_seed(0)
    assert not outcome.ok
    assert any("credited 2 times" in p for p in outcome.problems)
    assert any("supply" in p for p in outcome.problems)


@pytest.mark.slow
def test_long_campaign() -> None:
    failed = [seed for seed in range(40) if not run_seed(seed).ok]
    assert not failed, f"replay with python -m xinlian.testing.sharding.campaign --seed " \
                       f"{failed[0]} --verbose"
