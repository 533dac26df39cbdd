"""Speculative runs of a block's contract calls, and the check that makes them exact.

Theory of operation. A speculative run executes a call as serial execution would, except
that it starts from a guess of the state: the block's base state plus the writes of the
runs before it in the same segment (a contiguous run of the block's transactions), not the
state that the whole block has built by then. While it runs, every key it reads that it
did not write itself is recorded with the value it saw. Execution is deterministic, so a
run whose every recorded read still has the same value in the real, serial state gets
exactly the same writes, result, fuel and events as a serial run would: it may be taken as
is. That check (`is_current`) is done in block order by the process that owns the block;
a run that fails it is simply executed again, serially, on the real state.

Checking values rather than keys also accepts a run whose inputs were written by earlier
transactions to what they already held, and it covers every kind of read alike: contract
storage, `ct/` records, code, accounts, queues. Nothing that is not a state read may
influence a run besides the transaction itself and the block's context (height, time,
header hashes: the same in every process) and the transaction's index in the block, which
is recorded and compared too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from xinlian.execution.state import Overlay, Reader
from xinlian.ledger.transaction import Transaction

# (scope, transaction, index in the block) -> (the run's outcome, whether its writes stay)
RunCall = Callable[[Overlay, Transaction, int], tuple[Any, bool]]


@dataclass(slots=True)
class Speculation:
    """One speculative run: the transaction's position in the block's list, the index in
    the block it assumed, what it read (key -> value seen, None: absent), what it wrote
    (encoded; empty when the run failed and its writes were dropped) and its outcome (the
    executor's own record of the run: result, fuel, events, error)."""

    position: int
    index: int
    reads: dict[bytes, bytes | None]
    writes: dict[bytes, bytes | None]
    outcome: Any


class RecordingReader:
    """A reader that remembers the value of every key read through it."""

    __slots__ = ("_view", "reads")

    def __init__(self, view: Reader) -> None:
        self._view = view
        self.reads: dict[bytes, bytes | None] = {}

    def __call__(self, key: bytes) -> bytes | None:
        try:
            return self.reads[key]
        except KeyError:
            value = self.reads[key] = self._view(key)
            return value


def speculate_segment(run: RunCall, base: Reader, pre_writes: dict[bytes, bytes | None],
                      items: Iterable[tuple[int, int, Transaction]]) -> Iterator[Speculation]:
    """Run each (position, index, transaction) in order on the base state plus
    `pre_writes` plus the writes kept by the segment's earlier runs; yield each run as it
    ends."""
    segment = Overlay(base)
    segment.writes.update(pre_writes)
    for position, index, tx in items:
        recorder = RecordingReader(segment.get)
        scope = Overlay(recorder)
        outcome, keep = run(scope, tx, index)
        writes = scope.encoded_writes() if keep else {}
        segment.writes.update(writes)
        yield Speculation(position, index, recorder.reads, writes, outcome)


def is_current(spec: Speculation, state: Overlay, index: int) -> bool:
    """Whether `spec` is what a serial run at `index` on `state` would do: it assumed that
    index and every value it read is still the value in `state`."""
    if spec.index != index:
        return False
    get = state.get
    return all(get(key) == value for key, value in spec.reads.items())


def adopt(spec: Speculation, state: Overlay) -> None:
    """Apply a current speculation's writes to `state`, as merging its run would."""
    for key, value in spec.writes.items():
        state.set(key, value)
