"""Supervision of a node's long-running tasks: fail-stop instead of silent death.

An asyncio task that raises only stores its exception; the rest of the node would go on
serving (a validator voting on a ledger that no longer advances). Every long-running task
of a node (the solo producer, the BFT apply loop, the network runtime, the pool sweep) is
therefore watched here: an unexpected exception is logged with the task's name and cause
and resolves `failed`, on which `xinlian node start` stops the node and exits with
`EXIT_FAILSTOP`. What can be restarted safely restarts where it fails (the verification
pool, crypto/batch.py) and never reaches this module.

Test hooks (environment variables, read once when a validator starts; docs/operations.md):
`XINLIAN_FAULT_APPLY_AT=H` makes applying consensus block H raise `InjectedFault`;
`XINLIAN_FAULT_APPLY_HOLD=PATH` holds the apply loop while the file PATH exists.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from xinlian.node.errors import InjectedFault, TaskFailed

log = logging.getLogger("xinlian.node")

EXIT_FAILSTOP = 70  # sysexits EX_SOFTWARE: a node task failed and the node stopped
HOLD_POLL_S = 0.05  # how often a held apply loop looks at its hold file again


class Supervisor:
    """Watches named tasks; the first unexpected failure resolves `failed`."""

    def __init__(self) -> None:
        self.failed: asyncio.Future[TaskFailed] = asyncio.get_running_loop().create_future()
        self.tasks: dict[str, asyncio.Task[Any]] = {}
        self.stopping = False

    def spawn(self, name: str, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=name)
        self.watch(name, task)
        return task

    def watch(self, name: str, task: asyncio.Task[Any]) -> None:
        self.tasks[name] = task
        task.add_done_callback(lambda t: self._done(name, t))

    def running(self, name: str) -> bool:
        task = self.tasks.get(name)
        return task is not None and not task.done()

    def _done(self, name: str, task: asyncio.Task[Any]) -> None:
        if self.stopping or task.cancelled() or self.failed.done():
            return
        exc = task.exception()
        cause = "returned" if exc is None else f"{type(exc).__name__}: {exc}"
        log.critical("task %s failed: %s; the node stops", name, cause, exc_info=exc)
        self.failed.set_result(TaskFailed(f"task {name} failed: {cause}"))


class FaultHooks:
    """The test hooks of a validator's apply loop (see the module docstring)."""

    def __init__(self) -> None:
        at = os.environ.get("XINLIAN_FAULT_APPLY_AT")
        hold = os.environ.get("XINLIAN_FAULT_APPLY_HOLD")
        self.fail_at = int(at) if at else None
        self.hold = Path(hold) if hold else None

    async def before_apply(self, height: int) -> None:
        while self.hold is not None and self.hold.exists():
            await asyncio.sleep(HOLD_POLL_S)
        if height == self.fail_at:
            raise InjectedFault(f"XINLIAN_FAULT_APPLY_AT={height}")
