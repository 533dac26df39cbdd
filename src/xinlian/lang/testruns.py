"""Which build runs each `test fn` of a source text: shared by `qi test`, the workbench and
the debugger (`qi debug --test`), so all three run a test in the same build."""

from __future__ import annotations

from xinlian.lang import parser
from xinlian.lang.ast import ContractDecl
from xinlian.lang.compiler import Artifact, compile_source

# where a test's contract is installed and who calls it
TEST_ADDRESS, TEST_CALLER = bytes(19) + b"\x7e", bytes(19) + b"\x01"


def runs_of_tests(src: str, path: str, debug: bool = False
              ) -> tuple[list[tuple[Artifact, str, str | None]], dict[str, Artifact]]:
    """Every `test fn` of a file with the build it runs in (a contract's tests in that
    contract's build, free tests in the last contract's, the default build) and what it
    expects (`expect_revert`), and every contract of the file by name, for `deploy` in
    tests. `debug`: debug builds (at -O0), for the debugger."""
    tree = parser.parse(src, path)
    contracts: list[ContractDecl | None] = [*tree.contracts] or [None]
    free = {d.name for d in tree.functions if d.is_test}
    runs = []
    builds = {}
    for c in contracts:
        art = compile_source(src, path, 0 if debug else 1, contract=c.name if c else None,
                             test_mode=True, debug=debug)
        own = free if c is contracts[-1] else set()
        if c is not None:
            builds[c.name] = art
            own = own | {d.name for d in c.functions if d.is_test}
        runs += [(art, spec["name"], spec["expect_revert"]) for spec in art.abi["functions"]
                 if spec["kind"] == "test" and spec["name"] in own]
    return runs, builds
