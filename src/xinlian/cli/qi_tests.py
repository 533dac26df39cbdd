"""Running the `test fn`s of one Qi source text: shared by `xinlian qi test` and the web
workbench, so both judge a test the same way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from xinlian.lang.errors import RevertError
from xinlian.lang.testruns import TEST_ADDRESS, TEST_CALLER, runs_of_tests

if TYPE_CHECKING:
    from xinlian.execution.vm.engine import CallResult


@dataclass(frozen=True)
class TestOutcome:
    contract: str | None
    name: str
    failure: str | None  # None: passed; else why it failed
    fuel_used: int

    @property
    def passed(self) -> bool:
        return self.failure is None


def run_tests(source: str, file: str) -> list[TestOutcome]:
    """Every `test fn` of the source, each on a fresh local chain, in file order. A program
    that does not compile raises `CompileError`."""
    from xinlian.execution.vm.local import LocalChain

    runs, builds = runs_of_tests(source, file)
    out = []
    for art, name, expect in runs:
        chain = LocalChain()
        chain.world.test_artifacts = builds
        chain.world.code[TEST_ADDRESS] = art
        res = chain.engine.run_entry(chain.world, TEST_ADDRESS, "test", name, [], TEST_CALLER)
        out.append(TestOutcome(art.abi["contract"], name, _test_verdict(res, expect),
                               res.fuel_used))
    return out


def _test_verdict(res: CallResult, expect: str | None) -> str | None:
    """None if the test passed, else why it failed."""
    if expect is None:
        return None if res.ok else str(res.error)
    wanted = "a revert" if expect == "*" else f"a revert with {expect}"
    if res.ok:
        return f"expected {wanted}, but the test finished"
    err = res.error
    if not isinstance(err, RevertError):
        return f"expected {wanted}, got {err}"
    if expect not in ("*", err.error_name):
        return f"expected {wanted}, got {err}"
    return None
