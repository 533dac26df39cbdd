"""A verified read of a block whose certificate has not formed yet pauses and asks again
(sdk/ops.py `Pause`), inside the operation, so every operation that checks a header
waits the same way: queries, contract proofs, data reads, and operations that submitted
a transaction first (which must not be run again). The client's `cert_wait` bounds the
pauses (`Pauses`); past it, NotCertifiedYet.

The chain is conftest.py's simulated BFT chain; the node is a script of answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from xinlian.sdk.calls import Call
from xinlian.sdk.errors import NotCertifiedYet
from xinlian.sdk.ops import Op, Ops, Pause, Pauses

from .conftest import Served


def drive(op: Op[Any], answer: Callable[[Call[Any]], Any], pauses: list[bool]) -> Any:
    """Run `op` against a scripted node: `answer` for each call, and the next of `pauses`
    for each Pause (True: time is left to wait)."""
    try:
        request = next(op)
        while True:
            if isinstance(request, Pause):
                request = op.send(pauses.pop(0))
            else:
                assert isinstance(request, Call)
                request = op.send(answer(request))
    except StopIteration as done:
        return done.value


def node(served: Served, certified_after: int) -> tuple[Callable[[Call[Any]], Any], list[str]]:
    """A node whose certificate of the anchor's block forms after `certified_after` asks
    for it (before that it holds no certificate at all, as a chain's first blocks)."""
    asked: list[str] = []

    def answer(call: Call[Any]) -> Any:
        asked.append(call.method)
        if call.method == "xl_getCertifiedHeader":
            if asked.count("xl_getCertifiedHeader") <= certified_after:
                return None
            return served.anchor
        if call.method == "xl_getEpochProofs":
            return [p for p in served.proofs if p.qc.epoch >= call.params[0]]
        raise AssertionError(f"unexpected call {call.method}")
    return answer, asked


def test_a_read_waits_for_its_blocks_certificate(bft_chain: Served) -> None:
    ops = Ops.from_genesis(bft_chain.net.genesis)
    answer, asked = node(bft_chain, certified_after=4)
    pauses = [True, True, True]
    drive(ops.accepted(bft_chain.anchor.header), answer, pauses)
    assert ops.verifier is not None and ops.verifier.headers is not None
    assert ops.verifier.headers.is_accepted(bft_chain.anchor.header)
    assert len(pauses) == 1  # two pauses: the latest, then the block's own, asked each time
    assert asked.count("xl_getCertifiedHeader") == 5


def test_past_cert_wait_the_read_fails_with_not_certified_yet(bft_chain: Served) -> None:
    ops = Ops.from_genesis(bft_chain.net.genesis)
    answer, _ = node(bft_chain, certified_after=1_000)
    with pytest.raises(NotCertifiedYet, match=f"block {bft_chain.anchor.header.height}"):
        drive(ops.accepted(bft_chain.anchor.header), answer, [True, True, False])


def test_pauses_double_and_stop_at_the_budget() -> None:
    now = [100.0]
    pauses = Pauses(1.0, lambda: now[0], first=0.1, most=0.3)
    waited = []
    while (delay := pauses.next()) is not None:
        waited.append(delay)
        now[0] += delay
    assert waited == pytest.approx([0.1, 0.2, 0.3, 0.3, 0.1])
    assert sum(waited) == pytest.approx(1.0)
