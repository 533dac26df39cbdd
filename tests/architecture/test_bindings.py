"""The BLS12-381 bindings stay behind `crypto/primitives/`: one BLS wrapper (issue 9).

Every module under src/xinlian is parsed (imports inside functions count too); only modules
under `xinlian/crypto/primitives/` may import blspy or py_arkworks_bls12381. Everything else
signs, verifies and does point arithmetic through `crypto.primitives.bls` and
`crypto.primitives.groups`.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "xinlian"
PRIMITIVES = SRC / "crypto" / "primitives"
BINDINGS = frozenset({"blspy", "py_arkworks_bls12381"})


def bindings_imported(path: Path) -> list[tuple[int, str]]:
    """(line, binding) for each import of a BLS binding in the file."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
        else:
            continue
        found += [(node.lineno, n) for n in names if n.split(".")[0] in BINDINGS]
    return found


def importers() -> dict[Path, list[tuple[int, str]]]:
    return {p: hits for p in sorted(SRC.rglob("*.py")) if (hits := bindings_imported(p))}


def test_only_primitives_import_the_bls_bindings() -> None:
    outside = [f"{p.relative_to(SRC)} line {line}: {name}"
               for p, hits in importers().items() if not p.is_relative_to(PRIMITIVES)
               for line, name in hits]
    assert not outside, "import the BLS wrapper instead:\n" + "\n".join(outside)


def test_primitives_hold_both_bindings() -> None:
    """The check above looks at the right names: the wrapper itself imports both."""
    names = {name for hits in importers().values() for _, name in hits}
    assert names == BINDINGS


def test_invalid_binding_import_is_caught(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\ndef f():\n    from blspy import G1Element\n"
                   "import py_arkworks_bls12381 as ark\n")
    assert sorted(bindings_imported(bad)) == [(3, "blspy"), (4, "py_arkworks_bls12381")]
