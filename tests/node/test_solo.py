"""The solo block-cutting policy."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from xinlian.node.solo import BlockCutter


def test_no_pending_no_block() -> None:
    assert BlockCutter(100, 10).deadline(5, 0) is None


def test_engine_work_cuts_an_interval_after_the_last_block_without_transactions() -> None:
    """Async requests due or schedules armed (the executor's own work): blocks keep coming,
    one interval after the last, so their heights come."""
    cutter = BlockCutter(100, 10)
    assert cutter.deadline(5, 0, work_since_ms=0) == 100
    assert cutter.deadline(150, 0, work_since_ms=120) == 220
    assert cutter.deadline(150, 2, work_since_ms=120) == 250  # transactions: as usual


def test_cuts_after_interval_from_first_pending() -> None:
    cutter = BlockCutter(100, 10)
    assert cutter.deadline(1000, 1) == 1100
    assert cutter.deadline(1050, 3) == 1100  # later arrivals do not push the deadline
    cutter.cut(1100, remaining=0)
    assert cutter.deadline(1200, 1) == 1300


def test_cuts_immediately_when_full() -> None:
    cutter = BlockCutter(100, 10)
    assert cutter.deadline(1000, 10) == 1000
    cutter.cut(1000, remaining=4)
    assert cutter.deadline(1001, 4) == 1100  # the leftovers start a new interval


def test_arrivals_while_a_block_executes_count_from_their_arrival() -> None:
    """The next block's transactions are admitted while one executes (on the ledger
    thread): once it is done, a backlog older than the interval is cut at once."""
    cutter = BlockCutter(100, 10)
    assert cutter.deadline(1000, 10) == 1000
    cutter.cut(1000, remaining=0)
    cutter.admitted(1050)
    cutter.admitted(1120)  # later arrivals do not push the deadline
    assert cutter.deadline(1300, 5) == 1150  # in the past: cut now


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 30)), max_size=40))
def test_deadline_is_never_later_than_the_interval_allows(steps: list[tuple[int, int]]) -> None:
    cutter, now, since = BlockCutter(100, 20), 0, None
    for dt, pending in steps:
        now += dt
        d = cutter.deadline(now, pending)
        if pending == 0:
            assert d is None
            since = None
            continue
        since = now if since is None else since
        assert d is not None and d <= max(now, since + 100)
        if d <= now:
            cutter.cut(now, remaining=0)
            since = None
