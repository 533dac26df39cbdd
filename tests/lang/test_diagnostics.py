"""The error corpus: each wrong program yields its stable code at the right place, rendered
as file:line:col with the source line and a caret; the parser recovers and reports all."""

from __future__ import annotations

from pathlib import Path

import pytest

from xinlian.lang.compiler import compile_source
from xinlian.lang.errors import CompileError, QiError

CORPUS = Path(__file__).parent / "errors"


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.qi")), ids=lambda p: p.stem)
def test_corpus(path: Path) -> None:
    code = int(path.stem[1:5])
    with pytest.raises(CompileError) as info:
        compile_source(path.read_text(), path.name)
    err = info.value
    assert code in [d.code for d in err.diagnostics], err.render()
    assert isinstance(err, QiError) and 7100 <= err.code < 7400
    text = err.render()
    first = err.diagnostics[0]
    assert text.startswith(f"{path.name}:{first.span.line}:{first.span.col}: error[E")
    assert "^" in text.splitlines()[2]


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.qi")), ids=lambda p: p.stem)
def test_corpus_messages_are_stable(path: Path) -> None:
    """The full rendered diagnostics are part of the interface: compare them exactly."""
    with pytest.raises(CompileError) as info:
        compile_source(path.read_text(), path.name)
    assert info.value.render() + "\n" == path.with_suffix(".expected").read_text()


def test_caret_points_at_the_offending_token() -> None:
    src = "fn f() -> u64 {\n    return undefined_thing;\n}\n"
    with pytest.raises(CompileError) as info:
        compile_source(src, "a.qi")
    lines = info.value.render().splitlines()
    assert lines[0] == "a.qi:2:12: error[E7201]: unknown name `undefined_thing`"
    assert lines[1] == "   2 |     return undefined_thing;"
    assert lines[2] == " " * 18 + "^" * len("undefined_thing")


def test_parser_recovers_and_reports_every_error() -> None:
    src = """
fn a() { let = 1; }
fn b() -> u64 { return 1 }
fn c() { let x: u64 = ; }
fn ok() -> u64 { return 2; }
"""
    with pytest.raises(CompileError) as info:
        compile_source(src, "r.qi")
    lines = sorted({d.span.line for d in info.value.diagnostics})
    assert lines == [2, 3, 4]
    assert all(d.code == 7110 for d in info.value.diagnostics)


def test_checker_reports_independent_errors_together() -> None:
    src = "fn f() -> u64 { let a: u8 = 300; return b; }\nfn g(x: nothing) {}\n"
    with pytest.raises(CompileError) as info:
        compile_source(src, "m.qi")
    assert [d.code for d in info.value.diagnostics] == [7208, 7201, 7202]


def test_to_dict_carries_code_and_position() -> None:
    with pytest.raises(CompileError) as info:
        compile_source("fn f() { break; }", "d.qi")
    d = info.value.to_dict()
    assert d["code"] == 7210
    assert d["diagnostics"] == [{"code": 7210, "message": "`break` outside a loop",
                                 "file": "d.qi", "line": 1, "col": 10}]
