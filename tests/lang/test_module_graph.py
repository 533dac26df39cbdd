"""The compiler's modules import each other in one direction only: every import sits at
the top of its module (none inside functions or `TYPE_CHECKING` blocks to hide a cycle)
and the graph of imports among `xinlian.lang` modules has no cycle."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import xinlian.lang

LANG = Path(xinlian.lang.__file__).parent
PACKAGE = "xinlian.lang"


def lang_imports(tree: ast.Module) -> set[str]:
    """Names of the `xinlian.lang` modules a module imports (anywhere in it)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith(PACKAGE + ".")}
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            if node.module == PACKAGE:
                found |= {f"{PACKAGE}.{a.name}" for a in node.names}
            elif node.module.startswith(PACKAGE + "."):
                found.add(node.module)
    return {name.removeprefix(PACKAGE + ".") for name in found}


def parsed() -> dict[str, ast.Module]:
    return {p.stem: ast.parse(p.read_text(), str(p)) for p in sorted(LANG.glob("*.py"))}


def test_imports_are_at_module_level() -> None:
    nested = []
    for name, tree in parsed().items():
        top = {id(n) for n in tree.body}
        nested += [f"{name}.py:{n.lineno}" for n in ast.walk(tree)
                   if isinstance(n, ast.Import | ast.ImportFrom) and id(n) not in top]
    assert nested == []


def test_no_import_cycle_among_compiler_modules() -> None:
    graph = {name: lang_imports(tree) for name, tree in parsed().items()}
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None
    assert order.index("emitter") < order.index("codegen")  # the graph was really built


def test_the_checker_sees_a_cycle() -> None:
    two = {"a": ast.parse("from xinlian.lang import b"),
           "b": ast.parse("from xinlian.lang.a import x")}
    graph = {name: lang_imports(tree) for name, tree in two.items()}
    assert graph == {"a": {"b"}, "b": {"a"}}
    try:
        list(TopologicalSorter(graph).static_order())
    except CycleError:
        return
    raise AssertionError("cycle not detected")
