"""Any input text either compiles to a valid module or raises CompileError: never another
exception, never an invalid module."""

from __future__ import annotations

from pathlib import Path

import wasmtime
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.execution.vm.engine import Engine
from xinlian.lang.compiler import compile_source
from xinlian.lang.errors import CompileError

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "qi").glob("*.qi"))
SOURCES = [p.read_text() for p in EXAMPLES]
TOKENS = ["fn", "contract", "{", "}", "(", ")", ";", "let", "mut", "x", "=", "1", "+", "u8",
          "u256", "list<u64>", "return", "if", "while", "for", "in", "..", "[", "]", ",", ":",
          "->", "state", "pub", "view", "S", "struct", "none", "?", "\"s\"", "true", ".", "as"]
ENGINE = Engine()


def compiles_or_reports(src: str) -> None:
    try:
        art = compile_source(src, "fuzz.qi", opt_level=2)
    except CompileError as exc:
        assert exc.diagnostics and exc.render()
        return
    wasmtime.Module.validate(ENGINE.wasm, art.wasm)


@settings(max_examples=150)
@given(st.lists(st.sampled_from(TOKENS), max_size=40))
def test_token_soup(tokens: list[str]) -> None:
    compiles_or_reports(" ".join(tokens))


@settings(max_examples=150)
@given(st.sampled_from(range(len(SOURCES))), st.integers(0, 10**6), st.integers(1, 12),
       st.sampled_from(["", ";", "}", "{", "u8", "1", "none", "x", "-", "as u8", "{}",
                        "let m: map<u8, u8> = {};"]))
def test_mutated_examples(i: int, at: int, cut: int, insert: str) -> None:
    src = SOURCES[i]
    pos = at % len(src)
    compiles_or_reports(src[:pos] + insert + src[pos + cut:])


@settings(max_examples=50)
@given(st.text(max_size=60))
def test_arbitrary_text(text: str) -> None:
    compiles_or_reports(text)
