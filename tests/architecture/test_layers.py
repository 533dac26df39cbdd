"""The layers of docs/architecture.md, kept true: an import that points up the layers fails.

Every module under src/xinlian is parsed (imports inside functions count too) and each
`xinlian.*` import is checked against the layer order. `xinlian.testing` sits above the node
and below the user-facing layers; no protocol package may import it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "xinlian"

# Top to bottom; names on one line form one layer and may import each other.
LAYERS: list[tuple[str, ...]] = [
    ("apps",),
    ("api", "cli", "web", "sdk"),
    ("testing",),
    ("node",),
    ("consensus", "sharding"),
    ("network",),
    ("sim",),
    ("execution",),
    ("lang",),
    ("ledger",),
    ("storage",),
    ("crypto",),
    ("protocol",),
    ("codec", "errors"),
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def layer_of(module: str) -> str:
    """`xinlian.crypto.threshold.dkg` -> `crypto`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imports_of(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    package = (".".join(path.relative_to(SRC.parent).with_suffix("").parts[:-1])
               if path.is_relative_to(SRC) else "")
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.append((node.lineno, module))
    return [(line, m) for line, m in found if m == "xinlian" or m.startswith("xinlian.")]


def modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py"))


def test_every_package_has_a_layer() -> None:
    top = {layer_of("xinlian." + ".".join(p.relative_to(SRC).with_suffix("").parts))
           for p in modules()}
    top.discard("__init__")
    assert top <= set(RANK), f"packages without a layer: {sorted(top - set(RANK))}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_point_down(path: Path) -> None:
    me = layer_of("xinlian." + ".".join(path.relative_to(SRC).with_suffix("").parts))
    if me == "__init__":
        return
    upward = [
        f"line {line}: {module} ({layer_of(module)} is above {me})"
        for line, module in imports_of(path)
        if layer_of(module) in RANK and RANK[layer_of(module)] < RANK[me]
    ]
    assert not upward, "\n".join(upward)


def test_invalid_upward_import_is_caught(tmp_path: Path) -> None:
    """The checker itself fails on an upward import (a ledger module importing the node)."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from xinlian.node.service import Node\n")
    assert imports_of(bad) == [(2, "xinlian.node.service")]
    assert RANK[layer_of("xinlian.node.service")] < RANK["ledger"]
