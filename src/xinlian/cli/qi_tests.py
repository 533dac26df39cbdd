"""Running the `test fn`s of one Qi source text: shared by `xinlian qi test` and the web
workbench, so both judge a test the same way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from xinlian.lang import parser
from xinlian.lang.ast import ContractDecl
from xinlian.lang.compiler import Artifact, compile_source
from xinlian.lang.errors import RevertError

if TYPE_CHECKING:
    from xinlian.execution.vm.engine import CallResult

TEST_ADDRESS, TEST_CALLER = bytes(19) + b"\x7e", bytes(19) + b"\x01"


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

    runs, builds = _test_runs(source, file)
    out = []
    for art, name, expect in runs:
        chain = LocalChain()
        chain.world.test_artifacts = builds
        chain.world.code[TEST_ADDRESS] = art
        res = chain.engine.run_entry(chain.world, TEST_ADDRESS, "test", name, [], TEST_CALLER)
        out.append(TestOutcome(art.abi["contract"], name, _test_verdict(res, expect),
                               res.fuel_used))
    return out


def _test_runs(src: str, path: str
               ) -> tuple[list[tuple[Artifact, str, str | None]], dict[str, Artifact]]:
    """Every `test fn` of a file with the build it runs in (a contract's tests in that
    contract's build, free tests in the last contract's, the default build), and every
    contract of the file by name, for `deploy` in tests."""
    tree = parser.parse(src, path)
    contracts: list[ContractDecl | None] = [*tree.contracts] or [None]
    free = {d.name for d in tree.functions if d.is_test}
    runs = []
    builds = {}
    for c in contracts:
        art = compile_source(src, path, contract=c.name if c else None,
                             test_mode=True)
        own = free if c is contracts[-1] else set()
        if c is not None:
            builds[c.name] = art
            own = own | {d.name for d in c.functions if d.is_test}
        runs += [(art, spec["name"], spec["expect_revert"]) for spec in art.abi["functions"]
                 if spec["kind"] == "test" and spec["name"] in own]
    return runs, builds


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
