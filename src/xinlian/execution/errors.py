"""Execution's typed errors (5xxx): why a transaction failed. They end up in receipts."""

from __future__ import annotations

from xinlian.errors import XinlianError


class ExecutionError(XinlianError):
    code = 5000
    name = "execution_error"


class InsufficientBalance(ExecutionError):
    code = 5001
    name = "insufficient_balance"


class Unauthorised(ExecutionError):
    code = 5002
    name = "unauthorised"


class InvalidOperation(ExecutionError):
    """A well-formed operation that the current state does not allow."""

    code = 5003
    name = "invalid_operation"


class BadPayload(ExecutionError):
    code = 5004
    name = "bad_payload"


class BadAbi(ExecutionError):
    """A deployed or upgraded ABI is not valid JSON of the compiler's ABI shape, or is too
    large."""

    code = 5005
    name = "bad_abi"



class AsyncQueueFull(ExecutionError):
    """A run made more async requests than the block may queue (`Limits.requests_per_block`,
    execution.contracts.engine_runs)."""

    code = 5006
    name = "async_queue_full"


class AsyncTimedOut(ExecutionError):
    """An async request was not delivered within `Limits.timeout_blocks` blocks of its due
    block: its callback ran with the failure, the call itself did not run."""

    code = 5007
    name = "async_timed_out"


class ParallelUnavailable(ExecutionError):
    """A worker could not speculate on a segment of a block (its store does not hold the
    block's base state, or the run failed): the segment runs serially, with the same
    result. Never in a receipt."""

    code = 5090
    name = "parallel_unavailable"
