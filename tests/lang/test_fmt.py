"""The Qi formatter: a fixed point after one run, comments kept in place, and the same
program before and after (same module and ABI, or the same compile errors)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xinlian.cli.main import main
from xinlian.lang.compiler import compile_source
from xinlian.lang.errors import CompileError
from xinlian.lang.fmt import MAX_SOURCE_BYTES, SourceTooLarge, format_source
from xinlian.lang.lexer import lex
from xinlian.lang.parser import parse

ROOT = Path(__file__).resolve().parents[2]
QI_FILES = sorted(p for p in ROOT.rglob("*.qi") if ".git" not in p.parts)
EXAMPLES = sorted((ROOT / "examples" / "qi").glob("*.qi"))


def meaning(source: str) -> list[object]:
    """What a program means to the compiler: each contract's module and ABI, or its
    compile errors without their positions."""
    try:
        names: list[str | None] = [c.name for c in parse(source).contracts] or [None]
        return [(a.wasm, a.abi) for a in (compile_source(source, contract=n) for n in names)]
    except CompileError as exc:
        return [(d.code, d.message) for d in exc.diagnostics]


def comments(source: str) -> list[str]:
    return [t.text for t in lex(source, "x", comments=True)[0] if t.kind == "comment"]


def parses(path: Path) -> bool:
    try:
        parse(path.read_text())
    except CompileError:
        return False
    return True


@pytest.mark.parametrize("path", [p for p in QI_FILES if parses(p)],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_every_qi_file_keeps_its_meaning_and_is_a_fixed_point(path: Path) -> None:
    source = path.read_text()
    once = format_source(source)
    assert format_source(once) == once
    assert comments(once) == comments(source)
    assert meaning(once) == meaning(source)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_are_formatted(path: Path) -> None:
    assert format_source(path.read_text()) == path.read_text()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_lost_indentation_and_spacing_come_back(path: Path) -> None:
    source = path.read_text()
    flat = "\n".join(line.strip() for line in source.splitlines())
    assert format_source(flat) == source
    by_line: dict[int, list[str]] = {}
    for t in lex(source, "x", comments=True)[0][:-1]:
        by_line.setdefault(t.span.line, []).append(t.text)
    spread = "\n".join("   ".join(by_line.get(i, [])) for i in range(1, max(by_line) + 1))
    assert format_source(spread) == source


GAPS = [" ", "\n", "\n\n\n", "\t ", " /* note */ ", " // note\n", "\n// own line\n"]
SOURCES = [p.read_text() for p in EXAMPLES]
MEANINGS = [meaning(s) for s in SOURCES]


@settings(max_examples=40, derandomize=True, deadline=None)
@given(st.integers(0, len(SOURCES) - 1), st.lists(st.integers(0, len(GAPS)), max_size=400))
def test_any_whitespace_and_comments_between_tokens(which: int, picks: list[int]) -> None:
    """Rewrite the gaps between an example's tokens (whitespace, new comments); the
    formatter gives a fixed point that keeps every comment and means the same."""
    source = SOURCES[which]
    tokens = lex(source, "x", comments=True)[0][:-1]
    lines = source.split("\n")
    out, prev_end = [], (1, 1)
    for i, t in enumerate(tokens):
        gap = _between(lines, prev_end, (t.span.line, t.span.col))
        pick = picks[i] if i < len(picks) else len(GAPS)
        if gap and i and pick < len(GAPS):  # tokens written together stay together
            gap = GAPS[pick]
            if tokens[i - 1].text.startswith("//") and "\n" not in gap:
                gap += "\n"  # a line comment ends at the end of its line
        out += [gap, t.text]
        end_line = t.span.line + t.text.count("\n")
        last = t.text.rsplit("\n", 1)[-1]
        prev_end = (end_line, (t.span.col if end_line == t.span.line else 1) + len(last))
    mangled = "".join(out) + "\n"
    once = format_source(mangled)
    assert format_source(once) == once
    assert comments(once) == comments(mangled)
    assert meaning(once) == MEANINGS[which]


@settings(max_examples=100, derandomize=True, deadline=None)
@given(st.integers(0, len(SOURCES) - 1), st.integers(0, 10**6), st.integers(0, 12),
       st.sampled_from(["", ";", "}", "{", "u8", "1", "-", "as u8", "{}", "!", "x", "\n",
                        "let m: map<u8, u8> = {};", "/* c */", "// c\n", "[0]", "(1)"]))
def test_mutated_examples_that_parse(which: int, at: int, cut: int, insert: str) -> None:
    """Cut and paste inside an example (as tests/lang/test_fuzz.py does); when the result
    still parses, formatting it keeps its meaning, compile errors included."""
    source = SOURCES[which]
    pos = at % len(source)
    mutant = source[:pos] + insert + source[pos + cut:]
    try:
        parse(mutant)
    except CompileError:
        return
    once = format_source(mutant)
    assert format_source(once) == once
    assert comments(once) == comments(mutant)
    assert meaning(once) == meaning(mutant)


def _between(lines: list[str], start: tuple[int, int], end: tuple[int, int]) -> str:
    """The source text from (line, col) up to (line, col), both 1-based."""
    if start[0] == end[0]:
        return lines[start[0] - 1][start[1] - 1:end[1] - 1]
    middle = lines[start[0]:end[0] - 1]
    return "\n".join([lines[start[0] - 1][start[1] - 1:], *middle,
                      lines[end[0] - 1][:end[1] - 1]])


@pytest.mark.parametrize(("messy", "tidy"), [
    # unary and binary minus, generics, indexes and list literals, casts
    ("fn f(a:u64)->u64{let x:list<list<u8>>=[[1]];return -a-x[0][0] as u64;}",
     "fn f(a: u64) -> u64 { let x: list<list<u8>> = [[1]]; return -a - x[0][0] as u64; }"),
    # a block written over several lines gets one statement per line
    ("fn f() {\nlet a = 1; let b = 2;\n}", "fn f() {\n    let a = 1;\n    let b = 2;\n}"),
    # a continuation line is indented one more; a bracket's lines by the bracket
    ("fn f() -> u64 {\nreturn 1 +\n2;\n}", "fn f() -> u64 {\n    return 1 +\n        2;\n}"),
    ("fn f() {\ng(\n1,\n2\n);\n}", "fn f() {\n    g(\n        1,\n        2\n    );\n}"),
    # blank lines collapse to one, and go after an opening brace
    ("contract C {\n\n\nstate a: u64;\n\n\n\nstate b: u64;\n\n}",
     "contract C {\n    state a: u64;\n\n    state b: u64;\n}"),
    # comments: at the end of a line, on a line of their own, inside a line
    ("contract C { // the C\n// a\nstate a: u64; // why\nstate /* inline */ b: u64;\n}",
     "contract C { // the C\n    // a\n    state a: u64; // why\n"
     "    state /* inline */ b: u64;\n}"),
    # an empty block closes up; a one-line block stays on its line
    ("fn f() {\n}\nfn g(a: bool) { if a { return; } else { return; } }",
     "fn f() {}\nfn g(a: bool) { if a { return; } else { return; } }"),
    # struct literals and declarations, optional types, paths
    ("struct P{x:u64,y:u64?}\nenum E{A,B}\nfn f()->P{let e=E::A;return P{x:1,y:none};}",
     "struct P { x: u64, y: u64? }\nenum E { A, B }\n"
     "fn f() -> P { let e = E::A; return P { x: 1, y: none }; }"),
])
def test_layout_rules(messy: str, tidy: str) -> None:
    assert format_source(messy) == tidy + "\n"
    assert format_source(tidy) == tidy + "\n"


def test_invalid_program_is_refused() -> None:
    with pytest.raises(CompileError):
        format_source("contract C { state x u64; }")
    with pytest.raises(CompileError):
        format_source("fn f() { let s = \"unterminated; }")


def test_invalid_oversize_source_is_refused() -> None:
    with pytest.raises(SourceTooLarge):
        format_source("// " + "x" * MAX_SOURCE_BYTES)


def test_cli_fmt_check_and_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.qi"
    good.write_text(EXAMPLES[0].read_text())
    messy = tmp_path / "messy.qi"
    messy.write_text("fn f()->u64{return 1;}\n")
    assert main(["qi", "fmt", "--check", str(good)]) == 0
    assert main(["qi", "fmt", "--check", str(good), str(messy)]) == 1
    assert messy.read_text() == "fn f()->u64{return 1;}\n"
    assert "would reformat" in capsys.readouterr().out
    assert main(["qi", "fmt", str(messy)]) == 0
    assert messy.read_text() == "fn f() -> u64 { return 1; }\n"
    assert main(["qi", "fmt", "--check", str(messy)]) == 0


def test_invalid_files_are_reported_and_left_untouched(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.qi"
    broken.write_text("contract C { state x u64; }")
    binary = tmp_path / "binary.qi"
    binary.write_bytes(b"\xff\xfe fn")
    huge = tmp_path / "huge.qi"
    huge.write_text("//" + "x" * MAX_SOURCE_BYTES)
    messy = tmp_path / "messy.qi"
    messy.write_text("fn f(){}")
    args = ["qi", "fmt", str(broken), str(binary), str(huge), str(tmp_path / "absent.qi"),
            str(messy)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "E7110" in err and "source_not_text" in err and "source_too_large" in err
    assert broken.read_text() == "contract C { state x u64; }"
    assert binary.read_bytes() == b"\xff\xfe fn"
    assert messy.read_text() == "fn f() {}\n"  # the good file among them is still done
