"""The Qi compiler pipeline: parse -> check -> IR -> optimise -> Wasm, plus ABI and debug info.

`compile_source` is the one entry point used by the CLI, the engine's tests and the
benchmarks. Output is deterministic: the same source and options give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from xinlian.lang import abi, checker, codegen, ir, layout, optimize, parser
from xinlian.lang import ast as A
from xinlian.lang.errors import Span


@dataclass
class Artifact:
    wasm: bytes
    abi: dict[str, Any]
    source_map: list[tuple[int, str, Span]] = field(default_factory=list)
    file: str = "<input>"
    # debug builds only (`compile_source(debug=True)`): per step id of the `qi_debug.step`
    # hook, the function, line, column and locals (name, ABI type, Wasm local index)
    steps: list[dict[str, Any]] | None = None

    @property
    def debug(self) -> bool:
        """A debug build: it imports `qi_debug.step`, which only a debugging engine
        provides (the chain's engine refuses to load it)."""
        return self.steps is not None

    def abi_json(self) -> str:
        return json.dumps(self.abi, indent=2, sort_keys=False)

    def debug_json(self) -> str:
        """Source map: code offset -> function, file, line, column (and, for a debug
        build, its steps)."""
        out: dict[str, Any] = {"file": self.file, "map": [
            [off, fn, s.line, s.col] for off, fn, s in self.source_map]}
        if self.steps is not None:
            out["steps"] = self.steps
        return json.dumps(out)

    def locate(self, module_offset: int) -> tuple[str, Span] | None:
        """The source position of the instruction at `module_offset` (last mark before)."""
        best = None
        for off, fn, span in self.source_map:
            if off > module_offset:
                break
            best = (fn, span)
        return best

    @property
    def abi_hash(self) -> str:
        """SHA-256 of the canonical ABI JSON (cached per ABI object)."""
        cached = self.__dict__.get("_abi_hash")
        if cached is None or cached[0] is not self.abi:
            digest = hashlib.sha256(json.dumps(self.abi, sort_keys=True).encode()).hexdigest()
            cached = self.__dict__["_abi_hash"] = (self.abi, digest)
        return str(cached[1])

    @property
    def code_hash(self) -> str:
        """SHA-256 of the module (cached per module bytes)."""
        cached = self.__dict__.get("_hash")
        if cached is None or cached[0] is not self.wasm:
            cached = self.__dict__["_hash"] = (self.wasm, hashlib.sha256(self.wasm).hexdigest())
        return str(cached[1])


def compile_source(source: str, file: str = "<input>", opt_level: int = 1,
                   contract: str | None = None, test_mode: bool = False,
                   old_layout: list[dict[str, Any]] | None = None,
                   debug: bool = False) -> Artifact:
    """Compile Qi source text; raises `CompileError` with every diagnostic found. A
    `debug` build reports every statement to the debugger (docs/qi/debugging.md)."""
    tree = parser.parse(source, file)
    prog = checker.check(tree, source, contract, test_mode)
    check_upgrade_layout(tree, source, prog, old_layout)
    optimize.optimize(prog, opt_level)
    out = codegen.generate(prog, debug)
    return Artifact(out.wasm, abi.build(prog, out.entries), out.source_map, file, out.steps)


def check_upgrade_layout(tree: A.Program, source: str, prog: ir.Program,
                         old_layout: list[dict[str, Any]] | None = None) -> None:
    """Raise `CompileError` if the checked contract breaks the storage layout it upgrades:
    `old_layout` when given (checked with or without an `upgrades` clause), else the
    layout of the contract its `upgrades` clause names."""
    old = old_layout
    if old is None and prog.upgrades is not None:
        old = layout.layout_of_contract(tree, source, prog.upgrades)
    if old is not None:
        layout.check_compatible(old, prog, source, tree)
