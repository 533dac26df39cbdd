"""Speculative runs: what they record, and the check that accepts a run only when a serial
run would do the same. The runs here are plain functions over an overlay (the executor's
contract runs are checked against serial execution in test_parallel.py)."""

from __future__ import annotations

from typing import Any

import pytest

from xinlian.execution.parallel import Costs, compute_shares
from xinlian.execution.speculation import Speculation, adopt, is_current, speculate_segment
from xinlian.execution.state import Overlay
from xinlian.ledger.transaction import Transaction

BASE = {b"a": b"1", b"b": b"2"}


def add_a_to_b(scope: Overlay, tx: Transaction, index: int) -> tuple[Any, bool]:
    """b += a, then read b back (its own write: not an input); fails when a is 0."""
    a = int(scope.get(b"a") or b"0")
    if a == 0:
        return "failed", False
    scope.set(b"b", str(int(scope.get(b"b") or b"0") + a).encode())
    return int(scope.get(b"b") or b"0"), True


def segment(pre: dict[bytes, bytes | None] | None = None) -> list[Speculation]:
    tx: Any = None  # the runs above do not look at the transaction
    return list(speculate_segment(add_a_to_b, BASE.get, pre or {}, [(5, 7, tx), (6, 8, tx)]))


def test_runs_see_base_pre_writes_and_earlier_runs_of_their_segment() -> None:
    first, second = segment({b"a": b"10"})
    assert first.reads == {b"a": b"10", b"b": b"2"}  # its own write of b is not an input
    assert first.writes == {b"b": b"12"} and first.outcome == 12
    assert second.reads == {b"a": b"10", b"b": b"12"}  # b as the first run left it
    assert (second.position, second.index, second.outcome) == (6, 8, 22)


def test_a_failed_run_records_its_reads_and_keeps_no_writes() -> None:
    first, second = segment({b"a": None})
    assert first.reads == {b"a": None} and first.writes == {} and first.outcome == "failed"
    assert second.reads == {b"a": None}


def test_a_run_is_current_only_while_every_value_it_read_holds() -> None:
    first, _ = segment()
    state = Overlay(BASE.get)
    assert is_current(first, state, 7)
    state.set(b"a", b"1")  # rewritten to the value it had: still current
    assert is_current(first, state, 7)
    state.set(b"b", b"3")
    assert not is_current(first, state, 7)


def test_invalid_a_run_that_assumed_another_index_is_not_current() -> None:
    first, _ = segment()
    assert not is_current(first, Overlay(BASE.get), 6)


def test_an_absent_key_that_appeared_makes_a_run_stale() -> None:
    first, _ = segment({b"a": None})
    state = Overlay(BASE.get)
    state.set(b"a", None)
    assert is_current(first, state, 7)
    state.set(b"a", b"4")
    assert not is_current(first, state, 7)


def test_adopting_a_current_run_equals_running_it() -> None:
    first, second = segment()
    adopted, ran = Overlay(BASE.get), Overlay(BASE.get)
    for spec in (first, second):
        assert is_current(spec, adopted, spec.index)
        adopt(spec, adopted)
        scope = ran.child()
        assert add_a_to_b(scope, None, spec.index) == (spec.outcome, True)  # type: ignore[arg-type]
        ran.merge(scope)
    assert adopted.encoded_writes() == ran.encoded_writes()


def test_shares_cover_every_call_and_leave_the_node_less_than_a_worker() -> None:
    for calls in (64, 65, 1000, 10_001):
        for workers in (1, 2, 3):
            shares = compute_shares(calls, workers, Costs(1.0, 1.0, 0.15))
            assert sum(shares) == calls and len(shares) == workers + 1
            assert shares[0] < min(shares[1:])
            assert max(shares[1:]) - min(shares[1:]) <= 1
    # checking costs a run: the node runs none; a slower worker gets fewer
    assert compute_shares(100, 1, Costs(1.0, 1.0, 1.0)) == [0, 100]
    assert compute_shares(100, 1, Costs(1.0, 3.0, 0.0)) == [75, 25]


def test_measured_costs_replace_the_guess_then_blend() -> None:
    costs = Costs()
    costs.update(0.002, 0.004, 0.001)
    assert (costs.own, costs.worker, costs.check) == pytest.approx((0.002, 0.004, 0.001))
    costs.update(0.004, 0.004, 0.003)
    assert (costs.own, costs.worker, costs.check) == pytest.approx((0.003, 0.004, 0.002))


def test_pinned_costs_are_never_re_measured() -> None:
    costs = Costs(pinned=True)
    costs.update(1.0, 9.0, 0.5)
    assert (costs.own, costs.worker, costs.check, costs.measured) == (1.0, 1.0, 0.05, False)
